// The PC's interrupt wiring between devices and the two interrupt
// controllers: the 16 ISA IRQ lines go to the 8259 pair (IRQ n) and to the
// I/O APIC (GSI n, except IRQ 0 which arrives on pin 2, as the MADT's
// interrupt source override says). Several devices may drive one line; it
// is the OR of them (COM1 and COM3 share IRQ 4). Some sources reach only an
// I/O APIC pin (HPET timers routed by INT_ROUTE_CNF).
#pragma once
#include "machine/io.h"
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace hayate {

class IrqRouter {
  public:
    static constexpr unsigned kIsaIrqs = 16;
    static constexpr unsigned kIoApicPins = 24;
    using Sink = std::function<void(unsigned input, bool level)>;

    // Where the lines end. Calls come with the router's lock held, so a
    // controller sees the changes of one line in order.
    void set_pic_sink(Sink sink) { pic_sink_ = std::move(sink); }
    void set_ioapic_sink(Sink sink) { ioapic_sink_ = std::move(sink); }

    // A new device output onto ISA IRQ `irq`, or onto I/O APIC pin `pin` only.
    // The router owns the line; it lives as long as the router.
    IrqLine& isa_source(unsigned irq);
    IrqLine& ioapic_source(unsigned pin);

    static unsigned ioapic_pin_of_isa_irq(unsigned irq) { return irq == 0 ? 2 : irq; }

  private:
    void change(int pic_input, int ioapic_pin, bool level);
    std::mutex mu_;
    unsigned pic_high_[kIsaIrqs] = {};
    unsigned pin_high_[kIoApicPins] = {};
    Sink pic_sink_, ioapic_sink_;
    std::vector<std::unique_ptr<IrqLine>> lines_;
};

} // namespace hayate
