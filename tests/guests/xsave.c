/* xsave: the XSAVE feature set and the AVX enabling rules, in 64-bit mode.
 *  XCR0: XGETBV/XSETBV #UD without CR4.OSXSAVE, #GP(0) for ECX beyond 0/1
 *  and for invalid XCR0 values (x87 clear, AVX without SSE, unsupported
 *  bits), CPUID.1:ECX.OSXSAVE following CR4; CPUID leaf 0DH (sizes for the
 *  enabled and the supported components, AVX at 576/256, XSAVEOPT/XSAVEC/
 *  XGETBV1 without XSAVES). XSAVE: the legacy region as FXSAVE's, MXCSR and
 *  MXCSR_MASK, XSTATE_BV updated for the requested components only, XCOMP_BV
 *  and reserved bytes untouched, partial masks; XSAVEOPT/XSAVEC init
 *  optimisation consistent with XSTATE_BV, XSAVEC header; XRSTOR round trip,
 *  initialisation of components with XSTATE_BV clear (MXCSR still loaded),
 *  the compacted form; #GP(0) for a misaligned area, XSTATE_BV bits outside
 *  XCR0, non-zero header bytes, XCOMP_BV rules and a reserved MXCSR bit, with
 *  the state unchanged; #NM with CR0.TS; #UD without CR4.OSXSAVE.
 *  AVX (when CPUID reports it): #UD with XCR0 lacking AVX or CR4.OSXSAVE
 *  clear, #NM with CR0.TS; upper halves kept by legacy SSE and zeroed by
 *  VEX.128, saved/restored by XSAVE/XRSTOR at offset 576, initialised by
 *  XRSTOR and VZEROUPPER; VMOVAPS alignment #GP(0), VMOVUPS none.
 *
 * QEMU-ARGS: -cpu max
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: xcr0 ok
 * EXPECT-OUTPUT: cpuid ok
 * EXPECT-OUTPUT: xsave ok
 * EXPECT-OUTPUT: xrstor ok
 * EXPECT-OUTPUT: faults ok
 * EXPECT-OUTPUT: avx ok
 * EXPECT-OUTPUT: PASS xsave
 */
#include "guest.h"

#define CR4_OSXSAVE (1u << 18)

static u8 area[1024] __attribute__((aligned(64)));
static u8 area2[1024] __attribute__((aligned(64)));
static u8 fx[512] __attribute__((aligned(16)));

static u64 get64(const u8 *p)
{
    u64 v;
    memcpy(&v, p, 8);
    return v;
}
static u32 get32(const u8 *p)
{
    u32 v;
    memcpy(&v, p, 4);
    return v;
}
static void put64(u8 *p, u64 v) { memcpy(p, &v, 8); }

static u64 xgetbv(u32 index)
{
    u32 lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
    return ((u64)hi << 32) | lo;
}
static void xsetbv(u64 v) { __asm__ volatile("xsetbv" ::"a"((u32)v), "d"((u32)(v >> 32)), "c"(0) : "memory"); }

/* Runs `insn` (with RAX/RDX/RCX from the arguments) expecting exception `vec` with error code 0. */
#define FAULT3(insn, vec, a_, d_, c_)                                                   \
    do {                                                                                \
        uptr ip_;                                                                       \
        trap_reset();                                                                   \
        __asm__ volatile("lea 661f(%%rip), %0\n" ASM_FAULT(insn)                         \
                         : "=&r"(ip_)                                                   \
                         : "a"((u32)(a_)), "d"((u32)(d_)), "c"((u32)(c_)), "D"(area + 0) \
                         : "memory");                                                   \
        CHECK_TRAP(vec, 0, ip_);                                                        \
    } while (0)
#define FAULT(insn, vec) FAULT3(insn, vec, ~0u, ~0u, 0)
/* The same where QEMU TCG deviates from the SDM (and survives the deviation). */
#define FAULT_SDM(insn, vec, why)                                                         \
    do {                                                                                  \
        uptr ip_;                                                                         \
        trap_reset();                                                                     \
        __asm__ volatile("lea 661f(%%rip), %0\n" ASM_FAULT(insn)                           \
                         : "=&r"(ip_)                                                     \
                         : "a"(~0u), "d"(~0u), "c"(0), "D"(area + 0)                     \
                         : "memory");                                                     \
        CHECK_EQ_SDM(last_trap.count, 1, why);                                            \
        if (last_trap.count == 1) CHECK_TRAP(vec, 0, ip_);                                \
    } while (0)

static void xsave_to(u8 *p, u64 mask) { __asm__ volatile("xsave (%0)" ::"r"(p), "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory"); }
static void xsaveopt_to(u8 *p, u64 mask) { __asm__ volatile("xsaveopt (%0)" ::"r"(p), "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory"); }
static void xsavec_to(u8 *p, u64 mask) { __asm__ volatile("xsavec (%0)" ::"r"(p), "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory"); }
static void xrstor_from(u8 *p, u64 mask) { __asm__ volatile("xrstor (%0)" ::"r"(p), "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory"); }

static u32 get_mxcsr(void)
{
    u32 m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}
static void set_mxcsr(u32 m) { __asm__ volatile("ldmxcsr %0" ::"m"(m)); }
static u64 xmm_lo(int which)
{
    u64 v;
    if (which == 3)
        __asm__ volatile("movq %%xmm3, %0" : "=r"(v));
    else
        __asm__ volatile("movq %%xmm9, %0" : "=r"(v));
    return v;
}

static int has_avx, has_xsavec;
static u64 supported;

static void test_xcr0(void)
{
    uptr cr4 = read_cr4();
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    CHECK(c & (1u << 26));    /* XSAVE */
    CHECK(!(c & (1u << 27))); /* OSXSAVE follows CR4, clear at entry */
    CHECK(!(cr4 & CR4_OSXSAVE));
    FAULT("xgetbv", 6);
    FAULT("xsetbv", 6);
    FAULT("xsave (%%rdi)", 6);
    FAULT("xrstor (%%rdi)", 6);

    write_cr4(cr4 | CR4_OSXSAVE);
    cpuid(1, 0, &a, &b, &c, &d);
    CHECK(c & (1u << 27));
    has_avx = (c >> 28) & 1;
    CHECK_EQ(xgetbv(0), 1); /* x87 only after reset */
    FAULT3("xgetbv", 13, 0, 0, 2);
    cpuid(0xd, 0, &a, &b, &c, &d);
    supported = ((u64)d << 32) | a;
    CHECK_EQ(supported & 3, 3);
    CHECK_EQ(!!(supported & 4), has_avx);
    /* Invalid XCR0 values and registers: #GP(0), XCR0 unchanged. */
    FAULT3("xsetbv", 13, 0, 0, 0);          /* x87 state cleared */
    FAULT3("xsetbv", 13, 2, 0, 0);          /* x87 state cleared */
    FAULT3("xsetbv", 13, 5, 0, 0);          /* AVX without SSE */
    FAULT3("xsetbv", 13, 3, 1, 0);          /* bit 32 */
    FAULT3("xsetbv", 13, 3 | 1u << 8, 0, 0); /* a supervisor component (PT) */
    FAULT3("xsetbv", 13, 3, 0, 1);          /* XCR1 */
    CHECK_EQ(xgetbv(0), 1);
    xsetbv(3);
    CHECK_EQ(xgetbv(0), 3);
    /* XINUSE never reports more than XCR0; x87 state out of its initial configuration is in use. */
    __asm__ volatile("fninit; fld1");
    CHECK_EQ(xgetbv(1) & ~3ull, 0);
    CHECK(xgetbv(1) & 1);
    __asm__ volatile("fninit");
}

static void test_cpuid(void)
{
    u32 a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    CHECK(a >= 0xd);
    cpuid(0xd, 0, &a, &b, &c, &d);
    CHECK_EQ(b, 576); /* XCR0 = x87 | SSE */
    if (supported == 3 || supported == 7)
        CHECK_EQ(c, has_avx ? 832 : 576);
    else
        CHECK(c > 832); /* further components (QEMU's -cpu max) */
    cpuid(0xd, 1, &a, &b, &c, &d);
    has_xsavec = (a >> 1) & 1;
    if (!on_qemu_tcg()) {
        CHECK_EQ(a & 0xf, 7); /* XSAVEOPT, XSAVEC, XGETBV ECX=1; no XSAVES */
        CHECK_EQ(c, 0);
        CHECK_EQ(d, 0);
    }
    cpuid(0xd, 2, &a, &b, &c, &d);
    CHECK_EQ(a, has_avx ? 256 : 0);
    CHECK_EQ(b, has_avx ? 576 : 0);
    if (has_avx) {
        xsetbv(7);
        cpuid(0xd, 0, &a, &b, &c, &d);
        CHECK_EQ(b, 832);
        xsetbv(3);
    }
}

static const u64 xmm3_lo = 0x0123456789abcdefull, xmm3_hi = 0xfedcba9876543210ull;
static const u64 xmm9_lo = 0x1111222233334444ull;

static void load_known_state(void)
{
    static const u64 x3[2] = {xmm3_lo, xmm3_hi}, x9[2] = {xmm9_lo, 0};
    __asm__ volatile("fninit; fld1; fldpi\n movdqu %0, %%xmm3\n movdqu %1, %%xmm9" ::"m"(x3), "m"(x9)
                     : "xmm3", "xmm9");
    set_mxcsr(0x1f80 | (1u << 13)); /* round down */
}

static void test_xsave(void)
{
    load_known_state();
    memset(area, 0xaa, sizeof area);
    memset(fx, 0, sizeof fx);
    __asm__ volatile("fxsave %0" : "=m"(fx));
    xsave_to(area, ~0ull);
    /* The legacy region is FXSAVE's (bytes 0-415); QEMU stores no x87 pointers in FXSAVE. */
    CHECK_EQ(memcmp(area, fx, 6), 0);
    CHECK_EQ_SDM(memcmp(area + 6, fx + 6, 18), 0, "XSAVE stores the x87 pointers as FXSAVE does");
    CHECK_EQ(get32(area + 24), get32(fx + 24));
    CHECK_EQ_SDM(memcmp(area + 28, fx + 28, 416 - 28), 0, "XSAVE's legacy region is FXSAVE's");
    CHECK_EQ(get32(area + 24), 0x1f80 | (1u << 13));
    CHECK_EQ(get32(area + 28), 0xffff);
    CHECK_EQ(get64(area + 160 + 3 * 16), xmm3_lo);
    CHECK_EQ(get64(area + 168 + 3 * 16), xmm3_hi);
    CHECK_EQ(get64(area + 160 + 9 * 16), xmm9_lo);
    CHECK_EQ(area[416], 0xaa); /* reserved bytes untouched */
    CHECK_EQ(area[511], 0xaa);
    CHECK_EQ(get64(area + 512) & 3, 3); /* x87 and SSE are in use */
    CHECK_EQ(get64(area + 512) & ~3ull, 0xaaaaaaaaaaaaaaaaull & ~3ull);
    CHECK_EQ(get64(area + 520), 0xaaaaaaaaaaaaaaaaull); /* XCOMP_BV is not written */
    CHECK_EQ(area[576], 0xaa);                          /* AVX not enabled in XCR0 */

    /* Only SSE requested: the x87 part is untouched, XSTATE_BV keeps its other bits. */
    memset(area, 0xaa, sizeof area);
    put64(area + 512, 0x1);
    xsave_to(area, 2);
    CHECK_EQ(area[0], 0xaa);
    CHECK_EQ(area[32], 0xaa);
    CHECK_EQ(get32(area + 24), 0x1f80 | (1u << 13));
    CHECK_EQ(get64(area + 160 + 3 * 16), xmm3_lo);
    CHECK_EQ(get64(area + 512), 0x3);
    /* Only x87: MXCSR and the XMM registers are not written. */
    memset(area, 0xaa, sizeof area);
    put64(area + 512, 0);
    xsave_to(area, 1);
    CHECK_EQ(get32(area + 0) & 0xffff, 0x37f);
    CHECK_EQ(get32(area + 24), 0xaaaaaaaa);
    CHECK_EQ(area[160], 0xaa);
    CHECK_EQ(get64(area + 512), 0x1);

    /* XSAVEOPT: a component with XSTATE_BV clear is in its initial configuration and was not written. */
    __asm__ volatile("fninit\n pxor %%xmm3, %%xmm3\n pxor %%xmm9, %%xmm9" ::: "xmm3", "xmm9");
    memset(area, 0xaa, sizeof area);
    put64(area + 512, 0);
    xsaveopt_to(area, ~0ull);
    u64 bv = get64(area + 512);
    CHECK_EQ(bv & ~3ull, 0);
    if (!(bv & 1)) CHECK_EQ(area[0], 0xaa);
    else CHECK_EQ(get32(area) & 0xffff, 0x37f);
    CHECK_EQ(get32(area + 24), 0x1f80 | (1u << 13)); /* MXCSR always, for RFBM[1] */
    load_known_state();
    xsaveopt_to(area, ~0ull);
    CHECK_EQ(get64(area + 512) & 3, 3);
    CHECK_EQ(get64(area + 160 + 3 * 16), xmm3_lo);

    /* XSAVEC: compacted header. */
    if (!has_xsavec) {
        skip("XSAVEC (not reported by CPUID)");
        set_mxcsr(0x1f80);
        return;
    }
    memset(area, 0xaa, sizeof area);
    xsavec_to(area, ~0ull);
    CHECK_EQ(get64(area + 512), 3);
    CHECK_EQ(get64(area + 520), 3 | (1ull << 63));
    CHECK_EQ(get64(area + 160 + 9 * 16), xmm9_lo);
    CHECK_EQ(get32(area + 24), 0x1f80 | (1u << 13));
    set_mxcsr(0x1f80);
}

static void test_xrstor(void)
{
    load_known_state();
    memset(area, 0, sizeof area);
    xsave_to(area, ~0ull);
    memcpy(area2, area, sizeof area);
    /* Change everything, then restore. */
    __asm__ volatile("fninit; fldz\n pxor %%xmm3, %%xmm3\n pcmpeqd %%xmm9, %%xmm9" ::: "xmm3", "xmm9");
    set_mxcsr(0x1f80);
    xrstor_from(area, ~0ull);
    CHECK_EQ(xmm_lo(3), xmm3_lo);
    CHECK_EQ(xmm_lo(9), xmm9_lo);
    CHECK_EQ(get_mxcsr(), 0x1f80 | (1u << 13));
    u16 sw;
    double st0;
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    CHECK_EQ((sw >> 11) & 7, 6); /* two values on the stack */
    __asm__ volatile("fstpl %0; fstp %%st(0)" : "=m"(st0));
    CHECK(st0 > 3.14 && st0 < 3.15);

    /* XSTATE_BV clear: components initialised; MXCSR still loaded (standard form). */
    load_known_state();
    memcpy(area, area2, sizeof area);
    put64(area + 512, 0);
    *(u32 *)(area + 24) = 0x1f80 | (3u << 13);
    xrstor_from(area, ~0ull);
    CHECK_EQ(xmm_lo(3), 0);
    CHECK_EQ(xmm_lo(9), 0);
    CHECK_EQ(get_mxcsr(), 0x1f80 | (3u << 13));
    u16 cw;
    __asm__ volatile("fnstsw %0; fnstcw %1" : "=m"(sw), "=m"(cw));
    CHECK_EQ(sw, 0);
    CHECK_EQ(cw, 0x37f);

    /* RFBM clear for SSE: XMM registers untouched, MXCSR untouched. */
    load_known_state();
    memcpy(area, area2, sizeof area);
    put64(area + 512, 0);
    xrstor_from(area, 1);
    CHECK_EQ(xmm_lo(3), xmm3_lo);
    CHECK_EQ(get_mxcsr(), 0x1f80 | (1u << 13));

    /* Compacted form from XSAVEC. */
    if (!has_xsavec) {
        __asm__ volatile("fninit");
        return;
    }
    load_known_state();
    memset(area, 0, sizeof area);
    xsavec_to(area, ~0ull);
    __asm__ volatile("pxor %%xmm3, %%xmm3" ::: "xmm3");
    set_mxcsr(0x1f80);
    xrstor_from(area, ~0ull);
    CHECK_EQ(xmm_lo(3), xmm3_lo);
    CHECK_EQ(get_mxcsr(), 0x1f80 | (1u << 13));
    /* Compacted with XSTATE_BV[1] clear: XMM zeroed and MXCSR initialised to 1F80H. */
    put64(area + 512, 1);
    xrstor_from(area, ~0ull);
    CHECK_EQ(xmm_lo(3), 0);
    CHECK_EQ(get_mxcsr(), 0x1f80);
    __asm__ volatile("fninit");
}

static void test_faults(void)
{
    load_known_state();
    memset(area, 0, sizeof area);
    xsave_to(area, ~0ull);
    memcpy(area2, area, sizeof area);
    __asm__ volatile("pxor %%xmm3, %%xmm3" ::: "xmm3");
    set_mxcsr(0x1f80);

    /* Misaligned areas. */
    FAULT("xsave 16(%%rdi)", 13);
    if (has_xsavec) FAULT("xsavec 32(%%rdi)", 13);
    FAULT("xsaveopt 8(%%rdi)", 13);
    FAULT("xrstor 16(%%rdi)", 13);
    /* Header checks of the standard form. */
    put64(area + 512, 3 | 4ull << 1); /* XSTATE_BV bit 3: not in XCR0 */
    FAULT("xrstor (%%rdi)", 13);
    put64(area + 512, 3 | 4);         /* AVX not in XCR0 (=3) */
    FAULT("xrstor (%%rdi)", 13);
    memcpy(area, area2, sizeof area);
    area[512 + 16] = 1;               /* bytes 23:16 must be zero */
    FAULT("xrstor (%%rdi)", 13);
    memcpy(area, area2, sizeof area);
    put64(area + 520, 1);             /* XCOMP_BV without bit 63 */
    FAULT("xrstor (%%rdi)", 13);
    memcpy(area, area2, sizeof area);
    *(u32 *)(area + 24) = 0x1f80 | (1u << 16); /* reserved MXCSR bit */
    if (on_qemu_tcg()) /* it loads the state: later checks would fail */
        puts("QEMU-DEVIATION (not run): XRSTOR of a reserved MXCSR bit raises #GP(0)\n");
    else
        FAULT("xrstor (%%rdi)", 13);
    /* Compacted-form checks. */
    memcpy(area, area2, sizeof area);
    put64(area + 520, (1ull << 63) | 1);        /* XSTATE_BV[1] not in XCOMP_BV */
    FAULT("xrstor (%%rdi)", 13);
    put64(area + 520, (1ull << 63) | 3 | 1 << 5); /* XCOMP_BV bit outside XCR0 */
    FAULT("xrstor (%%rdi)", 13);
    put64(area + 520, (1ull << 63) | 3);
    area[512 + 40] = 1;                          /* bytes 63:16 must be zero */
    FAULT("xrstor (%%rdi)", 13);
    /* Nothing changed. */
    CHECK_EQ(xmm_lo(3), 0);
    CHECK_EQ(get_mxcsr(), 0x1f80);
    memcpy(area, area2, sizeof area);
    xrstor_from(area, ~0ull);
    CHECK_EQ(xmm_lo(3), xmm3_lo);
    set_mxcsr(0x1f80);

    /* CR0.TS: #NM. */
    uptr cr0 = read_cr0();
    write_cr0(cr0 | CR0_TS);
    FAULT_SDM("xsave (%%rdi)", 7, "XSAVE: #NM if CR0.TS = 1");
    FAULT_SDM("xrstor (%%rdi)", 7, "XRSTOR: #NM if CR0.TS = 1");
    if (has_xsavec) FAULT("xsavec (%%rdi)", 7);
    __asm__ volatile("clts");
    write_cr0(cr0);
    __asm__ volatile("fninit");
}

typedef float v8sf __attribute__((vector_size(32)));
static u8 ymm_buf[64] __attribute__((aligned(32)));

static void test_avx(void)
{
    if (!has_avx) {
        skip("avx (not reported by CPUID)");
        puts("avx ok\n");
        return;
    }
    u32 a, b, c, d;
    cpuid(7, 0, &a, &b, &c, &d);
    uptr cr4 = read_cr4(), cr0 = read_cr0();
    /* XCR0 without AVX state: #UD. */
    CHECK_EQ(xgetbv(0), 3);
    FAULT("vaddps %%ymm0, %%ymm0, %%ymm0", 6);
    FAULT("vmovaps %%xmm1, %%xmm0", 6);
    xsetbv(7);
    CHECK_EQ(xgetbv(0), 7);
    /* CR0.TS: #NM; CR4.OSXSAVE clear: #UD (XCR0 keeps its value). */
    write_cr0(cr0 | CR0_TS);
    FAULT("vaddps %%ymm0, %%ymm0, %%ymm0", 7);
    __asm__ volatile("clts");
    write_cr0(cr0);
    write_cr4(cr4 & ~(uptr)CR4_OSXSAVE);
    FAULT("vaddps %%ymm0, %%ymm0, %%ymm0", 6);
    write_cr4(cr4);
    CHECK_EQ(xgetbv(0), 7);

    /* Upper halves: kept by legacy SSE, zeroed by VEX.128. */
    static const u64 init[4] = {1, 2, 3, 4};
    u64 out[4];
    __asm__ volatile("vmovdqu %1, %%ymm5\n addps %%xmm0, %%xmm5\n movq $7, %%rax\n movq %%rax, %%xmm5\n vmovdqu %%ymm5, %0"
                     : "=m"(out) : "m"(init) : "rax", "xmm5", "memory");
    CHECK_EQ(out[0], 7);
    CHECK_EQ(out[1], 0);
    CHECK_EQ(out[2], 3); /* MOVQ xmm, r64 is legacy SSE: bits 255:128 unchanged */
    CHECK_EQ(out[3], 4);
    __asm__ volatile("vmovdqu %1, %%ymm5\n vpaddq %%xmm5, %%xmm5, %%xmm5\n vmovdqu %%ymm5, %0"
                     : "=m"(out) : "m"(init) : "xmm5", "memory");
    CHECK_EQ(out[0], 2);
    CHECK_EQ(out[1], 4);
    CHECK_EQ(out[2], 0);
    CHECK_EQ(out[3], 0);

    /* XSAVE of the AVX component at 576; XRSTOR loads it back. */
    __asm__ volatile("vmovdqu %0, %%ymm5" ::"m"(init) : "xmm5");
    memset(area, 0, sizeof area);
    xsave_to(area, ~0ull);
    CHECK_EQ(get64(area + 512) & 7, 7);
    CHECK_EQ(get64(area + 576 + 5 * 16), 3);
    CHECK_EQ(get64(area + 584 + 5 * 16), 4);
    memcpy(area2, area, sizeof area);
    __asm__ volatile("vzeroupper");
    if (has_xsavec) {
        memset(area, 0, sizeof area);
        xsavec_to(area, 7);
        CHECK_EQ(get64(area + 520), 7 | (1ull << 63));
        if (get64(area + 512) & 4) CHECK_EQ(get64(area + 576 + 5 * 16), 0); /* in use or not: zero */
    }
    xrstor_from(area2, ~0ull);
    __asm__ volatile("vmovdqu %%ymm5, %0" : "=m"(out)::"memory");
    CHECK_EQ(out[2], 3);
    CHECK_EQ(out[3], 4);
    /* XSTATE_BV[2] clear: the upper halves are initialised. */
    put64(area2 + 512, 3);
    xrstor_from(area2, ~0ull);
    __asm__ volatile("vmovdqu %%ymm5, %0" : "=m"(out)::"memory");
    CHECK_EQ(out[0], 1);
    CHECK_EQ(out[2], 0);
    CHECK_EQ(out[3], 0);

    /* Arithmetic and alignment. */
    v8sf x = {1, 2, 3, 4, 5, 6, 7, 8}, y = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 10};
    v8sf r;
    __asm__ volatile("vmovups %1, %%ymm1\n vaddps %2, %%ymm1, %%ymm1\n vmovups %%ymm1, %0"
                     : "=m"(r) : "m"(x), "m"(y) : "xmm1", "memory");
    CHECK(r[0] == 1.5f && r[7] == 18.0f);
    FAULT("vmovaps 16(%%rdi), %%ymm0", 13);
    FAULT("vmovaps 8(%%rdi), %%xmm0", 13);
    __asm__ volatile("vmovups 8(%0), %%ymm0\n vaddps 4(%0), %%ymm0, %%ymm0" ::"r"(ymm_buf) : "xmm0");
    /* Masked load: unselected elements read as zero. */
    static const u32 src[8] = {10, 11, 12, 13, 14, 15, 16, 17};
    static const u32 sel[8] = {0x80000000u, 0, 0x80000000u, 0, 0, 0, 0, 0x80000000u};
    u32 got[8];
    __asm__ volatile("vmovdqu %1, %%ymm2\n vmaskmovps %2, %%ymm2, %%ymm3\n vmovdqu %%ymm3, %0"
                     : "=m"(got) : "m"(sel), "m"(src) : "xmm2", "xmm3", "memory");
    CHECK_EQ(got[0], 10);
    CHECK_EQ(got[1], 0);
    CHECK_EQ(got[2], 12);
    CHECK_EQ(got[7], 17);
    if (b & (1u << 5)) { /* AVX2: a gather; the mask ends all zero */
        static const u32 idx[8] = {7, 6, 5, 4, 3, 2, 1, 0};
        u32 msk[8];
        __asm__ volatile("vmovdqu %2, %%ymm4\n vpcmpeqd %%ymm2, %%ymm2, %%ymm2\n vpxor %%ymm3, %%ymm3, %%ymm3\n"
                         " vpgatherdd %%ymm2, (%3,%%ymm4,4), %%ymm3\n vmovdqu %%ymm3, %0\n vmovdqu %%ymm2, %1"
                         : "=m"(got), "=m"(msk) : "m"(idx), "r"(src) : "xmm2", "xmm3", "xmm4", "memory");
        CHECK_EQ_SDM(got[0], 17, "VPGATHERDD loads element i from base + index[i] * scale");
        CHECK_EQ_SDM(got[7], 10, "VPGATHERDD loads element i from base + index[i] * scale");
        CHECK_EQ(msk[0] | msk[3] | msk[7], 0);
    }
    /* VEX.128 AES-NI and PCLMULQDQ (with their CPUID bits) agree with the legacy forms. */
    cpuid(1, 0, &a, &b, &c, &d);
    static const u64 ka[2] = {0x0123456789abcdefull, 0x1122334455667788ull}, kb[2] = {0xfedcba9876543210ull, 7};
    u64 legacy[2], vex[2];
    if (c & (1u << 25)) {
        __asm__ volatile("movdqu %2, %%xmm1\n movdqu %3, %%xmm2\n movdqa %%xmm1, %%xmm3\n aesenc %%xmm2, %%xmm3\n"
                         " movdqu %%xmm3, %0\n vaesenc %%xmm2, %%xmm1, %%xmm4\n movdqu %%xmm4, %1"
                         : "=m"(legacy), "=m"(vex) : "m"(ka), "m"(kb) : "xmm1", "xmm2", "xmm3", "xmm4", "memory");
        CHECK_EQ(legacy[0], vex[0]);
        CHECK_EQ(legacy[1], vex[1]);
    }
    if (c & (1u << 1)) {
        __asm__ volatile("movdqu %2, %%xmm1\n movdqu %3, %%xmm2\n movdqa %%xmm1, %%xmm3\n pclmulqdq $0x11, %%xmm2, %%xmm3\n"
                         " movdqu %%xmm3, %0\n vpclmulqdq $0x11, %%xmm2, %%xmm1, %%xmm4\n movdqu %%xmm4, %1"
                         : "=m"(legacy), "=m"(vex) : "m"(ka), "m"(kb) : "xmm1", "xmm2", "xmm3", "xmm4", "memory");
        CHECK_EQ(legacy[0], vex[0]);
        CHECK_EQ(legacy[1], vex[1]);
    }
    __asm__ volatile("vzeroupper");
    xsetbv(3);
}

int main(void)
{
    SECTION("xcr0") test_xcr0();
    SECTION("cpuid") test_cpuid();
    SECTION("xsave") test_xsave();
    SECTION("xrstor") test_xrstor();
    SECTION("faults") test_faults();
    SECTION("avx") test_avx();
    return 0;
}
