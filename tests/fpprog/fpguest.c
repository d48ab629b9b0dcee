/* fpguest: the floating-point program (fpwork.c) as a bare-metal 64-bit
 * guest. Its output is compared line by line with the native twin
 * (fpnative.c) by fp_compare.py; here run-guest only checks that it ends.
 * A trap (#MF, #XM, #DE) reports the signal code Linux would give and goes
 * back to the case's starting point, as the native side's siglongjmp does.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: DONE
 */
#include "guest.h"
#include "fpwork.h"

void fp_out(const char *name, fp_u64 hi, fp_u64 lo) { printk("RES %s %016llx %016llx\n", name, hi, lo); }

/* What glibc's feenableexcept does on x86-64: clear the exceptions' mask bits
 * in the x87 control word and in MXCSR. */
void fp_enable(unsigned excepts)
{
    unsigned short cw;
    unsigned mxcsr;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    cw &= (unsigned short)~excepts;
    __asm__ volatile("fldcw %0" ::"m"(cw));
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    mxcsr &= ~(excepts << 7);
    __asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
}

/* A minimal setjmp: the trap hook resumes here with RAX = 1. */
struct resume_point {
    u64 rbx, rbp, r12, r13, r14, r15, rsp, rip;
};
int take_resume_point(struct resume_point *p);
__asm__(".text\n"
        ".globl take_resume_point\n"
        "take_resume_point:\n"
        "  mov %rbx, 0(%rdi)\n"
        "  mov %rbp, 8(%rdi)\n"
        "  mov %r12, 16(%rdi)\n"
        "  mov %r13, 24(%rdi)\n"
        "  mov %r14, 32(%rdi)\n"
        "  mov %r15, 40(%rdi)\n"
        "  lea 8(%rsp), %rax\n"
        "  mov %rax, 48(%rdi)\n"
        "  mov (%rsp), %rax\n"
        "  mov %rax, 56(%rdi)\n"
        "  xor %eax, %eax\n"
        "  ret\n");

static struct resume_point resume;
static volatile int trap_code;

static int fp_trap_hook(struct trap_frame *f)
{
    if (f->vector != 0 && f->vector != 16 && f->vector != 19) return 0;
    unsigned short fsw, fcw;
    unsigned mxcsr;
    __asm__ volatile("fnstsw %0\n fnstcw %1\n stmxcsr %2" : "=m"(fsw), "=m"(fcw), "=m"(mxcsr));
    trap_code = fp_signal_code((int)f->vector, fsw, fcw, mxcsr);
    f->bx = resume.rbx;
    f->bp = resume.rbp;
    f->r12 = resume.r12;
    f->r13 = resume.r13;
    f->r14 = resume.r14;
    f->r15 = resume.r15;
    f->sp = resume.rsp;
    f->ip = resume.rip;
    f->ax = 1;
    return 1;
}

int main(void)
{
    write_cr0(read_cr0() | (1u << 5)); /* CR0.NE, as Linux sets it: x87 errors are #MF */
    fp_compute();
    trap_hook = fp_trap_hook;
    for (int i = 0; i < fp_trap_case_count; i++) {
        fp_reset();
        if (take_resume_point(&resume) == 0) {
            fp_trap_cases[i].run();
            printk("NOTRAP %s\n", fp_trap_cases[i].name);
        } else {
            printk("TRAP %s code %d\n", fp_trap_cases[i].name, trap_code);
        }
        fp_reset();
    }
    trap_hook = 0;
    printk("DONE\n");
    guest_finish();
}
