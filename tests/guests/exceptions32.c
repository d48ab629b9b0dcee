/* exceptions32: exception delivery in 32-bit protected mode.
 * Each case records vector, error code and saved EIP through the runtime's
 * IDT and checks them exactly: faults must save the EIP of the faulting
 * instruction (including its prefixes) and leave registers untouched, traps
 * the EIP of the next instruction.
 *   #DE (div 0, idiv INT_MIN/-1, 8- and 16-bit quotient overflow), #UD (ud2,
 *   prefixed ud2, ud1, lock on a non-lockable instruction, mov to CR1),
 *   #BP (int3, int 3), #OF (into), INT n, #DB single step (TF), #NP for a
 *   not-present IDT gate (error code with the IDT bit), segment loads:
 *   #GP(sel) beyond the GDT limit / LDT without LDTR / RPL>DPL / execute-only
 *   code into DS / code into SS, #GP(0) null SS, #NP(sel), #SS(sel), #GP(0)
 *   on a memory access through a null DS, far jump to a data segment;
 *   #PF with CR2 and error code (4 MiB pages).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: divide ok
 * EXPECT-OUTPUT: invalid opcode ok
 * EXPECT-OUTPUT: traps ok
 * EXPECT-OUTPUT: segments ok
 * EXPECT-OUTPUT: page fault ok
 * EXPECT-OUTPUT: PASS exceptions32
 */
#include "guest.h"

static void test_divide(void)
{
    uptr ip;
    u32 a, d;

    trap_reset();
    a = 1234, d = 0;
    __asm__ volatile("movl $661f, %[ip]\n" ASM_FAULT("divl %[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(0));
    CHECK_TRAP(0, 0, ip);
    CHECK_EQ(a, 1234); /* a fault leaves the destination registers alone */
    CHECK_EQ(d, 0);

    trap_reset();
    a = 0x80000000u, d = 0xffffffffu;
    __asm__ volatile("movl $661f, %[ip]\n" ASM_FAULT("idivl %[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(-1));
    CHECK_TRAP(0, 0, ip);
    CHECK_EQ(a, 0x80000000u);

    trap_reset();
    a = 0x8000; /* AX = -32768; / -1 = 32768 does not fit AL */
    __asm__ volatile("movl $661f, %[ip]\n" ASM_FAULT("idivb %b[c]") : [ip] "=&r"(ip), "+a"(a) : [c] "q"(0xff));
    CHECK_TRAP(0, 0, ip);
    CHECK_EQ(a, 0x8000);

    trap_reset();
    a = 0, d = 1; /* DX:AX = 0x10000, / 1 does not fit AX */
    __asm__ volatile("movl $661f, %[ip]\n" ASM_FAULT("divw %w[c]") : [ip] "=&r"(ip), "+a"(a), "+d"(d) : [c] "r"(1));
    CHECK_TRAP(0, 0, ip);

    /* No fault: 0x7fffffff / -1 and 100 / 7. */
    trap_reset();
    a = 0x7fffffff, d = 0;
    __asm__ volatile("idivl %[c]" : "+a"(a), "+d"(d) : [c] "r"(-1));
    CHECK_EQ(a, 0x80000001u);
    CHECK_EQ(last_trap.count, 0);
}

static void expect_ud(uptr ip)
{
    CHECK_TRAP(6, 0, ip);
}

static void test_invalid_opcode(void)
{
    uptr ip;
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("ud2") : "=&r"(ip));
    expect_ud(ip);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT(".byte 0x66, 0x2e, 0x0f, 0x0b") : "=&r"(ip)); /* prefixed ud2 */
    expect_ud(ip);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT(".byte 0x0f, 0xb9, 0xc0") : "=&r"(ip)); /* ud1 eax, eax */
    expect_ud(ip);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT(".byte 0xf0, 0x90") : "=&r"(ip)); /* lock nop */
    expect_ud(ip);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT(".byte 0xf0, 0x01, 0xd8") : "=&r"(ip)); /* lock add eax, ebx */
    expect_ud(ip);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT(".byte 0x0f, 0x22, 0xc8") : "=&r"(ip)); /* mov cr1, eax */
    expect_ud(ip);
}

static volatile u32 dr6_seen;
static int db_hook(struct trap_frame *f)
{
    if (f->vector != 1) return 0;
    uptr dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    dr6_seen = dr6;
    f->flags &= ~FL_TF;
    return 1;
}

static void test_traps(void)
{
    uptr ip;
    u32 a;
    trap_reset();
    __asm__ volatile("movl $662f, %0\n" ASM_TRAP("int3") : "=&r"(ip));
    CHECK_TRAP(3, 0, ip);
    trap_reset();
    __asm__ volatile("movl $662f, %0\n" ASM_TRAP(".byte 0xcd, 0x03") : "=&r"(ip)); /* int 3, two bytes */
    CHECK_TRAP(3, 0, ip);

    trap_reset();
    a = 0xabcd1234;
    __asm__ volatile("movl $662f, %0\n" ASM_TRAP("int $0x40") : "=&r"(ip), "+a"(a));
    CHECK_TRAP(0x40, 0, ip);
    CHECK_EQ(last_trap.ax, 0xabcd1234);
    CHECK_EQ(a, 0xabcd1234);
    CHECK(last_trap.flags & 2); /* bit 1 of the saved EFLAGS is always 1 */

    /* into: #OF only with OF=1; a trap. */
    trap_reset();
    a = 0x7fffffff;
    __asm__ volatile("addl $1, %1\nmovl $662f, %0\n" ASM_TRAP("into") : "=&r"(ip), "+r"(a));
    CHECK_TRAP(4, 0, ip);
    trap_reset();
    __asm__ volatile("xor %%eax, %%eax\ninto" ::: "eax");
    CHECK_EQ(last_trap.count, 0);

    /* A not-present gate: #NP with error code = vector*8 + 2 (IDT), a fault. */
    idt_set_gate(0x90, 0, 0, 0);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("int $0x90") : "=&r"(ip));
    CHECK_TRAP(11, 0x90 * 8 + 2, ip);
    idt_set_gate(0x90, 1, 0, 0);

    /* Single step: POPF sets TF; the trap comes after the instruction that
     * follows POPF, with DR6.BS set and TF set in the saved EFLAGS. */
    trap_reset();
    trap_hook = db_hook;
    __asm__ volatile("movl $1f, %0\n"
                     "pushf\n"
                     "orl $0x100, (%%esp)\n"
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
        __asm__ volatile("movl $661f, %0\n" ASM_FAULT("mov %w1, %%" seg) : "=&r"(ip_) : "r"(sel) : "memory"); \
        CHECK_TRAP(vec, err, ip_);                                                                       \
    } while (0)

static void test_segments(void)
{
    /* LDTR's reset state is a valid zero-based LDT with limit 0xffff; make it null. */
    __asm__ volatile("lldt %w0" ::"r"(0));
    LOAD_SEG_FAULT("ds", 0x1000, 13, 0x1000); /* beyond the GDT limit */
    LOAD_SEG_FAULT("es", 0x1003, 13, 0x1000); /* RPL is not part of the error code */
    LOAD_SEG_FAULT("fs", 0x000c, 13, 0x000c); /* TI=1 with a null LDTR */
    LOAD_SEG_FAULT("ds", 0x0013, 13, 0x0010); /* RPL 3 > DPL 0 */
    LOAD_SEG_FAULT("ds", 0x0030, 13, 0x0030); /* execute-only code */
    LOAD_SEG_FAULT("ss", 0x0008, 13, 0x0008); /* code into SS */
    LOAD_SEG_FAULT("ss", 0x0000, 13, 0x0000); /* null SS */
    LOAD_SEG_FAULT("gs", 0x0020, 11, 0x0020); /* not present: #NP */
    LOAD_SEG_FAULT("ss", 0x0020, 12, 0x0020); /* not present SS: #SS */

    /* A null selector loads fine into DS; using it faults with #GP(0). */
    uptr ip;
    u32 v = 0, word = 0x5a5a;
    trap_reset();
    __asm__ volatile("mov %w3, %%ds\n"
                     "movl $661f, %0\n" ASM_FAULT("movl (%2), %1") "mov %w4, %%ds\n"
                     : "=&r"(ip), "+r"(v)
                     : "r"(&word), "r"(0), "r"(GDT_DATA)
                     : "memory");
    /* QEMU TCG does not check for a null segment on data accesses (it only
     * checks when the selector is loaded) and lets the read through. */
    CHECK_EQ_SDM(last_trap.count, 1, "memory access through a null DS raises #GP(0)");
    if (last_trap.count) {
        CHECK_TRAP(13, 0, ip);
        CHECK_EQ(v, 0);
    }

    /* A far jump to a data segment: #GP(selector), no control transfer. */
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("ljmp $0x10, $1f\n1:") : "=&r"(ip));
    CHECK_TRAP(13, 0x10, ip);

    /* Segment registers still intact. */
    u16 ds, ss;
    __asm__ volatile("mov %%ds, %0; mov %%ss, %1" : "=r"(ds), "=r"(ss));
    CHECK_EQ(ds, GDT_DATA);
    CHECK_EQ(ss, GDT_DATA);
}

static u32 pd[1024] __attribute__((aligned(4096)));

static void test_page_fault(void)
{
    for (u32 i = 0; i < 16; i++) pd[i] = i << 22 | 0x83; /* 64 MiB identity, 4 MiB pages, RW */
    pd[17] = 17u << 22 | 0x81;                            /* 68 MiB: read-only */
    write_cr4(read_cr4() | CR4_PSE);
    write_cr3((uptr)pd);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);

    uptr ip;
    u32 v = 7;
    volatile u32 *np = (volatile u32 *)0x10000004; /* PDE 64: not present */
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl (%2), %1") : "=&r"(ip), "+r"(v) : "r"(np) : "memory");
    CHECK_TRAP(14, 0, ip);
    CHECK_EQ(last_trap.cr2, 0x10000004);
    CHECK_EQ(v, 7);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl %1, (%2)") : "=&r"(ip) : "r"(v), "r"(np + 1) : "memory");
    CHECK_TRAP(14, 2, ip);
    CHECK_EQ(last_trap.cr2, 0x10000008);
    trap_reset();
    u32 *ro = (u32 *)(17u << 22 | 0x123);
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl %1, (%2)") : "=&r"(ip) : "r"(v), "r"(ro) : "memory");
    CHECK_TRAP(14, 3, ip); /* P | W */
    CHECK_EQ(last_trap.cr2, (uptr)ro);

    write_cr0(read_cr0() & ~CR0_PG);
}

void main(void)
{
    SECTION("divide") test_divide();
    SECTION("invalid opcode") test_invalid_opcode();
    SECTION("traps") test_traps();
    SECTION("segments") test_segments();
    SECTION("page fault") test_page_fault();
}
