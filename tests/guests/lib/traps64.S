/* 64-bit exception/interrupt entry stubs: one per vector, pushing a dummy
 * error code where the CPU does not push one, then the vector number. */
        .altmacro
        .section .text
        .code64
        .macro STUB v
        .align 16
stub_\v:
        .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
        .else
        pushq $0
        .endif
        pushq $\v
        jmp trap_common
        .endm
        .macro STUBADDR v
        .quad stub_\v
        .endm

        .set v, 0
        .rept 256
        STUB %v
        .set v, v + 1
        .endr

trap_common:
        push %rax
        push %rcx
        push %rdx
        push %rbx
        push %rbp
        push %rsi
        push %rdi
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
        cld
        mov %rsp, %rdi
        mov %rsp, %rbx
        and $-16, %rsp
        call trap_dispatch
        mov %rbx, %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rdi
        pop %rsi
        pop %rbp
        pop %rbx
        pop %rdx
        pop %rcx
        pop %rax
        add $16, %rsp             /* vector, error code */
        iretq

        .section .rodata
        .align 8
        .globl trap_stubs
trap_stubs:
        .set v, 0
        .rept 256
        STUBADDR %v
        .set v, v + 1
        .endr
