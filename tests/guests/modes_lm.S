/* modes: the long-mode round trip, written in assembly (32-bit object with
 * .code64 parts). modes_run() is called from 32-bit protected mode and
 * returns there; every observation goes into modes_rec (see modes.c).
 * The object is ELF32, so the 64-bit parts use RIP-relative addressing only. */
        .set REC_EFER_COMPAT, 0
        .set REC_PROBE_COMPAT1, 4
        .set REC_CS64, 8
        .set REC_EFER64, 12
        .set REC_PROBE64, 16
        .set REC_PUSH64, 20
        .set REC_HI64, 24
        .set REC_CS_COMPAT, 28
        .set REC_PROBE_COMPAT2, 32
        .set REC_PUSH_COMPAT, 36
        .set REC_PROBE64B, 40
        .set REC_CS_FARCALL, 44
        .set REC_PROBE_FARCALL, 48
        .set REC_FARCALL_RET_CS, 52
        .set REC_CS_AFTER_LRET, 56
        .set REC_PROBE64C, 60
        .set REC_EFER_AFTER, 64
        .set REC_CR0_AFTER, 68
        .set REC_R8_SURVIVES, 72
        .set REC_SIZE, 76

        .section .bss
        .align 4096
lm_pml4: .skip 4096
lm_pdpt: .skip 4096
lm_pd:   .skip 4096
        .globl modes_rec
modes_rec: .skip REC_SIZE
saved_esp: .skip 4

        .section .data
farptr_compat_b:
        .long compat_b
        .word 0x08

        .section .text
/* The same bytes decode differently by mode:
 *   64-bit: xor eax,eax; inc rax (REX.W ff c0); ret      -> 1
 *   32-bit: xor eax,eax; dec eax (48); inc eax; ret      -> 0 */
mode_probe:
        .byte 0x31, 0xc0, 0x48, 0xff, 0xc0, 0xc3

        .code32
        .globl modes_run
modes_run:
        push %ebx
        push %esi
        push %edi
        push %ebp
        mov %esp, saved_esp
        /* 4-level tables: the first 1 GiB identity-mapped by 2 MiB pages. */
        movl $lm_pdpt + 3, lm_pml4
        movl $lm_pd + 3, lm_pdpt
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax
        mov %eax, lm_pd(,%ecx,8)
        movl $0, lm_pd + 4(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        mov $lm_pml4, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x20, %eax                  /* PAE */
        mov %eax, %cr4
        mov $0xC0000080, %ecx
        rdmsr
        or $0x100, %eax                 /* LME */
        wrmsr
        mov %cr0, %eax
        or $0x80000000, %eax            /* PG: IA-32e mode becomes active */
        mov %eax, %cr0
        /* Still in a 32-bit code segment: this is compatibility mode. */
        mov $0xC0000080, %ecx
        rdmsr
        mov %eax, modes_rec + REC_EFER_COMPAT
        call mode_probe
        mov %eax, modes_rec + REC_PROBE_COMPAT1
        ljmp $0x18, $lm64a

        .code64
lm64a:
        mov %esp, %esp                  /* RSP[63:32] = 0 */
        xor %eax, %eax
        mov %cs, %ax
        mov %eax, modes_rec + REC_CS64(%rip)
        mov $0xC0000080, %ecx
        rdmsr
        mov %eax, modes_rec + REC_EFER64(%rip)
        call mode_probe
        mov %eax, modes_rec + REC_PROBE64(%rip)
        mov %rsp, %rax
        pushq $0
        sub %rsp, %rax
        mov %eax, modes_rec + REC_PUSH64(%rip)
        pop %rdx
        movabs $0x123456789, %rax
        shr $32, %rax
        mov %eax, modes_rec + REC_HI64(%rip)
        movabs $0x5555aaaa12345678, %r8
        /* 64-bit -> compatibility mode by far return. */
        pushq $0x08
        lea compat_a(%rip), %rax
        push %rax
        lretq

        .code32
compat_a:
        xor %eax, %eax
        mov %cs, %ax
        mov %eax, modes_rec + REC_CS_COMPAT
        call mode_probe
        mov %eax, modes_rec + REC_PROBE_COMPAT2
        mov %esp, %eax
        push $0
        sub %esp, %eax
        mov %eax, modes_rec + REC_PUSH_COMPAT
        pop %edx
        /* compatibility -> 64-bit by far jump */
        ljmp $0x18, $lm64b

        .code64
lm64b:
        mov %esp, %esp
        call mode_probe
        mov %eax, modes_rec + REC_PROBE64B(%rip)
        /* R8 is not reachable from compatibility mode; the SDM leaves its upper
         * half undefined across the switch, but the low 32 bits... are also
         * not guaranteed. Record only that 64-bit code can use it again. */
        mov $0x77, %r8d
        mov %r8d, modes_rec + REC_R8_SURVIVES(%rip)
        /* 64-bit -> compatibility by far call through m16:32, back by far return */
        lcall *farptr_compat_b(%rip)
        xor %eax, %eax
        mov %cs, %ax
        mov %eax, modes_rec + REC_CS_AFTER_LRET(%rip)
        call mode_probe
        mov %eax, modes_rec + REC_PROBE64C(%rip)
        /* leave long mode from compatibility mode */
        pushq $0x08
        lea leave32(%rip), %rax
        push %rax
        lretq

        .code32
compat_b:
        xor %eax, %eax
        mov %cs, %ax
        mov %eax, modes_rec + REC_CS_FARCALL
        call mode_probe
        mov %eax, modes_rec + REC_PROBE_FARCALL
        movzwl 4(%esp), %eax            /* the 32-bit far call pushed CS, then EIP */
        mov %eax, modes_rec + REC_FARCALL_RET_CS
        lret

leave32:
        mov %cr0, %eax
        and $0x7fffffff, %eax           /* PG off: IA-32e mode off */
        mov %eax, %cr0
        mov $0xC0000080, %ecx
        rdmsr
        and $~0x100, %eax
        wrmsr
        rdmsr
        mov %eax, modes_rec + REC_EFER_AFTER
        mov %cr4, %eax
        and $~0x20, %eax
        mov %eax, %cr4
        mov %cr0, %eax
        mov %eax, modes_rec + REC_CR0_AFTER
        mov saved_esp, %esp
        pop %ebp
        pop %edi
        pop %esi
        pop %ebx
        ret
