#include "machine/irq_router.h"
#include <stdexcept>

namespace hayate {

IrqLine& IrqRouter::isa_source(unsigned irq) {
    if (irq >= kIsaIrqs) throw std::logic_error("ISA IRQ out of range");
    const int pin = int(ioapic_pin_of_isa_irq(irq));
    lines_.push_back(
        std::make_unique<IrqLine>([this, irq, pin](bool level) { change(int(irq), pin, level); }));
    return *lines_.back();
}

IrqLine& IrqRouter::ioapic_source(unsigned pin) {
    if (pin >= kIoApicPins) throw std::logic_error("I/O APIC pin out of range");
    lines_.push_back(std::make_unique<IrqLine>([this, pin](bool level) { change(-1, int(pin), level); }));
    return *lines_.back();
}

void IrqRouter::change(int pic_input, int ioapic_pin, bool level) {
    std::lock_guard lock(mu_);
    // Each source reports only its own changes (IrqLine filters repeats), so
    // a count of high sources per line gives the OR.
    auto update = [&](unsigned& high, const Sink& sink, unsigned input) {
        const bool before = high != 0;
        if (level)
            high++;
        else
            high--;
        if ((high != 0) != before && sink) sink(input, high != 0);
    };
    if (pic_input >= 0) update(pic_high_[pic_input], pic_sink_, unsigned(pic_input));
    if (ioapic_pin >= 0) update(pin_high_[ioapic_pin], ioapic_sink_, unsigned(ioapic_pin));
}

} // namespace hayate
