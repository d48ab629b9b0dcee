/* strings: string instructions in 64-bit mode.
 * rep movs/stos in all four sizes with DF=0 and DF=1 (final RCX/RSI/RDI and
 * untouched neighbours), RCX=0, overlapping copies (element-by-element
 * semantics: a forward copy onto src+1 smears the first byte, a memmove does
 * not), repe/repne cmps and scas with early termination (RCX, RSI, RDI and
 * flags), lods, and a rep movsb / rep stosq that runs into a not-present
 * page: #PF with CR2 = the first byte of that page and RCX/RSI/RDI counting
 * only the elements already done; after the handler maps the page the
 * instruction restarts and completes (also downwards with DF=1, and with the
 * source running into the hole).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: movs ok
 * EXPECT-OUTPUT: stos ok
 * EXPECT-OUTPUT: overlap ok
 * EXPECT-OUTPUT: cmps/scas ok
 * EXPECT-OUTPUT: page crossing ok
 * EXPECT-OUTPUT: PASS strings
 */
#include "guest.h"

struct regs {
    u64 c, s, d, a, flags;
};

/* Runs `insn` with the given registers and DF; returns the registers and flags after it. */
#define STR(insn, df, r)                                                                                     \
    __asm__ volatile("test %[dfv], %[dfv]\n jz 1f\n std\n1:\n" insn "\n pushf\n pop %[fl]\n cld\n"           \
                     : "+c"((r).c), "+S"((r).s), "+D"((r).d), "+a"((r).a), [fl] "=&r"((r).flags)           \
                     : [dfv] "r"((u64)(df))                                                                  \
                     : "memory")

static u8 src[512] __attribute__((aligned(16)));
static u8 dst[512] __attribute__((aligned(16)));

static void fill(u8 *p, unsigned n, u8 seed)
{
    for (unsigned i = 0; i < n; i++) p[i] = (u8)(seed + i * 7);
}

#define MOVS_CASE(insn, size, df)                                                                         \
    do {                                                                                                  \
        const u64 n_ = 20, off_ = 64;                                                                     \
        fill(src, sizeof src, 3);                                                                         \
        memset(dst, 0xee, sizeof dst);                                                                    \
        struct regs r_ = {n_, (u64)src + off_, (u64)dst + off_, 0, 0};                                    \
        if (df) r_.s += (n_ - 1) * size, r_.d += (n_ - 1) * size;                                         \
        u64 s0_ = r_.s, d0_ = r_.d;                                                                       \
        STR(insn, df, r_);                                                                                \
        CHECK_EQ(r_.c, 0);                                                                                \
        CHECK_EQ(r_.s, df ? s0_ - n_ * size : s0_ + n_ * size);                                           \
        CHECK_EQ(r_.d, df ? d0_ - n_ * size : d0_ + n_ * size);                                           \
        CHECK(memcmp(dst + off_, src + off_, n_ * size) == 0);                                            \
        CHECK_EQ(dst[off_ - 1], 0xee);                                                                    \
        CHECK_EQ(dst[off_ + n_ * size], 0xee);                                                            \
    } while (0)

static void test_movs(void)
{
    MOVS_CASE("rep movsb", 1, 0);
    MOVS_CASE("rep movsw", 2, 0);
    MOVS_CASE("rep movsl", 4, 0);
    MOVS_CASE("rep movsq", 8, 0);
    MOVS_CASE("rep movsb", 1, 1);
    MOVS_CASE("rep movsw", 2, 1);
    MOVS_CASE("rep movsl", 4, 1);
    MOVS_CASE("rep movsq", 8, 1);
    /* RCX = 0: nothing moves, nothing changes. */
    memset(dst, 0xee, 16);
    struct regs r = {0, (u64)src, (u64)dst, 0, 0};
    STR("rep movsq", 0, r);
    CHECK_EQ(r.c, 0);
    CHECK_EQ(r.s, (u64)src);
    CHECK_EQ(r.d, (u64)dst);
    CHECK_EQ(dst[0], 0xee);
    /* Without rep: one element. */
    r = (struct regs){5, (u64)src, (u64)dst, 0, 0};
    STR("movsl", 0, r);
    CHECK_EQ(r.c, 5);
    CHECK_EQ(r.s, (u64)src + 4);
    CHECK_EQ(*(u32 *)dst, *(u32 *)src);
    /* lods: the last element ends up in AL/RAX. */
    r = (struct regs){4, (u64)src, 0, 0, 0};
    STR("rep lodsq", 0, r);
    CHECK_EQ(r.a, ((u64 *)src)[3]);
    CHECK_EQ(r.s, (u64)src + 32);
    r = (struct regs){0, (u64)src + 9, 0, 0x1234, 0};
    STR("lodsb", 1, r);
    CHECK_EQ(r.a, 0x1200 | src[9]);
    CHECK_EQ(r.s, (u64)src + 8);
}

#define STOS_CASE(insn, size, df, val)                                                                     \
    do {                                                                                                   \
        const u64 n_ = 17, off_ = 128;                                                                     \
        memset(dst, 0xee, sizeof dst);                                                                     \
        struct regs r_ = {n_, 0, (u64)dst + off_, (val), 0};                                               \
        if (df) r_.d += (n_ - 1) * size;                                                                   \
        u64 d0_ = r_.d;                                                                                    \
        STR(insn, df, r_);                                                                                 \
        CHECK_EQ(r_.c, 0);                                                                                 \
        CHECK_EQ(r_.d, df ? d0_ - n_ * size : d0_ + n_ * size);                                            \
        int bad_ = 0;                                                                                      \
        for (u64 i = 0; i < n_ * size; i++)                                                                \
            if (dst[off_ + i] != (u8)((u64)(val) >> (i % size * 8))) bad_++;                               \
        CHECK_EQ(bad_, 0);                                                                                 \
        CHECK_EQ(dst[off_ - 1], 0xee);                                                                     \
        CHECK_EQ(dst[off_ + n_ * size], 0xee);                                                             \
    } while (0)

static void test_stos(void)
{
    STOS_CASE("rep stosb", 1, 0, 0x5a);
    STOS_CASE("rep stosw", 2, 0, 0x1234);
    STOS_CASE("rep stosl", 4, 0, 0x89abcdef);
    STOS_CASE("rep stosq", 8, 0, 0x0102030405060708ull);
    STOS_CASE("rep stosb", 1, 1, 0xa5);
    STOS_CASE("rep stosw", 2, 1, 0x4321);
    STOS_CASE("rep stosl", 4, 1, 0xfedcba98);
    STOS_CASE("rep stosq", 8, 1, 0x8877665544332211ull);
}

static void test_overlap(void)
{
    /* Forward byte copy onto src+1: every byte becomes buf[0]. */
    fill(dst, 64, 1);
    struct regs r = {32, (u64)dst, (u64)dst + 1, 0, 0};
    STR("rep movsb", 0, r);
    int bad = 0;
    for (int i = 0; i <= 32; i++) bad += dst[i] != 1;
    CHECK_EQ(bad, 0);
    CHECK_EQ(dst[33], (u8)(1 + 33 * 7));
    /* Forward qword copy onto src+8: the first qword repeats. */
    fill(dst, 128, 9);
    u64 first = *(u64 *)dst;
    r = (struct regs){8, (u64)dst, (u64)dst + 8, 0, 0};
    STR("rep movsq", 0, r);
    bad = 0;
    for (int i = 0; i <= 8; i++) bad += ((u64 *)dst)[i] != first;
    CHECK_EQ(bad, 0);
    /* Forward copy with distance 3 using words: element semantics (each word
     * is read after the previous one was written). */
    fill(dst, 64, 5);
    u8 ref[64];
    memcpy(ref, dst, 64);
    for (int i = 0; i < 10; i++) { /* reference: word by word */
        u16 w = (u16)(ref[2 * i] | ref[2 * i + 1] << 8);
        ref[3 + 2 * i] = (u8)w;
        ref[4 + 2 * i] = (u8)(w >> 8);
    }
    r = (struct regs){10, (u64)dst, (u64)dst + 3, 0, 0};
    STR("rep movsw", 0, r);
    CHECK(memcmp(dst, ref, 64) == 0);
    /* Backward (DF=1) byte copy onto src-1: every byte becomes the last one. */
    fill(dst, 64, 2);
    u8 last = dst[40];
    r = (struct regs){32, (u64)dst + 40, (u64)dst + 39, 0, 0};
    STR("rep movsb", 1, r);
    bad = 0;
    for (int i = 8; i <= 40; i++) bad += dst[i] != last;
    CHECK_EQ(bad, 0);
    CHECK_EQ(r.s, (u64)dst + 8);
    /* Backward copy onto src+1 (the memmove-safe direction): a plain shift. */
    fill(dst, 64, 4);
    memcpy(ref, dst, 64);
    r = (struct regs){20, (u64)dst + 19, (u64)dst + 20, 0, 0};
    STR("rep movsb", 1, r);
    CHECK(memcmp(dst + 1, ref, 20) == 0);
}

static void test_cmps_scas(void)
{
    fill(src, 64, 1);
    memcpy(dst, src, 64);
    src[5] = 0x10;
    dst[5] = 0x20;
    /* repe cmpsb stops after the first difference: [rsi]-[rdi] = 0x10-0x20 */
    struct regs r = {10, (u64)src, (u64)dst, 0, 0};
    STR("repe cmpsb", 0, r);
    CHECK_EQ(r.c, 4);
    CHECK_EQ(r.s, (u64)src + 6);
    CHECK_EQ(r.d, (u64)dst + 6);
    CHECK_EQ(r.flags & (FL_ZF | FL_CF | FL_SF | FL_OF), FL_CF | FL_SF);
    /* all equal */
    r = (struct regs){5, (u64)src, (u64)dst, 0, 0};
    STR("repe cmpsb", 0, r);
    CHECK_EQ(r.c, 0);
    CHECK(r.flags & FL_ZF);
    /* repne cmpsq: stops at the first equal qword */
    for (int i = 0; i < 8; i++) ((u64 *)src)[i] = i, ((u64 *)dst)[i] = 100 + i;
    ((u64 *)dst)[6] = 6;
    r = (struct regs){8, (u64)src, (u64)dst, 0, 0};
    STR("repne cmpsq", 0, r);
    CHECK_EQ(r.c, 1);
    CHECK_EQ(r.s, (u64)src + 56);
    CHECK(r.flags & FL_ZF);
    /* DF=1 repe cmpsl from the top: the difference at index 2 */
    for (int i = 0; i < 8; i++) ((u32 *)src)[i] = ((u32 *)dst)[i] = 0x1000 + i;
    ((u32 *)src)[2] = 0x9000;
    r = (struct regs){8, (u64)src + 28, (u64)dst + 28, 0, 0};
    STR("repe cmpsl", 1, r);
    CHECK_EQ(r.c, 2);
    CHECK_EQ(r.s, (u64)src + 4);
    CHECK_EQ(r.flags & (FL_ZF | FL_CF), 0); /* 0x9000 > 0x1002 */

    /* repne scasb: find 'x' at index 7 */
    memset(dst, 'a', 64);
    dst[7] = 'x';
    r = (struct regs){20, 0, (u64)dst, 'x', 0};
    STR("repne scasb", 0, r);
    CHECK_EQ(r.c, 12);
    CHECK_EQ(r.d, (u64)dst + 8);
    CHECK(r.flags & FL_ZF);
    /* not found: runs out, ZF=0 */
    r = (struct regs){5, 0, (u64)dst, 'x', 0};
    STR("repne scasb", 0, r);
    CHECK_EQ(r.c, 0);
    CHECK_EQ(r.d, (u64)dst + 5);
    CHECK(!(r.flags & FL_ZF));
    /* repe scasw: skip leading 'aa' words */
    r = (struct regs){20, 0, (u64)dst, 0x6161, 0};
    STR("repe scasw", 0, r);
    CHECK_EQ(r.c, 16); /* word 3 holds 'x' at byte 7 */
    CHECK_EQ(r.d, (u64)dst + 8);
    CHECK(!(r.flags & FL_ZF));
    /* RCX = 0: flags untouched, nothing compared */
    r = (struct regs){0, (u64)src, (u64)dst, 0, 0};
    __asm__ volatile("xor %%eax, %%eax\n repne scasb\n pushf\n pop %0" : "=r"(r.flags), "+c"(r.c), "+D"(r.d) : : "rax", "memory");
    CHECK(r.flags & FL_ZF);
    CHECK_EQ(r.d, (u64)dst);
}

/* A 2 MiB region of the boot identity map re-mapped with 4 KiB pages, page 1 absent. */
extern volatile u64 boot_pd[];
static volatile u64 hole_pt[512] __attribute__((aligned(4096)));
#define HOLE_BASE 0x3000000ull
#define HOLE_PAGE (HOLE_BASE + 0x1000)

static volatile struct regs at_fault;
static volatile u64 fault_cr2;
static volatile unsigned faults;
static int map_hook(struct trap_frame *f)
{
    if (f->vector != 14) return 0;
    faults++;
    at_fault.c = f->cx;
    at_fault.s = f->si;
    at_fault.d = f->di;
    fault_cr2 = last_trap.cr2;
    hole_pt[1] = HOLE_PAGE | 3;
    invlpg((void *)HOLE_PAGE);
    return 1; /* restart the instruction */
}

static void unmap_hole(void)
{
    hole_pt[1] = 0;
    invlpg((void *)HOLE_PAGE);
    faults = 0;
    trap_reset();
    trap_hook = map_hook;
}

static void test_page_crossing(void)
{
    for (u64 i = 0; i < 512; i++) hole_pt[i] = (HOLE_BASE + i * 4096) | 3;
    boot_pd[HOLE_BASE >> 21] = (u64)hole_pt | 3;
    write_cr3(read_cr3());

    /* Forward rep movsb into the hole. */
    u8 *d = (u8 *)(HOLE_BASE + 0xf80);
    fill(src, 256, 11);
    memset(d, 0, 0x80);
    unmap_hole();
    struct regs r = {0x100, (u64)src, (u64)d, 0, 0};
    STR("rep movsb", 0, r);
    trap_hook = 0;
    CHECK_EQ(faults, 1);
    CHECK_EQ(fault_cr2, HOLE_PAGE);
    CHECK_EQ(last_trap.error, 2);
    CHECK_EQ(at_fault.c, 0x80); /* 0x80 bytes were done before the fault */
    CHECK_EQ(at_fault.s, (u64)src + 0x80);
    CHECK_EQ(at_fault.d, HOLE_PAGE);
    CHECK_EQ(r.c, 0);
    CHECK_EQ(r.s, (u64)src + 0x100);
    CHECK_EQ(r.d, (u64)d + 0x100);
    CHECK(memcmp(d, src, 0x100) == 0);

    /* rep stosq into the hole. */
    u64 *q = (u64 *)(HOLE_BASE + 0x1000 - 5 * 8);
    unmap_hole();
    r = (struct regs){12, 0, (u64)q, 0xabababab12121212ull, 0};
    STR("rep stosq", 0, r);
    trap_hook = 0;
    CHECK_EQ(faults, 1);
    CHECK_EQ(fault_cr2, HOLE_PAGE);
    CHECK_EQ(at_fault.c, 7);
    CHECK_EQ(at_fault.d, HOLE_PAGE);
    CHECK_EQ(r.c, 0);
    CHECK_EQ(q[11], 0xabababab12121212ull);

    /* Downwards (DF=1) from page 2 into the hole: the first missing byte is
     * the last byte of page 1. */
    d = (u8 *)(HOLE_BASE + 0x2040);
    unmap_hole();
    r = (struct regs){0x100, (u64)src + 0xff, (u64)d, 0, 0};
    STR("rep movsb", 1, r);
    trap_hook = 0;
    CHECK_EQ(faults, 1);
    CHECK_EQ(fault_cr2, HOLE_PAGE + 0xfff);
    CHECK_EQ(at_fault.c, 0x100 - 0x41);
    CHECK_EQ(at_fault.d, HOLE_PAGE + 0xfff);
    CHECK_EQ(at_fault.s, (u64)src + 0xff - 0x41);
    CHECK_EQ(r.c, 0);
    CHECK(memcmp(d - 0xff, src, 0x100) == 0);

    /* The source runs into the hole: a read fault. */
    fill((u8 *)HOLE_BASE + 0xfc0, 0x40, 77);
    fill((u8 *)HOLE_PAGE, 0x40, 99);
    unmap_hole();
    memset(dst, 0, 0x80);
    r = (struct regs){0x80, HOLE_BASE + 0xfc0, (u64)dst, 0, 0};
    STR("rep movsb", 0, r);
    trap_hook = 0;
    CHECK_EQ(faults, 1);
    CHECK_EQ(fault_cr2, HOLE_PAGE);
    CHECK_EQ(last_trap.error, 0);
    CHECK_EQ(at_fault.c, 0x40);
    CHECK_EQ(at_fault.d, (u64)dst + 0x40);
    CHECK(memcmp(dst, (u8 *)HOLE_BASE + 0xfc0, 0x80) == 0);
}

void main(void)
{
    SECTION("movs") test_movs();
    SECTION("stos") test_stos();
    SECTION("overlap") test_overlap();
    SECTION("cmps/scas") test_cmps_scas();
    SECTION("page crossing") test_page_crossing();
}
