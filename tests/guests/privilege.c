/* privilege: transfers between privilege levels in 32-bit protected mode.
 * The test builds its own GDT (the runtime's entries first) with ring-1 and
 * ring-3 segments, conforming code, call gates and a TSS with an I/O
 * permission bitmap, and runs code at CPL 3 (entered by IRET, left through a
 * call gate).
 *   - IRET to an outer level: CS/SS/flags, FS with a DPL-0 segment becomes null;
 *   - call gate 3 -> 0 with two parameters: inner stack from TSS.SS0:ESP0,
 *     the frame (SS, ESP, copied parameters, CS, EIP); far RET imm16 to the
 *     outer level releases the parameters on both stacks and nulls FS
 *     (DPL 0 data) but not GS (DPL 3 data) or ES (conforming code);
 *   - call gate 3 -> 1 (TSS.SS1:ESP1); #TS(SS1) for a DPL-3 or null SS1 and
 *     #SS(SS1) for a not-present one;
 *   - 16-bit call gate 3 -> 0: 16-bit frame, far RET (o16) back;
 *   - same-privilege call gate (no stack switch); gate faults: DPL < CPL,
 *     RPL > DPL, not present, not a code segment, code DPL > CPL, JMP to a
 *     more privileged segment; direct far CALL faults (non-conforming DPL 0
 *     from CPL 3, conforming DPL 3 from CPL 0, RPL > CPL);
 *   - conforming code: CALL from CPL 3 keeps CPL 3 (CS.RPL = 3);
 *   - far RET/IRET to an outer level with a bad SS (#GP(SS)), precise;
 *   - INT n/INT3/INTO through DPL-0 gates at CPL 3: #GP(vector*8+2); INT n
 *     through a DPL-3 gate; INT1 (ICEBP) ignores the gate DPL;
 *   - IOPL 0 at CPL 3: CLI/STI/HLT #GP(0); POPF/IRET leave IF and IOPL;
 *     IN/OUT/INS/OUTS allowed by the TSS I/O bitmap only (bit set, ports
 *     straddling, beyond the TSS limit); IOPL 3: CLI/STI/IN allowed, POPF
 *     cannot change IOPL;
 *   - virtual-8086 mode: IRET to VM86 (segments, IOPL), INT n with IOPL 3
 *     through a DPL-3 gate (VM86 frame with ES/DS/FS/GS), #GP(0) for INT n
 *     with IOPL 0 and for HLT, IRET to VM86 with EIP > 0xffff faults (#GP(0));
 *   - ARPL;
 *   - SYSENTER/SYSEXIT between CPL 3 and 0 (selectors from SYSENTER_CS, ESP
 *     from the MSR, IF cleared), #GP(0) for SYSEXIT at CPL 3 and SYSENTER with
 *     SYSENTER_CS = 0; UMIP: SGDT/SIDT/SLDT/STR/SMSW at CPL 3 raise #GP(0).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: iret to ring 3 ok
 * EXPECT-OUTPUT: call gates ok
 * EXPECT-OUTPUT: gate faults ok
 * EXPECT-OUTPUT: far return faults ok
 * EXPECT-OUTPUT: ring 3 faults ok
 * EXPECT-OUTPUT: iopl 3 ok
 * EXPECT-OUTPUT: virtual-8086 ok
 * EXPECT-OUTPUT: arpl ok
 * EXPECT-OUTPUT: sysenter ok
 * EXPECT-OUTPUT: umip ok
 * EXPECT-OUTPUT: PASS privilege
 */
#include "guest.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Selectors of the test's GDT (0x00-0x38 as in lib/gdt.inc). */
#define R3_CODE 0x40
#define R3_DATA 0x48
#define TSS_SEL 0x50
#define GATE3_R0 0x58   /* call gate DPL 3 -> ring 0, 2 parameters */
#define R1_CODE 0x60
#define R1_DATA 0x68
#define CONF0 0x70      /* conforming code, DPL 0 */
#define CONF3 0x78      /* conforming code, DPL 3 */
#define GATE0_R0 0x80   /* call gate DPL 0 -> ring 0 (same privilege) */
#define R1_DATA_NP 0x88 /* DPL 1 data, not present */
#define GATE3_NP 0x90   /* call gate DPL 3, not present */
#define GATE3_DATA 0x98 /* call gate DPL 3 to a data segment */
#define GATE3_R1 0xa0   /* call gate DPL 3 -> ring 1 */
#define GATE0_R3 0xa8   /* call gate DPL 0 -> DPL 3 code */
#define GATE16_R0 0xb0  /* 16-bit call gate DPL 3 -> CODE_AT16 */
#define CODE_AT16 0xb8  /* 32-bit code, DPL 0, based at gate16_entry */
#define GATE_EXIT 0xc0  /* call gate DPL 3 -> ring3_exit */
#define R3_LOWCODE 0xc8 /* 32-bit code, DPL 3, based so that r3_gate16 has a 16-bit offset */
#define GDT_ENTRIES 26

#define R3_CS (R3_CODE | 3)
#define R3_DS (R3_DATA | 3)

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

#define IOMAP_BYTES 128 /* ports 0..0x3ff; the TSS limit ends the bitmap there */
static struct {
    struct tss32 t;
    u8 iomap[IOMAP_BYTES + 1];
} __attribute__((packed, aligned(16))) tss;

static u64 gdt2[GDT_ENTRIES] __attribute__((aligned(16)));
extern u64 gdt[];

u32 r3rec[64];
u32 saved_kernel_esp;
u8 kstack0[8192] __attribute__((aligned(16)));
u8 kstack1[4096] __attribute__((aligned(16)));
u8 ustack[8192] __attribute__((aligned(16)));
u8 io_buf[16];
#define KSTACK0_TOP ((u32)kstack0 + sizeof kstack0)
#define KSTACK1_TOP ((u32)kstack1 + sizeof kstack1)
#define USTACK_TOP ((u32)ustack + sizeof ustack)

static u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags)
{
    return (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) | ((u64)((limit >> 16) & 0xf) << 48) |
           ((u64)flags << 52) | ((u64)(base >> 24) << 56);
}
static u64 gate_desc(u16 sel, u32 off, u32 access, u32 count)
{
    return (off & 0xffff) | ((u64)sel << 16) | ((u64)(count & 0x1f) << 32) | ((u64)access << 40) |
           ((u64)(off >> 16) << 48);
}

/* ---- ring switching (asm) ----
 * run_ring3(fn, esp, eflags, fs, cs): IRET to cs:fn at CPL 3 with SS:ESP =
 * R3_DS:esp, DS/ES/GS = R3_DS and the given FS; fn leaves through GATE_EXIT,
 * which returns to run_ring3's caller on the kernel stack. */
u32 run_ring3(void (*fn)(void), u32 esp, u32 eflags, u32 fs, u32 cs);
void ring3_exit(void);
void gate_r0_entry(void), ring1_entry(void), same_priv_entry(void), gate16_entry(void), conf_fn(void);
void r3_basic(void), r3_gate(void), r3_ring1(void), r3_ring1_fault(void), r3_gate16(void), r3_faults(void),
    r3_iopl3(void);
extern u8 r3_gate_ret[], r3_gate16_ret[], r3_after_cfn[], r3_icebp[];

__asm__(".text\n"
        ".globl run_ring3, ring3_exit\n"
        "run_ring3:\n"
        "  push %ebp\n push %ebx\n push %esi\n push %edi\n"
        "  mov %esp, saved_kernel_esp\n"
        "  mov 20(%esp), %ecx\n mov 24(%esp), %edx\n mov 28(%esp), %eax\n mov 32(%esp), %esi\n"
        "  mov 36(%esp), %ebp\n"
        "  pushl $" STR(R3_DS) "\n pushl %edx\n pushl %eax\n pushl %ebp\n pushl %ecx\n"
        "  mov $" STR(R3_DS) ", %ebx\n mov %ebx, %ds\n mov %ebx, %es\n mov %ebx, %gs\n mov %esi, %fs\n"
        "  iretl\n"
        "ring3_exit:\n"
        "  mov $0x10, %ecx\n mov %ecx, %ds\n mov %ecx, %es\n mov %ecx, %fs\n mov %ecx, %gs\n"
        "  mov saved_kernel_esp, %esp\n"
        "  pop %edi\n pop %esi\n pop %ebx\n pop %ebp\n"
        "  ret\n"

        /* CPL 3 after IRET. */
        "r3_basic:\n"
        "  mov %cs, %eax\n mov %eax, r3rec+0\n"
        "  mov %ss, %eax\n mov %eax, r3rec+4\n"
        "  mov %fs, %eax\n mov %eax, r3rec+8\n"
        "  mov %gs, %eax\n mov %eax, r3rec+12\n"
        "  pushf\n pop %eax\n mov %eax, r3rec+16\n"
        "  mov %esp, r3rec+20\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"

        /* Call gate 3 -> 0 with two parameters, far RET 8 back. */
        "r3_gate:\n"
        "  mov %esp, r3rec+0\n"
        "  pushl $0x11111111\n pushl $0x22222222\n"
        "  lcall $" STR(GATE3_R0) ", $0\n"
        ".globl r3_gate_ret\n"
        "r3_gate_ret:\n"
        "  mov %esp, r3rec+4\n"
        "  mov %fs, %eax\n mov %eax, r3rec+8\n"
        "  mov %gs, %eax\n mov %eax, r3rec+12\n"
        "  mov %es, %eax\n mov %eax, r3rec+16\n"
        "  mov %cs, %eax\n mov %eax, r3rec+20\n"
        "  mov %ss, %eax\n mov %eax, r3rec+24\n"
        "  mov $" STR(R3_DS) ", %eax\n mov %eax, %es\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"
        "gate_r0_entry:\n"
        "  mov %esp, r3rec+32\n"
        "  mov %ss, %eax\n mov %eax, r3rec+36\n"
        "  mov %cs, %eax\n mov %eax, r3rec+40\n"
        "  mov 0(%esp), %eax\n mov %eax, r3rec+44\n"
        "  mov 4(%esp), %eax\n mov %eax, r3rec+48\n"
        "  mov 8(%esp), %eax\n mov %eax, r3rec+52\n"
        "  mov 12(%esp), %eax\n mov %eax, r3rec+56\n"
        "  mov 16(%esp), %eax\n mov %eax, r3rec+60\n"
        "  mov 20(%esp), %eax\n mov %eax, r3rec+64\n"
        "  mov $0x10, %eax\n mov %eax, %fs\n"
        "  mov $" STR(CONF0) ", %eax\n mov %eax, %es\n"
        "  lret $8\n"

        /* Call gate 3 -> 1. */
        "r3_ring1:\n"
        "  lcall $" STR(GATE3_R1) ", $0\n"
        "  mov %cs, %eax\n mov %eax, r3rec+8\n"
        "  mov %esp, r3rec+16\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"
        "ring1_entry:\n"
        "  mov %cs, %eax\n mov %eax, r3rec+0\n"
        "  mov %ss, %eax\n mov %eax, r3rec+4\n"
        "  mov %esp, r3rec+12\n"
        "  lret\n"
        "r3_ring1_fault:\n"
        "  mov %esp, r3rec+0\n" ASM_FAULT("lcall $" STR(GATE3_R1) ", $0") "  mov %esp, r3rec+4\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"

        /* 16-bit call gate 3 -> 0: the target's segment starts at gate16_entry. */
        "r3_gate16:\n"
        "  mov %esp, r3rec+0\n"
        "  lcall $" STR(GATE16_R0) ", $0\n"
        ".globl r3_gate16_ret\n"
        "r3_gate16_ret:\n"
        "  mov %esp, r3rec+4\n"
        "  mov %cs, %eax\n mov %eax, r3rec+8\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"
        "gate16_entry:\n"
        "  mov %esp, r3rec+32\n"
        "  mov %cs, %eax\n mov %eax, r3rec+36\n"
        "  mov %ss, %eax\n mov %eax, r3rec+40\n"
        "  mov 0(%esp), %eax\n mov %eax, r3rec+44\n" /* IP, CS */
        "  mov 4(%esp), %eax\n mov %eax, r3rec+48\n" /* SP, SS */
        "  lretw\n"

        /* Faults at CPL 3, IOPL 0. */
        "r3_faults:\n"
        ASM_FAULT("int $0x40")
        ASM_FAULT("int3")
        "  mov $0x7f, %al\n add %al, %al\n" ASM_FAULT("into")
        ".globl r3_icebp\n"
        "r3_icebp:\n" ASM_TRAP(".byte 0xf1")
        ASM_TRAP("int $0x41")
        ASM_FAULT("cli")
        ASM_FAULT("sti")
        ASM_FAULT("hlt")
        "  inb $0x80, %al\n"
        ASM_FAULT("inb $0x81, %al")
        ASM_FAULT("inw $0x7f, %ax")
        "  mov $0x400, %dx\n" ASM_FAULT("inb (%dx), %al")
        "  mov $0x81, %dx\n mov $io_buf, %esi\n" ASM_FAULT("outsb")
        "  mov %esi, r3rec+0\n"
        "  mov $0x80, %dx\n mov $io_buf, %edi\n movb $0x5a, io_buf\n"
        "  inb (%dx), %al\n mov %eax, r3rec+4\n"
        "  insb\n"
        "  mov %edi, r3rec+8\n"
        "  mov $0x80, %dx\n mov $io_buf, %esi\n mov $4, %ecx\n rep outsb\n"
        "  mov %esi, r3rec+12\n mov %ecx, r3rec+16\n"
        "  pushl $0x3202\n popf\n pushf\n popl r3rec+20\n"
        "  pushl $0x3202\n pushl $" STR(R3_CS) "\n pushl $1f\n iretl\n"
        "1: pushf\n popl r3rec+24\n"
        ASM_FAULT("lcall $0x08, $0")
        ASM_FAULT("lcall $" STR(GATE0_R0) ", $0")
        ASM_FAULT("lcall $" STR(GATE3_NP) ", $0")
        ASM_FAULT("lcall $" STR(GATE3_DATA) ", $0")
        ASM_FAULT("ljmp $" STR(GATE3_R0) ", $0")
        "  lcall $" STR(CONF0) ", $conf_fn\n"
        ".globl r3_after_cfn\n"
        "r3_after_cfn:\n"
        "  mov %cs, %eax\n mov %eax, r3rec+32\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"
        "conf_fn:\n"
        "  mov %cs, %eax\n mov %eax, r3rec+28\n"
        "  lret\n"

        /* CPL 3, IOPL 3. */
        "r3_iopl3:\n"
        "  inb $0x81, %al\n"
        "  cli\n pushf\n popl r3rec+0\n"
        "  sti\n pushf\n popl r3rec+4\n cli\n"
        "  pushl $0x0002\n popf\n pushf\n popl r3rec+8\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"

        /* Same-privilege call gate from ring 0. */
        "same_priv_entry:\n"
        "  mov %esp, r3rec+0\n"
        "  mov %ss, %eax\n mov %eax, r3rec+4\n"
        "  lret\n");

/* ---- trap log: every exception of a run, in order ---- */
struct trap_log_entry {
    u32 vector, error, ip, cs;
};
static struct trap_log_entry tlog[32];
static unsigned tlog_n;
static int log_hook(struct trap_frame *f)
{
    if (tlog_n < 32) tlog[tlog_n++] = (struct trap_log_entry){f->vector, f->error, f->ip, f->cs};
    if (f->vector == 6 && f->ip == (u32)r3_icebp) { /* QEMU 7.2 TCG: ICEBP raises #UD */
        f->ip += 1;
        return 1;
    }
    return 0; /* resume through the recovery table */
}
static void log_reset(void)
{
    trap_reset();
    tlog_n = 0;
    trap_hook = log_hook;
}
#define CHECK_LOG(i, vec, err)                     \
    do {                                           \
        if (CHECK(tlog_n > (i))) {                 \
            CHECK_EQ(tlog[i].vector, (vec));       \
            CHECK_EQ(tlog[i].error, (err));        \
        }                                          \
    } while (0)

static void setup(void)
{
    for (int i = 0; i < 8; i++) gdt2[i] = gdt[i];
    gdt2[R3_CODE / 8] = seg_desc(0, 0xfffff, 0xfa, 0xc);
    gdt2[R3_DATA / 8] = seg_desc(0, 0xfffff, 0xf2, 0xc);
    gdt2[TSS_SEL / 8] = seg_desc((u32)&tss, sizeof tss - 1, 0x89, 0);
    gdt2[GATE3_R0 / 8] = gate_desc(0x08, (u32)gate_r0_entry, 0xec, 2);
    gdt2[R1_CODE / 8] = seg_desc(0, 0xfffff, 0xba, 0xc);
    gdt2[R1_DATA / 8] = seg_desc(0, 0xfffff, 0xb2, 0xc);
    gdt2[CONF0 / 8] = seg_desc(0, 0xfffff, 0x9e, 0xc);
    gdt2[CONF3 / 8] = seg_desc(0, 0xfffff, 0xfe, 0xc);
    gdt2[GATE0_R0 / 8] = gate_desc(0x08, (u32)same_priv_entry, 0x8c, 0);
    gdt2[R1_DATA_NP / 8] = seg_desc(0, 0xfffff, 0x32, 0xc);
    gdt2[GATE3_NP / 8] = gate_desc(0x08, (u32)gate_r0_entry, 0x6c, 0);
    gdt2[GATE3_DATA / 8] = gate_desc(0x10, 0, 0xec, 0);
    gdt2[GATE3_R1 / 8] = gate_desc(R1_CODE | 1, (u32)ring1_entry, 0xec, 0);
    gdt2[GATE0_R3 / 8] = gate_desc(R3_CS, (u32)r3_basic, 0x8c, 0);
    gdt2[GATE16_R0 / 8] = gate_desc(CODE_AT16, 0, 0xe4, 0);
    gdt2[CODE_AT16 / 8] = seg_desc((u32)gate16_entry, 0xfffff, 0x9a, 0xc);
    gdt2[GATE_EXIT / 8] = gate_desc(0x08, (u32)ring3_exit, 0xec, 0);
    gdt2[R3_LOWCODE / 8] = seg_desc((u32)r3_gate16 & 0xffff0000u, 0xfffff, 0xfa, 0xc);
    struct __attribute__((packed)) {
        u16 limit;
        u32 base;
    } p = {sizeof gdt2 - 1, (u32)gdt2};
    __asm__ volatile("lgdt %0" ::"m"(p));

    tss.t.esp0 = KSTACK0_TOP;
    tss.t.ss0 = 0x10;
    tss.t.esp1 = KSTACK1_TOP;
    tss.t.ss1 = R1_DATA | 1;
    tss.t.iomap = sizeof tss.t;
    for (int i = 0; i < IOMAP_BYTES; i++) tss.iomap[i] = 0xff;
    tss.iomap[IOMAP_BYTES] = 0xff;
    tss.iomap[0x80 / 8] = (u8)~0x01; /* port 0x80 allowed */
    __asm__ volatile("ltr %w0" ::"r"(TSS_SEL));
    /* Mask the 8259s: IF may be set at CPL 3 with IOPL 3. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

static void test_iret_to_ring3(void)
{
    memset(r3rec, 0, sizeof r3rec);
    log_reset();
    run_ring3(r3_basic, USTACK_TOP, 0x0002, 0x10, R3_CS);
    CHECK_EQ(r3rec[0], R3_CS);
    CHECK_EQ(r3rec[1], R3_DS);
    CHECK_EQ(r3rec[2], 0); /* IRET to an outer level nulls FS holding a DPL-0 data segment */
    CHECK_EQ(r3rec[3], R3_DS);
    CHECK_EQ(r3rec[4] & 0x3fff, 0x0002);
    CHECK_EQ(r3rec[5], USTACK_TOP);
    CHECK_EQ(tlog_n, 0);
}

static void test_call_gates(void)
{
    memset(r3rec, 0, sizeof r3rec);
    log_reset();
    run_ring3(r3_gate, USTACK_TOP, 0x0002, R3_DS, R3_CS);
    u32 esp3 = r3rec[0];
    CHECK_EQ(r3rec[8], KSTACK0_TOP - 24); /* inner stack from TSS.ESP0 */
    CHECK_EQ(r3rec[9], 0x10);             /* TSS.SS0 */
    CHECK_EQ(r3rec[10], 0x08);
    CHECK_EQ(r3rec[11], (u32)r3_gate_ret);
    CHECK_EQ(r3rec[12], R3_CS);
    CHECK_EQ(r3rec[13], 0x22222222); /* parameters keep their order */
    CHECK_EQ(r3rec[14], 0x11111111);
    CHECK_EQ(r3rec[15], esp3 - 8);
    CHECK_EQ(r3rec[16], R3_DS);
    CHECK_EQ(r3rec[1], esp3); /* RET 8 released the parameters on the outer stack too */
    CHECK_EQ(r3rec[2], 0); /* far RET to an outer level nulls FS holding a DPL-0 data segment */
    CHECK_EQ(r3rec[3], R3_DS);
    CHECK_EQ(r3rec[4], CONF0); /* conforming code segments stay */
    CHECK_EQ(r3rec[5], R3_CS);
    CHECK_EQ(r3rec[6], R3_DS);
    CHECK_EQ(tlog_n, 0);

    /* 3 -> 1 through TSS.SS1:ESP1. */
    memset(r3rec, 0, sizeof r3rec);
    run_ring3(r3_ring1, USTACK_TOP, 0x0002, R3_DS, R3_CS);
    CHECK_EQ(r3rec[0], R1_CODE | 1);
    CHECK_EQ(r3rec[1], R1_DATA | 1);
    CHECK_EQ(r3rec[2], R3_CS);
    CHECK_EQ(r3rec[3], KSTACK1_TOP - 16);
    CHECK_EQ(r3rec[4], USTACK_TOP);
    CHECK_EQ(tlog_n, 0);

    /* 16-bit gate: the caller's IP and SP must fit 16 bits, so it runs in a
     * segment based near it, on a stack below 64 KiB. */
    const u32 low_stack = 0x8000, low_base = (u32)r3_gate16 & 0xffff0000u;
    memset(r3rec, 0, sizeof r3rec);
    run_ring3((void (*)(void))((u32)r3_gate16 - low_base), low_stack, 0x0002, R3_DS, R3_LOWCODE | 3);
    CHECK_EQ(r3rec[0], low_stack);
    CHECK_EQ(r3rec[8], KSTACK0_TOP - 8); /* four words */
    CHECK_EQ(r3rec[9], CODE_AT16);
    CHECK_EQ(r3rec[10], 0x10);
    CHECK_EQ(r3rec[11], ((u32)(R3_LOWCODE | 3) << 16) | ((u32)r3_gate16_ret - low_base));
    CHECK_EQ(r3rec[12], ((u32)R3_DS << 16) | low_stack);
    CHECK_EQ(r3rec[1], low_stack);
    CHECK_EQ(r3rec[2], R3_LOWCODE | 3);
    CHECK_EQ(tlog_n, 0);

    /* Same privilege through a gate: no stack switch. */
    u32 esp_before, esp_in, ss_in;
    memset(r3rec, 0, sizeof r3rec);
    __asm__ volatile("mov %%esp, %0\n lcall $" STR(GATE0_R0) ", $0\n mov r3rec, %1\n mov r3rec+4, %2"
                     : "=&r"(esp_before), "=&r"(esp_in), "=&r"(ss_in)::"eax", "memory");
    CHECK_EQ(esp_in, esp_before - 8);
    CHECK_EQ(ss_in, 0x10);

    /* Bad inner stacks for ring 1: #TS(SS1) / #SS(SS1), the caller unchanged. */
    static const struct {
        u16 ss1;
        u32 vector, error;
    } bad[] = {
        {R3_DS, 10, R3_DATA},        /* DPL 3 */
        {0, 10, 0},                  /* null */
        {R1_DATA, 10, R1_DATA},      /* RPL 0 != new CPL 1 */
        {0x30 | 1, 10, 0x30},        /* not writable data (execute-only code) */
        {R1_DATA_NP | 1, 12, R1_DATA_NP},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tss.t.ss1 = bad[i].ss1;
        log_reset();
        memset(r3rec, 0, sizeof r3rec);
        run_ring3(r3_ring1_fault, USTACK_TOP, 0x0002, R3_DS, R3_CS);
        CHECK_EQ(tlog_n, 1);
        if (CHECK(tlog_n > 0)) {
            CHECK_EQ_SDM(tlog[0].vector, bad[i].vector, "a not-present inner SS raises #SS(SS), not #TS");
            CHECK_EQ(tlog[0].error, bad[i].error);
        }
        CHECK_EQ(tlog[0].cs, R3_CS);
        CHECK_EQ(r3rec[1], r3rec[0]);
    }
    tss.t.ss1 = R1_DATA | 1;
}

static void test_gate_faults(void)
{
    uptr ip;
    /* RPL 3 > gate DPL 0. */
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("lcall $" STR(GATE0_R0) "+3, $0") : "=&r"(ip));
    CHECK_TRAP(13, GATE0_R0, ip);
    /* The gate's code segment has DPL 3 > CPL 0. */
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("lcall $" STR(GATE0_R3) ", $0") : "=&r"(ip));
    CHECK_TRAP(13, R3_CODE, ip);
    /* Direct far calls: conforming DPL 3 from CPL 0, non-conforming with RPL 3 > CPL 0. */
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("lcall $" STR(CONF3) ", $0") : "=&r"(ip));
    CHECK_TRAP(13, CONF3, ip);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("lcall $0x0b, $0") : "=&r"(ip));
    CHECK_TRAP(13, 0x08, ip);
    /* A far JMP to conforming DPL-0 code from CPL 0 keeps CPL 0. */
    u32 cs;
    __asm__ volatile("ljmp $" STR(CONF0) ", $1f\n1: mov %%cs, %0\n ljmp $0x08, $2f\n2:" : "=r"(cs));
    CHECK_EQ(cs, CONF0);
}

static void test_far_return_faults(void)
{
    uptr ip;
    u32 esp_before, esp_after, cs;
    /* RET to CPL 3 with SS = the DPL-0 data segment: #GP(SS), nothing changed. */
    trap_reset();
    __asm__ volatile("mov %%esp, %1\n"
                     "pushl $0x10\n pushl %%esp\n pushl $" STR(R3_CS) "\n pushl $0\n"
                     "movl $661f, %0\n" ASM_FAULT("lret") "mov %%esp, %2\n add $16, %%esp\n mov %%cs, %3"
                     : "=&r"(ip), "=&r"(esp_before), "=&r"(esp_after), "=&r"(cs));
    CHECK_TRAP(13, 0x10, ip);
    CHECK_EQ(esp_after, esp_before - 16);
    CHECK_EQ(cs, 0x08);
    /* The same for IRET, and an SS whose RPL differs from CS.RPL. */
    trap_reset();
    __asm__ volatile("pushl $" STR(R1_DATA) "+1\n pushl %%esp\n pushl $2\n pushl $" STR(R3_CS) "\n pushl $0\n"
                     "movl $661f, %0\n" ASM_FAULT("iretl") "add $20, %%esp"
                     : "=&r"(ip));
    CHECK_TRAP(13, R1_DATA, ip);
    /* RET to a null CS: #GP(0); to a data segment: #GP(sel). */
    trap_reset();
    __asm__ volatile("pushl $0\n pushl $0\n movl $661f, %0\n" ASM_FAULT("lret") "add $8, %%esp" : "=&r"(ip));
    CHECK_TRAP(13, 0, ip);
    trap_reset();
    __asm__ volatile("pushl $0x10\n pushl $0\n movl $661f, %0\n" ASM_FAULT("lret") "add $8, %%esp" : "=&r"(ip));
    CHECK_TRAP(13, 0x10, ip);
}

static void test_ring3_faults(void)
{
    idt_set_gate(0x41, 1, 3, 0);
    memset(r3rec, 0, sizeof r3rec);
    memset(io_buf, 0, sizeof io_buf);
    log_reset();
    run_ring3(r3_faults, USTACK_TOP, 0x0002, R3_DS, R3_CS);
    unsigned i = 0;
    CHECK_LOG(i, 13, 0x40 * 8 + 2); i++;
    CHECK_LOG(i, 13, 3 * 8 + 2); i++;
    CHECK_LOG(i, 13, 4 * 8 + 2); i++;
    /* INT1 (ICEBP) delivers #DB without checking the gate DPL. */
    if (CHECK(tlog_n > i)) CHECK_EQ_SDM(tlog[i].vector, 1, "INT1 (ICEBP) raises #DB, no gate DPL check");
    i++;
    CHECK_LOG(i, 0x41, 0); i++;
    CHECK_LOG(i, 13, 0); i++; /* cli */
    CHECK_LOG(i, 13, 0); i++; /* sti */
    CHECK_LOG(i, 13, 0); i++; /* hlt */
    CHECK_LOG(i, 13, 0); i++; /* in 0x81 */
    CHECK_LOG(i, 13, 0); i++; /* in 0x7f-0x80 */
    CHECK_LOG(i, 13, 0); i++; /* in 0x400: beyond the TSS limit */
    CHECK_LOG(i, 13, 0); i++; /* outsb to 0x81 */
    CHECK_EQ(r3rec[0], (u32)io_buf); /* ESI unchanged by the faulting OUTSB */
    CHECK_EQ(io_buf[0], (u8)r3rec[1]); /* INSB stored what the port reads */
    CHECK_EQ(r3rec[2], (u32)io_buf + 1);
    CHECK_EQ(r3rec[3], (u32)io_buf + 4);
    CHECK_EQ(r3rec[4], 0);
    CHECK_EQ(r3rec[5] & 0x3200, 0x0000); /* POPF at CPL 3 > IOPL: IF and IOPL kept */
    CHECK_EQ(r3rec[6] & 0x3200, 0x0000); /* IRET likewise */
    CHECK_LOG(i, 13, 0x08); i++;          /* far call to DPL-0 non-conforming code */
    CHECK_LOG(i, 13, GATE0_R0); i++;      /* gate DPL 0 < CPL 3 */
    CHECK_LOG(i, 11, GATE3_NP); i++;      /* gate not present */
    CHECK_LOG(i, 13, 0x10); i++;          /* gate to a data segment */
    CHECK_LOG(i, 13, 0x08); i++;          /* JMP through a gate to a more privileged segment */
    CHECK_EQ(tlog_n, i);
    CHECK_EQ(r3rec[7], CONF0 | 3); /* conforming: CPL stays 3 */
    CHECK_EQ(r3rec[8], R3_CS);
    idt_set_gate(0x41, 1, 0, 0);
}

static void test_iopl3(void)
{
    memset(r3rec, 0, sizeof r3rec);
    log_reset();
    run_ring3(r3_iopl3, USTACK_TOP, 0x3002, R3_DS, R3_CS);
    CHECK_EQ(tlog_n, 0);
    CHECK_EQ(r3rec[0] & 0x3200, 0x3000);
    CHECK_EQ(r3rec[1] & 0x3200, 0x3200);
    CHECK_EQ(r3rec[2] & 0x3200, 0x3000); /* POPF at CPL 3 cannot change IOPL */
}

/* ---- virtual-8086 mode ---- */
void run_vm86(u32 ip, u32 cs, u32 eflags, u32 ss, u32 sp, u32 ds);
void vm86_escape(void);
extern u8 vm86_iret[];
__asm__(".text\n"
        ".globl run_vm86, vm86_escape, vm86_iret\n"
        "run_vm86:\n"
        "  push %ebp\n push %ebx\n push %esi\n push %edi\n"
        "  mov %esp, saved_kernel_esp\n"
        "  pushl $0\n pushl $0\n pushl 48(%esp)\n pushl $0\n" /* GS FS DS ES */
        "  pushl 48(%esp)\n pushl 56(%esp)\n"                 /* SS ESP */
        "  pushl 52(%esp)\n pushl 52(%esp)\n pushl 52(%esp)\n"  /* EFLAGS CS EIP */
        "vm86_iret:\n" ASM_FAULT("iretl")
        "vm86_escape:\n"
        "  mov $0x10, %ecx\n mov %ecx, %ds\n mov %ecx, %es\n mov %ecx, %fs\n mov %ecx, %gs\n"
        "  mov saved_kernel_esp, %esp\n"
        "  pop %edi\n pop %esi\n pop %ebx\n pop %ebp\n"
        "  ret\n");

struct vm86_frame {
    u32 ip, cs, flags, sp, ss, es, ds, fs, gs;
};
static struct vm86_frame vm86_log[4];
static u32 vm86_ax[4];
static unsigned vm86_n;

static int vm86_hook(struct trap_frame *f)
{
    struct vm86_frame *v = (struct vm86_frame *)&f->ip;
    if (vm86_n < 4) {
        vm86_log[vm86_n] = *v;
        vm86_ax[vm86_n] = f->ax;
    }
    vm86_n++;
    if (!(f->flags & (1u << 17))) return 0;
    if (f->vector == 13) {
        /* Leave virtual-8086 mode: return to CPL 0 at vm86_escape. */
        f->ip = (u32)vm86_escape;
        f->cs = 0x08;
        f->flags = 0x0002;
    }
    return 1;
}

static void test_vm86(void)
{
    /* mov ax,0x1234; mov bx,ds; int 0x31; mov ax,0x5678; hlt */
    static const u8 code[] = {0xb8, 0x34, 0x12, 0x8c, 0xdb, 0xcd, 0x31, 0xb8, 0x78, 0x56, 0xf4};
    memcpy((void *)0x20000, code, sizeof code);
    idt_set_gate(0x31, 1, 3, 0);

    trap_reset();
    vm86_n = 0;
    trap_hook = vm86_hook;
    run_vm86(0, 0x2000, 0x23002, 0x3000, 0x1000, 0x0123);
    CHECK_EQ(vm86_n, 2);
    CHECK_EQ(vm86_log[0].ip, 7);
    CHECK_EQ(vm86_log[0].cs, 0x2000);
    CHECK_EQ(vm86_log[0].flags & 0x23000, 0x23000); /* VM, IOPL 3 */
    CHECK_EQ(vm86_log[0].sp, 0x1000);
    CHECK_EQ(vm86_log[0].ss, 0x3000);
    CHECK_EQ(vm86_log[0].ds, 0x0123);
    CHECK_EQ(vm86_log[0].es, 0);
    CHECK_EQ(vm86_ax[0] & 0xffff, 0x1234);
    CHECK_EQ(last_trap.vector, 13);
    CHECK_EQ(last_trap.error, 0);
    CHECK_EQ(vm86_log[1].ip, 10); /* HLT at CPL 3 */
    CHECK_EQ(vm86_ax[1] & 0xffff, 0x5678);

    /* IOPL 0: INT n faults with #GP(0) at the INT. */
    trap_reset();
    vm86_n = 0;
    trap_hook = vm86_hook;
    run_vm86(0, 0x2000, 0x20002, 0x3000, 0x1000, 0);
    CHECK_EQ(vm86_n, 1);
    CHECK_EQ(last_trap.vector, 13);
    CHECK_EQ(last_trap.error, 0);
    CHECK_EQ(vm86_log[0].ip, 5);

    /* EIP beyond the 64 KiB limit of the virtual-8086 CS: the IRET faults at CPL 0. */
    trap_reset();
    vm86_n = 0;
    trap_hook = vm86_hook; /* QEMU enters VM86 at IP 0 and faults at the INT */
    run_vm86(0x10000, 0x2000, 0x20002, 0x3000, 0x1000, 0);
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.vector, 13);
    CHECK_EQ(last_trap.error, 0);
    CHECK_EQ_SDM(last_trap.ip, (uptr)vm86_iret, "IRET to virtual-8086 mode: #GP(0) if EIP is beyond the CS limit");
    idt_set_gate(0x31, 1, 0, 0);
}

static void test_arpl(void)
{
    u32 sel = 0x10, flags;
    __asm__ volatile("arpl %w2, %w0\n pushf\n pop %1" : "+r"(sel), "=r"(flags) : "r"(0x4b));
    CHECK_EQ(sel, 0x13);
    CHECK(flags & FL_ZF);
    sel = 0x4b;
    __asm__ volatile("arpl %w2, %w0\n pushf\n pop %1" : "+r"(sel), "=r"(flags) : "r"(0x11));
    CHECK_EQ(sel, 0x4b);
    CHECK(!(flags & FL_ZF));
    static u16 msel = 0x0fe8;
    __asm__ volatile("arpl %w1, %0\n pushf\n pop %1" : "+m"(msel), "=r"(flags) : "1"(0x2));
    CHECK_EQ(msel, 0x0fea);
    CHECK(flags & FL_ZF);
}

/* ---- SYSENTER/SYSEXIT in legacy protected mode, UMIP ---- */
#define SYSENTER_CS 0x30 /* SYSEXIT: CS = +16 = R3_CODE, SS = +24 = R3_DATA */
static u8 sysenter_stack[512] __attribute__((aligned(16)));
static volatile u32 sysrec[8];
void r3_sysenter(void), sysenter_entry(void), r3_sys_faults(void), r3_umip(void);
extern u8 r3_after_sysexit[];
__asm__(".text\n"
        /* CPL 3: SYSENTER with the return point in EDX and ESP in ECX. */
        "r3_sysenter:\n"
        "  mov %esp, %ecx\n"
        "  mov $r3_after_sysexit, %edx\n"
        "  sysenter\n"
        ".globl r3_after_sysexit\n"
        "r3_after_sysexit:\n"
        "  mov %cs, %eax\n mov %eax, sysrec+16\n"
        "  mov %ss, %eax\n mov %eax, sysrec+20\n"
        "  mov %esp, sysrec+24\n"
        "  lcall $" STR(GATE_EXIT) ", $0\n"
        /* CPL 0 after SYSENTER: flat CS/SS from the MSR, ESP from the MSR,
         * IF cleared; back with SYSEXIT (EDX = EIP, ECX = ESP). */
        "sysenter_entry:\n"
        "  mov %cs, %eax\n mov %eax, sysrec+0\n"
        "  mov %ss, %eax\n mov %eax, sysrec+4\n"
        "  mov %esp, sysrec+8\n"
        "  pushf\n pop %eax\n mov %eax, sysrec+12\n"
        "  sysexit\n"
        /* CPL 3: SYSEXIT is privileged; SYSENTER with SYSENTER_CS = 0 faults. */
        "r3_sys_faults:\n"
        ASM_FAULT("sysexit")
        ASM_FAULT("sysenter")
        "  lcall $" STR(GATE_EXIT) ", $0\n"
        /* CPL 3 with CR4.UMIP: the descriptor-table stores fault. */
        "r3_umip:\n"
        ASM_FAULT("sgdt sysrec")
        ASM_FAULT("sidt sysrec")
        ASM_FAULT("sldt %ax")
        ASM_FAULT("str %ax")
        ASM_FAULT("smsw %ax")
        "  lcall $" STR(GATE_EXIT) ", $0\n");

static void test_sysenter(void)
{
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(d & (1u << 11))) {
        skip("SYSENTER/SYSEXIT not reported by CPUID");
        return;
    }
    wrmsr(0x174, SYSENTER_CS);
    wrmsr(0x175, (u32)sysenter_stack + sizeof sysenter_stack);
    wrmsr(0x176, (u32)sysenter_entry);
    memset((void *)sysrec, 0, sizeof sysrec);
    log_reset();
    run_ring3(r3_sysenter, USTACK_TOP, 0x0202, R3_DS, R3_CS);
    CHECK_EQ(tlog_n, 0);
    CHECK_EQ(sysrec[0], SYSENTER_CS);
    CHECK_EQ(sysrec[1], SYSENTER_CS + 8);
    CHECK_EQ(sysrec[2], (u32)sysenter_stack + sizeof sysenter_stack);
    CHECK_EQ(sysrec[3] & FL_IF, 0); /* SYSENTER clears IF */
    CHECK_EQ(sysrec[4], R3_CS);
    CHECK_EQ(sysrec[5], R3_DS);
    CHECK_EQ(sysrec[6], USTACK_TOP);

    log_reset();
    wrmsr(0x174, 0);
    run_ring3(r3_sys_faults, USTACK_TOP, 0x0002, R3_DS, R3_CS);
    CHECK_LOG(0, 13, 0); /* SYSEXIT at CPL 3 */
    CHECK_LOG(1, 13, 0); /* SYSENTER with SYSENTER_CS = 0 */
    CHECK_EQ(tlog_n, 2);
    wrmsr(0x174, 0);
}

static void test_umip(void)
{
    u32 a, b, c, d;
    cpuid(7, 0, &a, &b, &c, &d);
    if (!(c & (1u << 2))) {
        skip("UMIP not reported by CPUID");
        return;
    }
    write_cr4(read_cr4() | (1u << 11));
    log_reset();
    run_ring3(r3_umip, USTACK_TOP, 0x0002, R3_DS, R3_CS);
    for (unsigned i = 0; i < 5; i++) CHECK_LOG(i, 13, 0);
    CHECK_EQ(tlog_n, 5);
    write_cr4(read_cr4() & ~(1u << 11));
}

int main(void)
{
    setup();
    SECTION("iret to ring 3") test_iret_to_ring3();
    SECTION("call gates") test_call_gates();
    SECTION("gate faults") test_gate_faults();
    SECTION("far return faults") test_far_return_faults();
    SECTION("ring 3 faults") test_ring3_faults();
    SECTION("iopl 3") test_iopl3();
    SECTION("virtual-8086") test_vm86();
    SECTION("arpl") test_arpl();
    SECTION("sysenter") test_sysenter();
    SECTION("umip") test_umip();
    trap_reset();
    return 0;
}
