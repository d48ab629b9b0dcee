/* paging32_ext: what 32-bit kernels see of the wider physical address space.
 *  - PSE-36: a 4 MiB PDE carries physical address bits 39:32 in bits 20:13;
 *    bit 21 is reserved (MAXPHYADDR <= 40 for PSE-36): #PF with P|RSVD and
 *    CR2; the same PDE without bit 21 translates (no fault);
 *  - PAE: the four PDPTEs are loaded into the CPU by MOV to CR3 (SDM 4.4.1):
 *    changing a PDPTE in memory has no effect until the next CR3 load; a
 *    PDPTE with a reserved bit set makes MOV to CR3 raise #GP(0) and leaves
 *    CR3 unchanged.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: pse36 ok
 * EXPECT-OUTPUT: pae pdptes ok
 * EXPECT-OUTPUT: PASS paging32_ext
 */
#include "guest.h"

#define P 0x001u
#define RW 0x002u
#define PS 0x080u
#define PF_P 0x01u
#define PF_RSVD 0x08u

static volatile u32 pd[1024] __attribute__((aligned(4096)));
static u8 page_a[4096] __attribute__((aligned(4096)));
static u8 page_b[4096] __attribute__((aligned(4096)));

#define WIN ((volatile u32 *)0x40000000) /* pd[256] */

static void test_pse36(void)
{
    u32 cpuid_d, a, b, c;
    cpuid(1, 0, &a, &b, &c, &cpuid_d);
    if (!(cpuid_d & (1u << 17))) {
        skip("PSE-36 not reported by CPUID");
        return;
    }
    for (u32 i = 0; i < 16; i++) pd[i] = i << 22 | PS | P | RW; /* identity, first 64 MiB */
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uptr)pd);
    write_cr0(read_cr0() | CR0_PG);

    /* Physical 4 GiB + 0 (bit 13 = address bit 32): a valid translation. */
    pd[256] = (1u << 13) | PS | P | RW;
    invlpg(WIN);
    trap_reset();
    u32 v = *WIN; /* no RAM there: the value is whatever the bus returns */
    (void)v;
    CHECK_EQ(last_trap.count, 0);

    /* Bit 21 is reserved: #PF(P|RSVD) with CR2, for reads and writes. */
    pd[256] = (1u << 21) | PS | P | RW;
    invlpg(WIN);
    uptr ip;
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl (%1), %%eax") : "=&r"(ip) : "r"(WIN + 3) : "eax", "memory");
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.vector, 14);
    CHECK_EQ(last_trap.ip, ip);
    CHECK_EQ_SDM(last_trap.error, PF_P | PF_RSVD, "#PF error code of a reserved-bit violation has P=1 and RSVD=1");
    CHECK_EQ(last_trap.cr2, (uptr)(WIN + 3));

    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4(read_cr4() & ~CR4_PSE);
}

static u64 pdpt[4] __attribute__((aligned(32)));
static u64 pae_pd[4][512] __attribute__((aligned(4096)));
static u64 pae_pd_alt[512] __attribute__((aligned(4096)));

static void test_pae_pdptes(void)
{
    /* Identity map of the first 1 GiB through pdpt[0] -> pae_pd[0] (2 MiB
     * pages); pdpt[1] -> pae_pd[1] maps 1 GiB + 0 to page_a. pae_pd_alt maps
     * it to page_b. */
    for (u32 i = 0; i < 512; i++) pae_pd[0][i] = ((u64)i << 21) | PS | P | RW;
    static u64 pt_a[512] __attribute__((aligned(4096))), pt_b[512] __attribute__((aligned(4096)));
    pt_a[0] = (u32)page_a | P | RW;
    pt_b[0] = (u32)page_b | P | RW;
    pae_pd[1][0] = (u32)pt_a | P | RW;
    pae_pd_alt[0] = (u32)pt_b | P | RW;
    pdpt[0] = (u32)pae_pd[0] | P;
    pdpt[1] = (u32)pae_pd[1] | P;
    pdpt[2] = pdpt[3] = 0;
    *(volatile u32 *)page_a = 0xaaaa0001;
    *(volatile u32 *)page_b = 0xbbbb0002;

    write_cr4(read_cr4() | CR4_PAE);
    write_cr3((uptr)pdpt);
    write_cr0(read_cr0() | CR0_PG);
    volatile u32 *gib1 = (volatile u32 *)0x40000000;
    CHECK_EQ(*gib1, 0xaaaa0001);

    /* Change PDPTE 1 in memory and flush the TLB entry: the CPU keeps using
     * the PDPTE it loaded with CR3. */
    pdpt[1] = (u32)pae_pd_alt | P;
    invlpg(gib1);
    CHECK_EQ_SDM(*gib1, 0xaaaa0001, "PAE PDPTEs are cached in registers until the next MOV to CR3");
    write_cr3((uptr)pdpt);
    CHECK_EQ(*gib1, 0xbbbb0002);

    /* A reserved bit (bit 1 is reserved in a PAE PDPTE): MOV to CR3 #GP(0). */
    pdpt[2] = (u32)pae_pd[1] | P | RW;
    uptr ip, cr3_before = read_cr3();
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("mov %1, %%cr3") : "=&r"(ip) : "r"((uptr)pdpt) : "memory");
    CHECK_EQ_SDM(last_trap.count, 1, "MOV to CR3 checks the PAE PDPTEs' reserved bits: #GP(0)");
    if (last_trap.count == 1) {
        CHECK_TRAP(13, 0, ip);
        CHECK_EQ(read_cr3(), cr3_before);
    }
    pdpt[2] = 0;
    write_cr3((uptr)pdpt);

    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4(read_cr4() & ~CR4_PAE);
}

int main(void)
{
    SECTION("pse36") test_pse36();
    SECTION("pae pdptes") test_pae_pdptes();
    guest_finish();
}
