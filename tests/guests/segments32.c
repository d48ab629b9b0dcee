/* segments32: segment checks on data accesses in 32-bit protected mode
 * (SDM vol. 3, 5.3 "Limit checking" and 5.4 "Type checking"). Every access
 * through a segment is checked against its limit (byte granular and
 * expand-down, 16- and 32-bit), its type (read-only data, readable code)
 * and whether it is usable (null selector): #GP(0), or #SS(0) through SS.
 * The faulting instruction changes nothing and EIP points at it.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: limits ok
 * EXPECT-OUTPUT: types ok
 * EXPECT-OUTPUT: expand-down ok
 * EXPECT-OUTPUT: stack ok
 * EXPECT-OUTPUT: PASS segments32
 */
#include "guest.h"

extern u64 gdt[];
extern u8 gdt_ptr[];

#define SHARED_ENTRIES 8 /* 0x00..0x38 of lib/gdt.inc */
#define SEL_SMALL 0x40   /* data RW, base 0x300000, limit 0xfff bytes */
#define SEL_RO 0x48      /* data read-only, base 0, 4 GiB */
#define SEL_DOWN32 0x50  /* data RW expand-down, B=1, limit 0xfff */
#define SEL_DOWN16 0x58  /* data RW expand-down, B=0, base 0x300000, limit 0xfff */
#define SEL_STACK 0x60   /* data RW, base 0, limit 0x7fffffff (for SS) */
#define WINDOW ((volatile u8*)0x300000)

static u64 table[16] __attribute__((aligned(16)));
static struct __attribute__((packed)) {
    u16 limit;
    u32 base;
} table_ptr;

static u64 seg_desc(u32 base, u32 limit, u8 access, u8 flags) {
    return (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
           ((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
}

/* QEMU TCG checks segments only when they are loaded, not on each access:
 * there a missing fault is a QEMU-DEVIATION (see CHECK_EQ_SDM). True when
 * the fault was taken, so the caller checks that nothing changed. */
static int check_seg_fault(unsigned vec, uptr ip) {
    CHECK_EQ_SDM(last_trap.count, 1, "data accesses are checked against segment limit and type (5.3, 5.4)");
    if (last_trap.count != 1) return 0;
    CHECK_EQ(last_trap.vector, vec);
    CHECK_EQ(last_trap.error, 0);
    CHECK_EQ(last_trap.ip, ip);
    return 1;
}

static void load_fs(u16 sel) { __asm__ volatile("mov %w0, %%fs" ::"r"(sel) : "memory"); }

/* A 4-byte load through FS at `off` that must fault with #GP(0). */
#define FS_LOAD_FAULTS(off)                                                                                  \
    do {                                                                                                     \
        uptr ip_;                                                                                            \
        u32 v_ = 0x11111111;                                                                                 \
        trap_reset();                                                                                        \
        __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl %%fs:(%2), %1")                                  \
                         : "=&r"(ip_), "+r"(v_)                                                              \
                         : "r"(off)                                                                          \
                         : "memory");                                                                        \
        if (check_seg_fault(13, ip_)) CHECK_EQ(v_, 0x11111111);                                              \
    } while (0)

#define FS_LOAD_OK(off, expect)                                                                              \
    do {                                                                                                     \
        u32 v_ = 0;                                                                                          \
        trap_reset();                                                                                        \
        __asm__ volatile("movl %%fs:(%1), %0" : "=r"(v_) : "r"(off) : "memory");                             \
        CHECK_EQ(last_trap.count, 0);                                                                        \
        CHECK_EQ(v_, (expect));                                                                              \
    } while (0)

static void test_limits(void) {
    *(volatile u32*)(WINDOW + 0xffc) = 0xcafef00d;
    load_fs(SEL_SMALL);
    FS_LOAD_OK(0xffcu, 0xcafef00d); /* the last 4 bytes inside the limit */
    FS_LOAD_FAULTS(0xffdu);         /* one byte past it */
    FS_LOAD_FAULTS(0x1000u);
    FS_LOAD_FAULTS(0xfffffffcu);

    /* A byte store at the limit works, a word store across it faults and
     * writes nothing. */
    uptr ip;
    trap_reset();
    __asm__ volatile("movb $0x5a, %%fs:0xfff" ::: "memory");
    CHECK_EQ(last_trap.count, 0);
    CHECK_EQ(WINDOW[0xfff], 0x5a);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movw $0x1234, %%fs:0xfff") : "=&r"(ip) : : "memory");
    if (check_seg_fault(13, ip)) CHECK_EQ(WINDOW[0xfff], 0x5a);

    /* A null FS: every access faults. */
    load_fs(0);
    FS_LOAD_FAULTS(0u);
    load_fs(GDT_DATA);
}

static void test_types(void) {
    uptr ip;
    u32 word = 0x600dcafe;
    load_fs(SEL_RO);
    FS_LOAD_OK((uptr)&word, 0x600dcafe);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("movl $1, %%fs:(%1)") : "=&r"(ip) : "r"(&word) : "memory");
    if (check_seg_fault(13, ip)) CHECK_EQ(word, 0x600dcafe);

    /* A readable code segment can be read through a data segment register,
     * never written. */
    word = 0x600dcafe; /* again: QEMU TCG let the store above through */
    load_fs(GDT_CODE32);
    FS_LOAD_OK((uptr)&word, 0x600dcafe);
    trap_reset();
    __asm__ volatile("movl $661f, %0\n" ASM_FAULT("incl %%fs:(%1)") : "=&r"(ip) : "r"(&word) : "memory");
    if (check_seg_fault(13, ip)) CHECK_EQ(word, 0x600dcafe);
    load_fs(GDT_DATA);
}

static void test_expand_down(void) {
    /* B=1, limit 0xfff: offsets 0x1000..0xffffffff are valid. */
    *(volatile u32*)(WINDOW + 0x10) = 0x01020304;
    load_fs(SEL_DOWN32);
    FS_LOAD_OK(0x300010u, 0x01020304);
    FS_LOAD_OK(0x1000u, *(volatile u32*)0x1000);
    FS_LOAD_FAULTS(0xffcu);
    FS_LOAD_FAULTS(0xffeu); /* its first bytes lie at or below the limit */
    FS_LOAD_FAULTS(0u);

    /* B=0, limit 0xfff, base 0x300000: offsets 0x1000..0xffff. */
    *(volatile u32*)(WINDOW + 0xfffc) = 0x0a0b0c0d;
    load_fs(SEL_DOWN16);
    FS_LOAD_OK(0xfffcu, 0x0a0b0c0d);
    FS_LOAD_FAULTS(0xfffdu); /* past the 64 KiB upper bound */
    FS_LOAD_FAULTS(0x10000u);
    FS_LOAD_FAULTS(0x800u);
    load_fs(GDT_DATA);
}

static void test_stack(void) {
    /* SS limited to 2 GiB: an access through SS beyond it raises #SS(0),
     * while ESP (low memory) stays valid for the exception frame. */
    uptr ip;
    u32 v = 0x77;
    trap_reset();
    __asm__ volatile("mov %%ss, %%dx\n"
                     "mov %w3, %%ss\n"
                     "movl $661f, %0\n" ASM_FAULT("movl %%ss:(%2), %1") "mov %%dx, %%ss\n"
                     : "=&r"(ip), "+a"(v)
                     : "r"(0x80000000u), "r"(SEL_STACK)
                     : "edx", "memory");
    if (check_seg_fault(12, ip)) CHECK_EQ(v, 0x77);

    /* The same offset through DS (flat) is fine: the check is per segment. */
    trap_reset();
    __asm__ volatile("mov %w1, %%ss\n"
                     "movl (%%esp), %0\n"
                     "mov %w2, %%ss\n"
                     : "=r"(v)
                     : "r"(SEL_STACK), "r"(GDT_DATA)
                     : "memory");
    CHECK_EQ(last_trap.count, 0);
}

int main(void) {
    for (int i = 0; i < SHARED_ENTRIES; i++) table[i] = gdt[i];
    table[SEL_SMALL / 8] = seg_desc(0x300000, 0xfff, 0x92, 0x4);
    table[SEL_RO / 8] = seg_desc(0, 0xfffff, 0x90, 0xc);
    table[SEL_DOWN32 / 8] = seg_desc(0, 0xfff, 0x96, 0x4);
    table[SEL_DOWN16 / 8] = seg_desc(0x300000, 0xfff, 0x96, 0x0);
    table[SEL_STACK / 8] = seg_desc(0, 0x7ffff, 0x92, 0xc);
    table_ptr.limit = sizeof table - 1;
    table_ptr.base = (u32)(uptr)table;
    __asm__ volatile("lgdt %0" ::"m"(table_ptr));

    SECTION("limits") test_limits();
    SECTION("types") test_types();
    SECTION("expand-down") test_expand_down();
    SECTION("stack") test_stack();

    __asm__ volatile("lgdt (%0)" ::"r"(gdt_ptr));
    guest_finish();
}
