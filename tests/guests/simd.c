/* simd: MMX, SSE3, SSSE3, SSE4.1, SSE4.2, AES-NI, PCLMULQDQ in 64-bit mode.
 *  Control: CPUID leaf 1 bits; an extension not advertised must be #UD.
 *  MMX: CR0.EM -> #UD, CR0.TS -> #NM, CR4.OSFXSR=0 leaves pure MMX forms
 *  alone but makes MOVQ2DQ #UD; a pending unmasked x87 exception is #MF at
 *  the MMX instruction; the x87 state after MMX (TOP 0, every tag valid,
 *  exponent all ones) and after EMMS (every tag empty).
 *  Values: results the SDM's pseudocode gives by hand (CRC32C of
 *  "123456789", PCMPISTRI, PCLMULQDQ, AESENC/AESDECLAST of zero, PTEST
 *  flags, ROUNDSD in each mode, HADDPD, PSHUFB, FISTTP); 16-byte alignment
 *  (#GP(0) for HADDPD, none for LDDQU and PCMPISTRI); an unmasked invalid
 *  operation in ROUNDSD raises #XM.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: control ok
 * EXPECT-OUTPUT: mmx ok
 * EXPECT-OUTPUT: values ok
 * EXPECT-OUTPUT: PASS simd
 */
#include "guest.h"

typedef long long v2di __attribute__((vector_size(16)));
typedef unsigned char v16qu __attribute__((vector_size(16)));

#define ECX_SSE3 (1u << 0)
#define ECX_PCLMUL (1u << 1)
#define ECX_SSSE3 (1u << 9)
#define ECX_SSE41 (1u << 19)
#define ECX_SSE42 (1u << 20)
#define ECX_AES (1u << 25)
#define EDX_MMX (1u << 23)

#define CR0_NE (1u << 5)

static u32 ecx1, edx1;

static u64 bits(double d) {
    u64 u;
    memcpy(&u, &d, 8);
    return u;
}

/* Runs one instruction expecting an exception at it. */
#define FAULT_AT(insn, vec, err)                                                                             \
    do {                                                                                                     \
        uptr ip_;                                                                                            \
        trap_reset();                                                                                        \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn) : "=&r"(ip_)::"xmm0", "xmm1", "memory", "cc");    \
        CHECK_TRAP(vec, err, ip_);                                                                           \
    } while (0)

/* The same where QEMU TCG raises nothing (`why`: the SDM rule). */
#define FAULT_AT_SDM(insn, vec, err, why)                                                                    \
    do {                                                                                                     \
        uptr ip_;                                                                                            \
        trap_reset();                                                                                        \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn) : "=&r"(ip_)::"xmm0", "xmm1", "memory", "cc");    \
        CHECK_EQ_SDM(last_trap.count, 1, why);                                                               \
        if (last_trap.count) CHECK_TRAP(vec, err, ip_);                                                      \
    } while (0)

/* Advertised: it runs; otherwise: #UD. */
#define RUNS_IF(bit, insn)                                                                                   \
    do {                                                                                                     \
        uptr ip_;                                                                                            \
        trap_reset();                                                                                        \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn)                                                   \
                         : "=&r"(ip_)::"xmm0", "xmm1", "rax", "memory", "cc");                               \
        if (bit)                                                                                             \
            CHECK_EQ(last_trap.count, 0);                                                                    \
        else                                                                                                 \
            CHECK_TRAP(6, 0, ip_);                                                                           \
    } while (0)

static volatile double zero_d = 0.0;
static u8 fx[512] __attribute__((aligned(16)));
u8 buf[64] __attribute__((aligned(16)));

static void test_control(void) {
    CHECK(edx1 & EDX_MMX);
    printk("leaf 1 ecx %x edx %x\n", ecx1, edx1);
    RUNS_IF(ecx1 & ECX_SSE3, "haddpd %%xmm0, %%xmm0");
    RUNS_IF(ecx1 & ECX_SSSE3, "pshufb %%xmm0, %%xmm0");
    RUNS_IF(ecx1 & ECX_SSE41, "ptest %%xmm0, %%xmm0");
    RUNS_IF(ecx1 & ECX_SSE42, "crc32b %%al, %%eax");
    RUNS_IF(ecx1 & ECX_AES, "aesenc %%xmm0, %%xmm0");
    RUNS_IF(ecx1 & ECX_PCLMUL, "pclmulqdq $0, %%xmm0, %%xmm0");

    /* Legacy SSE alignment: HADDPD m128 must be aligned; LDDQU and the
     * SSE4.2 string compares need not be. */
    if (ecx1 & ECX_SSE3) {
        FAULT_AT_SDM("haddpd buf+8, %%xmm0", 13, 0, "a misaligned legacy SSE m128 operand raises #GP(0)");
        __asm__ volatile("lddqu buf+8, %%xmm0" ::: "xmm0");
    }
    if (ecx1 & ECX_SSE42) {
        trap_reset();
        __asm__ volatile("pcmpistri $0, buf+1, %%xmm0" ::: "rcx", "cc");
        CHECK_EQ(last_trap.count, 0);
    }
}

static void test_mmx(void) {
    /* CR0.NE: #MF rather than the PC's FERR# (IRQ 13) reporting. */
    uptr cr4 = read_cr4();
    write_cr0(read_cr0() | CR0_NE);
    uptr cr0 = read_cr0();
    __asm__ volatile("fninit");

    write_cr0(cr0 | CR0_EM);
    FAULT_AT_SDM("paddb %%mm0, %%mm0", 6, 0, "MMX instructions raise #UD with CR0.EM=1");
    FAULT_AT_SDM("emms", 6, 0, "EMMS raises #UD with CR0.EM=1");
    write_cr0(cr0 | CR0_TS);
    FAULT_AT("paddb %%mm0, %%mm0", 7, 0);
    FAULT_AT("movq buf, %%mm1", 7, 0);
    __asm__ volatile("clts");
    write_cr0(cr0);

    /* Without CR4.OSFXSR: MMX runs, MMX<->XMM moves are #UD. */
    write_cr4(cr4 & ~(uptr)CR4_OSFXSR);
    trap_reset();
    __asm__ volatile("pxor %%mm2, %%mm2" ::: "memory");
    CHECK_EQ(last_trap.count, 0);
    FAULT_AT_SDM("movq2dq %%mm2, %%xmm0", 6, 0, "MOVQ2DQ raises #UD with CR4.OSFXSR=0");
    write_cr4(cr4);

    /* The x87 state after MMX: TOP 0, every register valid, the written
     * register's exponent all ones; after EMMS every tag empty. */
    u64 v = 0x0102030405060708ull, w = 0xfffefdfcfbfaf9f8ull, out;
    __asm__ volatile("fninit\n fld1\n fld1\n" /* TOP = 6 */
                     "movq %1, %%mm0\n paddusb %2, %%mm0\n movq %%mm0, %0\n fxsave %3"
                     : "=m"(out)
                     : "m"(v), "m"(w), "m"(fx)
                     : "memory");
    CHECK_EQ(out, 0xffffffffffffffffull);
    CHECK_EQ((*(u16*)(fx + 2) >> 11) & 7, 0); /* FSW.TOP */
    CHECK_EQ(fx[4], 0xff);                    /* abridged tag word: all valid */
    CHECK_EQ_SDM(*(u16*)(fx + 32 + 8), 0xffff, "writing an MMX register sets its exponent bits to all ones");
    CHECK_EQ(*(u64*)(fx + 32), 0xffffffffffffffffull);
    __asm__ volatile("emms\n fxsave %0" : "=m"(fx)::"memory");
    CHECK_EQ(fx[4], 0x00); /* every tag empty */

    /* A pending unmasked x87 exception: #MF at the MMX instruction. */
    u16 cw = 0x037f & ~0x4; /* ZE unmasked */
    __asm__ volatile("fninit\n fldcw %0\n fld1\n fdivl %1" ::"m"(cw), "m"(zero_d));
    uptr ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("paddb %%mm1, %%mm1") : "=&r"(ip)::"memory");
    /* QEMU TCG does not check for a pending x87 exception at MMX instructions. */
    CHECK_EQ_SDM(last_trap.count, 1, "an MMX instruction raises #MF for a pending x87 exception");
    if (last_trap.count) CHECK_TRAP(16, 0, ip);
    __asm__ volatile("fnclex\n fninit\n emms");

    /* Integer results. */
    u64 a = 0x7fff800000017ffeull, b = 0x0001800000010002ull;
    __asm__("movq %1, %%mm3\n paddsw %2, %%mm3\n movq %%mm3, %0\n emms" : "=m"(out) : "m"(a), "m"(b));
    CHECK_EQ(out, 0x7fff800000027fffull);
    if (ecx1 & ECX_SSSE3) {
        u64 s = 0x8000ffff00017fffull;
        __asm__("movq %1, %%mm4\n pabsw %%mm4, %%mm4\n movq %%mm4, %0\n emms" : "=m"(out) : "m"(s));
        CHECK_EQ(out, 0x8000000100017fffull);
    }
}

static volatile double two_five = 2.5, m_two_five = -2.5, two_seven = 2.7;

static double roundsd(double x, int imm) {
    switch (imm) {
    case 0: __asm__("roundsd $0, %0, %0" : "+x"(x)); break;
    case 1: __asm__("roundsd $1, %0, %0" : "+x"(x)); break;
    case 2: __asm__("roundsd $2, %0, %0" : "+x"(x)); break;
    default: __asm__("roundsd $3, %0, %0" : "+x"(x)); break;
    }
    return x;
}

static void test_values(void) {
    if (ecx1 & ECX_SSE42) {
        /* CRC32C (Castagnoli) of "123456789": E3069283H. */
        const char* s = "123456789";
        u32 crc = 0xffffffffu;
        for (int i = 0; i < 9; i++) __asm__("crc32b %1, %0" : "+r"(crc) : "m"(s[i]));
        CHECK_EQ(crc ^ 0xffffffffu, 0xe3069283u);
        u64 crc64 = 0;
        u64 q = 0x0102030405060708ull;
        __asm__("crc32q %1, %0" : "+r"(crc64) : "r"(q));
        CHECK(crc64 >> 32 == 0);

        /* PCMPISTRI, equal any, unsigned bytes: the first 'c' of "abcdef". */
        v16qu set = {'c', 0}, str = {'a', 'b', 'c', 'd', 'e', 'f', 0};
        u64 index;
        u64 flags;
        __asm__("pcmpistri $0, %3, %1\n pushfq\n pop %2" : "=c"(index), "+x"(set), "=r"(flags) : "x"(str));
        CHECK_EQ(index, 2);
        CHECK(flags & 1);           /* CF: a match */
        CHECK(flags & 0x40);        /* ZF: the string ends within 16 bytes */
        CHECK(flags & 0x80);        /* SF: so does the set */
        CHECK_EQ(flags & 0x800, 0); /* OF: IntRes2[0] = 0 */
    }
    if (ecx1 & ECX_PCLMUL) {
        v2di x = {3, (long long)0x8000000000000000ull}, y = {3, 2};
        v2di p = x;
        __asm__("pclmulqdq $0x00, %1, %0" : "+x"(p) : "x"(y));
        CHECK_EQ(p[0], 5); /* (x+1)(x+1) = x^2+1 */
        CHECK_EQ(p[1], 0);
        p = x;
        __asm__("pclmulqdq $0x11, %1, %0" : "+x"(p) : "x"(y));
        CHECK_EQ(p[0], 0);
        CHECK_EQ(p[1], 1); /* x^63 * x = x^64 */
    }
    if (ecx1 & ECX_AES) {
        /* SubBytes(00) = 63H; ShiftRows and MixColumns keep a uniform state. */
        v2di z = {0, 0}, k = {0, 0};
        __asm__("aesenc %1, %0" : "+x"(z) : "x"(k));
        CHECK_EQ((u64)z[0], 0x6363636363636363ull);
        CHECK_EQ((u64)z[1], 0x6363636363636363ull);
        z = (v2di){0, 0};
        __asm__("aesdeclast %1, %0" : "+x"(z) : "x"(k));
        CHECK_EQ((u64)z[0], 0x5252525252525252ull); /* InvSubBytes(00) = 52H */
    }
    if (ecx1 & ECX_SSE41) {
        /* PTEST xmm1, xmm2: ZF = (xmm2 AND xmm1) == 0, CF = (xmm2 AND NOT xmm1) == 0. */
        v2di ones = {-1, -1}, zero = {0, 0}, some = {1, 0};
        u8 zf, cf;
        __asm__("ptest %2, %3\n setz %0\n setc %1" : "=r"(zf), "=r"(cf) : "x"(zero), "x"(ones));
        CHECK_EQ(zf, 1);
        CHECK_EQ(cf, 1);
        __asm__("ptest %2, %3\n setz %0\n setc %1" : "=r"(zf), "=r"(cf) : "x"(ones), "x"(some));
        CHECK_EQ(zf, 0);
        CHECK_EQ(cf, 0);
        __asm__("ptest %2, %3\n setz %0\n setc %1" : "=r"(zf), "=r"(cf) : "x"(some), "x"(ones));
        CHECK_EQ(zf, 0);
        CHECK_EQ(cf, 1);

        CHECK_EQ(bits(roundsd(two_five, 0)), bits(2.0));    /* to nearest even */
        CHECK_EQ(bits(roundsd(two_five, 1)), bits(2.0));    /* down */
        CHECK_EQ(bits(roundsd(two_five, 2)), bits(3.0));    /* up */
        CHECK_EQ(bits(roundsd(m_two_five, 3)), bits(-2.0)); /* toward zero */
        CHECK_EQ(bits(roundsd(m_two_five, 0)), bits(-2.0));

        /* An SNaN with IM unmasked: #XM, destination unchanged. */
        u32 m = 0x1f80 & ~0x80u, old; /* IM clear */
        u64 snan = 0x7ff0000000000001ull;
        double d;
        memcpy(&d, &snan, 8);
        __asm__ volatile("stmxcsr %0\n ldmxcsr %1" : "=m"(old) : "m"(m));
        double dst = 1.0;
        uptr ip;
        trap_reset();
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("roundsd $0, %2, %1") : "=&r"(ip), "+x"(dst) : "x"(d));
        CHECK_EQ_SDM(last_trap.count, 1, "an unmasked SIMD FP exception raises #XM");
        if (last_trap.count) {
            CHECK_TRAP(19, 0, ip);
            CHECK_EQ(bits(dst), bits(1.0));
        }
        __asm__ volatile("ldmxcsr %0" ::"m"(old));
    }
    if (ecx1 & ECX_SSE3) {
        v2di a = {(long long)bits(1.0), (long long)bits(2.0)},
             b = {(long long)bits(3.0), (long long)bits(4.0)};
        __asm__("haddpd %1, %0" : "+x"(a) : "x"(b));
        CHECK_EQ((u64)a[0], bits(3.0));
        CHECK_EQ((u64)a[1], bits(7.0));
        /* FISTTP truncates whatever the rounding control says. */
        u16 cw = 0x037f | (2 << 10); /* round up */
        int r;
        __asm__ volatile("fninit\n fldcw %1\n fldl %2\n fisttpl %0\n fninit"
                         : "=m"(r)
                         : "m"(cw), "m"(two_seven));
        CHECK_EQ(r, 2);
    }
    if (ecx1 & ECX_SSSE3) {
        v16qu x = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25};
        v16qu sel = {15, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x8f};
        __asm__("pshufb %1, %0" : "+x"(x) : "x"(sel));
        CHECK_EQ(x[0], 25);
        CHECK_EQ(x[1], 10);
        CHECK_EQ(x[2], 0); /* bit 7 set: zero */
        CHECK_EQ(x[15], 0);
    }
}

void main(void) {
    u32 a, b;
    cpuid(1, 0, &a, &b, &ecx1, &edx1);
    SECTION("control") test_control();
    SECTION("mmx") test_mmx();
    SECTION("values") test_values();
}
