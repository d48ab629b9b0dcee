/* Multiboot entry of the 32-bit flavour: records the entry state, loads the
 * runtime's GDT and IDT and runs main() in flat 32-bit protected mode. */
#include "gdt.inc"

        .section .bss
        .align 16
        .globl stack, stack_top
stack:  .skip 16384
stack_top:

        .section .text
        .code32
        .globl _start
_start:
        mov $stack_top, %esp
        RECORD_ENTRY_STATE
        cli
        cld
        lgdt gdt_ptr
        ljmp $0x08, $1f
1:      mov $0x10, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs
        mov $stack_top, %esp
        call idt_init
        call main
        call guest_finish
2:      hlt
        jmp 2b
