/* paging32: 32-bit (non-PAE) paging with 4 KiB and 4 MiB (PSE) pages.
 * Identity map + alias mappings (writes through an alias are visible through
 * the identity map and vice versa), A and D bits set by the CPU in PTEs and
 * PDEs, #PF error codes and CR2 (not-present PTE / PDE, read / write, an
 * access that straddles into a not-present page), read-only pages with
 * CR0.WP=1 (#PF P|W) and CR0.WP=0 (ring 0 writes allowed), INVLPG and CR3
 * reload making a changed PTE visible. User/supervisor checks need ring 3
 * and are out of scope here.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: aliases ok
 * EXPECT-OUTPUT: accessed/dirty ok
 * EXPECT-OUTPUT: page faults ok
 * EXPECT-OUTPUT: write protect ok
 * EXPECT-OUTPUT: tlb ok
 * EXPECT-OUTPUT: PASS paging32
 */
#include "guest.h"

#define P 0x001u
#define RW 0x002u
#define A 0x020u
#define D 0x040u
#define PS 0x080u
/* The CPU writes A/D bits behind the compiler: page tables are volatile. */

static volatile u32 pd[1024] __attribute__((aligned(4096)));
static volatile u32 pt0[1024] __attribute__((aligned(4096)));
static volatile u32 pt_alias[1024] __attribute__((aligned(4096)));
static u8 buf_a[4096] __attribute__((aligned(4096)));
static u8 buf_b[4096] __attribute__((aligned(4096)));
static u8 buf_ro[4096] __attribute__((aligned(4096)));

#define ALIAS4K ((volatile u32 *)0x40000000)   /* pt_alias[0] -> buf_a */
#define NP4K ((volatile u32 *)0x40001000)      /* pt_alias[1]: not present */
#define RO4K ((volatile u32 *)0x40002000)      /* pt_alias[2] -> buf_ro, read-only */
#define ALIAS4K_2 ((volatile u32 *)0x40003000) /* pt_alias[3] -> buf_a, later buf_b */
#define ALIAS4M ((volatile u32 *)0x40400000)   /* pd[257]: 4 MiB page -> 8 MiB */
#define RO4M ((volatile u32 *)0x40800000)      /* pd[258]: 4 MiB read-only -> 12 MiB */
#define NP4M ((volatile u32 *)0x40c00000)      /* pd[259]: not present */

static void setup(void)
{
    for (u32 i = 0; i < 1024; i++) pt0[i] = i << 12 | P | RW;
    pd[0] = (u32)pt0 | P | RW;
    for (u32 i = 1; i < 16; i++) pd[i] = i << 22 | PS | P | RW;
    pt_alias[0] = (u32)buf_a | P | RW;
    pt_alias[1] = 0;
    pt_alias[2] = (u32)buf_ro | P;
    pt_alias[3] = (u32)buf_a | P | RW;
    pd[256] = (u32)pt_alias | P | RW;
    pd[257] = 0x800000u | PS | P | RW;
    pd[258] = 0xc00000u | PS | P;
    pd[259] = 0;
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uptr)pd);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
    CHECK(read_cr0() & CR0_PG);
}

static void test_aliases(void)
{
    volatile u32 *a = (volatile u32 *)buf_a;
    ALIAS4K[5] = 0x11223344;
    CHECK_EQ(a[5], 0x11223344);
    a[6] = 0x55667788;
    CHECK_EQ(ALIAS4K[6], 0x55667788);
    CHECK_EQ(ALIAS4K_2[6], 0x55667788);
    ALIAS4K_2[7] = 0xdeadbeef;
    CHECK_EQ(ALIAS4K[7], 0xdeadbeef);

    volatile u32 *phys = (volatile u32 *)0x801230;
    ALIAS4M[0x1230 / 4] = 0xcafef00d;
    CHECK_EQ(*phys, 0xcafef00d);
    *phys = 0x0badf00d;
    CHECK_EQ(ALIAS4M[0x1230 / 4], 0x0badf00d);
    /* The last dword of the 4 MiB page. */
    ALIAS4M[0x3ffffc / 4] = 0x600dcafe;
    CHECK_EQ(*(volatile u32 *)0xbffffc, 0x600dcafe);
}

static void test_accessed_dirty(void)
{
    pt_alias[0] &= ~(A | D);
    pd[256] &= ~A;
    invlpg(ALIAS4K);
    (void)ALIAS4K[1];
    CHECK_EQ(pt_alias[0] & (A | D), A);
    CHECK(pd[256] & A);
    CHECK(!(pd[256] & D)); /* a PDE that maps a page table has no D bit to set */
    ALIAS4K[1] = 1;
    CHECK_EQ(pt_alias[0] & (A | D), A | D);

    /* A write as the first access sets both. */
    pt_alias[3] &= ~(A | D);
    invlpg(ALIAS4K_2);
    ALIAS4K_2[2] = 2;
    CHECK_EQ(pt_alias[3] & (A | D), A | D);

    /* 4 MiB page: A and D live in the PDE. */
    pd[257] &= ~(A | D);
    invlpg(ALIAS4M);
    (void)ALIAS4M[3];
    CHECK_EQ(pd[257] & (A | D), A);
    ALIAS4M[3] = 3;
    CHECK_EQ(pd[257] & (A | D), A | D);
}

#define PF_READ(addr, err)                                                                                  \
    do {                                                                                                    \
        uptr ip_;                                                                                           \
        u32 v_ = 0x12345678;                                                                                \
        trap_reset();                                                                                       \
        __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl (%2), %1") : "=&r"(ip_), "+r"(v_) : "r"(addr) : "memory"); \
        CHECK_TRAP(14, err, ip_);                                                                           \
        CHECK_EQ(last_trap.cr2, (uptr)(addr));                                                              \
        CHECK_EQ(v_, 0x12345678);                                                                           \
    } while (0)
#define PF_WRITE(addr, err)                                                                              \
    do {                                                                                                 \
        uptr ip_;                                                                                        \
        trap_reset();                                                                                    \
        __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl $0x99, (%1)") : "=&r"(ip_) : "r"(addr) : "memory"); \
        CHECK_TRAP(14, err, ip_);                                                                        \
        CHECK_EQ(last_trap.cr2, (uptr)(addr));                                                           \
    } while (0)

static void test_page_faults(void)
{
    PF_READ(NP4K + 4, 0);
    PF_WRITE(NP4K + 9, 2);
    PF_READ(NP4M + 0x1000, 0);
    PF_WRITE(NP4M, 2);
    PF_READ((volatile u32 *)0x7ffff000, 0); /* far away: PDE 511 not present */

    /* A dword that straddles from a present page into a not-present one:
     * CR2 is the first byte of the not-present page. */
    uptr ip;
    u32 v = 0;
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl (%2), %1")
                     : "=&r"(ip), "+r"(v)
                     : "r"((uptr)NP4K - 2)
                     : "memory");
    CHECK_TRAP(14, 0, ip);
    CHECK_EQ(last_trap.cr2, (uptr)NP4K);

    /* Mapping the page makes the same access work. */
    pt_alias[1] = (u32)buf_b | P | RW;
    *(volatile u32 *)buf_b = 0xa5a5a5a5;
    CHECK_EQ(NP4K[0], 0xa5a5a5a5);
    pt_alias[1] = 0;
    invlpg(NP4K);
    PF_READ(NP4K, 0);
}

static void test_write_protect(void)
{
    *(volatile u32 *)buf_ro = 0x1234;
    CHECK_EQ(RO4K[0], 0x1234); /* reads are fine */
    PF_WRITE(RO4K, 3);          /* P | W */
    PF_WRITE(RO4K + 1023, 3);
    PF_WRITE(RO4M + 100, 3);
    CHECK_EQ(*(volatile u32 *)buf_ro, 0x1234);

    /* CR0.WP=0: supervisor writes ignore R/W. */
    write_cr0(read_cr0() & ~CR0_WP);
    trap_reset();
    RO4K[0] = 0x4321;
    RO4M[100] = 0x8765;
    CHECK_EQ(last_trap.count, 0);
    CHECK_EQ(*(volatile u32 *)buf_ro, 0x4321);
    CHECK_EQ(*(volatile u32 *)(0xc00000 + 400), 0x8765);
    CHECK(pt_alias[2] & D); /* D is set even though the page is read-only */
    write_cr0(read_cr0() | CR0_WP);
    PF_WRITE(RO4K, 3);
}

static void test_tlb(void)
{
    *(volatile u32 *)buf_a = 0xaaaa0001;
    *(volatile u32 *)buf_b = 0xbbbb0002;
    CHECK_EQ(ALIAS4K_2[0], 0xaaaa0001); /* fills the TLB */
    pt_alias[3] = (u32)buf_b | P | RW;
    invlpg(ALIAS4K_2);
    CHECK_EQ(ALIAS4K_2[0], 0xbbbb0002);
    pt_alias[3] = (u32)buf_a | P | RW;
    write_cr3(read_cr3()); /* flushes non-global translations */
    CHECK_EQ(ALIAS4K_2[0], 0xaaaa0001);
    /* A 4 MiB translation retargeted: 8 MiB -> 16 MiB. */
    *(volatile u32 *)0x1000000 = 0x16161616;
    *(volatile u32 *)0x800000 = 0x08080808;
    CHECK_EQ(ALIAS4M[0], 0x08080808);
    pd[257] = 0x1000000u | PS | P | RW;
    invlpg(ALIAS4M);
    CHECK_EQ(ALIAS4M[0], 0x16161616);
    /* Unmapping + INVLPG makes the next access fault. */
    pd[257] = 0;
    invlpg(ALIAS4M);
    PF_READ(ALIAS4M, 0);
}

void main(void)
{
    setup();
    SECTION("aliases") test_aliases();
    SECTION("accessed/dirty") test_accessed_dirty();
    SECTION("page faults") test_page_faults();
    SECTION("write protect") test_write_protect();
    SECTION("tlb") test_tlb();
    write_cr0(read_cr0() & ~CR0_PG);
}
