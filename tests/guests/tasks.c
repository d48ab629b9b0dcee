/* tasks: hardware task switching in 32-bit protected mode. The test builds
 * its own GDT (the runtime's entries first) with 32-bit and 16-bit TSSs, an
 * LDT, task gates in the GDT and in the IDT, and runs main() as task A.
 *   - JMP to a TSS: registers, EIP and EFLAGS loaded from it, LDTR and a
 *     DS selector in the new LDT, TR, CR0.TS; the old task's registers and
 *     EIP saved; busy bits (JMP frees the old task); NT clear; JMP back;
 *   - CALL through a task gate in the GDT: NT set, back-link, both tasks
 *     busy; IRET with NT returns (NT cleared in the saved image, the
 *     returning task freed); a direct CALL to a TSS; INT n through a task
 *     gate in the IDT (no error code pushed);
 *   - a #DF (a #GP whose IDT gate is not present) handled by a task gate:
 *     error code 0 on the new task's stack, back-link, the faulting EIP saved;
 *   - a 16-bit TSS: 16-bit fields loaded (AX, IP), the state saved into it;
 *   - faults before the commit point, nothing changed: busy TSS #GP(TSS),
 *     not present #NP(TSS), limit < 0x67 #TS(TSS), task gate to a non-TSS
 *     #GP(sel), task gate RPL > DPL #GP(gate), IRET with NT to a TSS that is
 *     not busy #TS(link);
 *   - a fault after the commit point: an LDT selector naming a data segment
 *     raises #TS(LDT) in the context of the new task (its EIP, its TR).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: jmp task ok
 * EXPECT-OUTPUT: call and iret ok
 * EXPECT-OUTPUT: interrupt task ok
 * EXPECT-OUTPUT: double fault task ok
 * EXPECT-OUTPUT: 16-bit tss ok
 * EXPECT-OUTPUT: task faults ok
 * EXPECT-OUTPUT: fault after commit ok
 * EXPECT-OUTPUT: PASS tasks
 */
#include "guest.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define TSS_A 0x40
#define TSS_B 0x48
#define TSS_C 0x50
#define TG_C 0x58 /* task gate (GDT) -> TSS_C */
#define TSS_DF 0x60
#define TSS_I 0x68
#define TSS_16 0x70
#define CODE_T16 0x78 /* code based at task16_entry */
#define TSS_SMALL 0x80 /* limit 0x60 */
#define TSS_NP 0x88
#define TG_DATA 0x90 /* task gate -> a data segment */
#define TSS_BADLDT 0x98
#define LDT_SEL 0xa0
#define GDT_ENTRIES 21
#define LDT_DATA 0x04 /* LDT entry 0: flat data */

struct tss32 {
    u16 link, r0;
    u32 esp0;
    u16 ss0, r1;
    u32 esp1;
    u16 ss1, r2;
    u32 esp2;
    u16 ss2, r3;
    u32 cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    u16 es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10, trap, iomap;
} __attribute__((packed));

struct tss16 {
    u16 link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags, ax, cx, dx, bx, sp, bp, si, di, es, cs, ss, ds, ldt;
} __attribute__((packed));

struct tss32 tssA, tssB, tssC, tssDF, tssI, tssBad;
struct tss16 tss16;
u32 trec[64];
static u64 gdt2[GDT_ENTRIES] __attribute__((aligned(16)));
static u64 ldt[2];
extern u64 gdt[];
u8 stackB[2048] __attribute__((aligned(16)));
u8 stackC[2048] __attribute__((aligned(16)));
u8 stackDF[4096] __attribute__((aligned(16)));
u8 stackI[2048] __attribute__((aligned(16)));
#define TOP(s) ((u32)(s) + sizeof(s))
#define BAD_TASK_STACK 0x7000 /* below 64 KiB (QEMU pushes with a 16-bit SP here) */

void task_b_entry(void), task_c_entry(void), task_df_entry(void), task_i_entry(void), task16_entry(void),
    bad_task_entry(void), bad_task_escape(void);
extern u8 b_after_jmp[], c_after_iret[], t16_after_jmp[];

__asm__(".text\n"
        ".globl task_b_entry, b_after_jmp\n"
        "task_b_entry:\n"
        "  mov %eax, trec+0\n"
        "  str trec+4\n"
        "  sldt trec+8\n"
        "  mov %ds, %eax\n mov %eax, trec+12\n"
        "  pushf\n popl trec+16\n"
        "  mov %cr0, %eax\n mov %eax, trec+20\n"
        "  movzbl gdt2+" STR(TSS_A) "+5, %eax\n mov %eax, trec+24\n"
        "  movzbl gdt2+" STR(TSS_B) "+5, %eax\n mov %eax, trec+28\n"
        "  mov %esp, trec+32\n"
        "  ljmp $" STR(TSS_A) ", $0\n"
        "b_after_jmp:\n"
        "  jmp task_b_entry\n"

        ".globl task_c_entry, c_after_iret\n"
        "task_c_entry:\n"
        "  pushf\n popl trec+40\n"
        "  movzwl tssC, %eax\n mov %eax, trec+44\n"
        "  movzbl gdt2+" STR(TSS_A) "+5, %eax\n mov %eax, trec+48\n"
        "  movzbl gdt2+" STR(TSS_C) "+5, %eax\n mov %eax, trec+52\n"
        "  str trec+56\n"
        "  iret\n"
        "c_after_iret:\n"
        "  jmp task_c_entry\n"

        ".globl task_i_entry\n"
        "task_i_entry:\n"
        "  mov %esp, trec+64\n"
        "  pushf\n popl trec+68\n"
        "  movzwl tssI, %eax\n mov %eax, trec+72\n"
        "  str trec+76\n"
        "  iret\n"
        "  jmp task_i_entry\n"

        ".globl task_df_entry\n"
        "task_df_entry:\n"
        "  mov %esp, trec+80\n"
        "  popl trec+84\n" /* the error code */
        "  pushf\n popl trec+88\n"
        "  movzwl tssDF, %eax\n mov %eax, trec+92\n"
        "  str trec+96\n"
        "  mov tssA+0x20, %eax\n mov %eax, trec+100\n"
        "  movl $df_resume, tssA+0x20\n"
        "  iret\n"
        "  jmp task_df_entry\n"

        /* Runs in a segment based here: IP starts at 0. */
        ".globl task16_entry, t16_after_jmp\n"
        "task16_entry:\n"
        "  mov %eax, trec+112\n"
        "  str trec+116\n"
        "  mov %cs, %eax\n mov %eax, trec+120\n"
        "  ljmp $" STR(TSS_A) ", $0\n"
        "t16_after_jmp:\n"
        "  jmp task16_entry\n"

        ".globl bad_task_entry, bad_task_escape\n"
        "bad_task_entry:\n"
        "  nop\n"
        "bad_task_escape:\n"
        "  ljmp $" STR(TSS_A) ", $0\n");

static u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags)
{
    return (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) | ((u64)((limit >> 16) & 0xf) << 48) |
           ((u64)flags << 52) | ((u64)(base >> 24) << 56);
}
static u64 task_gate(u16 tss_sel, u32 dpl) { return ((u64)tss_sel << 16) | ((u64)(0x85 | dpl << 5) << 40); }
static unsigned type_of(u16 sel) { return (unsigned)(gdt2[sel / 8] >> 40) & 0xff; }

static void init_task(struct tss32 *t, void (*entry)(void), u32 esp)
{
    memset(t, 0, sizeof *t);
    t->eip = (u32)entry;
    t->eflags = 0x0002;
    t->esp = esp;
    t->cs = 0x08;
    t->ss = t->ds = t->es = 0x10;
    t->iomap = sizeof *t;
}

static struct idt_gate_raw {
    u16 off_lo, sel;
    u8 zero, type;
    u16 off_hi;
} *idt_raw;

static void setup(void)
{
    for (int i = 0; i < 8; i++) gdt2[i] = gdt[i];
    gdt2[TSS_A / 8] = seg_desc((u32)&tssA, sizeof tssA - 1, 0x89, 0);
    gdt2[TSS_B / 8] = seg_desc((u32)&tssB, sizeof tssB - 1, 0x89, 0);
    gdt2[TSS_C / 8] = seg_desc((u32)&tssC, sizeof tssC - 1, 0x89, 0);
    gdt2[TG_C / 8] = task_gate(TSS_C, 0);
    gdt2[TSS_DF / 8] = seg_desc((u32)&tssDF, sizeof tssDF - 1, 0x89, 0);
    gdt2[TSS_I / 8] = seg_desc((u32)&tssI, sizeof tssI - 1, 0x89, 0);
    gdt2[TSS_16 / 8] = seg_desc((u32)&tss16, sizeof tss16 - 1, 0x81, 0);
    gdt2[CODE_T16 / 8] = seg_desc((u32)task16_entry, 0xfffff, 0x9a, 0xc);
    gdt2[TSS_SMALL / 8] = seg_desc((u32)&tssB, 0x60, 0x89, 0);
    gdt2[TSS_NP / 8] = seg_desc((u32)&tssB, sizeof tssB - 1, 0x09, 0);
    gdt2[TG_DATA / 8] = task_gate(0x10, 0);
    gdt2[TSS_BADLDT / 8] = seg_desc((u32)&tssBad, sizeof tssBad - 1, 0x89, 0);
    gdt2[LDT_SEL / 8] = seg_desc((u32)ldt, sizeof ldt - 1, 0x82, 0);
    ldt[0] = seg_desc(0, 0xfffff, 0x92, 0xc);
    struct __attribute__((packed)) {
        u16 limit;
        u32 base;
    } p = {sizeof gdt2 - 1, (u32)gdt2};
    __asm__ volatile("lgdt %0" ::"m"(p));

    tssA.iomap = sizeof tssA;
    __asm__ volatile("ltr %w0" ::"r"(TSS_A));

    init_task(&tssB, task_b_entry, TOP(stackB));
    tssB.ds = LDT_DATA;
    tssB.ldt = LDT_SEL;
    tssB.eax = 0x1234abcd;
    tssB.ebx = 0x0b0b0b0b;
    init_task(&tssC, task_c_entry, TOP(stackC));
    init_task(&tssDF, task_df_entry, TOP(stackDF));
    init_task(&tssI, task_i_entry, TOP(stackI));
    init_task(&tssBad, bad_task_entry, BAD_TASK_STACK);
    tssBad.ldt = 0x10; /* a data segment, not an LDT */
    memset(&tss16, 0, sizeof tss16);
    tss16.ip = 0;
    tss16.flags = 0x0002;
    tss16.ax = 0x5566;
    tss16.cs = CODE_T16;
    tss16.ss = tss16.ds = tss16.es = 0x10;

    struct __attribute__((packed)) {
        u16 limit;
        u32 base;
    } idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    idt_raw = (struct idt_gate_raw *)idtr.base;
}

static void set_task_gate(unsigned vector, u16 tss_sel)
{
    idt_raw[vector] = (struct idt_gate_raw){0, tss_sel, 0, 0x85, 0};
}

static u32 read_tr(void)
{
    u32 tr = 0;
    __asm__ volatile("str %0" : "=r"(tr));
    return tr & 0xffff;
}

static void clear_ts(void) { __asm__ volatile("clts"); }

static void test_jmp(void)
{
    extern u8 a_after_jmp[];
    memset(trec, 0, sizeof trec);
    __asm__ volatile("mov $0x5a5a5a5a, %%ebx\n"
                     "ljmp $" STR(TSS_B) ", $0\n"
                     ".globl a_after_jmp\n"
                     "a_after_jmp:" ::: "ebx", "memory");
    CHECK_EQ(trec[0], 0x1234abcd);   /* EAX from the TSS */
    CHECK_EQ(trec[1] & 0xffff, TSS_B);
    CHECK_EQ(trec[2] & 0xffff, LDT_SEL);
    CHECK_EQ(trec[3], LDT_DATA);     /* DS from the new task's LDT */
    CHECK_EQ(trec[4] & 0x4000, 0);   /* JMP: NT clear */
    CHECK(trec[5] & CR0_TS);
    CHECK_EQ(trec[6], 0x89);         /* the old task is free */
    CHECK_EQ(trec[7], 0x8b);         /* the new one busy */
    CHECK_EQ(trec[8], TOP(stackB));
    CHECK_EQ(tssA.eip, (u32)a_after_jmp);
    CHECK_EQ(tssA.ebx, 0x5a5a5a5a);
    CHECK_EQ(tssA.cs, 0x08);
    CHECK_EQ(tssA.ss, 0x10);
    CHECK_EQ(tssB.eip, (u32)b_after_jmp); /* B saved at its JMP */
    CHECK_EQ(tssB.ebx, 0x0b0b0b0b);
    CHECK_EQ(tssB.ds, LDT_DATA);
    CHECK_EQ(read_tr(), TSS_A);
    CHECK_EQ(type_of(TSS_A), 0x8b);
    CHECK_EQ(type_of(TSS_B), 0x89);
    CHECK(read_cr0() & CR0_TS);
    clear_ts();
}

static void test_call_iret(void)
{
    extern u8 a_after_call[], a_after_call2[];
    memset(trec, 0, sizeof trec);
    __asm__ volatile("lcall $" STR(TG_C) ", $0\n"
                     ".globl a_after_call\n"
                     "a_after_call:" ::: "memory");
    CHECK(trec[10] & 0x4000);             /* NT set in the called task */
    CHECK_EQ(trec[11], TSS_A);            /* back-link */
    CHECK_EQ(trec[12], 0x8b);             /* the caller stays busy */
    CHECK_EQ(trec[13], 0x8b);
    CHECK_EQ(trec[14] & 0xffff, TSS_C);
    CHECK_EQ(tssA.eip, (u32)a_after_call);
    CHECK_EQ(tssC.eip, (u32)c_after_iret);
    CHECK_EQ(tssC.eflags & 0x4000, 0);    /* IRET saved C with NT clear */
    CHECK_EQ(type_of(TSS_C), 0x89);       /* and freed it */
    CHECK_EQ(type_of(TSS_A), 0x8b);
    CHECK_EQ(read_tr(), TSS_A);
    CHECK_EQ(read_flags() & 0x4000, 0);
    clear_ts();

    /* A direct CALL to a TSS. */
    memset(trec, 0, sizeof trec);
    __asm__ volatile("lcall $" STR(TSS_I) ", $0\n"
                     ".globl a_after_call2\n"
                     "a_after_call2:" ::: "memory");
    CHECK_EQ(trec[16], TOP(stackI));
    CHECK(trec[17] & 0x4000);
    CHECK_EQ(trec[18], TSS_A);
    CHECK_EQ(trec[19] & 0xffff, TSS_I);
    CHECK_EQ(tssA.eip, (u32)a_after_call2);
    CHECK_EQ(type_of(TSS_I), 0x89);
    clear_ts();
}

static void test_interrupt_task(void)
{
    extern u8 a_after_int[];
    set_task_gate(0x50, TSS_I);
    memset(trec, 0, sizeof trec);
    __asm__ volatile("int $0x50\n"
                     ".globl a_after_int\n"
                     "a_after_int:" ::: "memory");
    CHECK_EQ(trec[16], TOP(stackI)); /* INT n: no error code */
    CHECK(trec[17] & 0x4000);
    CHECK_EQ(trec[18], TSS_A);
    CHECK_EQ(trec[19] & 0xffff, TSS_I);
    CHECK_EQ(tssA.eip, (u32)a_after_int);
    CHECK_EQ(type_of(TSS_I), 0x89);
    CHECK_EQ(read_tr(), TSS_A);
    idt_set_gate(0x50, 1, 0, 0);
    clear_ts();
}

static void test_double_fault_task(void)
{
    extern u8 df_fault_insn[];
    set_task_gate(8, TSS_DF);
    idt_set_gate(13, 0, 0, 0); /* #GP's gate not present: #GP -> #NP -> #DF */
    memset(trec, 0, sizeof trec);
    trap_reset();
    __asm__ volatile(".globl df_fault_insn, df_resume\n"
                     "df_fault_insn: ljmp $" STR(TSS_A) ", $0\n"
                     "df_resume:" ::: "memory");
    idt_set_gate(13, 1, 0, 0);
    idt_set_gate(8, 1, 0, 0);
    CHECK_EQ(last_trap.count, 0);
    CHECK_EQ(trec[20], TOP(stackDF) - 4); /* the error code was pushed */
    CHECK_EQ(trec[21], 0);
    CHECK(trec[22] & 0x4000);
    CHECK_EQ(trec[23], TSS_A);
    CHECK_EQ(trec[24] & 0xffff, TSS_DF);
    CHECK_EQ(trec[25], (u32)df_fault_insn); /* the faulting EIP */
    CHECK_EQ(type_of(TSS_DF), 0x89);
    CHECK_EQ(read_tr(), TSS_A);
    clear_ts();
}

static void test_tss16(void)
{
    extern u8 a_after_jmp16[];
    memset(trec, 0, sizeof trec);
    __asm__ volatile("ljmp $" STR(TSS_16) ", $0\n"
                     ".globl a_after_jmp16\n"
                     "a_after_jmp16:" ::: "memory");
    CHECK_EQ(trec[28] & 0xffff, 0x5566);
    CHECK_EQ(trec[29] & 0xffff, TSS_16);
    CHECK_EQ(trec[30], CODE_T16);
    CHECK_EQ(tss16.ip, (u16)((u32)t16_after_jmp - (u32)task16_entry));
    CHECK_EQ(tss16.ax, CODE_T16); /* AX when it jumped back */
    CHECK_EQ(tss16.cs, CODE_T16);
    CHECK_EQ(tss16.ds, 0x10);
    CHECK_EQ(type_of(TSS_16), 0x81);
    CHECK_EQ(tssA.eip, (u32)a_after_jmp16);
    CHECK_EQ(read_tr(), TSS_A);
    clear_ts();
}

static void test_task_faults(void)
{
    uptr ip;
    static const struct {
        u16 sel;
        u32 vector, error;
    } cases[] = {
        {TSS_A, 13, TSS_A},     /* busy */
        {TSS_NP, 11, TSS_NP},   /* not present */
        {TSS_SMALL, 10, TSS_SMALL}, /* limit < 0x67 */
        {TG_DATA, 13, 0x10},    /* task gate to a data segment */
        {TG_C | 3, 13, TG_C},   /* RPL 3 > task gate DPL 0 */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct {
            u32 off;
            u16 sel;
        } __attribute__((packed)) target = {0, cases[i].sel};
        u32 eip_before = tssA.eip;
        trap_reset();
        __asm__ volatile("movl $661f, %0\n" ASM_FAULT("ljmp *%1") : "=&r"(ip) : "m"(target) : "memory");
        CHECK_TRAP(cases[i].vector, cases[i].error, ip);
        CHECK_EQ(tssA.eip, eip_before); /* nothing saved */
        CHECK_EQ(read_tr(), TSS_A);
        CHECK_EQ(type_of(TSS_A), 0x8b);
    }
    CHECK_EQ(type_of(TSS_SMALL), 0x89);
    CHECK_EQ(type_of(TSS_B), 0x89);

    /* IRET with NT=1 whose back-link names a TSS that is not busy. */
    tssA.link = TSS_B;
    trap_reset();
    __asm__ volatile("pushf\n orl $0x4000, (%%esp)\n popf\n"
                     "movl $661f, %0\n" ASM_FAULT("iretl")
                     "pushf\n andl $~0x4000, (%%esp)\n popf"
                     : "=&r"(ip)::"memory");
    CHECK_TRAP(10, TSS_B, ip);
    CHECK_EQ(read_tr(), TSS_A);
    CHECK_EQ(type_of(TSS_B), 0x89);
    tssA.link = 0;
}

static u32 bad_tr;
static int bad_ldt_hook(struct trap_frame *f)
{
    bad_tr = read_tr();
    f->ip = (u32)bad_task_escape; /* back to task A */
    return 1;
}

static void test_fault_after_commit(void)
{
    trap_reset();
    trap_hook = bad_ldt_hook;
    __asm__ volatile("ljmp $" STR(TSS_BADLDT) ", $0" ::: "memory");
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.vector, 10);
    CHECK_EQ(last_trap.error, 0x10);
    CHECK_EQ_SDM(last_trap.ip, (u32)bad_task_entry, "a fault after the commit point is raised in the new task (its EIP)");
    CHECK_EQ(bad_tr, TSS_BADLDT);
    CHECK_EQ(read_tr(), TSS_A);
    CHECK_EQ(type_of(TSS_BADLDT), 0x89);
    trap_reset();
    clear_ts();
}

int main(void)
{
    setup();
    SECTION("jmp task") test_jmp();
    SECTION("call and iret") test_call_iret();
    SECTION("interrupt task") test_interrupt_task();
    SECTION("double fault task") test_double_fault_task();
    SECTION("16-bit tss") test_tss16();
    SECTION("task faults") test_task_faults();
    SECTION("fault after commit") test_fault_after_commit();
    return 0;
}
