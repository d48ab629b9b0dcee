// The High Precision Event Timer (IA-PC HPET specification 1.0a) as on
// QEMU's pc machine: one timer block at 0xfed00000 (1 KiB of MMIO), a 64-bit
// main counter at 100 MHz (period 10 000 000 fs) and three comparators.
//
// Timer 0 is 64-bit capable and periodic capable; timers 1 and 2 are 32-bit,
// one-shot only (as on Intel's ICH). Every timer may be routed to the IOAPIC
// inputs in kIntRouteCap (IOAPIC input 2 only, what QEMU's pc reports); FSB
// (MSI) delivery is not offered. With LEG_RT_CNF set, timer 0 drives the
// legacy IRQ0 line (PIC IR0 and IOAPIC input 2) and timer 1 the legacy IRQ8
// line (PIC IRQ8 and IOAPIC input 8), and the board is told to disconnect the
// PIT and the RTC from those lines.
//
// The main counter is computed from the virtual clock (value at enable plus
// elapsed ns / 10). A comparator event (a match, and for 32-bit one-shot
// timers also the wrap of the low 32 counter bits) is a machine/clock.h Timer
// armed at the exact virtual time of that counter value, only while the
// block is enabled and the event has a visible effect (interrupt enabled,
// level status, or a periodic comparator that must advance).
//
// Accesses are 4 or 8 bytes, naturally aligned; anything else is logged as a
// guest error (reads float to all ones, writes are dropped). Reserved
// registers read 0. All accesses and timer callbacks run on the vCPU thread,
// so there is no lock.
#pragma once
#include "machine/clock.h"
#include "machine/io.h"
#include <array>
#include <functional>
#include <memory>

namespace hayate {

class Hpet final : public Device {
  public:
    static constexpr uint64_t kMmioBase = 0xfed00000;
    static constexpr uint64_t kMmioSize = 0x400;
    static constexpr unsigned kNumTimers = 3;
    static constexpr uint64_t kPeriodFs = 10'000'000; // COUNTER_CLK_PERIOD: 10 ns, 100 MHz
    static constexpr uint64_t kNsPerTick = kPeriodFs / 1'000'000;
    static constexpr uint16_t kVendorId = 0x8086;
    static constexpr uint8_t kRevision = 1;
    // Tn_INT_ROUTE_CAP of every timer: bit n set = IOAPIC input n allowed.
    // QEMU's pc (PIIX) machine allows only input 2.
    static constexpr uint32_t kIntRouteCap = 0x00000004;
    static constexpr unsigned kIoapicInputs = 24;

    // `ioapic_input(pin, level)`: a timer routed by Tn_INT_ROUTE_CNF drives
    // IOAPIC input `pin` (< 24). Several timers on one pin are wire-ORed here,
    // so the callback sees each pin's combined level, called on changes only.
    // `legacy_irq0` / `legacy_irq8`: the lines timers 0 and 1 drive under
    // LEG_RT_CNF. `on_legacy_route(active)`: LEG_RT_CNF changed (also called
    // by reset() and load()); while active the board keeps the PIT off IRQ0
    // and the RTC off IRQ8.
    Hpet(TimerQueue& timers, std::function<void(unsigned pin, bool level)> ioapic_input, IrqLine& legacy_irq0,
         IrqLine& legacy_irq8, std::function<void(bool active)> on_legacy_route);

    const char* name() const override { return "hpet"; }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    bool legacy_route() const;
    uint64_t main_counter() const;

  private:
    struct Comparator {
        uint64_t config = 0; // the writable Tn_CONF bits (type, enable, mode, route, VAL_SET)
        uint64_t cmp = 0;    // Tn_COMPARATOR
        uint64_t period = 0; // the value last written to Tn_COMPARATOR (periodic increment)
        bool scheduled = false;
        uint64_t event_tick = 0; // ticks since enable of the armed event
    };
    enum class Target { Ioapic, Legacy0, Legacy8 };

    void reset_state();
    bool enabled() const;
    uint64_t ticks_now() const;
    unsigned width(unsigned n) const;
    uint64_t width_mask(unsigned n) const;
    uint64_t read_timer_config(unsigned n) const;
    uint64_t read_reg(uint64_t reg);
    void write_reg(uint64_t reg, uint64_t value, uint64_t mask);
    void write_general_config(uint64_t value);
    void write_timer_config(unsigned n, uint64_t value, uint64_t mask);
    void write_comparator(unsigned n, uint64_t value, uint64_t mask);
    bool wants_timer(unsigned n) const;
    void schedule(unsigned n, uint64_t from_tick);
    void arm_at(unsigned n, uint64_t tick);
    void catch_up();
    void on_timer(unsigned n);
    void fire(unsigned n);
    Target target(unsigned n, unsigned& pin) const;
    void update_outputs(uint32_t resend = 0); // `resend`: pins to signal even if unchanged

    TimerQueue& queue_;
    std::function<void(unsigned, bool)> ioapic_input_;
    IrqLine& legacy_irq0_;
    IrqLine& legacy_irq8_;
    std::function<void(bool)> on_legacy_route_;
    std::array<std::unique_ptr<Timer>, kNumTimers> timers_;

    uint64_t config_ = 0;   // general configuration (ENABLE_CNF, LEG_RT_CNF)
    uint64_t isr_ = 0;      // general interrupt status
    uint64_t base_ = 0;     // main counter at enable (the counter itself while halted)
    int64_t enable_ns_ = 0; // virtual time of the last enable
    std::array<Comparator, kNumTimers> comparators_{};
    uint32_t pin_levels_ = 0; // IOAPIC inputs this block holds asserted
};

} // namespace hayate
