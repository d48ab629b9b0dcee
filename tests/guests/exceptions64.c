/* exceptions64: exception delivery in 64-bit mode. Like exceptions32: vector,
 * error code and saved RIP are checked exactly (faults: the first byte of
 * the faulting instruction, prefixes and REX included; traps: the next
 * instruction), plus what is special to long mode:
 *   opcodes that are invalid only in 64-bit mode (#UD), non-canonical
 *   addresses (#GP(0), and #SS(0) through RSP), null SS allowed at CPL 0,
 *   data accesses through a null DS allowed, the 64-bit frame (SS:RSP always
 *   pushed, RSP aligned to 16 before the push), the IST stack switch (TSS).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: divide ok
 * EXPECT-OUTPUT: invalid opcode ok
 * EXPECT-OUTPUT: traps ok
 * EXPECT-OUTPUT: segments ok
 * EXPECT-OUTPUT: page fault ok
 * EXPECT-OUTPUT: frame ok
 * EXPECT-OUTPUT: PASS exceptions64
 */
#include "guest.h"

static void test_divide(void)
{
    uptr ip;
    u64 a, d;

    trap_reset();
    a = 1234, d = 0;
    __asm__ volatile("mov $661f, %[ip]\n" ASM_FAULT("divq %[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(0ull));
    CHECK_TRAP(0, 0, ip);
    CHECK_EQ(a, 1234);

    trap_reset();
    a = 0x8000000000000000ull, d = ~0ull;
    __asm__ volatile("mov $661f, %[ip]\n" ASM_FAULT("idivq %[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(-1ll));
    CHECK_TRAP(0, 0, ip);
    CHECK_EQ(a, 0x8000000000000000ull);
    CHECK_EQ(d, ~0ull);

    trap_reset();
    a = 0x80000000u, d = 0xffffffffu;
    __asm__ volatile("mov $661f, %[ip]\n" ASM_FAULT("idivl %k[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(-1ll));
    CHECK_TRAP(0, 0, ip);

    trap_reset();
    a = 0, d = 1; /* RDX:RAX = 2^64, / 1 does not fit */
    __asm__ volatile("mov $661f, %[ip]\n" ASM_FAULT("divq %[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(1ull));
    CHECK_TRAP(0, 0, ip);

    trap_reset();
    a = 100, d = 0;
    __asm__ volatile("divq %[c]" : "+a"(a), "+d"(d) : [c] "r"(7ull));
    CHECK_EQ(a, 14);
    CHECK_EQ(d, 2);
    CHECK_EQ(last_trap.count, 0);
}

#define UD(bytes)                                                                     \
    do {                                                                              \
        uptr ip_;                                                                     \
        trap_reset();                                                                 \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(".byte " bytes) : "=&r"(ip_)); \
        CHECK_TRAP(6, 0, ip_);                                                        \
    } while (0)

static void test_invalid_opcode(void)
{
    UD("0x0f, 0x0b");                   /* ud2 */
    UD("0x66, 0x2e, 0x48, 0x0f, 0x0b"); /* ud2 with prefixes and REX.W */
    UD("0x0f, 0xb9, 0xc0");             /* ud1 */
    UD("0xf0, 0x90");                   /* lock nop */
    UD("0xf0, 0x48, 0x01, 0xd8");       /* lock add rax, rbx */
    UD("0x0f, 0x22, 0xc8");             /* mov cr1, rax */
    /* valid in 32-bit mode only */
    UD("0x06");                         /* push es */
    UD("0x1f");                         /* pop ds */
    UD("0x27");                         /* daa */
    UD("0x37");                         /* aaa */
    UD("0x60");                         /* pusha */
    UD("0xce");                         /* into */
    UD("0xd4, 0x0a");                   /* aam */
    UD("0x9a, 0, 0, 0, 0, 0x18, 0");    /* call ptr16:32 */
    UD("0xea, 0, 0, 0, 0, 0x18, 0");    /* jmp ptr16:32 */
}

static volatile u64 dr6_seen;
static int db_hook(struct trap_frame *f)
{
    if (f->vector != 1) return 0;
    u64 dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    dr6_seen = dr6;
    f->flags &= ~FL_TF;
    return 1;
}

static void test_traps(void)
{
    uptr ip;
    u64 a;
    trap_reset();
    __asm__ volatile("mov $662f, %0\n" ASM_TRAP("int3") : "=&r"(ip));
    CHECK_TRAP(3, 0, ip);
    trap_reset();
    __asm__ volatile("mov $662f, %0\n" ASM_TRAP(".byte 0xcd, 0x03") : "=&r"(ip));
    CHECK_TRAP(3, 0, ip);

    trap_reset();
    a = 0x1122334455667788ull;
    __asm__ volatile("mov $662f, %0\n" ASM_TRAP("int $0x40") : "=&r"(ip), "+a"(a));
    CHECK_TRAP(0x40, 0, ip);
    CHECK_EQ(last_trap.ax, 0x1122334455667788ull);
    CHECK_EQ(a, 0x1122334455667788ull);
    CHECK_EQ(last_trap.cs, GDT_CODE64);

    idt_set_gate(0x90, 0, 0, 0);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("int $0x90") : "=&r"(ip));
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.vector, 11);
    CHECK_EQ(last_trap.ip, ip);
    /* QEMU TCG reports vector*16+2 (the gate's byte offset) in long mode. */
    CHECK_EQ_SDM(last_trap.error, 0x90 * 8 + 2, "IDT error code: index field = vector, IDT bit set");
    idt_set_gate(0x90, 1, 0, 0);

    trap_reset();
    trap_hook = db_hook;
    __asm__ volatile("mov $1f, %0\n"
                     "pushf\n"
                     "orq $0x100, (%%rsp)\n"
                     "popf\n"
                     "nop\n"
                     "1: nop\n"
                     : "=&r"(ip));
    trap_hook = 0;
    CHECK_TRAP(1, 0, ip);
    CHECK(last_trap.flags & FL_TF);
    CHECK(dr6_seen & (1u << 14));
    CHECK(!(read_flags() & FL_TF));
}

#define LOAD_SEG_FAULT(seg, sel, vec, err)                                                               \
    do {                                                                                                 \
        uptr ip_;                                                                                        \
        trap_reset();                                                                                    \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %w1, %%" seg) : "=&r"(ip_) : "r"(sel) : "memory"); \
        CHECK_TRAP(vec, err, ip_);                                                                       \
    } while (0)

static void test_segments(void)
{
    __asm__ volatile("lldt %w0" ::"r"(0));
    LOAD_SEG_FAULT("ds", 0x1000, 13, 0x1000);
    LOAD_SEG_FAULT("es", 0x000c, 13, 0x000c);
    LOAD_SEG_FAULT("ds", 0x0030, 13, 0x0030); /* execute-only code */
    LOAD_SEG_FAULT("ss", 0x0008, 13, 0x0008);
    /* A null SS with RPL 3 != CPL 0: #GP(0) in 64-bit mode. QEMU TCG only
     * checks CPL == 3 and loads it. */
    uptr ip;
    trap_reset();
    __asm__ volatile("mov %%ss, %%dx\n"
                     "mov $661f, %0\n" ASM_FAULT("mov %w1, %%ss") "mov %%dx, %%ss\n"
                     : "=&r"(ip)
                     : "r"(3)
                     : "rdx");
    CHECK_EQ_SDM(last_trap.count, 1, "MOV SS, null selector with RPL != CPL raises #GP(0) in 64-bit mode");
    if (last_trap.count) CHECK_TRAP(13, 0, ip);
    LOAD_SEG_FAULT("fs", 0x0020, 11, 0x0020);
    LOAD_SEG_FAULT("ss", 0x0020, 12, 0x0020);

    /* 64-bit mode at CPL 0: a null SS is allowed; so is a memory access
     * through a null DS (no segmentation checks in 64-bit mode). */
    u64 v = 0, word = 0x5a5a;
    u16 ss;
    trap_reset();
    __asm__ volatile("mov %w3, %%ss\n"
                     "mov %%ss, %w1\n"
                     "mov %w4, %%ss\n"
                     "mov %w3, %%ds\n"
                     "mov (%2), %0\n"
                     "mov %w4, %%ds\n"
                     : "=&r"(v), "=&r"(ss)
                     : "r"(&word), "r"(0), "r"(GDT_DATA)
                     : "memory");
    CHECK_EQ(last_trap.count, 0);
    CHECK_EQ(ss, 0);
    CHECK_EQ(v, 0x5a5a);

    /* Non-canonical addresses: #GP(0) for data, #SS(0) through RSP/RBP. */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov (%1), %%al") : "=&r"(ip) : "r"(0x0000800000000000ull) : "rax");
    CHECK_TRAP(13, 0, ip);
    CHECK_EQ(last_trap.cr2, 0);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("movq $1, (%1)") : "=&r"(ip) : "r"(0xffff7ffffffffff8ull) : "memory");
    CHECK_TRAP(13, 0, ip);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov (%%rsp,%1), %%al")
                     : "=&r"(ip)
                     : "r"(0x4000000000000000ull)
                     : "rax");
    /* QEMU TCG raises #GP(0) for every non-canonical access. */
    CHECK_EQ_SDM(last_trap.vector, 12, "a non-canonical address through SS raises #SS(0)");
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.error, 0);
    CHECK_EQ(last_trap.ip, ip);
}

static void test_page_fault(void)
{
    uptr ip;
    u64 v = 7;
    volatile u64 *np = (volatile u64 *)0x100000010ull; /* above the 4 GiB identity map */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov (%2), %1") : "=&r"(ip), "+r"(v) : "r"(np) : "memory");
    CHECK_TRAP(14, 0, ip);
    CHECK_EQ(last_trap.cr2, 0x100000010ull);
    CHECK_EQ(v, 7);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("movq $1, (%1)") : "=&r"(ip) : "r"(np + 1) : "memory");
    CHECK_TRAP(14, 2, ip);
    CHECK_EQ(last_trap.cr2, 0x100000018ull);
}

static void test_frame(void)
{
    /* Interrupt frames: RSP is aligned down to 16 before SS:RSP is pushed, the
     * saved RSP is the original one. */
    uptr rsp_before;
    trap_reset();
    __asm__ volatile("sub $8, %%rsp\n"
                     "mov %%rsp, %0\n"
                     ASM_TRAP("int $0x41")
                     "add $8, %%rsp\n"
                     : "=&r"(rsp_before));
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.sp, rsp_before);
    CHECK_EQ((last_trap.frame + sizeof(struct trap_frame)) % 16, 0);
    CHECK(last_trap.frame < rsp_before && last_trap.frame > rsp_before - 256);

    /* IST: a gate with IST=1 switches to the stack in TSS.IST1. */
    idt_set_gate(0x42, 1, 0, 1);
    trap_reset();
    __asm__ volatile("mov %%rsp, %0\n"
                     ASM_TRAP("int $0x42")
                     : "=&r"(rsp_before));
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.sp, rsp_before);
    CHECK_EQ(last_trap.frame + sizeof(struct trap_frame), (uptr)ist1_stack_top);
    /* An exception through an IST gate too: #UD via IST1. */
    idt_set_gate(6, 1, 0, 1);
    uptr ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("ud2") : "=&r"(ip));
    CHECK_TRAP(6, 0, ip);
    CHECK_EQ(last_trap.frame + sizeof(struct trap_frame), (uptr)ist1_stack_top);
    idt_set_gate(6, 1, 0, 0);
    idt_set_gate(0x42, 1, 0, 0);
}

void main(void)
{
    SECTION("divide") test_divide();
    SECTION("invalid opcode") test_invalid_opcode();
    SECTION("traps") test_traps();
    SECTION("segments") test_segments();
    SECTION("page fault") test_page_fault();
    SECTION("frame") test_frame();
}
