/* fpwork: floating-point work shared by the bare-metal guest (fpguest.c) and
 * its native twin (fpnative.c). Both compile fpwork.c with the same compiler
 * and flags, run the same sequence, and print the same lines; a run under
 * Hayate must print exactly what the host printed. */
#pragma once

typedef unsigned long long fp_u64;

/* Supplied by each side: prints "RES <name> <hi> <lo>". */
void fp_out(const char *name, fp_u64 hi, fp_u64 lo);
/* Supplied by each side: unmasks the FE_* exceptions in `excepts` in the x87
 * control word and in MXCSR. The native side calls glibc's feenableexcept;
 * the guest, which has no C library, does the same with FLDCW/LDMXCSR. */
void fp_enable(unsigned excepts);

/* Everything that does not trap, in a fixed order. */
void fp_compute(void);

/* The trapping cases. Each enables some exceptions (what glibc's
 * feenableexcept does: clears their mask bits in the x87 control word and in
 * MXCSR), runs one operation that raises one of them, and returns only if
 * nothing trapped. */
struct fp_trap_case {
    const char *name;
    void (*run)(void);
};
extern const struct fp_trap_case fp_trap_cases[];
extern const int fp_trap_case_count;

/* Back to the power-on state: FNINIT and MXCSR = 0x1f80 (all masked). */
void fp_reset(void);

/* The signal code Linux gives for a floating-point exception (its
 * fpu__exception_code()): from the x87 status and control words for #MF
 * (vector 16), from MXCSR for #XM (vector 19); FPE_INTDIV for #DE. */
int fp_signal_code(int vector, unsigned fsw, unsigned fcw, unsigned mxcsr);
