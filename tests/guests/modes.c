/* modes: processor modes. 32-bit flavour.
 *  - the multiboot entry state: EAX magic, CR0.PE=1/PG=0, IF=0, flat 4 GiB
 *    CS/DS (LSL/LAR and the loader's GDT), the runtime's own flat segments;
 *  - PAE + EFER.LME + CR0.PG: compatibility mode (EFER.LMA=1 in a 32-bit
 *    segment), far jump to 64-bit code, far return to a compatibility-mode
 *    segment, far jump back, far call 64 -> compat and far return, leaving
 *    long mode again (modes_lm.S). The same code bytes (mode_probe) decode as
 *    `inc rax` in 64-bit mode and as `dec eax; inc eax` in 32-bit mode, so a
 *    translation cache that ignores the mode gives the wrong answer.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: entry state ok
 * EXPECT-OUTPUT: long mode round trip ok
 * EXPECT-OUTPUT: PASS modes
 */
#include "guest.h"

extern u32 modes_rec[19];
void modes_run(void);

static u64 gdt_base(const u8 *d) { return d[2] | d[3] << 8 | d[4] << 16 | (u32)d[7] << 24; }
static u32 gdt_limit(const u8 *d)
{
    u32 l = d[0] | d[1] << 8 | (d[6] & 0xf) << 16;
    return (d[6] & 0x80) ? (l << 12 | 0xfff) : l;
}

static void check_entry(void)
{
    int before = check_failures;
    CHECK_EQ(entry_eax, 0x2BADB002);
    CHECK(entry_cr0 & CR0_PE);
    CHECK(!(entry_cr0 & CR0_PG));
    CHECK(!(entry_eflags & FL_IF));
    CHECK(!(entry_eflags & (1u << 17))); /* VM */
    CHECK_EQ(entry_cs_limit, 0xffffffff);
    CHECK_EQ(entry_ds_limit, 0xffffffff);
    CHECK_EQ((entry_cs_ar >> 8) & 0x98, 0x98); /* present, code */
    CHECK(entry_cs_ar & (1u << 22));           /* D: 32-bit */
    CHECK_EQ((entry_ds_ar >> 8) & 0x9a, 0x92); /* present, data, writable */
    /* Bases: read the loader's descriptors through its GDTR. */
    u32 gbase = entry_gdtr[2] | entry_gdtr[3] << 8 | entry_gdtr[4] << 16 | (u32)entry_gdtr[5] << 24;
    const u8 *cs_desc = (const u8 *)(uptr)(gbase + (entry_cs & ~7u));
    const u8 *ds_desc = (const u8 *)(uptr)(gbase + (entry_ds & ~7u));
    CHECK_EQ(gdt_base(cs_desc), 0);
    CHECK_EQ(gdt_base(ds_desc), 0);
    CHECK_EQ(gdt_limit(cs_desc), 0xffffffff);
    /* Multiboot information: flags bit 0 says mem_lower/mem_upper are valid;
     * with -m 64 mem_upper (KiB above 1 MiB) is a bit under 63 MiB. */
    const u32 *mbi = (const u32 *)(uptr)entry_ebx;
    if (CHECK(mbi[0] & 1)) CHECK(mbi[2] >= 60 * 1024 && mbi[2] <= 63 * 1024);

    /* The runtime's own segments: flat, CPL 0, 32-bit. */
    u16 cs, ds, ss;
    __asm__ volatile("mov %%cs, %0; mov %%ds, %1; mov %%ss, %2" : "=r"(cs), "=r"(ds), "=r"(ss));
    CHECK_EQ(cs, GDT_CODE32);
    CHECK_EQ(ds, GDT_DATA);
    CHECK_EQ(ss, GDT_DATA);
    u32 lim;
    __asm__ volatile("lsl %1, %0" : "=r"(lim) : "r"((u32)GDT_CODE32));
    CHECK_EQ(lim, 0xffffffff);
    CHECK(read_cr0() & CR0_PE);
    if (check_failures == before) puts("entry state ok\n");
}

static void check_long_mode(void)
{
    int before = check_failures;
    modes_run();
    const u32 *r = modes_rec;
    CHECK_EQ(r[0] & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA); /* LMA set by CR0.PG */
    CHECK_EQ(r[1], 0);    /* compatibility mode decodes 48 as dec eax */
    CHECK_EQ(r[2], GDT_CODE64);
    CHECK_EQ(r[3] & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
    CHECK_EQ(r[4], 1);    /* 64-bit mode decodes 48 as REX.W */
    CHECK_EQ(r[5], 8);    /* push is 8 bytes */
    CHECK_EQ(r[6], 1);    /* 64-bit arithmetic */
    CHECK_EQ(r[7], GDT_CODE32);
    CHECK_EQ(r[8], 0);
    CHECK_EQ(r[9], 4);    /* push is 4 bytes in compatibility mode */
    CHECK_EQ(r[10], 1);
    CHECK_EQ(r[11], GDT_CODE32);
    CHECK_EQ(r[12], 0);
    CHECK_EQ(r[13], GDT_CODE64); /* m16:32 far call pushed the 64-bit CS as 32 bits */
    CHECK_EQ(r[14], GDT_CODE64);
    CHECK_EQ(r[15], 1);
    CHECK_EQ(r[16] & (EFER_LME | EFER_LMA), 0);
    CHECK_EQ(r[17] & (CR0_PG | CR0_PE), CR0_PE);
    CHECK_EQ(r[18], 0x77);
    /* Back in legacy protected mode: plain 32-bit code still works. */
    u32 x = 0x48;
    __asm__ volatile("inc %0" : "+r"(x));
    CHECK_EQ(x, 0x49);
    if (check_failures == before) puts("long mode round trip ok\n");
}

void main(void)
{
    check_entry();
    check_long_mode();
}
