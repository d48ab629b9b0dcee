/* cpuid: CPUID, RDTSC(P), MSRs and the compare-exchange family. 64-bit.
 *  CPUID leaf 0 (printable vendor, max leaf >= 1), leaf 1 (FPU, TSC, MSR,
 *  PAE, CX8, FXSR, SSE, SSE2), 0x80000000/0x80000001 (LM); RDTSC increases;
 *  RDTSCP returns IA32_TSC_AUX (if present); RDMSR of a non-existent MSR
 *  raises #GP(0); CMPXCHG, CMPXCHG8B, CMPXCHG16B success and failure paths
 *  (ZF, the loaded comparand, memory untouched on failure), CMPXCHG16B on a
 *  misaligned operand raises #GP(0).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: cpuid ok
 * EXPECT-OUTPUT: tsc ok
 * EXPECT-OUTPUT: msr ok
 * EXPECT-OUTPUT: cmpxchg ok
 * EXPECT-OUTPUT: PASS cpuid
 */
#include "guest.h"

static u32 ecx1;

static void test_cpuid(void)
{
    u32 a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    CHECK(a >= 1);
    char vendor[13];
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    int printable = 1;
    for (int i = 0; i < 12; i++) printable &= vendor[i] >= 0x20 && vendor[i] < 0x7f;
    CHECK(printable);
    if (printable) printk("vendor %s, max leaf 0x%x\n", vendor, a);

    cpuid(1, 0, &a, &b, &c, &d);
    ecx1 = c;
    CHECK(d & (1u << 0));  /* FPU */
    CHECK(d & (1u << 4));  /* TSC */
    CHECK(d & (1u << 5));  /* MSR */
    CHECK(d & (1u << 6));  /* PAE */
    CHECK(d & (1u << 8));  /* CX8 */
    CHECK(d & (1u << 24)); /* FXSR */
    CHECK(d & (1u << 25)); /* SSE */
    CHECK(d & (1u << 26)); /* SSE2 */
    CHECK(((a >> 8) & 0xf) != 0); /* a family */

    cpuid(0x80000000, 0, &a, &b, &c, &d);
    CHECK(a >= 0x80000001 && a < 0x80000100);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    CHECK(d & (1u << 29)); /* LM */
}

static void test_tsc(void)
{
    u64 t0 = rdtsc();
    for (volatile int i = 0; i < 1000; i++) {
    }
    u64 t1 = rdtsc();
    CHECK(t1 > t0);
    int bad = 0;
    u64 prev = rdtsc();
    for (int i = 0; i < 100; i++) {
        u64 t = rdtsc();
        bad += t < prev;
        prev = t;
    }
    CHECK_EQ(bad, 0);
    u32 a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 27)) {
        wrmsr(0xc0000103, 0x42); /* IA32_TSC_AUX */
        u32 lo, hi, aux;
        __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
        CHECK_EQ(aux, 0x42);
        CHECK(((u64)hi << 32 | lo) >= prev);
    } else {
        skip("rdtscp");
    }
}

static void test_msr(void)
{
    CHECK(rdmsr(MSR_EFER) & EFER_LMA);
    u64 v = rdmsr(0x1b); /* IA32_APIC_BASE: exists, BSP flag set */
    CHECK(v & (1u << 8));
    /* A non-existent MSR: #GP(0). QEMU TCG returns 0 without faulting. */
    uptr ip;
    u32 lo = 0x1111, hi = 0x2222;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("rdmsr") : "=&r"(ip), "+a"(lo), "+d"(hi) : "c"(0x4b564dffu));
    CHECK_EQ_SDM(last_trap.count, 1, "RDMSR of a reserved or unimplemented MSR raises #GP(0)");
    if (last_trap.count) {
        CHECK_TRAP(13, 0, ip);
        CHECK_EQ(lo, 0x1111);
    }
}

static u64 m8 __attribute__((aligned(8)));
static u64 m16[3] __attribute__((aligned(16)));

static void test_cmpxchg(void)
{
    /* cmpxchg */
    u64 mem = 5, rax = 5;
    u8 zf;
    __asm__ volatile("lock cmpxchgq %3, %1; setz %2" : "+a"(rax), "+m"(mem), "=r"(zf) : "r"(9ull));
    CHECK_EQ(zf, 1);
    CHECK_EQ(mem, 9);
    rax = 5;
    __asm__ volatile("cmpxchgq %3, %1; setz %2" : "+a"(rax), "+m"(mem), "=r"(zf) : "r"(7ull));
    CHECK_EQ(zf, 0);
    CHECK_EQ(mem, 9);
    CHECK_EQ(rax, 9);
    /* 32-bit cmpxchg failure zero-extends into RAX; the memory operand is
     * written back unchanged (and a register destination is left alone). */
    u32 m32 = 0x80000000u;
    rax = 0xffffffff00000001ull;
    __asm__ volatile("cmpxchgl %3, %1; setz %2" : "+a"(rax), "+m"(m32), "=r"(zf) : "r"(7u));
    CHECK_EQ(zf, 0);
    CHECK_EQ(rax, 0x80000000u);

    /* cmpxchg8b */
    u32 a, d, b, c;
    m8 = 0x1122334455667788ull;
    a = 0x55667788, d = 0x11223344, b = 0xaabbccdd, c = 0x99887766;
    __asm__ volatile("lock cmpxchg8b %1; setz %2" : "+a"(a), "+m"(m8), "=r"(zf), "+d"(d) : "b"(b), "c"(c));
    CHECK_EQ(zf, 1);
    CHECK_EQ(m8, 0x99887766aabbccddull);
    a = 0, d = 0;
    __asm__ volatile("cmpxchg8b %1; setz %2" : "+a"(a), "+m"(m8), "=r"(zf), "+d"(d) : "b"(1), "c"(2));
    CHECK_EQ(zf, 0);
    CHECK_EQ(a, 0xaabbccdd);
    CHECK_EQ(d, 0x99887766);
    CHECK_EQ(m8, 0x99887766aabbccddull);

    if (!(ecx1 & (1u << 13))) {
        skip("cmpxchg16b");
        return;
    }
    u64 lo, hi;
    m16[0] = 0x0123456789abcdefull, m16[1] = 0xfedcba9876543210ull;
    lo = m16[0], hi = m16[1];
    __asm__ volatile("lock cmpxchg16b %1; setz %2"
                     : "+a"(lo), "+m"(*(u64(*)[2])m16), "=r"(zf), "+d"(hi)
                     : "b"(0x1111ull), "c"(0x2222ull));
    CHECK_EQ(zf, 1);
    CHECK_EQ(m16[0], 0x1111);
    CHECK_EQ(m16[1], 0x2222);
    lo = 0x1111, hi = 0x3333;
    __asm__ volatile("lock cmpxchg16b %1; setz %2"
                     : "+a"(lo), "+m"(*(u64(*)[2])m16), "=r"(zf), "+d"(hi)
                     : "b"(5ull), "c"(6ull));
    CHECK_EQ(zf, 0);
    CHECK_EQ(lo, 0x1111);
    CHECK_EQ(hi, 0x2222);
    CHECK_EQ(m16[0], 0x1111);
    CHECK_EQ(m16[1], 0x2222);
    /* Misaligned operand: #GP(0). */
    uptr ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("cmpxchg16b (%1)")
                     : "=&r"(ip)
                     : "r"((u8 *)m16 + 8), "a"(0), "d"(0), "b"(0), "c"(0)
                     : "memory");
    CHECK_TRAP(13, 0, ip);
}

void main(void)
{
    SECTION("cpuid") test_cpuid();
    SECTION("tsc") test_tsc();
    SECTION("msr") test_msr();
    SECTION("cmpxchg") test_cmpxchg();
}
