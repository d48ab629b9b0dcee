/* realmode: the real-mode part (see realmode.c). rm_run() is called from
 * 32-bit protected mode with the blob already copied to RM_BASE and the
 * test GDT loaded; it drops to real mode through a 16-bit protected-mode
 * segment, runs the checks, records what it saw at REC (physical), and
 * comes back to 32-bit protected mode.
 *
 * Inside the blob, code runs with CS = RM_BASE >> 4, so every address it
 * uses is an offset from rm_blob. */
        .set RM_BASE, 0x8000
        .set RM_SEG, RM_BASE >> 4
        .set REC, 0x7000            /* results, DS = 0 */
        .set SEL_CODE16, 0x28       /* lib/gdt.inc: 16-bit code, base 0, 64 KiB */
        .set SEL_DATA16, 0x40       /* realmode.c: 16-bit data, base 0, 64 KiB */
        .set SEL_CODE32, 0x08
        .set SEL_DATA32, 0x10

        /* Result slots (byte offsets from REC), mirrored in realmode.c. */
        .set R_ENTERED, 0
        .set R_CR0, 4
        .set R_SEGWRITE, 8
        .set R_WRAP, 12
        .set R_GP_VEC, 16
        .set R_GP_IP, 20
        .set R_UD_VEC, 24
        .set R_DE_VEC, 28
        .set R_INT_VEC, 32
        .set R_INT_FLAGS, 36
        .set R_INT_SPDELTA, 40
        .set R_OPSIZE, 44
        .set R_ADDR32_VEC, 48
        .set R_UNREAL, 52
        .set R_UNREAL_RELOAD, 56
        .set R_FARCALL, 60
        .set R_IRET_FLAGS, 64
        .set R_LAST_VEC, 68     /* scratch: vector seen by the handler */
        .set R_RESUME, 72       /* scratch: where the fault handler resumes */
        .set R_SAVED_IP, 76     /* scratch: IP in the fault frame */

        .section .text
        .code32
        .globl rm_run
rm_run:
        pushal
        mov %esp, saved_esp32
        sidt RM_BASE + rm_pm_idtr_save - rm_blob
        /* 16-bit data segments first (limit 64 KiB), except FS: it keeps the
         * flat 4 GiB descriptor, so real mode inherits it (unreal mode). */
        mov $SEL_DATA16, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %gs
        mov %ax, %ss
        mov $0x6ff0, %esp
        ljmp $SEL_CODE16, $(RM_BASE + pm16_entry - rm_blob)

        .globl rm_blob, rm_blob_end
        .code16
rm_blob:
pm16_entry:
        mov %cr0, %eax
        and $0xfffffffe, %eax
        mov %eax, %cr0
        ljmp $RM_SEG, $(rm_entry - rm_blob)

rm_entry:
        xor %ax, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $0x6ff0, %sp
        movl $1, REC + R_ENTERED
        mov %cr0, %eax
        mov %eax, REC + R_CR0

        /* Real-mode interrupt vectors: #DE, #UD, #GP and INT 0x40. */
        movw $(de_handler - rm_blob), 0 * 4
        movw $RM_SEG, 0 * 4 + 2
        movw $(ud_handler - rm_blob), 6 * 4
        movw $RM_SEG, 6 * 4 + 2
        movw $(gp_handler - rm_blob), 13 * 4
        movw $RM_SEG, 13 * 4 + 2
        movw $(int40_handler - rm_blob), 0x40 * 4
        movw $RM_SEG, 0x40 * 4 + 2
        lidt rm_idtr - rm_blob + RM_BASE

        /* Segment arithmetic: DS = 0x3000 puts offset 0x10 at 0x30010. */
        mov $0x3000, %ax
        mov %ax, %ds
        movw $0xbeef, 0x10
        xor %ax, %ax
        mov %ax, %ds
        mov $0x3000, %ax
        mov %ax, %es
        mov %es:0x10, %ax
        mov %ax, REC + R_SEGWRITE

        /* 16-bit effective addresses wrap at 64 KiB: 0xfff0 + 0x20 = 0x0010. */
        mov $0xfff0, %bx
        mov $0x20, %si
        mov %es:(%bx,%si), %ax
        mov %ax, REC + R_WRAP

        /* A word at offset 0xffff crosses the 64 KiB limit: #GP (vector 13). */
        movw $(1f - rm_blob), REC + R_RESUME
        movl $0xffffffff, REC + R_LAST_VEC
        .globl rm_gp_insn
rm_gp_insn:
        mov 0xffff, %ax
1:      mov REC + R_LAST_VEC, %eax
        mov %eax, REC + R_GP_VEC
        mov REC + R_SAVED_IP, %ax
        mov %ax, REC + R_GP_IP

        movw $(1f - rm_blob), REC + R_RESUME
        movl $0xffffffff, REC + R_LAST_VEC
        ud2
1:      mov REC + R_LAST_VEC, %eax
        mov %eax, REC + R_UD_VEC

        movw $(1f - rm_blob), REC + R_RESUME
        movl $0xffffffff, REC + R_LAST_VEC
        xor %dx, %dx
        mov $1, %ax
        xor %cx, %cx
        div %cx
1:      mov REC + R_LAST_VEC, %eax
        mov %eax, REC + R_DE_VEC

        /* INT n through the IVT: the handler sees IF and TF cleared and a
         * 6-byte frame; IRET restores FLAGS. */
        mov %sp, %di
        pushf
        pop %ax
        or $0x0200, %ax             /* IF=1 before the INT */
        push %ax
        popf
        int $0x40
        pushf
        pop %ax
        mov %ax, REC + R_IRET_FLAGS
        cli

        /* Operand-size prefix: 32-bit arithmetic in real mode. */
        mov $0x12345678, %eax
        add $0x11111111, %eax
        mov %eax, REC + R_OPSIZE

        /* Address-size prefix: a 32-bit offset beyond 0xffff faults in DS (64 KiB). */
        movw $(1f - rm_blob), REC + R_RESUME
        movl $0xffffffff, REC + R_LAST_VEC
        mov $0x10000, %esi
        addr32 mov (%esi), %eax
1:      mov REC + R_LAST_VEC, %eax
        mov %eax, REC + R_ADDR32_VEC

        /* Unreal mode: FS kept its 4 GiB limit from protected mode. */
        mov $0x300000, %esi
        addr32 mov %fs:(%esi), %eax
        mov %eax, REC + R_UNREAL
        /* Reloading FS in real mode sets the base, keeps the limit. */
        xor %ax, %ax
        mov %ax, %fs
        addr32 mov %fs:4(%esi), %eax
        mov %eax, REC + R_UNREAL_RELOAD

        /* FNSAVE in real mode: the 16-bit (94-byte) and 32-bit (108-byte)
         * real-mode layouts, with the 20-bit linear FIP and the opcode. */
        fninit
        .globl rm_fld1_a
rm_fld1_a:
        fld1
        fnsave 0x7100
        fninit
        .globl rm_fld1_b
rm_fld1_b:
        fld1
        data32 fnsave 0x7200
        fninit

        /* Far call and far return in real mode. */
        xor %eax, %eax
        lcall $RM_SEG, $(far_sub - rm_blob)
        mov %eax, REC + R_FARCALL

        /* Back to 32-bit protected mode. */
        cli
        lidt rm_pm_idtr_save - rm_blob + RM_BASE
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0
        .byte 0x66, 0xea            /* ljmpl $SEL_CODE32, $rm_back32 */
        .long rm_back32
        .word SEL_CODE32

far_sub:
        mov $0xfa2ca11, %eax
        lret

/* Fault handlers: record the vector and the saved IP, resume at R_RESUME. */
de_handler:
        movl $0, REC + R_LAST_VEC
        jmp fault_common
ud_handler:
        movl $6, REC + R_LAST_VEC
        jmp fault_common
gp_handler:
        movl $13, REC + R_LAST_VEC
fault_common:
        push %bp
        mov %sp, %bp
        push %ax
        mov 2(%bp), %ax             /* the IP in the frame: the faulting instruction */
        mov %ax, REC + R_SAVED_IP
        mov REC + R_RESUME, %ax
        mov %ax, 2(%bp)
        pop %ax
        pop %bp
        iret

int40_handler:
        movl $0x40, REC + R_INT_VEC
        pushf
        pop %ax
        mov %ax, REC + R_INT_FLAGS
        mov %di, %ax
        sub %sp, %ax                /* bytes pushed by INT (6) */
        mov %ax, REC + R_INT_SPDELTA
        iret

        .p2align 2
rm_idtr:
        .word 0x3ff
        .long 0
rm_pm_idtr_save:
        .word 0, 0, 0
rm_blob_end:

        .code32
rm_back32:
        mov $SEL_DATA32, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs
        mov %ax, %ss
        mov saved_esp32, %esp
        popal
        ret

        .section .bss
saved_esp32: .skip 4
