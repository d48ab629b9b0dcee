/* fpnative: the floating-point program (fpwork.c) on the host, the reference
 * fpguest.c must match line by line. Traps arrive as SIGFPE; the kernel's
 * si_code is printed and siglongjmp goes back to the case's start. */
#define _GNU_SOURCE
#include "fpwork.h"
#include <setjmp.h>
#include <signal.h>
#include <fenv.h>
#include <stdio.h>

void fp_out(const char *name, fp_u64 hi, fp_u64 lo) { printf("RES %s %016llx %016llx\n", name, hi, lo); }

void fp_enable(unsigned excepts) { feenableexcept((int)excepts); }

static sigjmp_buf resume;
static volatile int trap_code;

static void on_sigfpe(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    trap_code = info->si_code;
    siglongjmp(resume, 1);
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, 0);
    setvbuf(stdout, 0, _IOLBF, 0);
    fp_compute();
    for (int i = 0; i < fp_trap_case_count; i++) {
        fp_reset();
        if (sigsetjmp(resume, 1) == 0) {
            fp_trap_cases[i].run();
            printf("NOTRAP %s\n", fp_trap_cases[i].name);
        } else {
            printf("TRAP %s code %d\n", fp_trap_cases[i].name, trap_code);
        }
        fp_reset();
    }
    printf("DONE\n");
    return 0;
}
