/* Hayate guest test runtime: the API every guest test uses.
 *
 * A guest is a multiboot kernel built in one of two flavours:
 *   32: entry32.S, runs main() in 32-bit protected mode (flat segments, no paging)
 *   64: entry64.S, runs main() in 64-bit long mode (first 4 GiB identity-mapped
 *       by 2 MiB pages, the same mapped again at 512 GiB, SSE enabled)
 * Both flavours install an IDT covering all 256 vectors before main(). When
 * main() returns, the runtime prints "PASS <name>" and exits through
 * isa-debug-exit with 0 (emulator status 1) if no check failed, otherwise
 * "FAIL <name> (<n> failed checks)" and exit code 1 (emulator status 3).
 * An unexpected exception prints its details and exits with code 2 (status 5).
 */
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long s64;
typedef int s32;
typedef unsigned long uptr; /* pointer-sized on both flavours */

#ifndef GUEST_NAME
#define GUEST_NAME "guest"
#endif

#define GDT_CODE32 0x08
#define GDT_DATA 0x10
#define GDT_CODE64 0x18
#define GDT_DATA_NP 0x20 /* a data segment marked not present (for #NP tests) */
#define GDT_CODE16 0x28  /* 16-bit code segment, base 0 limit 64 KiB */
#define GDT_TSS 0x38     /* 64-bit flavour: the TSS (16-byte descriptor) */

/* ---- serial console and exit ---- */
void serial_putc(char c);
void puts(const char *s);
void printk(const char *fmt, ...); /* %s %c %d %u %x %p, l/ll modifiers, width, 0 flag */
__attribute__((noreturn)) void guest_exit(unsigned code);
__attribute__((noreturn)) void guest_finish(void);
void skip(const char *what); /* prints "SKIP <what>" */

/* ---- checks ---- */
extern int check_failures;
void check_fail(const char *file, int line, const char *expr);
void check_fail_eq(const char *file, int line, const char *a, const char *b, u64 va, u64 vb);
int check_sdm_fail(const char *file, int line, const char *expr, u64 va, u64 vb, const char *why);

#ifdef __FILE_NAME__
#define CHECK_FILE __FILE_NAME__
#else
#define CHECK_FILE __FILE__
#endif
#define CHECK(c) ((c) ? 1 : (check_fail(CHECK_FILE, __LINE__, #c), 0))
#define CHECK_EQ(a, b)                                                      \
    do {                                                                    \
        u64 _va = (u64)(a), _vb = (u64)(b);                                 \
        if (_va != _vb) check_fail_eq(CHECK_FILE, __LINE__, #a, #b, _va, _vb); \
    } while (0)
/* A check where QEMU TCG is known to differ from the Intel SDM: the SDM is
 * the spec; on QEMU TCG a mismatch is reported as "QEMU-DEVIATION" and not
 * counted, everywhere else it is a failure. `why` names the SDM rule. */
#define CHECK_EQ_SDM(a, b, why)                                                  \
    do {                                                                         \
        u64 _va = (u64)(a), _vb = (u64)(b);                                      \
        if (_va != _vb) check_sdm_fail(CHECK_FILE, __LINE__, #a " == " #b, _va, _vb, why); \
    } while (0)

/* ---- CPU helpers ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
#define DEF_CR(n)                                                                             \
    static inline uptr read_cr##n(void) { uptr v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uptr v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
DEF_CR(0)
DEF_CR(2)
DEF_CR(3)
DEF_CR(4)
#undef DEF_CR
static inline void invlpg(const volatile void *p) { __asm__ volatile("invlpg (%0)" ::"r"(p) : "memory"); }
static inline uptr read_flags(void) { uptr f; __asm__ volatile("pushf; pop %0" : "=r"(f)); return f; }

#define MSR_EFER 0xC0000080u
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)
#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_TF 0x100u
#define FL_IF 0x200u
#define FL_DF 0x400u
#define FL_OF 0x800u

/* True when running on QEMU's TCG (CPUID brand/hypervisor signature). */
int on_qemu_tcg(void);

/* ---- memory ---- */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

/* ---- exceptions ---- */
#ifdef __x86_64__
struct trap_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, di, si, bp, bx, dx, cx, ax;
    u64 vector, error;
    u64 ip, cs, flags, sp, ss; /* pushed by the CPU (error code too, or a dummy 0) */
};
#else
struct trap_frame {
    u32 es, ds;                          /* restored on return */
    u32 di, si, bp, sp0, bx, dx, cx, ax; /* pushad */
    u32 vector, error;
    u32 ip, cs, flags; /* same-privilege frame: no ESP/SS */
};
#endif

struct trap_info {
    uptr vector, error, ip, cr2, flags;
    uptr ax; /* the interrupted EAX/RAX */
    uptr sp; /* the interrupted ESP/RSP (32-bit: same privilege, so where the frame ends) */
    uptr cs; /* the saved CS */
    uptr frame; /* address of the trap frame (where the handler ran its stack) */
    unsigned count;
};
extern volatile struct trap_info last_trap;
/* Called for every exception before the recovery table; return nonzero when
 * handled (the frame may be edited: returning restarts at frame->ip). */
extern int (*volatile trap_hook)(struct trap_frame *f);
void trap_reset(void);
void idt_set_gate(unsigned vector, int present, unsigned dpl, unsigned ist);

/* Prints "<name> ok" after the statement that follows if it added no failures:
 *   SECTION("divide") test_divide(); */
#define SECTION(name)                                          \
    for (int _b = check_failures, _once = 1; _once; _once = 0, \
             (check_failures == _b ? puts(name " ok\n") : (void)0))

/* Checks that exactly one exception `vec` with error code `err` was taken at `ip`. */
#define CHECK_TRAP(vec, err, ip_)              \
    do {                                       \
        CHECK_EQ(last_trap.count, 1);          \
        CHECK_EQ(last_trap.vector, (vec));     \
        CHECK_EQ(last_trap.error, (err));      \
        CHECK_EQ(last_trap.ip, (uptr)(ip_));   \
    } while (0)

/* Recovery table: inline-asm fragments that mark an instruction as expected
 * to raise an exception. The handler looks the saved EIP/RIP up in .extable
 * and resumes at the entry's continuation.
 *   ASM_FAULT(insn): a fault; the saved IP must be the instruction itself
 *                    (label 661), execution resumes after it (label 662).
 *   ASM_TRAP(insn):  a trap; the saved IP must be the end of the instruction
 *                    (label 662, followed by a nop so that it cannot collide
 *                    with the next fault entry).
 * Put "mov $661f, %[ip]" before it to learn the instruction's address. */
#ifdef __x86_64__
#define EXT_PTR ".quad"
#else
#define EXT_PTR ".long"
#endif
#define ASM_FAULT(insn) \
    "661: " insn "\n662:\n.pushsection .extable,\"a\"\n" EXT_PTR " 661b, 662b\n.popsection\n"
#define ASM_TRAP(insn) \
    "661: " insn "\n662: nop\n.pushsection .extable,\"a\"\n" EXT_PTR " 662b, 662b\n.popsection\n"

/* Entry state recorded by the boot stub before it touched anything. */
extern u32 entry_eax, entry_ebx, entry_cr0, entry_eflags;
extern u32 entry_cs_limit, entry_cs_ar, entry_ds_limit, entry_ds_ar;
extern u16 entry_cs, entry_ds, entry_ss, entry_es;
extern u8 entry_gdtr[10];

#ifdef __x86_64__
extern u8 ist1_stack_top[], ist1_stack[];
#endif
