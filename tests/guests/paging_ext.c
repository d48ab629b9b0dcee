/* paging_ext: the protection and TLB-control features of 4-level paging,
 * each where CPUID advertises it ("SKIP <name>" otherwise):
 * U/S and WP for user and supervisor accesses (CPL 3 through IRETQ and a
 * DPL-3 gate), SMEP (supervisor fetch from a user page: #PF with I/D),
 * SMAP (supervisor data access to a user page with EFLAGS.AC=0; STAC/CLAC,
 * POPF; string instructions; implicit supervisor access to an LDT in a user
 * page at CPL 3 whatever AC says), PGE (global entries and what drops them),
 * PCID (CR4.PCIDE rules, CR3 bit 63, translations after a PCID switch),
 * INVPCID (types 0-3, #GP checks), reserved bits at every level (RSVD,
 * MAXPHYADDR from CPUID), and page-straddling accesses: stores that write
 * nothing when the second page faults, instruction fetches that fault with
 * CR2 = the second page (also after the block was translated with it mapped,
 * or mapped elsewhere).
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: user/supervisor ok
 * EXPECT-OUTPUT: smep ok
 * EXPECT-OUTPUT: smap ok
 * EXPECT-OUTPUT: global pages ok
 * EXPECT-OUTPUT: pcid ok
 * EXPECT-OUTPUT: invpcid ok
 * EXPECT-OUTPUT: reserved bits ok
 * EXPECT-OUTPUT: straddling ok
 * EXPECT-OUTPUT: PASS paging_ext
 * QEMU-ARGS: -cpu max
 */
#include "guest.h"

#define P 0x001ull
#define RW 0x002ull
#define US 0x004ull
#define A 0x020ull
#define D 0x040ull
#define PS 0x080ull
#define G 0x100ull
#define PF_P 0x01
#define PF_W 0x02
#define PF_U 0x04
#define PF_RSVD 0x08
#define PF_ID 0x10
#define CR4_PGE (1ul << 7)
#define CR4_PCIDE (1ul << 17)
#define CR4_SMEP (1ul << 20)
#define CR4_SMAP (1ul << 21)
#define FL_AC (1ul << 18)

#define USER_CS 0x4b  /* GDT entry 9: 64-bit code, DPL 3 */
#define USER_SS 0x53  /* GDT entry 10: data, DPL 3 */
#define LDT_SEL 0x58  /* GDT entries 11-12: the LDT */
#define LDT_DATA 0x0f /* LDT entry 1: data, DPL 3 */
#define USER_VECTOR 0x80

static volatile u64 pml4[512] __attribute__((aligned(4096)));
static volatile u64 pdpt0[512] __attribute__((aligned(4096)));
static volatile u64 pd0[512] __attribute__((aligned(4096)));
static volatile u64 pd1[512] __attribute__((aligned(4096)));
static volatile u64 pt1[512] __attribute__((aligned(4096)));
static u8 user_code[4096] __attribute__((aligned(4096)));
static u8 user_data[4096] __attribute__((aligned(4096)));
static u8 sup_data[4096] __attribute__((aligned(4096)));
static u8 buf1[4096] __attribute__((aligned(4096)));
static u8 buf2[4096] __attribute__((aligned(4096)));
static u8 user_stack[4096] __attribute__((aligned(4096)));
static u8 straddle1[4096] __attribute__((aligned(4096)));
static u8 straddle2[4096] __attribute__((aligned(4096)));
static u8 straddle3[4096] __attribute__((aligned(4096)));
static u64 ldt[512] __attribute__((aligned(4096)));
static u8 kernel_stack[8192] __attribute__((aligned(16)));
static u64 new_gdt[13] __attribute__((aligned(16)));

/* The window at 1 GiB: one 4 KiB page each (pt1 index). */
#define WIN 0x40000000ull
#define U_CODE (WIN + 0x0000)     /* user_code, user */
#define U_DATA (WIN + 0x1000)     /* user_data, user, writable */
#define U_RO (WIN + 0x2000)       /* user_data, user, read-only */
#define S_DATA (WIN + 0x3000)     /* sup_data, supervisor, writable */
#define S_RO (WIN + 0x4000)       /* sup_data, supervisor, read-only */
#define TLBPG (WIN + 0x5000)      /* buf1 or buf2 */
#define U_STACK (WIN + 0x6000)    /* user_stack */
#define S_CODE (WIN + 0x7000)     /* user_code, supervisor */
#define NOTPR (WIN + 0x8000)      /* not present */
#define STR1 (WIN + 0x9000)       /* straddle1 */
#define STR2 (WIN + 0xa000)       /* straddle2 (or straddle3, or not present) */
#define U_LDT (WIN + 0xb000)      /* ldt, user */
#define RSVD4K (WIN + 0xc000)     /* reserved bit set */
#define RSVD2M (WIN + 0x200000)   /* pd1[1]: 2 MiB page, bit 13 set */
#define RSVD1G 0x80000000ull      /* pdpt0[2]: 1 GiB page, bit 13 set */
#define RSVD_PML4 0x8000000000ull /* pml4[1]: bit MAXPHYADDR set */

#define PTE(va) pt1[((va)-WIN) >> 12]
#define V64(a) ((volatile u64*)(a))

static int has_smep, has_smap, has_pcid, has_invpcid, has_1g, has_pge, maxphyaddr;
static u64 kernel_cr3;

/* ---- user-mode blobs: copied to user_code, entered with RDI/RSI set, they
 * end with INT 0x80 (a DPL-3 gate) whose handler returns to the kernel. */
extern u8 blob_start[], blob_read[], blob_write[], blob_load_ds[], blob_ac_load_ds[], blob_ac_load_ds_mov[],
    blob_stac[], blob_invpcid[], blob_ret42[], blob_end[];
extern u8 user_return[];
__asm__(".pushsection .text\n"
        "blob_start:\n"
        "blob_read: mov (%rdi), %rax\n int $0x80\n"
        "blob_write: mov %rsi, (%rdi)\n mov $1, %eax\n int $0x80\n"
        "blob_load_ds: mov %si, %ds\n mov $1, %eax\n int $0x80\n"
        "blob_ac_load_ds: pushfq\n orq $0x40000, (%rsp)\n popfq\n"
        "blob_ac_load_ds_mov: mov %si, %ds\n mov $1, %eax\n int $0x80\n"
        "blob_stac: stac\n mov $1, %eax\n int $0x80\n"
        "blob_invpcid: invpcid (%rdi), %rsi\n mov $1, %eax\n int $0x80\n"
        "blob_ret42: mov $42, %eax\n ret\n"
        "blob_end:\n"
        /* user_enter(entry, rdi, rsi): IRETQ to CPL 3; returns the user's RAX. */
        "user_enter:\n"
        " push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        " mov %rsp, kernel_rsp(%rip)\n"
        " mov %rdi, %rcx\n mov %rsi, %rdi\n mov %rdx, %rsi\n"
        " pushq $0x53\n pushq $0x40007000\n pushq $2\n pushq $0x4b\n push %rcx\n"
        " iretq\n"
        "user_return:\n"
        " mov $0x10, %ecx\n mov %ecx, %ds\n mov %ecx, %es\n"
        " pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        " ret\n"
        ".popsection\n");
u64 user_enter(u64 entry, u64 rdi, u64 rsi);
u64 kernel_rsp;

/* Back to the kernel from INT 0x80 or from an exception at CPL 3 (whose
 * details last_trap holds); a fault returns 0xdead. */
static int user_hook(struct trap_frame* f) {
    if ((f->cs & 3) != 3) return 0;
    if (f->vector != USER_VECTOR) f->ax = 0xdead;
    f->ip = (u64)user_return;
    f->cs = GDT_CODE64;
    f->ss = GDT_DATA;
    f->sp = kernel_rsp;
    f->flags = 2;
    return 1;
}

static u64 run_user(u8* blob, u64 rdi, u64 rsi) {
    trap_reset();
    trap_hook = user_hook;
    u64 r = user_enter(U_CODE + (u64)(blob - blob_start), rdi, rsi);
    trap_hook = 0;
    return r;
}

/* A user access that completes: it ends in INT 0x80 only. */
#define CHECK_USER_OK(r)                                                                                     \
    do {                                                                                                     \
        CHECK_EQ(last_trap.count, 1);                                                                        \
        CHECK_EQ(last_trap.vector, USER_VECTOR);                                                             \
        (void)(r);                                                                                           \
    } while (0)
/* A user access that faults: #PF with `err` at the blob's instruction. */
#define CHECK_USER_PF(r, blob, err, addr)                                                                    \
    do {                                                                                                     \
        CHECK_EQ((r), 0xdead);                                                                               \
        CHECK_TRAP(14, (err), U_CODE + (u64)((blob)-blob_start));                                            \
        CHECK_EQ(last_trap.cr2, (addr));                                                                     \
    } while (0)

/* ---- kernel-mode accesses that may fault ---- */
#define K_ACCESS(insn, addr, err, fault_addr)                                                                \
    do {                                                                                                     \
        uptr ip_;                                                                                            \
        trap_reset();                                                                                        \
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT(insn) : "=&r"(ip_) : "r"(addr) : "rax", "memory");      \
        CHECK_TRAP(14, (err), ip_);                                                                          \
        CHECK_EQ(last_trap.cr2, (uptr)(fault_addr));                                                         \
    } while (0)
#define K_READ_PF(addr, err) K_ACCESS("mov (%1), %%rax", addr, err, addr)
#define K_WRITE_PF(addr, err) K_ACCESS("movq $1, (%1)", addr, err, addr)
#define K_READ_OK(addr)                                                                                      \
    do {                                                                                                     \
        trap_reset();                                                                                        \
        (void)*V64(addr);                                                                                    \
        CHECK_EQ(last_trap.count, 0);                                                                        \
    } while (0)

/* Calls code at `addr`; a #PF while fetching it (at `fault_ip`) returns 0xdead. */
static volatile u64 fetch_lo, fetch_hi;
static int fetch_hook(struct trap_frame* f) {
    if (f->vector != 14 || f->ip < fetch_lo || f->ip >= fetch_hi) return 0;
    f->ip = *(u64*)f->sp;
    f->sp += 8;
    f->ax = 0xdead;
    return 1;
}
static u32 call_at(u64 addr, u32 eax) {
    fetch_lo = addr & ~0xfffull;
    fetch_hi = fetch_lo + 0x2000;
    trap_reset();
    trap_hook = fetch_hook;
    u32 r;
    __asm__ volatile("call *%1"
                     : "=a"(r)
                     : "r"(addr), "a"(eax)
                     : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
    trap_hook = 0;
    return r;
}

static int fetch_id_bit(void) { return (read_cr4() & CR4_SMEP) || (rdmsr(MSR_EFER) & EFER_NXE) ? PF_ID : 0; }

static void gp_expected(uptr ip) { CHECK_TRAP(13, 0, ip); }

static u64 desc_base(u64 lo, u64 hi) { return ((lo >> 16) & 0xffffff) | ((lo >> 56) << 24) | (hi << 32); }

static void setup(void) {
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    has_pcid = (c >> 17) & 1;
    has_pge = (d >> 13) & 1;
    cpuid(7, 0, &a, &b, &c, &d);
    has_smep = (b >> 7) & 1;
    has_invpcid = (b >> 10) & 1;
    has_smap = (b >> 20) & 1;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    has_1g = (d >> 26) & 1;
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    maxphyaddr = a & 0xff;

    for (u64 i = 0; i < 512; i++) pd0[i] = i << 21 | PS | P | RW; /* supervisor identity, 1 GiB */
    pdpt0[0] = (u64)pd0 | P | RW | US;
    pdpt0[1] = (u64)pd1 | P | RW | US;
    pd1[0] = (u64)pt1 | P | RW | US;
    PTE(U_CODE) = (u64)user_code | P | US;
    PTE(U_DATA) = (u64)user_data | P | RW | US;
    PTE(U_RO) = (u64)user_data | P | US;
    PTE(S_DATA) = (u64)sup_data | P | RW;
    PTE(S_RO) = (u64)sup_data | P;
    PTE(TLBPG) = (u64)buf1 | P | RW;
    PTE(U_STACK) = (u64)user_stack | P | RW | US;
    PTE(S_CODE) = (u64)user_code | P;
    PTE(STR1) = (u64)straddle1 | P | RW;
    PTE(STR2) = (u64)straddle2 | P | RW;
    PTE(U_LDT) = (u64)ldt | P | RW | US;
    pml4[0] = (u64)pdpt0 | P | RW | US;
    kernel_cr3 = (u64)pml4;
    write_cr3(kernel_cr3);
    write_cr0(read_cr0() | CR0_WP);
    memcpy(user_code, blob_start, (unsigned long)(blob_end - blob_start));

    /* GDT with user segments and an LDT; the TSS's RSP0 gets a stack of its own. */
    extern u64 gdt[];
    for (int i = 0; i < 9; i++) new_gdt[i] = gdt[i];
    new_gdt[9] = 0x00AFFA000000FFFFull;
    new_gdt[10] = 0x00CFF2000000FFFFull;
    new_gdt[11] = 0xfffull | ((U_LDT & 0xffffff) << 16) | (0x82ull << 40) | ((U_LDT >> 24 & 0xff) << 56);
    new_gdt[12] = U_LDT >> 32;
    ldt[1] = 0x00CFF3000000FFFFull;
    struct __attribute__((packed)) {
        u16 limit;
        u64 base;
    } gp = {sizeof new_gdt - 1, (u64)new_gdt};
    __asm__ volatile("lgdt %0\n lldt %w1" ::"m"(gp), "r"(LDT_SEL));
    u64 tss = desc_base(new_gdt[GDT_TSS / 8], new_gdt[GDT_TSS / 8 + 1]);
    *(u64*)(tss + 4) = (u64)(kernel_stack + sizeof kernel_stack);
    idt_set_gate(USER_VECTOR, 1, 3, 0);
}

/* ---------------------------------------------------------------- U/S, WP */
static void test_user_supervisor(void) {
    *(volatile u64*)user_data = 0x1111;
    *(volatile u64*)sup_data = 0x2222;
    u64 r = run_user(blob_read, U_DATA, 0);
    CHECK_USER_OK(r);
    CHECK_EQ(r, 0x1111);
    r = run_user(blob_write, U_DATA + 8, 0x3333);
    CHECK_USER_OK(r);
    CHECK_EQ(*(volatile u64*)(user_data + 8), 0x3333);
    r = run_user(blob_read, U_RO, 0);
    CHECK_EQ(r, 0x1111);
    r = run_user(blob_write, U_RO + 16, 5);
    CHECK_USER_PF(r, blob_write, PF_P | PF_W | PF_U, U_RO + 16);
    r = run_user(blob_read, S_DATA, 0);
    CHECK_USER_PF(r, blob_read, PF_P | PF_U, S_DATA);
    r = run_user(blob_write, S_DATA + 8, 5);
    CHECK_USER_PF(r, blob_write, PF_P | PF_W | PF_U, S_DATA + 8);
    r = run_user(blob_read, NOTPR + 8, 0);
    CHECK_USER_PF(r, blob_read, PF_U, NOTPR + 8);
    /* A user read straddling into a supervisor page: CR2 = that page. */
    r = run_user(blob_read, S_DATA - 4, 0);
    CHECK_USER_PF(r, blob_read, PF_P | PF_U, S_DATA);

    /* WP=1: supervisor writes honour R/W on user and supervisor pages. */
    K_WRITE_PF(S_RO + 8, PF_P | PF_W);
    K_WRITE_PF(U_RO + 8, PF_P | PF_W);
    CHECK_EQ(*(volatile u64*)(sup_data + 8), 0);
    /* WP=0: they do not; user writes still do. */
    write_cr0(read_cr0() & ~(uptr)CR0_WP);
    trap_reset();
    *V64(S_RO + 8) = 0x44;
    *V64(U_RO + 24) = 0x55;
    CHECK_EQ(last_trap.count, 0);
    CHECK_EQ(*(volatile u64*)(sup_data + 8), 0x44);
    CHECK_EQ(*(volatile u64*)(user_data + 24), 0x55);
    r = run_user(blob_write, U_RO + 16, 5);
    CHECK_USER_PF(r, blob_write, PF_P | PF_W | PF_U, U_RO + 16);
    write_cr0(read_cr0() | CR0_WP);
    K_WRITE_PF(S_RO + 8, PF_P | PF_W);
}

/* -------------------------------------------------------------------- SMEP */
static void test_smep(void) {
    if (!has_smep) {
        skip("smep");
        return;
    }
    const u64 user_fn = U_CODE + (u64)(blob_ret42 - blob_start);
    const u64 sup_fn = S_CODE + (u64)(blob_ret42 - blob_start);
    CHECK_EQ(call_at(user_fn, 0), 42); /* SMEP off: supervisor code may run from user pages */
    write_cr4(read_cr4() | CR4_SMEP);
    CHECK_EQ(call_at(sup_fn, 0), 42);
    CHECK_EQ(call_at(user_fn, 0), 0xdead);
    CHECK_TRAP(14, PF_P | PF_ID, user_fn); /* I/D even without EFER.NXE */
    CHECK_EQ(last_trap.cr2, user_fn);
    /* Data accesses to user pages are not SMEP's business. */
    K_READ_OK(U_DATA);
    /* User code still runs at CPL 3. */
    u64 r = run_user(blob_read, U_DATA, 0);
    CHECK_USER_OK(r);
    write_cr4(read_cr4() & ~CR4_SMEP);
    CHECK_EQ(call_at(user_fn, 0), 42);
}

/* -------------------------------------------------------------------- SMAP */
static void stac(void) { __asm__ volatile(".byte 0x0f, 0x01, 0xcb" ::: "memory"); }
static void clac(void) { __asm__ volatile(".byte 0x0f, 0x01, 0xca" ::: "memory"); }

static void test_smap(void) {
    if (!has_smap) {
        skip("smap");
        return;
    }
    *(volatile u64*)user_data = 0x1234;
    /* SMAP off: the LDT in a user page is readable at CPL 3. */
    u64 r = run_user(blob_load_ds, 0, LDT_DATA);
    CHECK_USER_OK(r);

    K_READ_OK(U_DATA); /* fills the TLB while SMAP is off */
    write_cr4(read_cr4() | CR4_SMAP);
    CHECK(!(read_flags() & FL_AC));
    K_READ_PF(U_DATA, PF_P);
    K_WRITE_PF(U_DATA + 8, PF_P | PF_W);
    K_READ_OK(S_DATA);
    stac();
    CHECK(read_flags() & FL_AC);
    trap_reset();
    CHECK_EQ(*V64(U_DATA), 0x1234);
    *V64(U_DATA + 8) = 0x77;
    CHECK_EQ(last_trap.count, 0);
    CHECK_EQ(*(volatile u64*)(user_data + 8), 0x77);
    clac();
    CHECK(!(read_flags() & FL_AC));
    K_READ_PF(U_DATA, PF_P);
    /* POPF sets AC too. */
    __asm__ volatile("pushfq\n orq $0x40000, (%%rsp)\n popfq" ::: "memory");
    K_READ_OK(U_DATA);
    clac();
    /* String instructions: a copy out of a user page. */
    {
        u64 src = U_DATA, dst = (u64)sup_data, n = 16;
        uptr ip;
        stac();
        __asm__ volatile("rep movsb" : "+S"(src), "+D"(dst), "+c"(n)::"memory");
        clac();
        src = U_DATA, dst = (u64)sup_data, n = 16;
        trap_reset();
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("rep movsb")
                         : "=&r"(ip), "+S"(src), "+D"(dst), "+c"(n)::"memory");
        CHECK_TRAP(14, PF_P, ip);
        CHECK_EQ(last_trap.cr2, U_DATA);
        CHECK_EQ(n, 16);
    }
    /* CPL 3: explicit user accesses are unaffected. */
    r = run_user(blob_read, U_DATA, 0);
    CHECK_USER_OK(r);
    CHECK_EQ(r, 0x1234);
    /* CPL 3 loading DS from an LDT in a user page: an implicit supervisor
     * access, refused whatever EFLAGS.AC says (U/S=0 in the error code). */
    r = run_user(blob_load_ds, 0, LDT_DATA);
    CHECK_USER_PF(r, blob_load_ds, PF_P, U_LDT + 8);
    r = run_user(blob_ac_load_ds, 0, LDT_DATA);
    CHECK_USER_PF(r, blob_ac_load_ds_mov, PF_P, U_LDT + 8);
    CHECK(last_trap.flags & FL_AC);
    /* CPL 0 with EFLAGS.AC=1: the descriptor read is still an implicit
     * supervisor access, refused on a user page. */
    {
        uptr ip;
        stac();
        trap_reset();
        __asm__ volatile("mov %%ds, %%dx\n"
                         "mov $661f, %0\n" ASM_FAULT("mov %w1, %%ds") "mov %%dx, %%ds\n"
                         : "=&r"(ip)
                         : "r"(LDT_DATA)
                         : "rdx", "memory");
        clac();
        CHECK_EQ_SDM(last_trap.count, 1, "SMAP refuses implicit supervisor accesses to user pages whatever EFLAGS.AC");
        if (last_trap.count == 1) {
            CHECK_EQ(last_trap.vector, 14);
            CHECK_EQ(last_trap.error, PF_P);
            CHECK_EQ(last_trap.cr2, U_LDT + 8);
            CHECK_EQ(last_trap.ip, ip);
        }
    }
    /* STAC at CPL 3: #UD. */
    r = run_user(blob_stac, 0, 0);
    CHECK_EQ(r, 0xdead);
    CHECK_TRAP(6, 0, U_CODE + (u64)(blob_stac - blob_start));
    write_cr4(read_cr4() & ~CR4_SMAP);
    K_READ_OK(U_DATA);
}

/* -------------------------------------------------------------- PGE */
static void set_tlbpg(u8* buf, u64 flags) { PTE(TLBPG) = (u64)buf | P | RW | flags; }

static void test_global(void) {
    if (!has_pge) {
        skip("global pages");
        return;
    }
    *(volatile u64*)buf1 = 1;
    *(volatile u64*)buf2 = 2;
    /* CR4.PGE=0: G is ignored; a CR3 write drops the translation. */
    write_cr4(read_cr4() & ~CR4_PGE);
    set_tlbpg(buf1, G);
    invlpg((void*)TLBPG);
    CHECK_EQ(*V64(TLBPG), 1);
    set_tlbpg(buf2, G);
    write_cr3(read_cr3());
    CHECK_EQ(*V64(TLBPG), 2);

    write_cr4(read_cr4() | CR4_PGE);
    set_tlbpg(buf1, G);
    invlpg((void*)TLBPG);
    CHECK_EQ(*V64(TLBPG), 1);
    /* INVLPG drops a global translation. */
    set_tlbpg(buf2, G);
    invlpg((void*)TLBPG);
    CHECK_EQ(*V64(TLBPG), 2);
    /* Toggling CR4.PGE drops global translations. */
    set_tlbpg(buf1, G);
    write_cr4(read_cr4() & ~CR4_PGE);
    write_cr4(read_cr4() | CR4_PGE);
    CHECK_EQ(*V64(TLBPG), 1);
    /* Non-global translations go with a CR3 write. */
    set_tlbpg(buf1, 0);
    invlpg((void*)TLBPG);
    CHECK_EQ(*V64(TLBPG), 1);
    set_tlbpg(buf2, 0);
    write_cr3(read_cr3());
    CHECK_EQ(*V64(TLBPG), 2);
    /* Writes through a global translation set D. */
    set_tlbpg(buf1, G);
    invlpg((void*)TLBPG);
    *V64(TLBPG + 8) = 9;
    CHECK_EQ(PTE(TLBPG) & (A | D), A | D);
    write_cr4(read_cr4() & ~CR4_PGE);
}

/* -------------------------------------------------------------- PCID */
static void test_pcid(void) {
    if (!has_pcid) {
        skip("pcid");
        return;
    }
    uptr ip;
    /* Bit 63 of CR3 is reserved without CR4.PCIDE. */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %1, %%cr3")
                     : "=&r"(ip)
                     : "r"(kernel_cr3 | 1ull << 63)
                     : "memory");
    gp_expected(ip);
    CHECK_EQ(read_cr3(), kernel_cr3);
    /* CR4.PCIDE can be set only while CR3[11:0] = 0. */
    write_cr3(kernel_cr3 | 0x008); /* PWT */
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov %1, %%cr4")
                     : "=&r"(ip)
                     : "r"(read_cr4() | CR4_PCIDE)
                     : "memory");
    gp_expected(ip);
    CHECK(!(read_cr4() & CR4_PCIDE));
    write_cr3(kernel_cr3);
    write_cr4(read_cr4() | CR4_PCIDE);
    CHECK(read_cr4() & CR4_PCIDE);

    /* Switching PCIDs: translations of the new one follow the tables. */
    *(volatile u64*)buf1 = 1;
    *(volatile u64*)buf2 = 2;
    set_tlbpg(buf1, 0);
    invlpg((void*)TLBPG);
    CHECK_EQ(*V64(TLBPG), 1);
    set_tlbpg(buf2, 0);
    write_cr3(kernel_cr3 | 1);
    CHECK_EQ(read_cr3(), kernel_cr3 | 1);
    CHECK_EQ(*V64(TLBPG), 2);
    /* Bit 63 (keep the new PCID's translations) is never stored. */
    write_cr3(kernel_cr3 | 2 | 1ull << 63);
    CHECK_EQ(read_cr3(), kernel_cr3 | 2);
    CHECK_EQ(*V64(TLBPG), 2);
    write_cr3(kernel_cr3);
    CHECK_EQ(*V64(TLBPG), 2);
    /* Clearing CR4.PCIDE flushes everything. */
    set_tlbpg(buf1, G);
    write_cr4(read_cr4() & ~CR4_PCIDE);
    CHECK_EQ(*V64(TLBPG), 1);
    CHECK(!(read_cr4() & CR4_PCIDE));
}

/* ------------------------------------------------------------ INVPCID */
struct invpcid_desc {
    u64 pcid, addr;
} __attribute__((aligned(16)));

static int invpcid_faults(u64 type, u64 pcid, u64 addr) {
    static struct invpcid_desc desc;
    desc.pcid = pcid;
    desc.addr = addr;
    uptr ip;
    trap_reset();
    __asm__ volatile("mov $661f, %0\n" ASM_FAULT("invpcid (%1), %2")
                     : "=&r"(ip)
                     : "r"(&desc), "r"(type)
                     : "memory");
    if (last_trap.count == 0) return 0;
    CHECK_TRAP(13, 0, ip);
    return 1;
}

static void test_invpcid(void) {
    if (!has_invpcid || !has_pcid) {
        skip("invpcid");
        return;
    }
    /* PCIDE=0: PCID must be 0 for types 0 and 1. */
    CHECK(invpcid_faults(0, 1, TLBPG));
    CHECK(invpcid_faults(1, 1, 0));
    CHECK(!invpcid_faults(2, 1, 0));
    write_cr4(read_cr4() | CR4_PCIDE);
    CHECK(invpcid_faults(4, 0, 0));                      /* type > 3 */
    CHECK(invpcid_faults(0, 0x1000, TLBPG));             /* descriptor bits 63:12 */
    CHECK(invpcid_faults(0, 0, 0x0000800000000000ull));  /* non-canonical address for type 0 */
    CHECK(!invpcid_faults(1, 0, 0x0000800000000000ull)); /* ... which the other types ignore */

    *(volatile u64*)buf1 = 1;
    *(volatile u64*)buf2 = 2;
    static const struct { u64 type, global; } cases[] = {{0, 0}, {1, 0}, {2, 0}, {2, G}, {3, 0}};
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        u8 *from = (i & 1) ? buf2 : buf1, *to = (i & 1) ? buf1 : buf2;
        write_cr4(read_cr4() | CR4_PGE);
        set_tlbpg(from, cases[i].global);
        invlpg((void*)TLBPG);
        CHECK_EQ(*V64(TLBPG), *(volatile u64*)from);
        set_tlbpg(to, cases[i].global);
        CHECK(!invpcid_faults(cases[i].type, 0, TLBPG));
        CHECK_EQ(*V64(TLBPG), *(volatile u64*)to);
        write_cr4(read_cr4() & ~CR4_PGE);
    }
    /* CPL 3: #GP(0). */
    u64 r = run_user(blob_invpcid, U_DATA, 2);
    CHECK_EQ(r, 0xdead);
    CHECK_TRAP(13, 0, U_CODE + (u64)(blob_invpcid - blob_start));
    write_cr4(read_cr4() & ~CR4_PCIDE);
}

/* ------------------------------------------------------- reserved bits */
static void check_rsvd(u64 addr, int write) {
    uptr ip;
    trap_reset();
    if (write)
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("movq $1, (%1)") : "=&r"(ip) : "r"(addr) : "memory");
    else
        __asm__ volatile("mov $661f, %0\n" ASM_FAULT("mov (%1), %%rax")
                         : "=&r"(ip)
                         : "r"(addr)
                         : "rax", "memory");
    const u64 w = write ? PF_W : 0;
    CHECK_EQ(last_trap.count, 1);
    CHECK_EQ(last_trap.vector, 14);
    CHECK_EQ(last_trap.ip, ip);
    CHECK_EQ(last_trap.cr2, addr);
    CHECK_EQ(last_trap.error & ~(uptr)PF_P, PF_RSVD | w);
    CHECK_EQ_SDM(last_trap.error, PF_P | PF_RSVD | w,
                 "#PF error code of a reserved-bit violation has P=1 and RSVD=1");
}

static void test_reserved(void) {
    CHECK(maxphyaddr >= 36 && maxphyaddr <= 52);
    const u64 top = 1ull << (maxphyaddr - 1); /* highest valid physical-address bit */
    /* The highest valid bit is not reserved (the page is beyond RAM: no access). */
    PTE(RSVD4K) = (u64)sup_data | P | RW | top;
    invlpg((void*)RSVD4K);
    K_READ_OK(RSVD4K);
    PTE(RSVD4K) = (u64)sup_data | P | RW;
    invlpg((void*)RSVD4K);
    K_READ_OK(RSVD4K);
    if (maxphyaddr < 52) {
        PTE(RSVD4K) = (u64)sup_data | P | RW | (1ull << maxphyaddr);
        invlpg((void*)RSVD4K);
        check_rsvd(RSVD4K, 0);
        check_rsvd(RSVD4K + 8, 1);
        PTE(RSVD4K) = (u64)sup_data | P | RW | (1ull << 51);
        invlpg((void*)RSVD4K);
        check_rsvd(RSVD4K, 0);
        pml4[1] = (u64)pdpt0 | P | RW | (1ull << maxphyaddr);
        check_rsvd(RSVD_PML4, 0);
    } else {
        skip("maxphyaddr 52");
    }
    /* Not-present entries have no reserved bits. */
    PTE(RSVD4K) = ~P;
    invlpg((void*)RSVD4K);
    K_READ_PF(RSVD4K, 0);
    /* 2 MiB page: bits 20:13. */
    pd1[1] = 0x400000 | PS | P | RW | (1ull << 13);
    check_rsvd(RSVD2M, 0);
    pd1[1] = 0x400000 | PS | P | RW | (1ull << 20);
    invlpg((void*)RSVD2M);
    check_rsvd(RSVD2M + 0x1234, 0);
    pd1[1] = 0x400000 | PS | P | RW | (1ull << 12); /* PAT: not reserved */
    invlpg((void*)RSVD2M);
    K_READ_OK(RSVD2M);
    if (has_1g) {
        /* 1 GiB page: bits 29:13. */
        pdpt0[2] = PS | P | RW | (1ull << 13);
        check_rsvd(RSVD1G, 0);
        pdpt0[2] = PS | P | RW | (1ull << 29);
        invlpg((void*)RSVD1G);
        check_rsvd(RSVD1G, 1);
        pdpt0[2] = PS | P | RW;
        invlpg((void*)RSVD1G);
        K_READ_OK(RSVD1G);
    }
    /* RSVD from CPL 3 carries U. */
    PTE(RSVD4K) = (u64)user_data | P | RW | US | (1ull << 51);
    invlpg((void*)RSVD4K);
    u64 r = run_user(blob_read, RSVD4K, 0);
    CHECK_EQ(r, 0xdead);
    CHECK_EQ(last_trap.error & ~(uptr)PF_P, PF_RSVD | PF_U);
    CHECK_EQ(last_trap.cr2, RSVD4K);
}

/* ---------------------------------------------------------- straddling */
static void test_straddling(void) {
    /* A store into a writable page that runs into a read-only one writes nothing. */
    memset(sup_data, 0x5a, 16);
    *(volatile u64*)(sup_data + 0xff8) = 0x0102030405060708ull;
    K_ACCESS("movq $-1, (%1)", S_DATA + 0xffc, PF_P | PF_W, S_RO);
    CHECK_EQ(*(volatile u64*)(sup_data + 0xff8), 0x0102030405060708ull);
    CHECK_EQ(*(volatile u64*)sup_data, 0x5a5a5a5a5a5a5a5aull);

    /* Code at the end of STR1: inc %eax (ff c0) at ffb; add $0x29, %eax
     * (05 29 00 | 00 00) at ffd straddling into STR2; ret at STR2+2. */
    straddle1[0xffb] = 0xff, straddle1[0xffc] = 0xc0;
    straddle1[0xffd] = 0x05, straddle1[0xffe] = 0x29, straddle1[0xfff] = 0x00;
    straddle2[0] = 0x00, straddle2[1] = 0x00, straddle2[2] = 0xc3;
    straddle3[0] = 0x01, straddle3[1] = 0x00, straddle3[2] = 0xc3;
    const int id = fetch_id_bit();
    CHECK_EQ(call_at(STR1 + 0xffb, 0), 42);
    CHECK_EQ(last_trap.count, 0);
    /* The second page goes away: the straddling instruction faults, after
     * the one before it ran; CR2 is the first byte of the second page. */
    PTE(STR2) = 0;
    invlpg((void*)STR2);
    CHECK_EQ(call_at(STR1 + 0xffb, 0), 0xdead);
    CHECK_TRAP(14, id, STR1 + 0xffd);
    CHECK_EQ(last_trap.cr2, STR2);
    CHECK_EQ(last_trap.ax, 1);
    /* The first instruction of a block straddling. */
    CHECK_EQ(call_at(STR1 + 0xffd, 7), 0xdead);
    CHECK_TRAP(14, id, STR1 + 0xffd);
    CHECK_EQ(last_trap.cr2, STR2);
    /* Mapped elsewhere: the new bytes count. */
    PTE(STR2) = (u64)straddle3 | P | RW;
    invlpg((void*)STR2);
    CHECK_EQ(call_at(STR1 + 0xffb, 0), 0x1002a);
    /* A supervisor-only second page fetched from CPL 0 is fine; its
     * translation being read-only changes nothing for fetches. */
    PTE(STR2) = (u64)straddle2 | P;
    invlpg((void*)STR2);
    CHECK_EQ(call_at(STR1 + 0xffb, 0), 42);
    /* A store into the second page of the running block's last instruction
     * (through the identity mapping) is seen the next time. */
    straddle2[0] = 0x01;
    CHECK_EQ(call_at(STR1 + 0xffb, 0), 0x1002a);
    straddle2[0] = 0x00;
    CHECK_EQ(call_at(STR1 + 0xffb, 0), 42);
}

void main(void) {
    setup();
    SECTION("user/supervisor") test_user_supervisor();
    SECTION("smep") test_smep();
    SECTION("smap") test_smap();
    SECTION("global pages") test_global();
    SECTION("pcid") test_pcid();
    SECTION("invpcid") test_invpcid();
    SECTION("reserved bits") test_reserved();
    SECTION("straddling") test_straddling();
}
