/* Hayate guest test runtime: serial console, formatted output, checks,
 * exit through isa-debug-exit, IDT setup and the C side of trap handling.
 * Built for both flavours (-m32 / -m64) with -mgeneral-regs-only. */
#include "guest.h"
#include <stdarg.h>

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

int check_failures;
volatile struct trap_info last_trap;
int (*volatile trap_hook)(struct trap_frame *f);

void serial_putc(char c)
{
    if (c == '\n') serial_putc('\r');
    while (!(inb(COM1 + 5) & 0x20)) {
    }
    outb(COM1, (u8)c);
}

void puts(const char *s)
{
    while (*s) serial_putc(*s++);
}

static void put_num(u64 v, unsigned base, int width, char pad, int neg)
{
    char buf[24];
    int n = 0;
    do { /* 64-bit by small divisor in 16-bit steps: no libgcc on the 32-bit flavour */
        u32 r = 0;
        u64 q = 0;
        for (int sh = 48; sh >= 0; sh -= 16) {
            u32 cur = (r << 16) | (u32)(v >> sh & 0xffff);
            q |= (u64)(cur / base) << sh;
            r = cur % base;
        }
        buf[n++] = "0123456789abcdef"[r];
        v = q;
    } while (v);
    if (neg) buf[n++] = '-';
    while (n < width--) serial_putc(pad);
    while (n) serial_putc(buf[--n]);
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0') pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') longs++, fmt++;
        u64 v;
        switch (*fmt) {
        case 's': puts(va_arg(ap, const char *)); break;
        case 'c': serial_putc((char)va_arg(ap, int)); break;
        case 'd': {
            s64 s = longs == 2 ? va_arg(ap, s64) : longs == 1 ? va_arg(ap, long) : va_arg(ap, int);
            put_num(s < 0 ? -(u64)s : (u64)s, 10, width, pad, s < 0);
            break;
        }
        case 'u':
        case 'x':
            v = longs == 2 ? va_arg(ap, u64) : longs == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_num(v, *fmt == 'u' ? 10 : 16, width, pad, 0);
            break;
        case 'p': put_num((uptr)va_arg(ap, void *), 16, width, pad, 0); break;
        case '%': serial_putc('%'); break;
        default: serial_putc('?'); break;
        }
    }
    va_end(ap);
}

void guest_exit(unsigned code)
{
    outb(DEBUG_EXIT_PORT, (u8)code);
    for (;;) __asm__ volatile("cli; hlt");
}

void guest_finish(void)
{
    if (check_failures) {
        printk("FAIL " GUEST_NAME " (%d failed checks)\n", check_failures);
        guest_exit(1);
    }
    printk("PASS " GUEST_NAME "\n");
    guest_exit(0);
}

void skip(const char *what) { printk("SKIP %s\n", what); }

void check_fail(const char *file, int line, const char *expr)
{
    check_failures++;
    printk("FAIL %s:%d: %s\n", file, line, expr);
}

void check_fail_eq(const char *file, int line, const char *a, const char *b, u64 va, u64 vb)
{
    check_failures++;
    printk("FAIL %s:%d: %s == %s: 0x%llx != 0x%llx\n", file, line, a, b, va, vb);
}

int check_sdm_fail(const char *file, int line, const char *expr, u64 va, u64 vb, const char *why)
{
    if (on_qemu_tcg()) {
        printk("QEMU-DEVIATION %s:%d: %s: 0x%llx != 0x%llx (SDM: %s)\n", file, line, expr, va, vb, why);
        return 0;
    }
    check_failures++;
    printk("FAIL %s:%d: %s: 0x%llx != 0x%llx (SDM: %s)\n", file, line, expr, va, vb, why);
    return 1;
}

int on_qemu_tcg(void)
{
    static int cached = -1;
    if (cached < 0) {
        /* QEMU's built-in CPU models carry "QEMU" in the brand string
         * ("QEMU Virtual CPU ..."); under KVM the hypervisor leaf says "KVMKVMKVM". */
        u32 r[12], a, b, c, d;
        cached = 0;
        cpuid(0x80000000, 0, &a, &b, &c, &d);
        if (a >= 0x80000004) {
            for (u32 i = 0; i < 3; i++) cpuid(0x80000002 + i, 0, &r[i * 4], &r[i * 4 + 1], &r[i * 4 + 2], &r[i * 4 + 3]);
            const char *s = (const char *)r;
            for (int i = 0; i + 4 <= 48; i++)
                if (s[i] == 'Q' && s[i + 1] == 'E' && s[i + 2] == 'M' && s[i + 3] == 'U') cached = 1;
        }
        cpuid(1, 0, &a, &b, &c, &d);
        if (c & (1u << 31)) {
            cpuid(0x40000000, 0, &a, &b, &c, &d);
            if (b == 0x4b4d564b) cached = 0; /* "KVMK": hardware is the reference */
        }
    }
    return cached;
}

void *memset(void *d, int c, unsigned long n)
{
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--) *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p < *q ? -1 : 1;
    return 0;
}

/* ---- IDT ---- */
#ifdef __x86_64__
struct idt_gate {
    u16 off_lo, sel;
    u8 ist, type;
    u16 off_mid;
    u32 off_hi, zero;
};
#else
struct idt_gate {
    u16 off_lo, sel;
    u8 zero, type;
    u16 off_hi;
};
#endif
static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const uptr trap_stubs[256]; /* traps32.S / traps64.S */

void idt_set_gate(unsigned v, int present, unsigned dpl, unsigned ist)
{
    uptr off = trap_stubs[v];
    struct idt_gate *g = &idt[v];
    g->off_lo = (u16)off;
#ifdef __x86_64__
    g->sel = GDT_CODE64;
    g->ist = (u8)ist;
    g->type = (u8)((present ? 0x80 : 0) | (dpl << 5) | 0xE); /* 64-bit interrupt gate */
    g->off_mid = (u16)(off >> 16);
    g->off_hi = (u32)((u64)off >> 32);
    g->zero = 0;
#else
    (void)ist;
    g->sel = GDT_CODE32;
    g->zero = 0;
    g->type = (u8)((present ? 0x80 : 0) | (dpl << 5) | 0xE); /* 32-bit interrupt gate */
    g->off_hi = (u16)(off >> 16);
#endif
}

void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) idt_set_gate(v, 1, 0, 0);
    struct __attribute__((packed)) {
        u16 limit;
        uptr base;
    } p = {sizeof idt - 1, (uptr)idt};
    __asm__ volatile("lidt %0" ::"m"(p));
}

void trap_reset(void)
{
    last_trap.count = 0;
    last_trap.vector = ~(uptr)0;
    last_trap.error = ~(uptr)0;
    last_trap.ip = 0;
    last_trap.cr2 = 0;
    trap_hook = 0;
}

struct extable_entry {
    uptr ip, resume;
};
extern const struct extable_entry __extable_start[], __extable_end[];

static const char *const vec_names[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF?",
                                          "#TS", "#NP", "#SS", "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM"};

void trap_dispatch(struct trap_frame *f)
{
    last_trap.vector = f->vector;
    last_trap.error = f->error;
    last_trap.ip = f->ip;
    last_trap.flags = f->flags;
    last_trap.ax = f->ax;
    last_trap.cs = f->cs;
#ifdef __x86_64__
    last_trap.sp = f->sp;
#else
    last_trap.sp = (uptr)(&f->flags + 1);
#endif
    last_trap.cr2 = f->vector == 14 ? read_cr2() : 0;
    last_trap.frame = (uptr)f;
    last_trap.count++;
    if (trap_hook && trap_hook(f)) return;
    for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
        if (e->ip == f->ip) {
            f->ip = e->resume;
            return;
        }
    }
    const char *name = f->vector < 32 && vec_names[f->vector] ? vec_names[f->vector] : "int";
    printk("FAIL " GUEST_NAME ": unexpected exception %s vector=%u error=0x%lx ip=0x%lx cr2=0x%lx flags=0x%lx\n", name,
           (unsigned)f->vector, (unsigned long)f->error, (unsigned long)f->ip, (unsigned long)last_trap.cr2,
           (unsigned long)f->flags);
    guest_exit(2);
}

#ifdef __x86_64__
/* ---- 64-bit TSS: RSP0 and IST1 ---- */
static struct __attribute__((packed)) {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3, iomap_base;
} tss __attribute__((aligned(16)));
extern u64 gdt[];
extern u8 stack_top[];

void tss_init(void)
{
    tss.rsp[0] = (u64)stack_top;
    tss.ist[0] = (u64)ist1_stack_top;
    tss.iomap_base = sizeof tss;
    u64 base = (u64)&tss, limit = sizeof tss - 1;
    gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | ((limit >> 16 & 0xf) << 48) |
                       ((base >> 24 & 0xff) << 56);
    gdt[GDT_TSS / 8 + 1] = base >> 32;
    __asm__ volatile("ltr %w0" ::"r"(GDT_TSS));
}
#endif
