/* sysinsn: system instructions, MSRs and the CPUID model in long mode.
 * The test builds its own GDT (the runtime's entries first) with the user and
 * kernel segments SYSCALL/SYSRET and SYSENTER/SYSEXIT derive from IA32_STAR
 * and IA32_SYSENTER_CS, marks the identity map user-accessible and gives the
 * TSS its own RSP0 stack. CPL 3 code is entered by SYSRET and left by SYSCALL.
 *   - CPUID: leaves beyond the maximum return the highest basic leaf, cache
 *     line size (leaf 1 vs leaf 4), initial APIC ID (leaf 1 vs 0BH), address
 *     sizes; each feature bit against what works: CR4 bits of features not
 *     advertised are reserved (#GP), instructions not advertised raise #UD
 *     (RDTSCP, RDPID, RDRAND, RDSEED, FSGSBASE, MONITOR, XGETBV), advertised
 *     ones work (MTRR and PAT MSRs, SYSCALL, SYSENTER);
 *   - MSRs: #GP(0) for reserved bits (EFER, PAT entries, MTRR types and
 *     ranges, FMASK, TSC_AUX), read-only MTRRCAP, non-canonical bases
 *     (LSTAR, FS/GS/KERNEL_GS base, SYSENTER_EIP/ESP), EFER.LMA ignored,
 *     EFER.LME fixed under paging, RDMSR/WRMSR at CPL 3, the value unchanged
 *     after each fault;
 *   - MOV CRn: bits 63:32 of CR0, PG without PE, NW without CD, reserved CR4
 *     bits, clearing CR4.PAE in long mode, CR3 bits above MAXPHYADDR, CR8
 *     (TPR) and its reserved bits, CR5 (#UD), CPL 3 (#GP); CLTS, LMSW (cannot
 *     clear PE), SMSW;
 *   - MOV DRn: DR6/DR7 fixed bits, bits 63:32 (#GP), DR4/DR5 alias DR6/DR7
 *     or #UD with CR4.DE, DR7.GD (#DB fault with DR6.BD, GD cleared), CPL 3;
 *   - SYSCALL/SYSRET: RCX/R11, FMASK, selectors from STAR (SS keeps STAR's
 *     RPL bits), SYSRET to 64-bit and compatibility mode with R11 masked,
 *     #UD without EFER.SCE and in compatibility mode, #GP(0) at CPL 3 and
 *     for a non-canonical RCX (at CPL 0, nothing changed);
 *   - SYSENTER/SYSEXIT in IA-32e mode: to 64-bit and compatibility mode and
 *     back, #GP(0) for a null IA32_SYSENTER_CS, SYSEXIT at CPL 3 or to a
 *     non-canonical RIP;
 *   - SWAPGS, RDFSBASE/WRFSBASE/RDGSBASE/WRGSBASE (CR4.FSGSBASE, #UD when
 *     clear, non-canonical #GP, 32-bit forms), UMIP (SGDT/SIDT/SLDT/STR/SMSW
 *     #GP(0) at CPL 3), HLT/INVD/WBINVD/RDPMC/XSETBV privilege, RDRAND flags,
 *     RDPID/RDTSCP = TSC_AUX, CLFLUSH.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: cpuid ok
 * EXPECT-OUTPUT: features ok
 * EXPECT-OUTPUT: msr ok
 * EXPECT-OUTPUT: control registers ok
 * EXPECT-OUTPUT: debug registers ok
 * EXPECT-OUTPUT: syscall ok
 * EXPECT-OUTPUT: sysenter ok
 * EXPECT-OUTPUT: fs/gs base ok
 * EXPECT-OUTPUT: ring 3 ok
 * EXPECT-OUTPUT: misc ok
 * EXPECT-OUTPUT: PASS sysinsn
 */
#include "guest.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Selectors of the test's GDT (0x00-0x40 as in lib/gdt.inc). SYSRET uses
 * STAR[63:48] = U_CODE32: CS U_CODE32 (compat) or U_CODE64, SS U_DATA.
 * SYSCALL and SYSENTER use S_KCODE: CS S_KCODE, SS S_KDATA; SYSEXIT uses
 * S_KCODE + 16/24 (compat) or + 32/40 (64-bit). */
#define U_CODE32 0x48
#define U_DATA 0x50
#define U_CODE64 0x58
#define S_KCODE 0x60
#define S_KDATA 0x68
#define X_CODE32 0x70
#define X_DATA32 0x78
#define X_CODE64 0x80
#define X_DATA64 0x88
#define GDT_ENTRIES 18

#define MSR_APIC_BASE 0x1bu
#define MSR_MTRRCAP 0xfeu
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_MISC_ENABLE 0x1a0u
#define MSR_MTRR_PHYSBASE0 0x200u
#define MSR_MTRR_PHYSMASK0 0x201u
#define MSR_MTRR_FIX64K 0x250u
#define MSR_PAT 0x277u
#define MSR_MTRR_DEF_TYPE 0x2ffu
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX 0xc0000103u

#define CR4_VME (1u << 0)
#define CR4_DE (1u << 3)
#define CR4_MCE (1u << 6)
#define CR4_PGE (1u << 7)
#define CR4_UMIP (1u << 11)
#define CR4_FSGSBASE (1u << 16)
#define CR4_OSXSAVE (1u << 18)
#define NONCANONICAL 0x0000800000000000ull

static u64 test_gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static u8 ring0_stack[8192] __attribute__((aligned(16)));
static u8 user_stack[8192] __attribute__((aligned(16)));
static u8 sysenter_stack[4096] __attribute__((aligned(16)));
extern u64 gdt[];
extern u64 boot_pml4[], boot_pdpt[], boot_pd[];

static u32 l1_eax, l1_ebx, l1_ecx, l1_edx, l7_ebx, l7_ecx, e1_edx, max_leaf;
static int amd_vendor; /* QEMU's default model: SYSENTER #UD in long mode, compat SYSCALL via CSTAR */

/* ---- records written by the asm below (at CPL 0 and CPL 3) ---- */
u64 h_saved_rsp;
u64 sc_rcx, sc_r11, sc_rflags, sc_rsp, sc_rax, sc_cs, sc_ss;
u64 se_rsp, se_rflags, se_cs, se_ss;
u64 u_cs, u_ss, u_rsp, u_rflags;
u64 u_ip, u_flag;

/* enter_user_sysret(rip, rsp, r11, to64, r12): SYSRET (64-bit or 32-bit
 * operand size) to rip with RSP = rsp; user code comes back with SYSCALL
 * (syscall_entry, via LSTAR or CSTAR), or SYSENTER (sysenter_entry), which
 * record the state they see and return to the caller on the kernel stack.
 * enter_user_sysexit(rip, rsp, to64): the same through SYSEXIT. */
void enter_user_sysret(u64 rip, u64 rsp, u64 r11, int to64, u64 r12);
void enter_user_sysexit(u64 rip, u64 rsp, int to64);
void syscall_entry(void), sysenter_entry(void);
void user_trampoline(void), user64_probe(void), user64_sysenter_probe(void), user64_syscall_flags(void);
extern u8 user64_syscall_flags_next[];
void user32_probe(void), user32_sysexit_probe(void);
extern u8 user32_syscall[], user32_syscall_end[];

__asm__(".text\n"
        ".globl enter_user_sysret, enter_user_sysexit, syscall_entry, sysenter_entry\n"
        "enter_user_sysret:\n"
        "  push %rbp\n push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "  mov %rsp, h_saved_rsp(%rip)\n"
        "  mov %r8, %r12\n"
        "  mov %rdx, %r11\n"
        "  mov %rsi, %rsp\n"
        "  test %ecx, %ecx\n"
        "  mov %rdi, %rcx\n"
        "  jz 1f\n"
        "  sysretq\n"
        "1: sysretl\n"
        "enter_user_sysexit:\n"
        "  push %rbp\n push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "  mov %rsp, h_saved_rsp(%rip)\n"
        "  mov %edx, %eax\n"
        "  mov %rdi, %rdx\n"
        "  mov %rsi, %rcx\n"
        "  test %eax, %eax\n"
        "  jz 1f\n"
        "  rex.w sysexit\n"
        "1: sysexit\n"
        /* CPL 0 after SYSCALL, still on the user stack. */
        "syscall_entry:\n"
        "  mov %rcx, sc_rcx(%rip)\n"
        "  mov %r11, sc_r11(%rip)\n"
        "  mov %rax, sc_rax(%rip)\n"
        "  mov %rsp, sc_rsp(%rip)\n"
        "  movw %cs, sc_cs(%rip)\n"
        "  movw %ss, sc_ss(%rip)\n"
        "  pushfq\n popq sc_rflags(%rip)\n"
        "  jmp kernel_return\n"
        /* CPL 0 after SYSENTER, on IA32_SYSENTER_ESP. */
        "sysenter_entry:\n"
        "  mov %rsp, se_rsp(%rip)\n"
        "  movw %cs, se_cs(%rip)\n"
        "  movw %ss, se_ss(%rip)\n"
        "  pushfq\n popq se_rflags(%rip)\n"
        "kernel_return:\n"
        "  mov h_saved_rsp(%rip), %rsp\n"
        "  pushq $0x18\n"
        "  lea 2f(%rip), %rax\n"
        "  push %rax\n"
        "  lretq\n"
        "2: mov $0x10, %eax\n"
        "  mov %eax, %ss\n mov %eax, %ds\n mov %eax, %es\n"
        "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbx\n pop %rbp\n"
        "  ret\n"

        /* CPL 3, 64-bit: call the C function in R12, then SYSCALL back. */
        "user_trampoline:\n"
        "  and $-16, %rsp\n"
        "  call *%r12\n"
        "  syscall\n"
        /* CPL 3, 64-bit, after SYSRET: what SYSRET loaded. */
        "user64_probe:\n"
        "  pushfq\n popq u_rflags(%rip)\n"
        "  pushq $2\n popfq\n"
        "  movw %cs, u_cs(%rip)\n"
        "  movw %ss, u_ss(%rip)\n"
        "  mov %rsp, u_rsp(%rip)\n"
        "  mov $0x5ca1, %eax\n"
        "  syscall\n"
        /* CPL 3, 64-bit: SYSCALL with the flags in R12. */
        ".globl user64_syscall_flags_next\n"
        "user64_syscall_flags:\n"
        "  push %r12\n popfq\n"
        "  syscall\n"
        "user64_syscall_flags_next:\n"
        /* CPL 3, 64-bit, after SYSEXIT: record, then SYSENTER back. */
        "user64_sysenter_probe:\n"
        "  movw %cs, u_cs(%rip)\n"
        "  movw %ss, u_ss(%rip)\n"
        "  mov %rsp, u_rsp(%rip)\n"
        "  sysenter\n"

        ".code32\n"
        /* CPL 3, compatibility mode, after SYSRETL: SYSCALL raises #UD
         * (Intel), then SYSENTER back. */
        "user32_probe:\n"
        "  mov $" STR(U_DATA) "|3, %eax\n mov %eax, %ds\n mov %eax, %es\n"
        "  pushfl\n popl u_rflags\n"
        "  pushl $2\n popfl\n"
        "  movw %cs, u_cs\n"
        "  movw %ss, u_ss\n"
        "  mov %esp, u_rsp\n"
        ".globl user32_syscall, user32_syscall_end\n"
        "user32_syscall:\n"
        "  syscall\n"
        "user32_syscall_end:\n"
        "  movl $1, u_flag\n"
        "  sysenter\n"
        /* CPL 3, compatibility mode, after SYSEXIT (32-bit operand size). */
        "user32_sysexit_probe:\n"
        "  mov $" STR(X_DATA32) "|3, %eax\n mov %eax, %ds\n"
        "  movw %cs, u_cs\n"
        "  movw %ss, u_ss\n"
        "  mov %esp, u_rsp\n"
        "  sysenter\n"
        ".code64\n"
        ".pushsection .extable, \"a\"\n"
        ".quad user32_syscall, user32_syscall_end\n"
        ".popsection\n");

#define USER_STACK_TOP ((u64)user_stack + sizeof user_stack)

/* Runs fn at CPL 3 (64-bit). */
static void user_run(void (*fn)(void)) { enter_user_sysret((u64)user_trampoline, USER_STACK_TOP, 2, 1, (u64)fn); }

static u64 seg_desc(u32 access, u32 flags)
{
    return 0xffff | ((u64)access << 40) | (0xfull << 48) | ((u64)flags << 52);
}

static void setup(void)
{
    /* GDT: the runtime's entries (TSS included), then ours. */
    for (int i = 0; i < 9; i++) test_gdt[i] = gdt[i];
    test_gdt[U_CODE32 / 8] = seg_desc(0xfb, 0xc);
    test_gdt[U_DATA / 8] = seg_desc(0xf3, 0xc);
    test_gdt[U_CODE64 / 8] = seg_desc(0xfb, 0xa);
    test_gdt[S_KCODE / 8] = seg_desc(0x9b, 0xa);
    test_gdt[S_KDATA / 8] = seg_desc(0x93, 0xc);
    test_gdt[X_CODE32 / 8] = seg_desc(0xfb, 0xc);
    test_gdt[X_DATA32 / 8] = seg_desc(0xf3, 0xc);
    test_gdt[X_CODE64 / 8] = seg_desc(0xfb, 0xa);
    test_gdt[X_DATA64 / 8] = seg_desc(0xf3, 0xc);
    struct __attribute__((packed)) {
        u16 limit;
        u64 base;
    } p = {sizeof test_gdt - 1, (u64)test_gdt};
    __asm__ volatile("lgdt %0" ::"m"(p));

    /* Exceptions at CPL 3 switch to RSP0: a stack of their own. */
    u64 lo = gdt[GDT_TSS / 8], hi = gdt[GDT_TSS / 8 + 1];
    u64 tss_base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | (hi << 32);
    *(volatile u64 *)(tss_base + 4) = (u64)ring0_stack + sizeof ring0_stack;

    /* The identity map becomes user-accessible (U at every level). */
    boot_pml4[0] |= 4;
    boot_pml4[1] |= 4;
    for (int i = 0; i < 4; i++) boot_pdpt[i] |= 4;
    for (int i = 0; i < 2048; i++) boot_pd[i] |= 4;
    write_cr3(read_cr3());

    u32 a, b, c, d;
    cpuid(0, 0, &max_leaf, &b, &c, &d);
    amd_vendor = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163; /* "AuthenticAMD" */
    cpuid(1, 0, &l1_eax, &l1_ebx, &l1_ecx, &l1_edx);
    if (max_leaf >= 7) cpuid(7, 0, &a, &l7_ebx, &l7_ecx, &d);
    cpuid(0x80000001, 0, &a, &b, &c, &e1_edx);

    /* SYSCALL to syscall_entry at S_KCODE; SYSRET to U_CODE32/U_CODE64. */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, ((u64)U_CODE32 << 48) | ((u64)S_KCODE << 32));
    wrmsr(MSR_LSTAR, (u64)syscall_entry);
    wrmsr(MSR_CSTAR, (u64)syscall_entry);
    wrmsr(MSR_FMASK, 0);
}

/* ---- fault helpers: 1 if the instruction faulted with #GP(0) at itself ---- */
static int wrmsr_gp(u32 msr, u64 v)
{
    uptr ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("wrmsr")
                     : "=&r"(ip)
                     : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))
                     : "memory");
    if (last_trap.count) CHECK_TRAP(13, 0, ip);
    return last_trap.count == 1;
}

static int rdmsr_gp(u32 msr)
{
    uptr ip;
    u32 lo = 0x1111, hi = 0x2222;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("rdmsr") : "=&r"(ip), "+a"(lo), "+d"(hi) : "c"(msr));
    if (last_trap.count) {
        CHECK_TRAP(13, 0, ip);
        CHECK_EQ(lo, 0x1111);
        CHECK_EQ(hi, 0x2222);
    }
    return last_trap.count == 1;
}

/* A check QEMU TCG fails in a way that would wreck the test (it accepts the
 * write): not run there, and said so. */
static void qemu_not_run(const char *what) { printk("QEMU-DEVIATION (not run): %s\n", what); }

/* MOV to CR4; returns 1 on #GP(0) (CR4 unchanged), else restores CR4. */
static int cr4_gp(u64 v)
{
    u64 old = read_cr4(), ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %1, %%cr4") : "=&r"(ip) : "r"(v) : "memory");
    int gp = last_trap.count == 1;
    if (gp) {
        CHECK_TRAP(13, 0, ip);
        CHECK_EQ(read_cr4(), old);
    } else {
        write_cr4(old);
    }
    return gp;
}

#define ARGS(...) __VA_ARGS__
/* Expects #UD (cond) or no fault from an instruction; OUTS, INS and CLOBS
 * are operand lists, OUTS and CLOBS with a leading comma. */
#define EXPECT_UD(cond, insn, OUTS, INS, CLOBS)                                                             \
    do {                                                                                                    \
        uptr ip_;                                                                                           \
        trap_reset();                                                                                       \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn) : "=&r"(ip_)OUTS : INS : "memory" CLOBS);        \
        if (cond) {                                                                                         \
            CHECK_TRAP(6, 0, ip_);                                                                          \
        } else {                                                                                            \
            CHECK_EQ(last_trap.count, 0);                                                                   \
        }                                                                                                   \
    } while (0)

/* ------------------------------------------------------------------ CPUID */

static void test_cpuid(void)
{
    u32 a, b, c, d, a2, b2, c2, d2;
    CHECK(max_leaf >= 1);
    /* Leaves beyond the basic and the extended maximum: the highest basic leaf. */
    if (!amd_vendor) {
        u32 ext_max;
        cpuid(0x80000000, 0, &ext_max, &b, &c, &d);
        cpuid(max_leaf, 0, &a, &b, &c, &d);
        cpuid(max_leaf + 1, 0, &a2, &b2, &c2, &d2);
        CHECK_EQ(a2, a);
        CHECK_EQ(b2, b);
        CHECK_EQ(c2, c);
        CHECK_EQ(d2, d);
        cpuid(ext_max + 1, 0, &a2, &b2, &c2, &d2);
        CHECK_EQ(a2, a);
        CHECK_EQ(d2, d);
    }
    /* The processor signature also reads as EDX after RESET; a family is set. */
    CHECK(((l1_eax >> 8) & 0xf) != 0);
    /* CLFLUSH line size (leaf 1) against the line size of each cache (leaf 4). */
    if (l1_edx & (1u << 19)) CHECK(((l1_ebx >> 8) & 0xff) != 0);
    if (max_leaf >= 4 && !amd_vendor) {
        unsigned caches = 0;
        for (u32 i = 0; i < 8; i++) {
            cpuid(4, i, &a, &b, &c, &d);
            if ((a & 0x1f) == 0) break;
            caches++;
            CHECK_EQ((b & 0xfff) + 1, ((l1_ebx >> 8) & 0xff) * 8);
            CHECK(((a >> 5) & 7) >= 1);
        }
        CHECK(caches >= 1);
    }
    /* Topology: leaf 0BH's x2APIC ID is leaf 1's initial APIC ID. */
    if (max_leaf >= 0xb) {
        cpuid(0xb, 0, &a, &b, &c, &d);
        if (b != 0) {
            CHECK_EQ(d & 0xff, l1_ebx >> 24);
            CHECK_EQ((c >> 8) & 0xff, 1); /* SMT level first */
        }
    }
    /* Address sizes. */
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    CHECK((a & 0xff) >= 36 && (a & 0xff) <= 52);
    CHECK_EQ((a >> 8) & 0xff, 48);
    /* Brand string: printable. */
    u32 r[12];
    for (u32 i = 0; i < 3; i++) cpuid(0x80000002 + i, 0, &r[i * 4], &r[i * 4 + 1], &r[i * 4 + 2], &r[i * 4 + 3]);
    const char *brand = (const char *)r;
    int printable = 1;
    for (int i = 0; i < 48 && brand[i]; i++) printable &= brand[i] >= 0x20 && brand[i] < 0x7f;
    CHECK(printable);
}

/* Each feature bit against what works. */
static void test_features(void)
{
    /* CR4 bits of features that are not advertised are reserved. */
    struct {
        u64 cr4_bit;
        int advertised;
    } bits[] = {
        {CR4_VME, (l1_edx >> 1) & 1},        {CR4_DE, (l1_edx >> 2) & 1},
        {CR4_MCE, (l1_edx >> 7) & 1},        {CR4_PGE, (l1_edx >> 13) & 1},
        {CR4_UMIP, (l7_ecx >> 2) & 1},       {CR4_FSGSBASE, l7_ebx & 1},
        {CR4_OSXSAVE, (l1_ecx >> 26) & 1},
    };
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        if (!bits[i].advertised && bits[i].cr4_bit != CR4_VME && on_qemu_tcg()) { /* QEMU 7.2 hangs */
            qemu_not_run("MOV to CR4 setting the bit of a feature CPUID does not report");
            continue;
        }
        int gp = cr4_gp(read_cr4() | bits[i].cr4_bit);
        if (bits[i].cr4_bit == CR4_VME || bits[i].cr4_bit == CR4_MCE)
            CHECK_EQ_SDM(gp, !bits[i].advertised, "MOV to CR4: #GP(0) for a bit of a feature CPUID does not report");
        else
            CHECK_EQ(gp, !bits[i].advertised);
    }

    /* Instructions of features that are not advertised raise #UD. */
    u32 aux = 0;
    wrmsr(MSR_TSC_AUX, 0x7a);
    EXPECT_UD(!(e1_edx & (1u << 27)), "rdtscp", ARGS(, "+c"(aux)), , ARGS(, "rax", "rdx"));
    if (e1_edx & (1u << 27)) CHECK_EQ(aux, 0x7a);
    u64 pid = 0;
    EXPECT_UD(!(l7_ecx & (1u << 22)), "rdpid %1", ARGS(, "+r"(pid)), , );
    if (l7_ecx & (1u << 22)) CHECK_EQ(pid, 0x7a);
    u64 rnd = 0;
    EXPECT_UD(!(l1_ecx & (1u << 30)), "rdrand %1", ARGS(, "+r"(rnd)), , ARGS(, "cc"));
    EXPECT_UD(!(l7_ebx & (1u << 18)), "rdseed %1", ARGS(, "+r"(rnd)), , ARGS(, "cc"));
    EXPECT_UD(1, "rdfsbase %1", ARGS(, "+r"(rnd)), , ); /* CR4.FSGSBASE is clear */
    EXPECT_UD(1, "xgetbv", ARGS(, "+c"(aux)), , ARGS(, "rax", "rdx")); /* CR4.OSXSAVE is clear */
    if (!(l1_ecx & (1u << 3))) {
        EXPECT_UD(1, "monitor", , ARGS("a"(0ull), "c"(0), "d"(0)), );
        EXPECT_UD(1, "mwait", , ARGS("a"(0), "c"(0)), );
    }
    /* MSRs of advertised features exist. */
    CHECK_EQ(rdmsr_gp(MSR_MTRRCAP), !(l1_edx & (1u << 12)));
    CHECK_EQ(rdmsr_gp(MSR_PAT), !(l1_edx & (1u << 16)));
    CHECK_EQ(rdmsr_gp(MSR_SYSENTER_CS), !(l1_edx & (1u << 11)));
    CHECK(e1_edx & (1u << 11)); /* SYSCALL: used below */
    /* No local APIC advertised: it reads as globally disabled. */
    u64 apic = rdmsr(MSR_APIC_BASE);
    CHECK(apic & (1u << 8)); /* BSP */
    if (!(l1_edx & (1u << 9))) CHECK_EQ(apic & (1u << 11), 0);
}

/* ------------------------------------------------------------------- MSRs */

/* WRMSR that must raise #GP(0) and leave the MSR unchanged. QEMU TCG accepts
 * most invalid values: a deviation there, and the old value is put back. */
static void msr_gp(u32 msr, u64 v, const char *why)
{
    u64 old = rdmsr(msr);
    int gp = wrmsr_gp(msr, v);
    CHECK_EQ_SDM(gp, 1, why);
    if (gp)
        CHECK_EQ(rdmsr(msr), old);
    else
        wrmsr(msr, old);
}

static void test_msr(void)
{
    /* EFER: reserved bits fault; LMA is read-only; LME fixed while paging. */
    u64 efer = rdmsr(MSR_EFER);
    if (on_qemu_tcg()) {
        qemu_not_run("WRMSR IA32_EFER with reserved bits or LME changing under paging");
    } else {
        msr_gp(MSR_EFER, efer | (1u << 1), "IA32_EFER bit 1 is reserved");
        msr_gp(MSR_EFER, efer | (1ull << 40), "IA32_EFER bits 63:12 are reserved");
        msr_gp(MSR_EFER, efer & ~(u64)EFER_LME, "WRMSR: EFER.LME cannot change while CR0.PG = 1");
    }
    CHECK(!wrmsr_gp(MSR_EFER, efer & ~(u64)EFER_LMA));
    CHECK_EQ(rdmsr(MSR_EFER), efer);

    /* PAT: eight entries of types 0, 1, 4, 5, 6, 7. */
    u64 pat = rdmsr(MSR_PAT);
    CHECK(!wrmsr_gp(MSR_PAT, 0x0007010600070406ull));
    CHECK_EQ(rdmsr(MSR_PAT), 0x0007010600070406ull);
    msr_gp(MSR_PAT, 0x0007040600070402ull, "IA32_PAT: type 2 is reserved");
    msr_gp(MSR_PAT, 0x0007040600070416ull, "IA32_PAT: bits 7:3 of an entry are reserved");
    msr_gp(MSR_PAT, 0x0807040600070406ull, "IA32_PAT: bits 63:59 are reserved");
    wrmsr(MSR_PAT, pat);

    /* MTRRs. */
    u64 cap = rdmsr(MSR_MTRRCAP);
    u32 pa_bits, b, c, d;
    cpuid(0x80000008, 0, &pa_bits, &b, &c, &d);
    pa_bits &= 0xff;
    msr_gp(MSR_MTRRCAP, cap, "IA32_MTRRCAP is read-only");
    u64 def = rdmsr(MSR_MTRR_DEF_TYPE);
    CHECK(!wrmsr_gp(MSR_MTRR_DEF_TYPE, 0xc06)); /* E, FE, WB */
    CHECK_EQ(rdmsr(MSR_MTRR_DEF_TYPE), 0xc06);
    msr_gp(MSR_MTRR_DEF_TYPE, 0xc02, "MTRR type 2 is reserved");
    msr_gp(MSR_MTRR_DEF_TYPE, 0xc06 | (1u << 9), "IA32_MTRR_DEF_TYPE bit 9 is reserved");
    wrmsr(MSR_MTRR_DEF_TYPE, def);
    if (cap & (1u << 8)) {
        u64 fix = rdmsr(MSR_MTRR_FIX64K);
        CHECK(!wrmsr_gp(MSR_MTRR_FIX64K, 0x0606060606060606ull));
        CHECK_EQ(rdmsr(MSR_MTRR_FIX64K), 0x0606060606060606ull);
        msr_gp(MSR_MTRR_FIX64K, 0x0606060606070606ull, "MTRR type 7 is reserved");
        wrmsr(MSR_MTRR_FIX64K, fix);
    }
    if (cap & 0xff) {
        u64 base = rdmsr(MSR_MTRR_PHYSBASE0), mask = rdmsr(MSR_MTRR_PHYSMASK0);
        CHECK(!wrmsr_gp(MSR_MTRR_PHYSBASE0, 0x80000000ull | 0));
        CHECK(!wrmsr_gp(MSR_MTRR_PHYSMASK0, (((1ull << pa_bits) - 1) & ~0x7fffffffull) | 0x800));
        CHECK_EQ(rdmsr(MSR_MTRR_PHYSBASE0), 0x80000000ull);
        msr_gp(MSR_MTRR_PHYSBASE0, 0x80000000ull | 0x100, "IA32_MTRR_PHYSBASE bits 11:8 are reserved");
        msr_gp(MSR_MTRR_PHYSBASE0, 0x80000003ull, "MTRR type 3 is reserved");
        msr_gp(MSR_MTRR_PHYSMASK0, 0x800 | 1, "IA32_MTRR_PHYSMASK bits 10:0 are reserved");
        if (pa_bits < 52) msr_gp(MSR_MTRR_PHYSBASE0, 1ull << pa_bits, "MTRR bases end at MAXPHYADDR");
        wrmsr(MSR_MTRR_PHYSMASK0, mask);
        wrmsr(MSR_MTRR_PHYSBASE0, base);
    }

    /* Address MSRs stay canonical. */
    static const u32 address_msrs[] = {MSR_LSTAR, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_SYSENTER_EIP,
                                       MSR_SYSENTER_ESP};
    for (unsigned i = 0; i < sizeof address_msrs / sizeof address_msrs[0]; i++) {
        u32 msr = address_msrs[i];
        u64 old = rdmsr(msr);
        CHECK(!wrmsr_gp(msr, 0xffff800000001000ull));
        CHECK_EQ(rdmsr(msr), 0xffff800000001000ull);
        msr_gp(msr, NONCANONICAL, "WRMSR: MSRs holding a linear address must be canonical");
        wrmsr(msr, old);
    }
    /* Reserved upper halves. */
    msr_gp(MSR_FMASK, 1ull << 32, "IA32_FMASK bits 63:32 are reserved");
    msr_gp(MSR_TSC_AUX, 1ull << 32, "IA32_TSC_AUX bits 63:32 are reserved");
    wrmsr(MSR_TSC_AUX, 0x7a);
    CHECK_EQ(rdmsr(MSR_TSC_AUX), 0x7a);
    wrmsr(MSR_SYSENTER_CS, 0x60);
    CHECK_EQ(rdmsr(MSR_SYSENTER_CS), 0x60);
    /* TSC: writable. */
    wrmsr(0x10, 1ull << 40);
    u64 t = rdtsc();
    CHECK_EQ_SDM(t >= (1ull << 40) && t < (1ull << 40) + (1ull << 36), 1, "WRMSR to IA32_TSC sets the counter");
    /* Unknown MSR. */
    CHECK_EQ_SDM(rdmsr_gp(0x4b564dffu), 1, "RDMSR of an unimplemented MSR raises #GP(0)");
}

/* ------------------------------------------------------- control registers */

static void test_control_registers(void)
{
    uptr ip;
    u64 cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();
    /* Writes that must raise #GP(0) and change nothing. QEMU TCG accepts some
     * of them: harmless ones are checked with CHECK_EQ_SDM (and undone), the
     * ones that would leave long mode or paging are not run there, nor
     * reserved CR4 bits (QEMU 7.2 hangs on them). */
#define CR_GP(cr, val, qemu_safe, why)                                                                    \
    do {                                                                                                  \
        if (!(qemu_safe) && on_qemu_tcg()) {                                                              \
            qemu_not_run(why);                                                                            \
            break;                                                                                        \
        }                                                                                                 \
        trap_reset();                                                                                     \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %1, %%" cr) : "=&r"(ip) : "r"((u64)(val)) : "memory"); \
        CHECK_EQ_SDM(last_trap.count, 1, why);                                                            \
        if (last_trap.count) CHECK_TRAP(13, 0, ip);                                                       \
        write_cr0(cr0);                                                                                   \
        write_cr4(cr4);                                                                                   \
        write_cr3(cr3);                                                                                   \
    } while (0)
    CR_GP("cr0", cr0 | (1ull << 32), 1, "MOV to CR0: bits 63:32 are reserved");
    CR_GP("cr0", (cr0 & ~(u64)CR0_PE) | CR0_PG, 0, "MOV to CR0: PG without PE");
    CR_GP("cr0", (cr0 & ~(1ull << 30)) | (1ull << 29), 1, "MOV to CR0: NW without CD");
    CHECK_EQ(read_cr0(), cr0);
    CR_GP("cr4", cr4 & ~(u64)CR4_PAE, 0, "MOV to CR4: clearing PAE in IA-32e mode");
    CR_GP("cr4", cr4 | (1u << 15), 0, "MOV to CR4: reserved bit 15");
    CR_GP("cr4", cr4 | (1ull << 32), 0, "MOV to CR4: bits 63:32 are reserved");
    CHECK_EQ(read_cr4(), cr4);
    CR_GP("cr3", cr3 | (1ull << 63), 0, "MOV to CR3: bit 63 without CR4.PCIDE");
    u32 pa_bits, b, c, d;
    cpuid(0x80000008, 0, &pa_bits, &b, &c, &d);
    if ((pa_bits & 0xff) < 52)
        CR_GP("cr3", cr3 | (1ull << (pa_bits & 0xff)), 0, "MOV to CR3: bits above MAXPHYADDR");
    CHECK_EQ(read_cr3(), cr3);
    /* CR8, the task-priority register. */
    u64 cr8;
    __asm__ volatile("mov %1, %%cr8; mov %%cr8, %0" : "=r"(cr8) : "r"(5ull));
    CHECK_EQ_SDM(cr8, 5, "CR8 reads back the task priority written");
    CR_GP("cr8", 0x10, 1, "MOV to CR8: bits 63:4 are reserved");
    __asm__ volatile("mov %%cr8, %0" : "=r"(cr8));
    CHECK_EQ_SDM(cr8, 5, "CR8 reads back the task priority written");
    __asm__ volatile("mov %0, %%cr8" ::"r"(0ull));
    /* CR5 does not exist. */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT(".byte 0x0f, 0x20, 0xe8") : "=&r"(ip)::"rax"); /* mov rax, cr5 */
    CHECK_TRAP(6, 0, ip);
#undef CR_GP

    /* LMSW loads MP/EM/TS and can set but not clear PE; CLTS clears TS; SMSW. */
    u64 after_lmsw, after_clts, msw64;
    u16 msw16 = 0;
    __asm__ volatile("lmsw %w3\n"
                     "mov %%cr0, %0\n"
                     "clts\n"
                     "mov %%cr0, %1\n"
                     "smsw %2\n"
                     "mov %4, %%cr0\n"
                     : "=&r"(after_lmsw), "=&r"(after_clts), "=&r"(msw64)
                     : "r"((u16)(CR0_TS | CR0_MP)), "r"(cr0)
                     : "memory");
    CHECK_EQ(after_lmsw, (cr0 & ~0xeull) | CR0_TS | CR0_MP | CR0_PE);
    CHECK_EQ(after_clts, (cr0 & ~0xeull) | CR0_MP | CR0_PE);
    CHECK_EQ(msw64, (cr0 & ~0xeull) | CR0_MP | CR0_PE);
    __asm__ volatile("smsw %0" : "=m"(msw16));
    CHECK_EQ(msw16, (u16)cr0);
    CHECK_EQ(read_cr0(), cr0);
}

/* --------------------------------------------------------- debug registers */

static void test_debug_registers(void)
{
    uptr ip;
    u64 v;
    __asm__ volatile("mov %1, %%dr6; mov %%dr6, %0" : "=r"(v) : "r"(0ull));
    CHECK_EQ(v, 0xffff0ff0);
    __asm__ volatile("mov %1, %%dr6; mov %%dr6, %0" : "=r"(v) : "r"(0xffffffffull));
    CHECK_EQ(v & 0xe00f, 0xe00f);
    __asm__ volatile("mov %1, %%dr7; mov %%dr7, %0" : "=r"(v) : "r"(0ull));
    CHECK_EQ(v, 0x400);
    __asm__ volatile("mov %1, %%dr0; mov %%dr0, %0" : "=r"(v) : "r"(0x123456789abcull));
    CHECK_EQ(v, 0x123456789abcull);
    /* Bits 63:32 of DR6 and DR7. */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %1, %%dr7") : "=&r"(ip) : "r"(1ull << 32));
    CHECK_TRAP(13, 0, ip);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %1, %%dr6") : "=&r"(ip) : "r"(1ull << 32));
    CHECK_TRAP(13, 0, ip);
    /* Without CR4.DE, DR4/DR5 are DR6/DR7 (encoded by hand: assemblers refuse them). */
    u64 cr4 = read_cr4();
    write_cr4(cr4 & ~(u64)CR4_DE);
    __asm__ volatile("mov %1, %%dr6\n .byte 0x0f, 0x21, 0xe0\n" /* mov rax, dr4 */
                     : "=a"(v)
                     : "r"(0x1ull));
    CHECK_EQ(v, 0xffff0ff1);
    if (l1_edx & (1u << 2)) {
        write_cr4(cr4 | CR4_DE);
        trap_reset();
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(".byte 0x0f, 0x21, 0xe0") : "=&r"(ip)::"rax");
        CHECK_TRAP(6, 0, ip);
        trap_reset();
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(".byte 0x0f, 0x23, 0xe8") : "=&r"(ip) : "a"(0ull)); /* dr5 */
        CHECK_TRAP(6, 0, ip);
        write_cr4(cr4);
    }
    /* DR7.GD: the next access is a #DB fault with DR6.BD; the handler sees GD clear. */
    __asm__ volatile("mov %0, %%dr6" ::"r"(0ull));
    __asm__ volatile("mov %0, %%dr7" ::"r"(1ull << 13));
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %%dr0, %1") : "=&r"(ip), "=r"(v));
    CHECK_EQ_SDM(last_trap.count, 1, "MOV DR with DR7.GD = 1 raises #DB");
    if (last_trap.count == 1) {
        CHECK_TRAP(1, 0, ip);
        __asm__ volatile("mov %%dr6, %0" : "=r"(v));
        CHECK(v & (1u << 13));
        __asm__ volatile("mov %%dr7, %0" : "=r"(v));
        CHECK_EQ(v & (1u << 13), 0);
    }
    __asm__ volatile("mov %0, %%dr7" ::"r"(0ull));
    __asm__ volatile("mov %0, %%dr6" ::"r"(0ull));
    __asm__ volatile("mov %0, %%dr0" ::"r"(0ull));
}

/* ---------------------------------------------------------- SYSCALL/SYSRET */

static void test_syscall(void)
{
    uptr ip;
    /* SYSRET to 64-bit mode: CS/SS from STAR[63:48], RFLAGS from R11 with
     * RF, VM and the reserved bits cleared (IF, TF, DF, NT and AC kept clear here). */
    u64 r11 = ~(u64)(FL_IF | FL_TF | FL_DF | (1u << 14) | (1u << 18) | (3u << 12));
    if (on_qemu_tcg()) { /* QEMU 7.2 loads VM and RF from R11 (and then faults in "virtual-8086" long mode) */
        qemu_not_run("SYSRET clearing VM and RF taken from R11");
        r11 &= ~(u64)(3u << 16);
    }
    u_rflags = 0;
    enter_user_sysret((u64)user64_probe, USER_STACK_TOP - 64, r11, 1, 0);
    CHECK_EQ(u_cs, U_CODE64 | 3);
    CHECK_EQ(u_ss, U_DATA | 3);
    CHECK_EQ(u_rsp, USER_STACK_TOP - 64);
    CHECK_EQ_SDM(u_rflags, r11 & 0x3c7fd7, "SYSRET: RFLAGS := (R11 & 3C7FD7H) | 2 (VIF and VIP included)");
    /* SYSCALL back: RCX = next RIP, R11 = RFLAGS, CS/SS from STAR[47:32]. */
    CHECK_EQ(sc_rax, 0x5ca1);
    CHECK_EQ(sc_cs, S_KCODE);
    CHECK_EQ(sc_ss, S_KDATA);
    CHECK_EQ_SDM(sc_r11, 2 | (r11 & (3u << 19)), "POPF at CPL 3 leaves VIF and VIP (set by SYSRET)");
    CHECK_EQ(sc_rsp, USER_STACK_TOP - 64);

    /* FMASK clears flags; CS RPL forced to 0, SS = STAR[47:32] + 8 as is. */
    wrmsr(MSR_FMASK, FL_DF | (1u << 18) | FL_CF);
    wrmsr(MSR_STAR, ((u64)U_CODE32 << 48) | ((u64)(S_KCODE | 3) << 32));
    const u64 user_flags = FL_CF | FL_ZF | FL_DF | (1u << 18) | 2;
    enter_user_sysret((u64)user64_syscall_flags, USER_STACK_TOP, 2, 1, user_flags);
    CHECK_EQ(sc_cs, S_KCODE);
    CHECK_EQ_SDM(sc_ss, S_KCODE + 8 + 3, "SYSCALL: SS.Selector := IA32_STAR[47:32] + 8");
    CHECK_EQ_SDM(sc_rflags, FL_ZF | 2, "SYSCALL: RFLAGS := RFLAGS AND NOT(IA32_FMASK)");
    CHECK_EQ(sc_r11, user_flags);
    CHECK_EQ(sc_rcx, (u64)user64_syscall_flags_next);
    wrmsr(MSR_FMASK, 0);
    wrmsr(MSR_STAR, ((u64)U_CODE32 << 48) | ((u64)S_KCODE << 32));

    /* SYSRET to compatibility mode: CS = STAR[63:48], EIP = ECX. SYSCALL
     * there raises #UD (Intel); the probe returns with SYSENTER. */
    if (!amd_vendor) {
        wrmsr(MSR_SYSENTER_CS, S_KCODE);
        wrmsr(MSR_SYSENTER_EIP, (u64)sysenter_entry);
        wrmsr(MSR_SYSENTER_ESP, (u64)sysenter_stack + sizeof sysenter_stack);
        u_flag = 0;
        trap_reset();
        enter_user_sysret(0xffffffff00000000ull | (u64)user32_probe, USER_STACK_TOP - 32, 0x2 | FL_CF, 0, 0);
        CHECK_EQ(u_cs, U_CODE32 | 3);
        CHECK_EQ(u_ss, U_DATA | 3);
        CHECK_EQ(u_rflags, 0x2 | FL_CF);
        CHECK_EQ(u_rsp, USER_STACK_TOP - 32);
        CHECK_TRAP(6, 0, (u64)user32_syscall);
        CHECK_EQ(u_flag, 1);
        CHECK_EQ(se_cs, S_KCODE);
        CHECK_EQ(se_ss, S_KDATA);
        CHECK_EQ(se_rsp, (u64)sysenter_stack + sizeof sysenter_stack);
    } else {
        skip("compatibility-mode SYSCALL (AMD vendor: enters through CSTAR)");
    }

    /* SYSRET at CPL 0 with a non-canonical RCX: #GP(0) in ring 0, nothing changed. */
    u16 cs_after;
    if (on_qemu_tcg()) {
        qemu_not_run("SYSRET with a non-canonical RCX (QEMU 7.2 returns to CPL 3 and faults there)");
        goto no_sysret_gp;
    }
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("sysretq") "mov %%cs, %1\n"
                     : "=&r"(ip), "=r"(cs_after)
                     : "c"(NONCANONICAL), "r"(2ull)
                     : "r11", "memory");
    CHECK_TRAP(13, 0, ip);
    CHECK_EQ(cs_after, GDT_CODE64);
    CHECK_EQ(last_trap.cs, GDT_CODE64);

no_sysret_gp:
    /* Without EFER.SCE: #UD for both. */
    u64 efer = rdmsr(MSR_EFER);
    wrmsr(MSR_EFER, efer & ~(u64)EFER_SCE);
    EXPECT_UD(1, "syscall", , , ARGS(, "rcx", "r11"));
    EXPECT_UD(1, "sysretq", , "c"((u64)user_trampoline), ARGS(, "r11"));
    wrmsr(MSR_EFER, efer);
}

/* --------------------------------------------------------- SYSENTER/SYSEXIT */

static void test_sysenter(void)
{
    uptr ip;
    if (amd_vendor) {
        skip("SYSENTER/SYSEXIT in long mode (AMD vendor: #UD)");
        return;
    }
    wrmsr(MSR_SYSENTER_EIP, (u64)sysenter_entry);
    wrmsr(MSR_SYSENTER_ESP, (u64)sysenter_stack + sizeof sysenter_stack);

    /* Null IA32_SYSENTER_CS: #GP(0) for both. */
    wrmsr(MSR_SYSENTER_CS, 3);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("sysenter") : "=&r"(ip)::"memory");
    CHECK_TRAP(13, 0, ip);
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("sysexit") : "=&r"(ip)::"rcx", "rdx", "memory");
    CHECK_TRAP(13, 0, ip);

    /* SYSEXIT (REX.W) to 64-bit mode: CS = SYSENTER_CS + 32, SS = + 40, RIP =
     * RDX, RSP = RCX; SYSENTER back: CS = SYSENTER_CS, SS = + 8, RSP = ESP MSR. */
    wrmsr(MSR_SYSENTER_CS, S_KCODE);
    enter_user_sysexit((u64)user64_sysenter_probe, USER_STACK_TOP - 16, 1);
    CHECK_EQ(u_cs, X_CODE64 | 3);
    CHECK_EQ(u_ss, X_DATA64 | 3);
    CHECK_EQ(u_rsp, USER_STACK_TOP - 16);
    CHECK_EQ(se_cs, S_KCODE);
    CHECK_EQ(se_ss, S_KDATA);
    CHECK_EQ(se_rsp, (u64)sysenter_stack + sizeof sysenter_stack);
    CHECK_EQ(se_rflags & (FL_IF | (1u << 17) | (1u << 16)), 0);

    /* SYSEXIT (32-bit operand size) to compatibility mode: + 16 / + 24. */
    u_cs = u_ss = 0;
    enter_user_sysexit(0xffffffff00000000ull | (u64)user32_sysexit_probe, 0xffffffff00000000ull | (USER_STACK_TOP - 8),
                       0);
    CHECK_EQ(u_cs, X_CODE32 | 3);
    CHECK_EQ(u_ss, X_DATA32 | 3);
    CHECK_EQ(u_rsp, USER_STACK_TOP - 8);
    CHECK_EQ(se_cs, S_KCODE);

    /* SYSEXIT to 64-bit mode with a non-canonical RIP: #GP(0) at CPL 0. */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("rex.w sysexit")
                     : "=&r"(ip)
                     : "d"(NONCANONICAL), "c"(USER_STACK_TOP)
                     : "memory");
    CHECK_TRAP(13, 0, ip);
}

/* ------------------------------------------------------------ FS/GS bases */

static void test_fsgsbase(void)
{
    uptr ip;
    /* SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE. */
    u64 gs = rdmsr(MSR_GS_BASE), kgs = rdmsr(MSR_KERNEL_GS_BASE);
    wrmsr(MSR_GS_BASE, 0x1000);
    wrmsr(MSR_KERNEL_GS_BASE, 0x2000);
    __asm__ volatile("swapgs" ::: "memory");
    CHECK_EQ(rdmsr(MSR_GS_BASE), 0x2000);
    CHECK_EQ(rdmsr(MSR_KERNEL_GS_BASE), 0x1000);
    __asm__ volatile("swapgs" ::: "memory");
    wrmsr(MSR_GS_BASE, gs);
    wrmsr(MSR_KERNEL_GS_BASE, kgs);

    if (!(l7_ebx & 1)) {
        skip("FSGSBASE (not advertised)");
        return;
    }
    u64 fs = rdmsr(MSR_FS_BASE), cr4 = read_cr4(), v;
    write_cr4(cr4 | CR4_FSGSBASE);
    __asm__ volatile("wrfsbase %1; rdfsbase %0" : "=r"(v) : "r"(0xffff800012345000ull));
    CHECK_EQ(v, 0xffff800012345000ull);
    CHECK_EQ(rdmsr(MSR_FS_BASE), 0xffff800012345000ull);
    wrmsr(MSR_GS_BASE, 0x7000);
    __asm__ volatile("rdgsbase %0" : "=r"(v));
    CHECK_EQ(v, 0x7000);
    /* 32-bit forms: the value zero-extended / the low half. */
    u32 v32;
    __asm__ volatile("wrfsbase %k1; rdfsbase %0" : "=r"(v) : "r"(0xffffffff89abcdefull));
    CHECK_EQ(v, 0x89abcdef);
    __asm__ volatile("mov %1, %%rax; wrgsbase %%rax; rdgsbase %0" : "=r"(v32) : "r"(0x0000123400000042ull) : "rax");
    CHECK_EQ(v32, 0x42);
    /* A data access through FS uses the new base. */
    static u64 cell = 0x5a5a;
    __asm__ volatile("wrfsbase %1; movq %%fs:0, %0" : "=r"(v) : "r"((u64)&cell));
    CHECK_EQ(v, 0x5a5a);
    /* Non-canonical: #GP(0), base unchanged. */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("wrfsbase %1") : "=&r"(ip) : "r"(NONCANONICAL));
    CHECK_TRAP(13, 0, ip);
    CHECK_EQ(rdmsr(MSR_FS_BASE), (u64)&cell);
    write_cr4(cr4);
    EXPECT_UD(1, "wrgsbase %1", , "r"(0ull), );
    wrmsr(MSR_FS_BASE, fs);
    wrmsr(MSR_GS_BASE, gs);
}

/* ------------------------------------------------------------- CPL 3 */

static u8 user_buf[16];
#define USER_FAULT(name, insn, INS, CLOBS) \
    static void name(void) { __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn) : "=&r"(u_ip) : INS : "memory" CLOBS); }
USER_FAULT(u_hlt, "hlt", , )
USER_FAULT(u_rdmsr, "rdmsr", "c"(MSR_EFER), ARGS(, "rax", "rdx"))
USER_FAULT(u_wrmsr, "wrmsr", ARGS("c"(MSR_PAT), "a"(0x06), "d"(0)), )
USER_FAULT(u_mov_cr0, "mov %%cr0, %%rax", , ARGS(, "rax"))
USER_FAULT(u_mov_cr4, "mov %%rax, %%cr4", "a"(0ull), )
USER_FAULT(u_mov_dr7, "mov %%dr7, %%rax", , ARGS(, "rax"))
USER_FAULT(u_clts, "clts", , )
USER_FAULT(u_lmsw, "lmsw %%ax", "a"(1), )
USER_FAULT(u_invd, "invd", , )
USER_FAULT(u_wbinvd, "wbinvd", , )
USER_FAULT(u_sysret, "sysretq", "c"((u64)user_trampoline), ARGS(, "r11"))
USER_FAULT(u_sysexit, "sysexit", ARGS("c"(0), "d"(0)), )
USER_FAULT(u_swapgs, "swapgs", , )
USER_FAULT(u_rdpmc, "rdpmc", "c"(0), ARGS(, "rax", "rdx"))
USER_FAULT(u_invlpg, "invlpg (%1)", "r"(user_buf), )
USER_FAULT(u_sgdt, "sgdt (%1)", "r"(user_buf), )
USER_FAULT(u_sidt, "sidt (%1)", "r"(user_buf), )
USER_FAULT(u_sldt, "sldt (%1)", "r"(user_buf), )
USER_FAULT(u_str, "str (%1)", "r"(user_buf), )
USER_FAULT(u_smsw, "smsw (%1)", "r"(user_buf), )

static void check_user_gp(void (*fn)(void), const char *what)
{
    trap_reset();
    u_ip = 0;
    user_run(fn);
    if (last_trap.count != 1 || last_trap.vector != 13 || last_trap.error != 0 || last_trap.ip != u_ip ||
        (last_trap.cs & 3) != 3)
        printk("FAIL at CPL 3: %s: %u traps, vector %u error %x\n", what, (unsigned)last_trap.count,
               (unsigned)last_trap.vector, (unsigned)last_trap.error);
    CHECK_TRAP(13, 0, u_ip);
}

static void check_user_ok(void (*fn)(void), const char *what)
{
    trap_reset();
    user_run(fn);
    if (last_trap.count) printk("FAIL at CPL 3: %s: vector %u\n", what, (unsigned)last_trap.vector);
    CHECK_EQ(last_trap.count, 0);
}

static void test_ring3(void)
{
    check_user_gp(u_hlt, "hlt");
    check_user_gp(u_rdmsr, "rdmsr");
    check_user_gp(u_wrmsr, "wrmsr");
    check_user_gp(u_mov_cr0, "mov from cr0");
    check_user_gp(u_mov_cr4, "mov to cr4");
    check_user_gp(u_mov_dr7, "mov from dr7");
    check_user_gp(u_clts, "clts");
    check_user_gp(u_lmsw, "lmsw");
    check_user_gp(u_invd, "invd");
    check_user_gp(u_wbinvd, "wbinvd");
    check_user_gp(u_sysret, "sysret");
    check_user_gp(u_swapgs, "swapgs");
    check_user_gp(u_invlpg, "invlpg");
    if (!amd_vendor) {
        wrmsr(MSR_SYSENTER_CS, S_KCODE);
        check_user_gp(u_sysexit, "sysexit");
    }
    /* RDPMC: CR4.PCE is clear, so #GP(0) at CPL 3 whatever the counters. */
    check_user_gp(u_rdpmc, "rdpmc");
    /* UMIP: the descriptor-table stores and SMSW fault at CPL 3 only. */
    check_user_ok(u_sgdt, "sgdt without UMIP");
    check_user_ok(u_smsw, "smsw without UMIP");
    check_user_ok(u_str, "str without UMIP");
    if (l7_ecx & (1u << 2)) {
        u64 cr4 = read_cr4();
        write_cr4(cr4 | CR4_UMIP);
        check_user_gp(u_sgdt, "sgdt with UMIP");
        check_user_gp(u_sidt, "sidt with UMIP");
        check_user_gp(u_sldt, "sldt with UMIP");
        check_user_gp(u_str, "str with UMIP");
        check_user_gp(u_smsw, "smsw with UMIP");
        u8 buf[10];
        __asm__ volatile("sgdt %0; smsw %%ax" : "=m"(buf)::"rax"); /* CPL 0 still may */
        write_cr4(cr4);
    } else {
        skip("UMIP (not advertised)");
    }
}

/* ------------------------------------------------------------------ misc */

static void test_misc(void)
{
    uptr ip;
    __asm__ volatile("wbinvd; invd" ::: "memory");
    static u8 line[64];
    __asm__ volatile("clflush %0" : "+m"(line));
    /* RDPMC: no counters are reported (leaf 0AH), so any ECX is invalid. */
    if (max_leaf < 0xa || ({
            u32 a, b, c, d;
            cpuid(0xa, 0, &a, &b, &c, &d);
            (a & 0xff) == 0;
        })) {
        trap_reset();
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("rdpmc") : "=&r"(ip) : "c"(0) : "rax", "rdx");
        CHECK_EQ_SDM(last_trap.vector, 13, "RDPMC: #GP(0) if ECX does not select a valid counter");
    }
    /* RDRAND: CF reports success (then OF SF ZF AF PF are clear); a failure gives 0. */
    if (l1_ecx & (1u << 30)) {
        int ok = 0;
        for (int i = 0; i < 16; i++) {
            u64 v, fl;
            __asm__ volatile("mov $0xff, %%eax; add %%al, %%al; rdrand %0; pushfq; pop %1"
                             : "=r"(v), "=r"(fl)::"rax", "cc");
            CHECK_EQ(fl & (FL_OF | FL_SF | FL_ZF | FL_PF | 0x10), 0);
            if (fl & FL_CF)
                ok = 1;
            else
                CHECK_EQ(v, 0);
            u16 v16 = 0xffff;
            __asm__ volatile("rdrand %0" : "+r"(v16)::"cc");
        }
        CHECK(ok);
    }
    /* RDPID and RDTSCP read IA32_TSC_AUX. */
    wrmsr(MSR_TSC_AUX, 0x1234);
    if (l7_ecx & (1u << 22)) {
        u64 pid = ~0ull;
        __asm__ volatile("rdpid %0" : "=r"(pid));
        CHECK_EQ(pid, 0x1234);
    }
    if (e1_edx & (1u << 27)) {
        u64 aux = ~0ull;
        __asm__ volatile("rdtscp" : "=c"(aux)::"rax", "rdx");
        CHECK_EQ(aux, 0x1234);
    }
    /* XSETBV without CR4.OSXSAVE: #UD (before the privilege check). */
    if (!(l1_ecx & (1u << 26))) EXPECT_UD(1, "xsetbv", , ARGS("c"(0), "a"(1), "d"(0)), );
}

void main(void)
{
    setup();
    SECTION("cpuid") test_cpuid();
    SECTION("features") test_features();
    SECTION("msr") test_msr();
    SECTION("control registers") test_control_registers();
    SECTION("debug registers") test_debug_registers();
    SECTION("syscall") test_syscall();
    SECTION("sysenter") test_sysenter();
    SECTION("fs/gs base") test_fsgsbase();
    SECTION("ring 3") test_ring3();
    SECTION("misc") test_misc();
}
