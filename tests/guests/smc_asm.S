/* smc: code the C part patches or that patches itself. */
        .text
        .code64

/* (a) u32 smc_imm(void): returns its immediate, which smc.c rewrites. */
        .globl smc_imm, smc_imm_value
smc_imm:
        .byte 0xb8                      /* mov $imm32, %eax */
smc_imm_value:
        .long 0x11111111
        ret

/* (b) u32 smc_ahead(u32 v): stores v into the immediate of an instruction a
 * few bytes further on in the same straight-line block, then executes it. */
        .globl smc_ahead
smc_ahead:
        mov %edi, 1f+1(%rip)
        add $0, %ecx
        nop
        xor %edx, %edx
1:      mov $0x11111111, %eax           /* b8 imm32 */
        ret

/* u32 smc_next(u32 v): the modified instruction immediately follows the store. */
        .globl smc_next
smc_next:
        mov %edi, 1f+1(%rip)
1:      mov $0x22222222, %eax
        ret

/* int smc_opcode(u8 modrm): rewrites the ModRM byte of `inc %eax` (ff c0)
 * ahead of it: c8 turns it into `dec %eax`. Returns the result. */
        .globl smc_opcode
smc_opcode:
        xor %eax, %eax
        mov %dil, 1f+1(%rip)
        nop
1:      inc %eax
        ret

/* u64 smc_loop(u64 n): a loop whose body rewrites the immediate of an add
 * inside the same loop body on every iteration: sum of i for i < n, computed
 * by patching `add $imm32, %rax` with the counter before executing it. */
        .globl smc_loop
smc_loop:
        xor %eax, %eax
        xor %ecx, %ecx
2:      mov %ecx, 1f+2(%rip)
1:      add $0x7fffffff, %rax           /* 48 05 imm32 */
        inc %ecx
        cmp %rdi, %rcx
        jb 2b
        ret

/* (d) u32 smc_alias(u32 v): the same as smc_ahead, but the store goes through
 * the second mapping of physical memory at +512 GiB (PML4[1] = PML4[0]). */
        .globl smc_alias
smc_alias:
        lea 1f+1(%rip), %rax
        movabs $0x8000000000, %rdx
        add %rdx, %rax
        mov %edi, (%rax)
        nop
1:      mov $0x33333333, %eax
        ret
