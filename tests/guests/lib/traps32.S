/* 32-bit exception/interrupt entry stubs: one per vector, pushing a dummy
 * error code where the CPU does not push one, then the vector number. */
        .altmacro
        .section .text
        .code32
        .macro STUB v
        .align 16
stub_\v:
        .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
        .else
        pushl $0
        .endif
        pushl $\v
        jmp trap_common
        .endm
        .macro STUBADDR v
        .long stub_\v
        .endm

        .set v, 0
        .rept 256
        STUB %v
        .set v, v + 1
        .endr

trap_common:
        pushal
        push %ds
        push %es
        mov $0x10, %eax                 /* the test may have left a bad DS/ES */
        mov %eax, %ds
        mov %eax, %es
        cld
        push %esp
        call trap_dispatch
        add $4, %esp
        pop %es
        pop %ds
        popal
        add $8, %esp              /* vector, error code */
        iretl

        .section .rodata
        .align 4
        .globl trap_stubs
trap_stubs:
        .set v, 0
        .rept 256
        STUBADDR %v
        .set v, v + 1
        .endr
