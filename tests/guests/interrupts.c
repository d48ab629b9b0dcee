/* interrupts: external interrupts through the 8259A pair. 32-bit.
 * The 16550's THR-empty interrupt (IER bit 1, with MCR OUT2 gating the IRQ
 * line, as on a PC) drives IRQ4 on the master 8259A, programmed with vectors
 * 0x20-0x27 (slave 0x28-0x2f).
 *  - with IF=0 nothing is delivered; STI delivers after the one instruction
 *    its shadow covers (the frame's EIP follows that instruction), with IF
 *    cleared in the handler and restored by IRET;
 *  - a request masked in the 8259A's IMR waits; unmasking it with IF=1
 *    delivers it soon after the OUT that unmasked it;
 *  - without an EOI the in-service level blocks a second request on the
 *    same line; the EOI lets it through;
 *  - STI; HLT: the interrupt wakes HLT, the frame's EIP follows HLT;
 *  - the 8259A's IRR and ISR read back through OCW3.
 *
 * EXPECT-EXIT: 1
 * EXPECT-OUTPUT: delivery ok
 * EXPECT-OUTPUT: mask ok
 * EXPECT-OUTPUT: eoi ok
 * EXPECT-OUTPUT: hlt ok
 * EXPECT-OUTPUT: PASS interrupts
 */
#include "guest.h"

#define COM1 0x3f8
#define VEC_IRQ4 0x24

static volatile u32 irq_count, irq_ip, irq_flags;
static volatile int send_eoi = 1;

static void thre_off(void)
{
    outb(COM1 + 1, 0x00); /* IER: no interrupts: the line drops */
    (void)inb(COM1 + 2);  /* IIR read */
}
static void thre_on(void) { outb(COM1 + 1, 0x02); }

static int irq_hook(struct trap_frame *f)
{
    if (f->vector != VEC_IRQ4) return 0;
    irq_count++;
    irq_ip = f->ip;
    irq_flags = read_flags();
    thre_off();
    if (send_eoi) outb(0x20, 0x20);
    return 1;
}

static u8 pic_reg(u16 port, u8 ocw3)
{
    outb(port, ocw3);
    return inb(port);
}

static void setup(void)
{
    __asm__ volatile("cli");
    outb(0x20, 0x11); /* ICW1 */
    outb(0x21, 0x20); /* ICW2: vectors 0x20-0x27 */
    outb(0x21, 0x04); /* ICW3: slave on IR2 */
    outb(0x21, 0x01); /* ICW4: 8086 mode */
    outb(0xa0, 0x11);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0x21, 0xef); /* only IRQ4 */
    outb(0xa1, 0xff);
    outb(COM1 + 4, inb(COM1 + 4) | 0x08); /* MCR: OUT2 gates the IRQ */
    idt_set_gate(VEC_IRQ4, 1, 0, 0);
    trap_hook = irq_hook;
}

static void test_delivery(void)
{
    irq_count = 0;
    thre_on();
    for (volatile int i = 0; i < 100; i++) {
    }
    CHECK_EQ(irq_count, 0); /* IF=0 */
    CHECK_EQ(pic_reg(0x20, 0x0a) & 0x10, 0x10); /* IRR: IR4 requested */
    uptr after;
    __asm__ volatile("movl $1f, %0\n"
                     "sti\n"
                     "nop\n" /* the STI shadow */
                     "1: nop\n"
                     "cli\n"
                     : "=&r"(after)::"memory");
    CHECK_EQ(irq_count, 1);
    CHECK_EQ(irq_ip, after);
    CHECK_EQ(irq_flags & FL_IF, 0);
    CHECK_EQ(read_flags() & FL_IF, 0);
}

static void test_mask(void)
{
    irq_count = 0;
    outb(0x21, 0xff); /* mask IRQ4 */
    thre_on();
    __asm__ volatile("sti\n nop\n nop\n cli" ::: "memory");
    CHECK_EQ(irq_count, 0);
    /* The request reaches the CPU some instructions after the OUT (the
     * latency is not architectural): a short loop gives it time. */
    uptr after, end;
    __asm__ volatile("movl $1f, %0\n"
                     "movl $3f, %1\n"
                     "sti\n"
                     "nop\n"
                     "outb %b2, $0x21\n"
                     "1: mov $100, %%ecx\n"
                     "2: loop 2b\n"
                     "3: cli\n"
                     : "=&r"(after), "=&r"(end)
                     : "a"(0xef)
                     : "ecx", "memory");
    CHECK_EQ(irq_count, 1);
    CHECK(irq_ip >= after && irq_ip <= end);
}

static void test_eoi(void)
{
    irq_count = 0;
    send_eoi = 0;
    thre_on();
    __asm__ volatile("sti\n nop\n nop\n cli" ::: "memory");
    CHECK_EQ(irq_count, 1);
    CHECK_EQ(pic_reg(0x20, 0x0b) & 0x10, 0x10); /* ISR: IR4 in service */
    thre_on();                                  /* a second request on IR4 */
    __asm__ volatile("sti\n nop\n nop\n cli" ::: "memory");
    CHECK_EQ(irq_count, 1);
    send_eoi = 1;
    outb(0x20, 0x20); /* EOI for the first: the second gets through */
    __asm__ volatile("sti\n nop\n nop\n cli" ::: "memory");
    CHECK_EQ(irq_count, 2);
    CHECK_EQ(pic_reg(0x20, 0x0b) & 0x10, 0);
}

static void test_hlt(void)
{
    irq_count = 0;
    thre_on();
    uptr after;
    __asm__ volatile("movl $1f, %0\n"
                     "sti\n"
                     "hlt\n"
                     "1: cli\n"
                     : "=&r"(after)::"memory");
    CHECK_EQ(irq_count, 1);
    CHECK_EQ(irq_ip, after);
}

int main(void)
{
    setup();
    SECTION("delivery") test_delivery();
    SECTION("mask") test_mask();
    SECTION("eoi") test_eoi();
    SECTION("hlt") test_hlt();
    trap_hook = 0;
    outb(0x21, 0xff);
    return 0;
}
