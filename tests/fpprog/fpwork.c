#include "fpwork.h"

/* glibc's FE_* bits: x87 status/control and MXCSR flag bits share them. */
#define FE_INVALID 0x01
#define FE_DIVBYZERO 0x04
#define FE_OVERFLOW 0x08
#define FE_UNDERFLOW 0x10
#define FE_INEXACT 0x20

void fp_reset(void)
{
    unsigned mxcsr = 0x1f80;
    __asm__ volatile("fninit\n ldmxcsr %0" ::"m"(mxcsr));
}

static void set_mxcsr(unsigned v) { __asm__ volatile("ldmxcsr %0" ::"m"(v)); }
static void set_fcw(unsigned short v) { __asm__ volatile("fldcw %0" ::"m"(v)); }

static fp_u64 bits(double d)
{
    union { double d; fp_u64 u; } x = {d};
    return x.u;
}
static fp_u64 fbits(float f)
{
    union { float f; unsigned u; } x = {f};
    return x.u;
}
static void out_ld(const char *name, long double v)
{
    union { long double v; struct { fp_u64 lo; unsigned short hi; } p; } x;
    x.p.lo = 0;
    x.p.hi = 0;
    x.v = v;
    fp_out(name, x.p.hi, x.p.lo);
}

/* SQRTSD itself (no libm, no errno path). */
static double s_sqrt(double a)
{
    double r;
    __asm__("sqrtsd %1, %0" : "=x"(r) : "x"(a));
    return r;
}

/* x87 transcendental and helper instructions, written out. */
static long double x_fsin(long double a) { __asm__("fsin" : "+t"(a)); return a; }
static long double x_fcos(long double a) { __asm__("fcos" : "+t"(a)); return a; }
static long double x_fsqrt(long double a) { __asm__("fsqrt" : "+t"(a)); return a; }
static long double x_f2xm1(long double a) { __asm__("f2xm1" : "+t"(a)); return a; }
static long double x_fpatan(long double y, long double x)
{
    long double r;
    __asm__("fpatan" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
    return r;
}
static long double x_fyl2x(long double y, long double x)
{
    long double r;
    __asm__("fyl2x" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
    return r;
}
static long double x_fprem(long double a, long double b)
{
    __asm__("1: fprem\n fnstsw %%ax\n testb $4, %%ah\n jnz 1b" : "+t"(a) : "u"(b) : "ax");
    return a;
}
static long double x_fscale(long double a, long double s)
{
    __asm__("fscale" : "+t"(a) : "u"(s));
    return a;
}
static long long x_fistp(long double a)
{
    long long r;
    __asm__("fistpll %0" : "=m"(r) : "t"(a) : "st");
    return r;
}

static volatile double vd[8] = {1.0, 3.0, 1e-310, 1e308, -0.0, 0.1, 7.25, 2.0};

void fp_compute(void)
{
    fp_reset();
    /* SSE double: a harmonic sum, square roots, conversions. */
    double h = 0;
    for (int i = 1; i <= 200000; i++) h += 1.0 / i;
    fp_out("sse-harmonic", 0, bits(h));
    double r = 0;
    for (int i = 1; i <= 1000; i++) r += s_sqrt((double)i * vd[5]);
    fp_out("sse-sqrt", 0, bits(r));
    float f = 0;
    for (int i = 1; i <= 1000; i++) f += (float)i * (float)i / 3.0f;
    fp_out("sse-float", 0, fbits(f));
    fp_out("sse-cvt", (fp_u64)(long long)(vd[3] / 1e290), (fp_u64)(int)(vd[6] * -3.0));
    /* Rounding modes and FTZ/DAZ through MXCSR. */
    static const unsigned modes[4] = {0x1f80, 0x3f80, 0x5f80, 0x7f80};
    for (int m = 0; m < 4; m++) {
        set_mxcsr(modes[m]);
        double q = vd[0] / vd[1];
        fp_out("sse-round", (fp_u64)m, bits(q));
    }
    set_mxcsr(0x9fc0); /* FTZ + DAZ */
    fp_out("sse-ftz-daz", bits(vd[2] * 2.0), bits(vd[2] + vd[2]));
    set_mxcsr(0x1f80);
    fp_out("sse-denormal", bits(vd[2] * 2.0), bits(vd[2] / 3.0));
    unsigned mx;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    fp_out("sse-flags", 0, mx & 0x3f);

    /* x87: 64-bit precision sums, transcendental instructions, FPREM,
     * FSCALE, FIST rounding, precision and rounding control. */
    fp_reset();
    long double s = 0;
    for (int i = 1; i <= 100000; i++) s += 1.0L / ((long double)i * i);
    out_ld("x87-basel", s);
    for (int i = 0; i < 8; i++) {
        long double a = (long double)i * 0.7L - 2.0L;
        out_ld("x87-fsin", x_fsin(a));
        out_ld("x87-fcos", x_fcos(a));
        out_ld("x87-fpatan", x_fpatan(a, 1.5L));
        out_ld("x87-f2xm1", x_f2xm1(a / 4.0L));
        out_ld("x87-fyl2x", x_fyl2x(a, 3.0L + i));
        out_ld("x87-fsqrt", x_fsqrt(a + 10.0L));
    }
    out_ld("x87-fprem", x_fprem(1e20L, 3.14159L));
    out_ld("x87-fscale", x_fscale(1.25L, 100.0L));
    static const unsigned short rc[4] = {0x037f, 0x077f, 0x0b7f, 0x0f7f};
    for (int m = 0; m < 4; m++) {
        set_fcw(rc[m]);
        out_ld("x87-round", 1.0L / 3.0L * vd[7]);
        fp_out("x87-fist", (fp_u64)m, (fp_u64)x_fistp(-2.5L * vd[7]));
    }
    static const unsigned short pc[3] = {0x007f, 0x027f, 0x037f};
    for (int p = 0; p < 3; p++) {
        set_fcw(pc[p]);
        out_ld("x87-precision", (long double)vd[0] / 3.0L);
    }
    unsigned short sw;
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    fp_out("x87-status", 0, sw & 0x3f);
    fp_reset();
}

/* ---- the trapping cases ---- */
static volatile double zero = 0.0, one = 1.0, big = 1e308, tiny = 1e-308, minus_one = -1.0;
static volatile double sink;
static volatile long double lsink;
static volatile int izero = 0;
static volatile int isink;

static void sse_div_by_zero(void) { fp_enable(FE_DIVBYZERO); sink = one / zero; }
static void sse_invalid(void) { fp_enable(FE_INVALID); sink = s_sqrt(minus_one); }
static void sse_overflow(void) { fp_enable(FE_OVERFLOW); sink = big * 10.0; }
static void sse_underflow(void) { fp_enable(FE_UNDERFLOW); sink = tiny * 1e-10; }
static void sse_inexact(void) { fp_enable(FE_INEXACT); sink = one / 3.0; }
static void sse_masked(void) { fp_enable(FE_OVERFLOW); sink = one / zero; } /* ZE stays masked */
static void x87_div_by_zero(void) { fp_enable(FE_DIVBYZERO); lsink = (long double)one / (long double)zero; }
static void x87_invalid(void) { fp_enable(FE_INVALID); lsink = x_fsqrt((long double)minus_one); }
static void x87_overflow(void) { fp_enable(FE_OVERFLOW); lsink = x_fscale(2.0L, 20000.0L); }
static void x87_stack_overflow(void)
{
    fp_enable(FE_INVALID);
    __asm__ volatile("fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fwait" ::: "memory");
}
static void int_divide(void) { isink = 10 / izero; }

const struct fp_trap_case fp_trap_cases[] = {
    {"sse-div-by-zero", sse_div_by_zero}, {"sse-invalid", sse_invalid}, {"sse-overflow", sse_overflow},
    {"sse-underflow", sse_underflow},     {"sse-inexact", sse_inexact}, {"sse-masked", sse_masked},
    {"x87-div-by-zero", x87_div_by_zero}, {"x87-invalid", x87_invalid}, {"x87-overflow", x87_overflow},
    {"x87-stack-overflow", x87_stack_overflow}, {"int-divide", int_divide},
};
const int fp_trap_case_count = sizeof fp_trap_cases / sizeof fp_trap_cases[0];

int fp_signal_code(int vector, unsigned fsw, unsigned fcw, unsigned mxcsr)
{
    enum { FPE_INTDIV = 1, FPE_FLTDIV = 3, FPE_FLTOVF = 4, FPE_FLTUND = 5, FPE_FLTRES = 6, FPE_FLTINV = 7 };
    unsigned err;
    if (vector == 0) return FPE_INTDIV;
    if (vector == 16)
        err = fsw & ~fcw;
    else
        err = ~(mxcsr >> 7) & mxcsr;
    if (err & 0x001) return FPE_FLTINV;
    if (err & 0x004) return FPE_FLTDIV;
    if (err & 0x008) return FPE_FLTOVF;
    if (err & 0x012) return FPE_FLTUND;
    if (err & 0x020) return FPE_FLTRES;
    return 0;
}
