/* Multiboot entry of the 64-bit flavour: records the entry state, maps the
 * first 4 GiB 1:1 with 2 MiB pages (and again at 512 GiB: PML4[1] = PML4[0]),
 * enables PAE, SSE (OSFXSR/OSXMMEXCPT), long mode and paging, loads the
 * runtime's GDT, TSS (IST1 stack) and IDT and runs main() in 64-bit mode. */
#include "gdt.inc"

        .section .bss
        .align 4096
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096 * 4
        .globl stack, stack_top, ist1_stack, ist1_stack_top
stack:  .skip 16384
stack_top:
ist1_stack: .skip 8192
ist1_stack_top:

        .section .text
        .code32
        .globl _start
_start:
        mov $stack_top, %esp
        RECORD_ENTRY_STATE
        cli
        cld
        mov $boot_pdpt + 3, %eax
        mov %eax, boot_pml4
        mov %eax, boot_pml4 + 8
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $12, %eax
        add $boot_pd + 3, %eax
        mov %eax, boot_pdpt(,%ecx,8)
        inc %ecx
        cmp $4, %ecx
        jne 1b
        xor %ecx, %ecx
2:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax                  /* P | RW | PS */
        mov %eax, boot_pd(,%ecx,8)
        mov %ecx, %eax
        shr $11, %eax
        mov %eax, boot_pd + 4(,%ecx,8)
        inc %ecx
        cmp $2048, %ecx
        jne 2b
        mov $boot_pml4, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x620, %eax                 /* PAE | OSFXSR | OSXMMEXCPT */
        mov %eax, %cr4
        mov $0xC0000080, %ecx
        rdmsr
        or $0x100, %eax                 /* EFER.LME */
        wrmsr
        mov %cr0, %eax
        and $~0xC, %eax                 /* no EM, no TS */
        or $0x80000002, %eax            /* PG | MP */
        mov %eax, %cr0
        lgdt gdt_ptr
        ljmp $0x18, $long_entry

        .code64
long_entry:
        mov $0x10, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs
        lgdt gdt_ptr                    /* reload with the full 64-bit base */
        mov $stack_top, %rsp
        call tss_init
        call idt_init
        call main
        call guest_finish
3:      hlt
        jmp 3b
