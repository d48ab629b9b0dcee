/* smc: self-modifying code. 64-bit flavour.
 *  (a) rewrite the immediate of a function between calls (many times);
 *  (b) an instruction modifies a later instruction of the same straight-line
 *      block, with no branch in between (also: the very next instruction, an
 *      opcode byte rather than an immediate, and a loop that patches its own
 *      body each iteration). x86 requires the new form to execute;
 *  (c) copy code into a buffer, run it, overwrite with different code, run;
 *  (d) the store goes through a different virtual mapping of the same
 *      physical page (SMC tracked by physical address), and code copied with
 *      rep movsb; (e) code a block jumps to changes from overwriting the
 *      flags to reading them; (f) an interpreted store (STR) into the
 *      running block.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: patched function ok
 * EXPECT-OUTPUT: running block ok
 * EXPECT-OUTPUT: code buffer ok
 * EXPECT-OUTPUT: alias ok
 * EXPECT-OUTPUT: PASS smc
 */
#include "guest.h"

u32 smc_imm(void);
extern volatile u32 smc_imm_value;
u32 smc_ahead(u32 v);
u32 smc_next(u32 v);
int smc_opcode(u8 modrm);
u64 smc_loop(u64 n);
u32 smc_alias(u32 v);

static void test_patched_function(void)
{
    CHECK_EQ(smc_imm(), 0x11111111);
    CHECK_EQ(smc_imm(), 0x11111111);
    smc_imm_value = 0x22222222;
    CHECK_EQ(smc_imm(), 0x22222222);
    int bad = 0;
    for (u32 i = 0; i < 200; i++) {
        smc_imm_value = i * 0x01010101u;
        if (smc_imm() != i * 0x01010101u) bad++;
        if (smc_imm() != i * 0x01010101u) bad++;
    }
    CHECK_EQ(bad, 0);
}

static void test_running_block(void)
{
    CHECK_EQ(smc_ahead(0x12345678), 0x12345678);
    CHECK_EQ(smc_ahead(0x9abcdef0), 0x9abcdef0);
    CHECK_EQ(smc_next(0x0badcafe), 0x0badcafe);
    CHECK_EQ(smc_next(5), 5);
    CHECK_EQ(smc_opcode(0xc8), -1); /* dec */
    CHECK_EQ(smc_opcode(0xc0), 1);  /* inc */
    CHECK_EQ(smc_opcode(0xc8), -1);
    int bad = 0;
    for (u32 i = 0; i < 100; i++) {
        if (smc_ahead(i) != i) bad++;
        if (smc_next(~i) != ~i) bad++;
        if (smc_opcode(i & 1 ? 0xc8 : 0xc0) != (i & 1 ? -1 : 1)) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(smc_loop(1000), 999ull * 1000 / 2);
    CHECK_EQ(smc_loop(10), 45);
}

static u8 code_buf[4096] __attribute__((aligned(64)));
typedef u64 (*fn_t)(u64);

static void emit_mov_ret(u8 *p, u32 v) /* mov $v, %eax; ret */
{
    p[0] = 0xb8;
    memcpy(p + 1, &v, 4);
    p[5] = 0xc3;
}

static void test_code_buffer(void)
{
    fn_t f = (fn_t)(uptr)code_buf;
    emit_mov_ret(code_buf, 1);
    CHECK_EQ(f(0), 1);
    emit_mov_ret(code_buf, 2);
    CHECK_EQ(f(0), 2);
    /* Different instructions and length: lea 5(%rdi), %rax; ret */
    static const u8 lea5[] = {0x48, 0x8d, 0x47, 0x05, 0xc3};
    memcpy(code_buf, lea5, sizeof lea5);
    CHECK_EQ(f(10), 15);
    /* shl $3, %rdi; mov %rdi, %rax; ret (longer than the old code) */
    static const u8 shl3[] = {0x48, 0xc1, 0xe7, 0x03, 0x48, 0x89, 0xf8, 0xc3};
    memcpy(code_buf, shl3, sizeof shl3);
    CHECK_EQ(f(10), 80);
    /* Patch one byte in the middle: shl $3 -> shl $4 */
    code_buf[3] = 4;
    CHECK_EQ(f(10), 160);
    int bad = 0;
    for (u32 i = 0; i < 100; i++) {
        emit_mov_ret(code_buf + (i & 7) * 16, i);
        if (((fn_t)(uptr)(code_buf + (i & 7) * 16))(0) != i) bad++;
    }
    CHECK_EQ(bad, 0);
    /* Code written by rep movsb. */
    static const u8 xor_ret[] = {0x48, 0x89, 0xf8, 0x48, 0x83, 0xf0, 0x5a, 0xc3}; /* mov %rdi,%rax; xor $0x5a,%rax; ret */
    void *d = code_buf;
    const void *s = xor_ret;
    u64 n = sizeof xor_ret;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n)::"memory");
    CHECK_EQ(f(0x0f), 0x55);

    /* A block's flags may be judged dead at its end by looking at the code
     * it jumps to: when that code changes to read them, the block must see
     * it. stc; mov (%rdi),%rdx; jmp +0; then xor %eax,%eax; ret (flags dead),
     * patched to setc %al; movzbl %al,%eax; ret (CF live through the load). */
    static const u8 head[] = {0xf9, 0x48, 0x8b, 0x17, 0xeb, 0x00};
    static const u8 kill[] = {0x31, 0xc0, 0xc3};
    static const u8 use[] = {0x0f, 0x92, 0xc0, 0x0f, 0xb6, 0xc0, 0xc3};
    u64 scratch = 0;
    u8 *tail = code_buf + 256 + sizeof head;
    memcpy(code_buf + 256, head, sizeof head);
    memcpy(tail, kill, sizeof kill);
    fn_t g = (fn_t)(uptr)(code_buf + 256);
    CHECK_EQ(g((uptr)&scratch), 0);
    memcpy(tail, use, sizeof use);
    CHECK_EQ(g((uptr)&scratch), 1);

    /* An interpreted instruction stores into the running block: STR writes
     * TR (the runtime's TSS selector) over the low half of the next MOV's
     * immediate. str [abs32]; mov $0x44332211, %eax; ret */
    u8 *p = code_buf + 512;
    const u32 imm_at = (u32)(uptr)(p + 9);
    const u8 str_mov[] = {0x0f, 0x00, 0x0c, 0x25, (u8)imm_at, (u8)(imm_at >> 8), (u8)(imm_at >> 16),
                          (u8)(imm_at >> 24), 0xb8, 0x11, 0x22, 0x33, 0x44, 0xc3};
    memcpy(p, str_mov, sizeof str_mov);
    u16 tr;
    __asm__ volatile("str %0" : "=r"(tr));
    CHECK_EQ(((fn_t)(uptr)p)(0), 0x44330000u | tr);
}

static void test_alias(void)
{
    CHECK_EQ(smc_alias(0x44444444), 0x44444444);
    CHECK_EQ(smc_alias(0x55555555), 0x55555555);
    /* Data write through the alias to a function the C code calls. */
    volatile u32 *alias = (volatile u32 *)((uptr)&smc_imm_value + 0x8000000000ull);
    *alias = 0x66666666;
    CHECK_EQ(smc_imm(), 0x66666666);
    *alias = 0x77777777;
    CHECK_EQ(smc_imm(), 0x77777777);
}

void main(void)
{
    SECTION("patched function") test_patched_function();
    SECTION("running block") test_running_block();
    SECTION("code buffer") test_code_buffer();
    SECTION("alias") test_alias();
}
