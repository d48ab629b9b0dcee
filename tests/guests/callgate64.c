/* callgate64: 64-bit call gates in IA-32e mode (16-byte descriptors) at
 * CPL 0: far CALL pushes CS and RIP as 8-byte values whatever the operand
 * size, far RET (REX.W) returns; far JMP through the gate; faults: the upper
 * half's type field not 0 #GP(gate), a 16-bit call gate #GP(gate), a gate not
 * present #NP(gate), a gate to a 32-bit code segment #GP(code), a gate whose
 * upper half lies beyond the GDT limit #GP(gate).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: call gate 64 ok
 * EXPECT-OUTPUT: call gate 64 faults ok
 * EXPECT-OUTPUT: PASS callgate64
 */
#include "guest.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define GATE64 0x48
#define GATE64_BADHI 0x58
#define GATE16 0x68
#define GATE64_NP 0x70
#define GATE64_CODE32 0x80
#define GATE64_LAST 0x90 /* only its lower half inside the GDT limit */
#define GDT_ENTRIES 19

static u64 gdt2[GDT_ENTRIES + 1] __attribute__((aligned(16)));
extern u64 gdt[];
u64 rec[8];

void gate_target(void);
extern u8 jmp_landing[], call_return[];
__asm__(".text\n"
        "gate_target:\n"
        "  mov %rsp, rec+0\n"
        "  mov 0(%rsp), %rax\n mov %rax, rec+8\n"
        "  mov 8(%rsp), %rax\n mov %rax, rec+16\n"
        "  mov %cs, %eax\n mov %rax, rec+24\n"
        "  lretq\n");

static void set_gate64(unsigned sel, u64 target, u16 code_sel, unsigned access, unsigned hi_type)
{
    gdt2[sel / 8] = (target & 0xffff) | ((u64)code_sel << 16) | ((u64)access << 40) | (((target >> 16) & 0xffff) << 48);
    gdt2[sel / 8 + 1] = (target >> 32) | ((u64)hi_type << 40);
}

static void load_gdt(unsigned limit)
{
    struct __attribute__((packed)) {
        u16 limit;
        u64 base;
    } p = {(u16)limit, (u64)gdt2};
    __asm__ volatile("lgdt %0" ::"m"(p));
}

static void test_gate(void)
{
    u64 rsp_before;
    struct __attribute__((packed)) {
        u32 off;
        u16 sel;
    } far = {0, GATE64};
    memset(rec, 0, sizeof rec);
    __asm__ volatile("mov %%rsp, %0\n lcall *%1\n .globl call_return\n call_return:"
                     : "=&r"(rsp_before)
                     : "m"(far)
                     : "rax", "memory");
    CHECK_EQ(rec[0], rsp_before - 16); /* two 8-byte pushes */
    CHECK_EQ(rec[1], (u64)call_return);
    CHECK_EQ(rec[2], GDT_CODE64);
    CHECK_EQ(rec[3], GDT_CODE64);

    /* JMP through the gate to jmp_landing. */
    u64 cs;
    set_gate64(GATE64_BADHI, (u64)jmp_landing, GDT_CODE64, 0x8c, 0);
    far.sel = GATE64_BADHI;
    __asm__ volatile("ljmp *%1\n ud2\n .globl jmp_landing\n jmp_landing: mov %%cs, %0" : "=r"(cs) : "m"(far) : "memory");
    CHECK_EQ(cs, GDT_CODE64);
}

static void test_faults(void)
{
    static const struct {
        u16 sel;
        u32 vector, error;
    } cases[] = {
        {GATE64_BADHI, 13, GATE64_BADHI},
        {GATE16, 13, GATE16},
        {GATE64_NP, 11, GATE64_NP},
        {GATE64_CODE32, 13, GDT_CODE32},
        {GATE64_LAST, 13, GATE64_LAST},
    };
    set_gate64(GATE64_BADHI, (u64)gate_target, GDT_CODE64, 0x8c, 0xc);
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct __attribute__((packed)) {
            u32 off;
            u16 sel;
        } far = {0, cases[i].sel};
        uptr ip, rsp_before, rsp_after;
        trap_reset();
        __asm__ volatile("mov %%rsp, %1\n lea 661f(%%rip), %0\n" ASM_FAULT("lcall *%3") "mov %%rsp, %2"
                         : "=&r"(ip), "=&r"(rsp_before), "=&r"(rsp_after)
                         : "m"(far)
                         : "memory");
        CHECK_TRAP(cases[i].vector, cases[i].error, ip);
        CHECK_EQ(rsp_after, rsp_before);
    }
}

int main(void)
{
    for (int i = 0; i < 9; i++) gdt2[i] = gdt[i]; /* 0x00-0x40, the TSS included */
    set_gate64(GATE64, (u64)gate_target, GDT_CODE64, 0x8c, 0);
    gdt2[GATE16 / 8] = ((u64)GDT_CODE64 << 16) | (0x84ull << 40);
    set_gate64(GATE64_NP, (u64)gate_target, GDT_CODE64, 0x0c, 0);
    set_gate64(GATE64_CODE32, (u64)gate_target, GDT_CODE32, 0x8c, 0);
    set_gate64(GATE64_LAST, (u64)gate_target, GDT_CODE64, 0x8c, 0);
    load_gdt(GATE64_LAST + 7);
    SECTION("call gate 64") test_gate();
    SECTION("call gate 64 faults") test_faults();
    return 0;
}
