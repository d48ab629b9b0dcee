/* sse: SSE/SSE2 in 64-bit mode.
 *  Control: #UD with CR4.OSFXSR=0 or CR0.EM=1, #NM with CR0.TS=1, #XM for an
 *  unmasked exception with CR4.OSXMMEXCPT=1 (#UD without it), #GP(0) for
 *  MOVDQA on a misaligned operand and for LDMXCSR with reserved bits;
 *  FXSAVE/FXRSTOR round trip. Arithmetic with bit-exact known results
 *  (double add/mul/div/sqrt, packed integer add/mul/saturation/compare/
 *  shuffle/movmsk/sad), conversions with each rounding mode and the integer
 *  indefinite, MXCSR flags after masked exceptions (ZE for x/0, IE for 0/0
 *  with the default NaN, PE for 1/3).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: control ok
 * EXPECT-OUTPUT: arithmetic ok
 * EXPECT-OUTPUT: mxcsr ok
 * EXPECT-OUTPUT: PASS sse
 */
#include "guest.h"

typedef long long v2di __attribute__((vector_size(16)));

static u64 bits(double d)
{
    u64 u;
    memcpy(&u, &d, 8);
    return u;
}
static u32 get_mxcsr(void)
{
    u32 m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}
static void set_mxcsr(u32 m) { __asm__ volatile("ldmxcsr %0" ::"m"(m)); }

#define MXCSR_IE 0x01u
#define MXCSR_ZE 0x04u
#define MXCSR_PE 0x20u
#define MXCSR_ZM (1u << 9)
#define MXCSR_DEFAULT 0x1f80u

/* Runs one SSE instruction expecting an exception; returns its address. */
#define SSE_FAULT(insn, vec, err)                                                            \
    do {                                                                                     \
        uptr ip_;                                                                            \
        trap_reset();                                                                        \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn) : "=&r"(ip_)::"xmm0", "memory"); \
        CHECK_TRAP(vec, err, ip_);                                                           \
    } while (0)

static u8 fx[512] __attribute__((aligned(16)));
u8 fx2[512] __attribute__((aligned(16)));
u8 misaligned[48] __attribute__((aligned(16)));

static void test_control(void)
{
    uptr cr4 = read_cr4(), cr0 = read_cr0();
    CHECK(cr4 & CR4_OSFXSR);

    write_cr4(cr4 & ~(uptr)CR4_OSFXSR);
    SSE_FAULT("addps %%xmm0, %%xmm0", 6, 0);
    write_cr4(cr4);

    write_cr0(cr0 | CR0_EM);
    SSE_FAULT("paddd %%xmm0, %%xmm0", 6, 0);
    write_cr0(cr0 | CR0_TS);
    SSE_FAULT("movaps %%xmm0, %%xmm0", 7, 0);
    SSE_FAULT("fxsave fx2", 7, 0);
    __asm__ volatile("clts");
    write_cr0(cr0);

    SSE_FAULT("movdqa misaligned+8, %%xmm0", 13, 0);
    __asm__ volatile("movdqu misaligned+8, %%xmm0" ::: "xmm0");

    /* Reserved MXCSR bits: #GP(0). QEMU TCG ignores them. */
    u32 bad = 0x1f80u | (1u << 31);
    uptr ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("ldmxcsr %1") : "=&r"(ip) : "m"(bad));
    CHECK_EQ_SDM(last_trap.count, 1, "LDMXCSR with reserved bits set raises #GP(0)");
    set_mxcsr(MXCSR_DEFAULT);

    /* FXSAVE/FXRSTOR */
    v2di a = {0x1111222233334444ll, 0x5555666677778888ll};
    __asm__ volatile("movdqa %1, %%xmm5\n fxsave %0" : "=m"(fx) : "m"(a) : "xmm5");
    CHECK_EQ(*(u64 *)(fx + 160 + 5 * 16), 0x1111222233334444ull);
    CHECK_EQ(*(u64 *)(fx + 168 + 5 * 16), 0x5555666677778888ull);
    CHECK_EQ(*(u32 *)(fx + 24), MXCSR_DEFAULT);
    v2di out;
    __asm__ volatile("pxor %%xmm5, %%xmm5\n fxrstor %1\n movdqa %%xmm5, %0" : "=m"(out) : "m"(fx) : "xmm5");
    CHECK_EQ(out[0], 0x1111222233334444ll);
    CHECK_EQ(out[1], 0x5555666677778888ll);
}

static volatile double one = 1.0, two = 2.0, three = 3.0, zero = 0.0, big = 3e10, two_seven = 2.7, m_two_five = -2.5;

static void test_arithmetic(void)
{
    double x = one, y = three;
    __asm__("divsd %1, %0" : "+x"(x) : "x"(y));
    CHECK_EQ(bits(x), 0x3FD5555555555555ull);
    x = two;
    __asm__("sqrtsd %0, %0" : "+x"(x));
    CHECK_EQ(bits(x), 0x3FF6A09E667F3BCDull);
    x = 1.5;
    y = 4.0;
    __asm__("mulsd %1, %0" : "+x"(x) : "x"(y));
    CHECK_EQ(bits(x), bits(6.0));
    x = 0.1, y = 0.2;
    __asm__("addsd %1, %0" : "+x"(x) : "x"(y));
    CHECK_EQ(bits(x), 0x3FD3333333333334ull); /* 0.30000000000000004 */
    v2di pd = {(long long)bits(1.0), (long long)bits(-8.0)}, pd2 = {(long long)bits(0.5), (long long)bits(2.0)};
    __asm__("mulpd %1, %0" : "+x"(pd) : "x"(pd2));
    CHECK_EQ(pd[0], bits(0.5));
    CHECK_EQ(pd[1], bits(-16.0));

    typedef int v4si __attribute__((vector_size(16)));
    typedef short v8hi __attribute__((vector_size(16)));
    typedef unsigned char v16qu __attribute__((vector_size(16)));
    v4si i = {1, -2, 0x7fffffff, 100}, j = {10, 20, 1, -100};
    __asm__("paddd %1, %0" : "+x"(i) : "x"(j));
    CHECK_EQ(i[0], 11);
    CHECK_EQ(i[1], 18);
    CHECK_EQ((u32)i[2], 0x80000000u); /* wraps */
    CHECK_EQ(i[3], 0);
    v8hi h = {300, -300, 2, 3, 4, 5, 6, 7}, k = {300, 300, 2, 3, 4, 5, 6, 7};
    __asm__("pmullw %1, %0" : "+x"(h) : "x"(k));
    CHECK_EQ((u16)h[0], (u16)(90000 & 0xffff));
    CHECK_EQ((u16)h[1], (u16)(-90000 & 0xffff));
    CHECK_EQ(h[7], 49);
    v16qu b = {200, 10, 255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, c = {100, 20, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    v16qu s = b;
    __asm__("paddusb %1, %0" : "+x"(s) : "x"(c));
    CHECK_EQ(s[0], 255); /* saturates */
    CHECK_EQ(s[2], 255);
    CHECK_EQ(s[1], 30);
    s = b;
    __asm__("psubusb %1, %0" : "+x"(s) : "x"(c));
    CHECK_EQ(s[0], 100);
    CHECK_EQ(s[1], 0);
    s = b;
    __asm__("pcmpeqb %1, %0" : "+x"(s) : "x"(c));
    u32 mask;
    __asm__("pmovmskb %1, %0" : "=r"(mask) : "x"(s));
    CHECK_EQ(mask, 0x0018); /* bytes 3 (0==0) and 4 (1==1) */
    v4si sh = {1, 2, 3, 4};
    __asm__("pshufd $0x1b, %0, %0" : "+x"(sh));
    CHECK_EQ(sh[0], 4);
    CHECK_EQ(sh[3], 1);
    v16qu sa = b;
    __asm__("psadbw %1, %0" : "+x"(sa) : "x"(c));
    /* |200-100|+|10-20|+|255-1|+0+0+1+2+3 = 370; high half: 4+5+...+11 = 60 */
    CHECK_EQ(((v2di)sa)[0], 370);
    CHECK_EQ(((v2di)sa)[1], 60);
}

static void test_mxcsr(void)
{
    set_mxcsr(MXCSR_DEFAULT);
    double x = one;
    __asm__ volatile("divsd %1, %0" : "+x"(x) : "x"(zero));
    CHECK_EQ(bits(x), 0x7FF0000000000000ull); /* +inf */
    CHECK_EQ(get_mxcsr() & 0x3f, MXCSR_ZE);    /* sticky ZE only (1/0 is exact) */
    set_mxcsr(MXCSR_DEFAULT);
    x = zero;
    __asm__ volatile("divsd %1, %0" : "+x"(x) : "x"(zero));
    CHECK_EQ(bits(x), 0xFFF8000000000000ull); /* QNaN floating-point indefinite */
    CHECK_EQ(get_mxcsr() & 0x3f, MXCSR_IE);
    set_mxcsr(MXCSR_DEFAULT);
    x = one;
    __asm__ volatile("divsd %1, %0" : "+x"(x) : "x"(three));
    CHECK_EQ(get_mxcsr() & 0x3f, MXCSR_PE);
    /* Flags are sticky: another exact operation keeps PE. */
    __asm__ volatile("addsd %1, %0" : "+x"(x) : "x"(zero));
    CHECK_EQ(get_mxcsr() & 0x3f, MXCSR_PE);

    /* Conversions: integer indefinite and IE; rounding modes. */
    set_mxcsr(MXCSR_DEFAULT);
    int r;
    __asm__ volatile("cvttsd2si %1, %0" : "=r"(r) : "x"(big));
    CHECK_EQ((u32)r, 0x80000000u);
    CHECK(get_mxcsr() & MXCSR_IE);
    set_mxcsr(MXCSR_DEFAULT); /* RC = nearest */
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(two_seven));
    CHECK_EQ(r, 3);
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(m_two_five));
    CHECK_EQ(r, -2); /* ties to even */
    set_mxcsr(MXCSR_DEFAULT | 0x2000); /* RC = down */
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(m_two_five));
    CHECK_EQ(r, -3);
    set_mxcsr(MXCSR_DEFAULT | 0x4000); /* RC = up */
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(two_seven));
    CHECK_EQ(r, 3);
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(m_two_five));
    CHECK_EQ(r, -2);
    set_mxcsr(MXCSR_DEFAULT | 0x6000); /* RC = toward zero */
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(two_seven));
    CHECK_EQ(r, 2);
    x = one;
    __asm__ volatile("divsd %1, %0" : "+x"(x) : "x"(three));
    CHECK_EQ(bits(x), 0x3FD5555555555555ull); /* 1/3 rounds down in both modes */
    x = two;
    __asm__ volatile("divsd %1, %0" : "+x"(x) : "x"(three));
    CHECK_EQ(bits(x), 0x3FE5555555555555ull); /* nearest would give ...56 */

    /* Unmasked divide-by-zero: #XM with OSXMMEXCPT, #UD without; the
     * destination is unchanged and the flag is set. */
    set_mxcsr(MXCSR_DEFAULT & ~MXCSR_ZM);
    uptr ip;
    x = one;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("divsd %2, %1") : "=&r"(ip), "+x"(x) : "x"(zero));
    /* QEMU TCG never raises SIMD floating-point exceptions: it computes the
     * masked result instead. */
    CHECK_EQ_SDM(last_trap.count, 1, "an unmasked SIMD FP exception raises #XM (CR4.OSXMMEXCPT=1)");
    if (last_trap.count) {
        CHECK_TRAP(19, 0, ip);
        CHECK_EQ(bits(x), bits(1.0));
    }
    CHECK(get_mxcsr() & MXCSR_ZE);
    set_mxcsr(MXCSR_DEFAULT & ~MXCSR_ZM);
    uptr cr4 = read_cr4();
    write_cr4(cr4 & ~(uptr)CR4_OSXMMEXCPT);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("divsd %2, %1") : "=&r"(ip), "+x"(x) : "x"(zero));
    CHECK_EQ_SDM(last_trap.count, 1, "an unmasked SIMD FP exception raises #UD when CR4.OSXMMEXCPT=0");
    if (last_trap.count) CHECK_TRAP(6, 0, ip);
    write_cr4(cr4);
    set_mxcsr(MXCSR_DEFAULT);
}

void main(void)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!CHECK(d & (1u << 26))) return;
    SECTION("control") test_control();
    SECTION("arithmetic") test_arithmetic();
    SECTION("mxcsr") test_mxcsr();
}
