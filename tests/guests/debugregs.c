/* debugregs: hardware breakpoints through DR0-DR3/DR7 (SDM vol. 3, 18.2-18.3). 64-bit.
 *  - instruction breakpoint: #DB as a fault, before the instruction runs,
 *    RIP at it, DR6.Bn set; EFLAGS.RF in the frame lets it run once on
 *    return, and it triggers again the next time (RF cleared after it);
 *  - data breakpoints: #DB as a trap after the access (RIP at the next
 *    instruction, the store done), R/W=01 only on writes, R/W=11 on reads
 *    too, LEN ranges (2, 4 and 8 bytes), no hit for a disabled breakpoint;
 *  - TF over REP MOVSB (a trap per iteration, RIP at the instruction until
 *    the last), a data breakpoint hit inside REP STOSB; the MOV SS shadow
 *    holding a single-step trap back for one instruction.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: instruction breakpoint ok
 * EXPECT-OUTPUT: data breakpoints ok
 * EXPECT-OUTPUT: string steps ok
 * EXPECT-OUTPUT: PASS debugregs
 */
#include "guest.h"

#define FL_RF (1u << 16)
#define DR7_L(n) (1ull << (2 * (n)))
#define DR7_RW(n, v) ((u64)(v) << (16 + 4 * (n)))
#define DR7_LEN(n, v) ((u64)(v) << (18 + 4 * (n)))
#define LEN2 1
#define LEN8 2
#define LEN4 3

static volatile u64 hook_dr6, hook_ip, hook_count;

static int db_hook(struct trap_frame* f) {
    if (f->vector != 1) return 0;
    u64 dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    hook_dr6 |= dr6;
    __asm__ volatile("mov %0, %%dr6" ::"r"(0xffff0ff0ull));
    hook_ip = f->ip;
    hook_count++;
    f->flags |= FL_RF; /* resume without the instruction breakpoint firing again */
    return 1;
}

static void set_dr7(u64 v) { __asm__ volatile("mov %0, %%dr7" ::"r"(v | 0x400) : "memory"); }

static void reset_hook(void) {
    hook_dr6 = 0;
    hook_ip = 0;
    hook_count = 0;
}

extern char bp_func[], bp_insn[];
__asm__(".text\n"
        "bp_func: nop\n"
        "bp_insn: mov $7, %eax\n"
        "ret\n");

static void test_instruction_breakpoint(void) {
    u32 r;
    trap_hook = db_hook;
    reset_hook();
    __asm__ volatile("mov %0, %%dr0" ::"r"(bp_insn));
    set_dr7(DR7_L(0)); /* R/W 00, LEN 00: execute */
    __asm__ volatile("call *%1" : "=a"(r) : "r"(bp_func) : "memory");
    CHECK_EQ(r, 7);
    CHECK_EQ(hook_count, 1);
    CHECK_EQ(hook_ip, (uptr)bp_insn);
    CHECK(hook_dr6 & 1);
    __asm__ volatile("call *%1" : "=a"(r) : "r"(bp_func) : "memory");
    CHECK_EQ(hook_count, 2); /* RF was cleared once the instruction completed */
    set_dr7(0);
    __asm__ volatile("call *%1" : "=a"(r) : "r"(bp_func) : "memory");
    CHECK_EQ(hook_count, 2);
    trap_hook = 0;
}

static volatile u32 watched[8] __attribute__((aligned(64)));

static void test_data_breakpoints(void) {
    uptr ip;
    u32 v;
    trap_hook = db_hook;

    /* DR1: writes of the 4 bytes at watched[1]. */
    __asm__ volatile("mov %0, %%dr1" ::"r"(&watched[1]));
    set_dr7(DR7_L(1) | DR7_RW(1, 1) | DR7_LEN(1, LEN4));
    reset_hook();
    v = watched[1]; /* a read: no trap */
    watched[0] = 1; /* outside the range */
    watched[2] = 2;
    CHECK_EQ(hook_count, 0);
    __asm__ volatile("lea 1f(%%rip), %0\n"
                     "movl $5, (%1)\n"
                     "1: nop\n"
                     : "=&r"(ip)
                     : "r"(&watched[1])
                     : "memory");
    CHECK_EQ(hook_count, 1);
    CHECK_EQ(hook_ip, ip); /* a trap: after the store */
    CHECK(hook_dr6 & 2);
    CHECK_EQ(watched[1], 5);
    reset_hook();
    __asm__ volatile("movw $9, 2(%0)" ::"r"(&watched[1]) : "memory"); /* overlaps the upper half */
    CHECK_EQ(hook_count, 1);

    /* DR2: reads and writes of the 8 bytes at watched[4] (the address must be
     * aligned to the length: unaligned ones are undefined). */
    __asm__ volatile("mov %0, %%dr2" ::"r"((uptr)&watched[4]));
    set_dr7(DR7_L(2) | DR7_RW(2, 3) | DR7_LEN(2, LEN8));
    reset_hook();
    v = watched[5]; /* inside [watched[4], watched[6]) */
    CHECK_EQ(hook_count, 1);
    CHECK(hook_dr6 & 4);
    reset_hook();
    v = watched[6];
    v = watched[3];
    CHECK_EQ(hook_count, 0);

    /* DR3 with LEN 2, disabled in DR7: never fires. */
    __asm__ volatile("mov %0, %%dr3" ::"r"(&watched[0]));
    set_dr7(DR7_RW(3, 1) | DR7_LEN(3, LEN2));
    reset_hook();
    watched[0] = 3;
    CHECK_EQ_SDM(hook_count, 0, "a breakpoint whose L and G bits are clear in DR7 never raises #DB");
    (void)v;

    set_dr7(0);
    trap_hook = 0;
}

static volatile u64 step_ips[8];
static volatile unsigned step_count;
static int step_hook(struct trap_frame *f) {
    if (f->vector != 1) return 0;
    if (step_count < 8) step_ips[step_count] = f->ip;
    step_count++;
    __asm__ volatile("mov %0, %%dr6" ::"r"(0xffff0ff0ull));
    return 1;
}

/* TF over REP MOVSB: a trap after every iteration, RIP at the instruction
 * until the last one; a data breakpoint inside a REP STOSB hits on the
 * iteration that writes the watched byte. */
static void test_string_steps(void) {
    static u8 src[4] = {1, 2, 3, 4}, dst[4];
    uptr rep_ip, after_ip;
    step_count = 0;
    trap_hook = step_hook;
    __asm__ volatile("pushf\n"
                     "orq $0x100, (%%rsp)\n"
                     "popf\n"
                     "lea 1f(%%rip), %0\n"
                     "lea 2f(%%rip), %1\n"
                     "1: rep movsb\n"
                     "2: pushf\n"
                     "andq $~0x100, (%%rsp)\n"
                     "popf\n"
                     : "=&r"(rep_ip), "=&r"(after_ip)
                     : "S"(src), "D"(dst), "c"(3ul)
                     : "memory");
    trap_hook = 0;
    /* lea, lea, then three iterations, then pushf, andq, popf */
    CHECK_EQ(step_count, 8);
    CHECK_EQ(step_ips[2], rep_ip);
    CHECK_EQ(step_ips[3], rep_ip);
    CHECK_EQ(step_ips[4], after_ip);
    CHECK_EQ(dst[2], 3);
    CHECK_EQ(dst[3], 0);

    /* MOV SS holds debug traps back for one instruction: no single-step
     * trap after it, the next one comes after the following instruction. */
    uptr l1, l2;
    step_count = 0;
    trap_hook = step_hook;
    __asm__ volatile("lea 1f(%%rip), %0\n"
                     "lea 2f(%%rip), %1\n"
                     "pushf\n"
                     "orq $0x100, (%%rsp)\n"
                     "popf\n"
                     "mov %%ss, %%eax\n"
                     "1: mov %%eax, %%ss\n"
                     "nop\n"
                     "2: pushf\n"
                     "andq $~0x100, (%%rsp)\n"
                     "popf\n"
                     : "=&r"(l1), "=&r"(l2)
                     :
                     : "rax", "memory");
    trap_hook = 0;
    CHECK_EQ(step_count, 5); /* mov %ss,%eax; (mov %eax,%ss + nop); pushf; andq; popf */
    CHECK_EQ(step_ips[0], l1);
    CHECK_EQ(step_ips[1], l2);

    static u8 buf[16];
    __asm__ volatile("mov %0, %%dr0" ::"r"(&buf[5]));
    set_dr7(DR7_L(0) | DR7_RW(0, 1)); /* LEN 00: one byte */
    reset_hook();
    trap_hook = db_hook;
    u64 left;
    __asm__ volatile("rep stosb" : "=c"(left) : "D"(buf), "a"(0x77), "c"(10ul) : "memory");
    CHECK_EQ(hook_count, 1);
    CHECK(hook_dr6 & 1);
    CHECK_EQ(left, 0);
    CHECK_EQ(buf[9], 0x77);
    set_dr7(0);
    trap_hook = 0;
}

int main(void) {
    SECTION("instruction breakpoint") test_instruction_breakpoint();
    SECTION("data breakpoints") test_data_breakpoints();
    SECTION("string steps") test_string_steps();
    guest_finish();
}
