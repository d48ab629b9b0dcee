/* realmode: back to real mode and out again. 32-bit flavour; the real-mode
 * code is realmode_rm.S, copied to 0x8000 and run with CS = 0x0800.
 *  - the way down: 16-bit protected-mode segment, CR0.PE cleared, far jump;
 *  - real-mode addressing: base = selector * 16, 16-bit offsets wrapping at
 *    64 KiB, a word at offset 0xffff raising #GP (vector 13, no error code,
 *    IP of the instruction), #UD and #DE through the IVT (LIDT base 0);
 *  - INT n: a 6-byte frame, IF and TF cleared in the handler, IRET restoring
 *    FLAGS;
 *  - operand- and address-size prefixes (32-bit arithmetic; a 32-bit offset
 *    above 0xffff faults in a 64 KiB segment);
 *  - unreal mode: FS keeps the 4 GiB limit it had in protected mode, also
 *    after a real-mode reload of FS (the base changes, the limit stays);
 *  - far CALL/RET, and the way back up: CR0.PE set, 32-bit far jump;
 *  - FNSAVE's 16- and 32-bit real-mode images (20-bit linear FIP, FOP).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: real mode ok
 * EXPECT-OUTPUT: PASS realmode
 */
#include "guest.h"

extern u64 gdt[];
extern u8 gdt_ptr[];
extern u8 rm_blob[], rm_blob_end[], rm_gp_insn[], rm_fld1_a[], rm_fld1_b[];
void rm_run(void);

#define RM_BASE 0x8000
#define REC ((volatile u32*)0x7000)
enum {
    R_ENTERED,
    R_CR0,
    R_SEGWRITE,
    R_WRAP,
    R_GP_VEC,
    R_GP_IP,
    R_UD_VEC,
    R_DE_VEC,
    R_INT_VEC,
    R_INT_FLAGS,
    R_INT_SPDELTA,
    R_OPSIZE,
    R_ADDR32_VEC,
    R_UNREAL,
    R_UNREAL_RELOAD,
    R_FARCALL,
    R_IRET_FLAGS,
    R_COUNT = 20
};

static u64 table[9] __attribute__((aligned(16)));
static struct __attribute__((packed)) {
    u16 limit;
    u32 base;
} table_ptr;

static void real_mode(void) {
    /* The 16-bit data segment for the way down (selector 0x40). */
    for (int i = 0; i < 8; i++) table[i] = gdt[i];
    table[8] = 0x000092000000ffffull;
    table_ptr.limit = sizeof table - 1;
    table_ptr.base = (u32)(uptr)table;
    __asm__ volatile("lgdt %0" ::"m"(table_ptr));

    u32 size = (u32)(rm_blob_end - rm_blob);
    CHECK(size < 0x1000);
    memcpy((void*)RM_BASE, rm_blob, size);
    for (int i = 0; i < R_COUNT; i++) REC[i] = 0;
    *(volatile u16*)0x30010 = 0;
    *(volatile u16*)0x40010 = 0x1111; /* where an access that did not wrap would land */
    *(volatile u32*)0x300000 = 0x5eed1234;
    *(volatile u32*)0x300004 = 0x0ddba11;

    rm_run();
    __asm__ volatile("lgdt (%0)" ::"r"(gdt_ptr));

    CHECK_EQ(REC[R_ENTERED], 1);
    CHECK_EQ(REC[R_CR0] & 0x80000001u, 0);
    CHECK_EQ(REC[R_SEGWRITE] & 0xffff, 0xbeef);
    CHECK_EQ(*(volatile u16*)0x30010, 0xbeef); /* DS = 0x3000, offset 0x10 */
    CHECK_EQ(REC[R_WRAP] & 0xffff, 0xbeef);    /* 0xfff0 + 0x20 wrapped to 0x0010 */
    /* QEMU TCG does not check real-mode segment limits. */
    CHECK_EQ_SDM(REC[R_GP_VEC], 13, "a word at offset 0xffff exceeds the 64 KiB limit: #GP (real mode)");
    if (REC[R_GP_VEC] == 13) CHECK_EQ(REC[R_GP_IP] & 0xffff, (u32)(rm_gp_insn - rm_blob)); /* a fault */
    CHECK_EQ(REC[R_UD_VEC], 6);
    CHECK_EQ(REC[R_DE_VEC], 0);
    CHECK_EQ(REC[R_INT_VEC], 0x40);
    CHECK_EQ(REC[R_INT_FLAGS] & (FL_IF | FL_TF), 0);
    CHECK_EQ(REC[R_INT_SPDELTA] & 0xffff, 6);
    CHECK(REC[R_IRET_FLAGS] & FL_IF);
    CHECK_EQ(REC[R_OPSIZE], 0x23456789);
    CHECK_EQ_SDM(REC[R_ADDR32_VEC], 13, "a 32-bit offset above the 64 KiB limit: #GP (real mode)");
    CHECK_EQ(REC[R_UNREAL], 0x5eed1234);
    CHECK_EQ(REC[R_UNREAL_RELOAD], 0x0ddba11);
    CHECK_EQ(REC[R_FARCALL], 0xfa2ca11);

    /* FNSAVE images after FNINIT; FLD1 (opcode D9 E8: FOP 0x1e8), both at
     * CS = 0x0800: FIP is the 20-bit linear address. */
    const volatile u16 *s16 = (const volatile u16 *)0x7100;
    const u32 fip_a = RM_BASE + (u32)(rm_fld1_a - rm_blob);
    CHECK_EQ(s16[0], 0x037f); /* FCW */
    CHECK_EQ(s16[1], 0x3800); /* FSW: TOP = 7 */
    CHECK_EQ(s16[2], 0x3fff); /* FTW: physical register 7 valid, the rest empty */
    CHECK_EQ_SDM(s16[3], fip_a & 0xffff, "the real-mode FSAVE image holds the 20-bit linear FIP");
    CHECK_EQ(s16[4] >> 12, fip_a >> 16);
    CHECK_EQ_SDM(s16[4] & 0x7ff, 0x1e8, "the real-mode FSAVE image holds the last x87 opcode");
    CHECK_EQ(*(const volatile u64 *)(0x7100 + 14), 0x8000000000000000ull); /* ST0 = 1.0 */
    CHECK_EQ(s16[7 + 4], 0x3fff);
    const volatile u32 *s32 = (const volatile u32 *)0x7200;
    const u32 fip_b = RM_BASE + (u32)(rm_fld1_b - rm_blob);
    CHECK_EQ(s32[0] & 0xffff, 0x037f);
    CHECK_EQ(s32[1] & 0xffff, 0x3800);
    CHECK_EQ(s32[2] & 0xffff, 0x3fff);
    CHECK_EQ_SDM(s32[3] & 0xffff, fip_b & 0xffff, "the real-mode FSAVE image holds the 20-bit linear FIP");
    CHECK_EQ((s32[4] >> 12) & 0xffff, fip_b >> 16);
    CHECK_EQ_SDM(s32[4] & 0x7ff, 0x1e8, "the real-mode FSAVE image holds the last x87 opcode");
    CHECK_EQ(*(const volatile u64 *)(0x7200 + 28), 0x8000000000000000ull);
}

int main(void) {
    SECTION("real mode") real_mode();
    guest_finish();
}
