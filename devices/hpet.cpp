#include "devices/hpet.h"
#include "machine/log.h"
#include <algorithm>
#include <stdexcept>

namespace hayate {

namespace {

// Register offsets (IA-PC HPET 1.0a, table 2).
constexpr uint64_t kRegCapabilities = 0x000, kRegConfig = 0x010, kRegStatus = 0x020, kRegCounter = 0x0f0;
constexpr uint64_t kTimerBlock = 0x100, kTimerStride = 0x20;
constexpr uint64_t kTimerConfig = 0x00, kTimerComparator = 0x08, kTimerFsbRoute = 0x10;

namespace gcfg {
constexpr uint64_t kEnable = 1u << 0, kLegacyRoute = 1u << 1;
}
namespace tcfg {
constexpr uint64_t kLevel = 1u << 1, kIntEnable = 1u << 2, kPeriodic = 1u << 3, kPeriodicCap = 1u << 4,
                   kSize64Cap = 1u << 5, kValSet = 1u << 6, kMode32 = 1u << 8, kFsbEnable = 1u << 14;
constexpr unsigned kRouteShift = 9;
constexpr uint64_t kRouteMask = 0x1fu << kRouteShift;
} // namespace tcfg

constexpr uint64_t kCapabilities = Hpet::kPeriodFs << 32 | uint64_t(Hpet::kVendorId) << 16 |
                                   1u << 15 /* LEG_RT_CAP */ | 1u << 13 /* COUNT_SIZE_CAP: 64-bit */ |
                                   (Hpet::kNumTimers - 1) << 8 /* NUM_TIM_CAP */ | Hpet::kRevision;

constexpr uint8_t kStateVersion = 1;

// Timer 0 is the 64-bit, periodic-capable one.
bool has_64bit(unsigned n) { return n == 0; }
bool has_periodic(unsigned n) { return n == 0; }

uint64_t merge(uint64_t old, uint64_t value, uint64_t mask) { return (old & ~mask) | (value & mask); }

} // namespace

Hpet::Hpet(TimerQueue& timers, std::function<void(unsigned, bool)> ioapic_input, IrqLine& legacy_irq0,
           IrqLine& legacy_irq8, std::function<void(bool)> on_legacy_route)
    : queue_(timers), ioapic_input_(std::move(ioapic_input)), legacy_irq0_(legacy_irq0),
      legacy_irq8_(legacy_irq8), on_legacy_route_(std::move(on_legacy_route)) {
    for (unsigned n = 0; n < kNumTimers; n++)
        timers_[n] = std::make_unique<Timer>(queue_, [this, n] { on_timer(n); });
    reset_state();
}

void Hpet::reset_state() {
    for (auto& t : timers_) t->cancel();
    config_ = 0;
    isr_ = 0;
    base_ = 0;
    enable_ns_ = int64_t(queue_.now_ns());
    for (unsigned n = 0; n < kNumTimers; n++) {
        Comparator& c = comparators_[n];
        c = Comparator{};
        c.cmp = width_mask(n); // comparators come out of reset all ones
    }
}

void Hpet::reset() {
    reset_state();
    update_outputs();
    if (on_legacy_route_) on_legacy_route_(false);
}

bool Hpet::enabled() const { return config_ & gcfg::kEnable; }
bool Hpet::legacy_route() const { return config_ & gcfg::kLegacyRoute; }

uint64_t Hpet::ticks_now() const { return uint64_t(int64_t(queue_.now_ns()) - enable_ns_) / kNsPerTick; }

uint64_t Hpet::main_counter() const { return enabled() ? base_ + ticks_now() : base_; }

unsigned Hpet::width(unsigned n) const {
    return has_64bit(n) && !(comparators_[n].config & tcfg::kMode32) ? 64 : 32;
}

uint64_t Hpet::width_mask(unsigned n) const { return width(n) == 64 ? ~0ull : 0xffffffffull; }

uint64_t Hpet::read_timer_config(unsigned n) const {
    uint64_t v = comparators_[n].config | uint64_t(kIntRouteCap) << 32;
    if (has_periodic(n)) v |= tcfg::kPeriodicCap;
    if (has_64bit(n)) v |= tcfg::kSize64Cap;
    return v;
}

// ---------------------------------------------------------------- accesses

uint64_t Hpet::io_read(uint64_t offset, unsigned size) {
    if ((size != 4 && size != 8) || offset % size || offset + size > kMmioSize) {
        log_guest_error("hpet: {}-byte read at offset {:#x} (only aligned 4- and 8-byte accesses)", size,
                        offset);
        return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    }
    catch_up();
    const uint64_t reg = read_reg(offset & ~7ull);
    if (size == 8) return reg;
    return (offset & 4) ? reg >> 32 : reg & 0xffffffffull;
}

void Hpet::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if ((size != 4 && size != 8) || offset % size || offset + size > kMmioSize) {
        log_guest_error(
            "hpet: {}-byte write of {:#x} at offset {:#x} dropped (only aligned 4- and 8-byte accesses)",
            size, value, offset);
        return;
    }
    catch_up();
    uint64_t mask = ~0ull;
    if (size == 4) {
        value &= 0xffffffffull;
        mask = 0xffffffffull;
        if (offset & 4) {
            value <<= 32;
            mask <<= 32;
        }
    }
    write_reg(offset & ~7ull, value, mask);
}

uint64_t Hpet::read_reg(uint64_t reg) {
    switch (reg) {
    case kRegCapabilities: return kCapabilities;
    case kRegConfig: return config_;
    case kRegStatus: return isr_;
    case kRegCounter: return main_counter();
    default: break;
    }
    if (reg >= kTimerBlock && reg < kTimerBlock + kNumTimers * kTimerStride) {
        const unsigned n = unsigned((reg - kTimerBlock) / kTimerStride);
        switch ((reg - kTimerBlock) % kTimerStride) {
        case kTimerConfig: return read_timer_config(n);
        case kTimerComparator: return comparators_[n].cmp;
        default: return 0; // FSB route (no FSB delivery) and the reserved quadword
        }
    }
    return 0; // reserved
}

void Hpet::write_reg(uint64_t reg, uint64_t value, uint64_t mask) {
    switch (reg) {
    case kRegCapabilities: return; // read-only
    case kRegConfig: write_general_config(merge(config_, value, mask)); return;
    case kRegStatus: {
        // Write 1 to clear; only level-triggered timers set their bit.
        const uint64_t clear = value & mask & ((1u << kNumTimers) - 1);
        if (clear & isr_) {
            isr_ &= ~clear;
            update_outputs();
        }
        return;
    }
    case kRegCounter:
        if (enabled()) {
            log_guest_error("hpet: main counter write of {:#x} while the counter runs dropped", value);
            return;
        }
        base_ = merge(base_, value, mask);
        return;
    default: break;
    }
    if (reg >= kTimerBlock && reg < kTimerBlock + kNumTimers * kTimerStride) {
        const unsigned n = unsigned((reg - kTimerBlock) / kTimerStride);
        switch ((reg - kTimerBlock) % kTimerStride) {
        case kTimerConfig: write_timer_config(n, value, mask); return;
        case kTimerComparator: write_comparator(n, value, mask); return;
        case kTimerFsbRoute:
            log_guest_error("hpet: timer {} FSB route write of {:#x} dropped (FSB delivery not supported)", n,
                            value);
            return;
        default: break;
        }
    }
    log_guest_error("hpet: write of {:#x} to reserved register {:#x} dropped", value & mask, reg);
}

void Hpet::write_general_config(uint64_t value) {
    if (value & ~(gcfg::kEnable | gcfg::kLegacyRoute))
        log_guest_error("hpet: reserved general configuration bits {:#x} ignored",
                        value & ~(gcfg::kEnable | gcfg::kLegacyRoute));
    value &= gcfg::kEnable | gcfg::kLegacyRoute;
    const uint64_t old = config_;
    const bool legacy_on = (value & ~old) & gcfg::kLegacyRoute;
    const bool legacy_off = (old & ~value) & gcfg::kLegacyRoute;
    if (!(old & gcfg::kEnable) && (value & gcfg::kEnable)) {
        enable_ns_ = int64_t(queue_.now_ns());
        config_ = value;
        for (unsigned n = 0; n < kNumTimers; n++) schedule(n, 0);
    } else if ((old & gcfg::kEnable) && !(value & gcfg::kEnable)) {
        base_ = main_counter();
        config_ = value;
        for (unsigned n = 0; n < kNumTimers; n++) {
            timers_[n]->cancel();
            comparators_[n].scheduled = false;
        }
    } else {
        config_ = value;
    }
    // The board takes the PIT/RTC off IRQ0/IRQ8 before timers 0/1 drive
    // them, and gives them back after the HPET let go.
    if (legacy_on && on_legacy_route_) on_legacy_route_(true);
    update_outputs();
    if (legacy_off && on_legacy_route_) on_legacy_route_(false);
}

void Hpet::write_timer_config(unsigned n, uint64_t value, uint64_t mask) {
    if (!(mask & 0xffffffffull)) return; // the upper half (INT_ROUTE_CAP) is read-only
    Comparator& c = comparators_[n];
    if (value & tcfg::kFsbEnable)
        log_guest_error("hpet: timer {} FSB_EN_CNF set, but FSB delivery is not supported", n);
    uint64_t writable = tcfg::kLevel | tcfg::kIntEnable;
    if (has_periodic(n)) writable |= tcfg::kPeriodic | tcfg::kValSet;
    if (has_64bit(n)) writable |= tcfg::kMode32;
    uint64_t route = (value & tcfg::kRouteMask) >> tcfg::kRouteShift;
    const uint64_t old_route = (c.config & tcfg::kRouteMask) >> tcfg::kRouteShift;
    if (route != old_route && !((kIntRouteCap >> route) & 1)) {
        // The spec: an unsupported route does not read back as written.
        log_guest_error("hpet: timer {} route to IOAPIC input {} not in INT_ROUTE_CAP {:#x}; kept {}", n,
                        route, kIntRouteCap, old_route);
        route = old_route;
    }
    const uint64_t old = c.config;
    c.config = (value & writable) | route << tcfg::kRouteShift;
    if ((c.config & tcfg::kIntEnable) && !(old & tcfg::kIntEnable) && !((kIntRouteCap >> route) & 1) &&
        !(legacy_route() && n < 2))
        log_guest_error("hpet: timer {} interrupt enabled with route {} outside INT_ROUTE_CAP {:#x}", n,
                        route, kIntRouteCap);
    if ((c.config & tcfg::kMode32) && !(old & tcfg::kMode32)) {
        // 32-bit mode: the comparator and its increment lose their upper halves.
        c.cmp &= 0xffffffffull;
        c.period &= 0xffffffffull;
    }
    if (!(c.config & tcfg::kLevel)) isr_ &= ~(1ull << n); // the status bit is for level mode only
    update_outputs();
    if (enabled()) schedule(n, ticks_now());
}

void Hpet::write_comparator(unsigned n, uint64_t value, uint64_t mask) {
    Comparator& c = comparators_[n];
    mask &= width_mask(n); // a 32-bit comparator's upper half is read-only 0
    if (!mask) return;
    // Non-periodic, or periodic with VAL_SET_CNF: the write sets the
    // comparator itself. Always: it becomes the periodic increment.
    if (!(c.config & tcfg::kPeriodic) || (c.config & tcfg::kValSet)) c.cmp = merge(c.cmp, value, mask);
    c.period = merge(c.period, value, mask);
    c.config &= ~tcfg::kValSet;
    if (enabled()) schedule(n, ticks_now());
}

// ------------------------------------------------------------------ timers

// An event only matters when it raises an interrupt, sets a level status
// bit, or advances a periodic comparator the guest can read.
bool Hpet::wants_timer(unsigned n) const {
    const uint64_t cfg = comparators_[n].config;
    return enabled() && (cfg & (tcfg::kIntEnable | tcfg::kLevel | tcfg::kPeriodic));
}

// Arms timer n for its first event at or after `from_tick` (ticks since
// enable): the counter matching the comparator in the timer's width, or, for
// a 32-bit one-shot timer, the low 32 counter bits wrapping to 0.
void Hpet::schedule(unsigned n, uint64_t from_tick) {
    Comparator& c = comparators_[n];
    timers_[n]->cancel();
    c.scheduled = false;
    if (!wants_timer(n)) return;
    const uint64_t at = base_ + from_tick; // the counter at from_tick
    unsigned __int128 event;
    if (width(n) == 64) {
        event = (unsigned __int128)from_tick + uint64_t(c.cmp - at);
    } else {
        event = (unsigned __int128)from_tick + uint32_t(uint32_t(c.cmp) - uint32_t(at));
        if (!(c.config & tcfg::kPeriodic)) {
            // The wrap is the step from 0xffffffff to 0: a counter that
            // starts at 0 on enable has not wrapped.
            uint64_t to_wrap = uint32_t(0u - uint32_t(at));
            if (to_wrap == 0 && from_tick == 0) to_wrap = 1ull << 32;
            event = std::min(event, (unsigned __int128)from_tick + to_wrap);
        }
    }
    if (event > UINT64_MAX) return; // past 2^64 ticks: never within the machine's life
    arm_at(n, uint64_t(event));
}

void Hpet::arm_at(unsigned n, uint64_t tick) {
    const __int128 deadline = (__int128)enable_ns_ + (__int128)tick * kNsPerTick;
    if (deadline >= (__int128)INT64_MAX) return; // centuries away
    comparators_[n].scheduled = true;
    comparators_[n].event_tick = tick;
    timers_[n]->arm(deadline < 0 ? 0 : uint64_t(deadline));
}

// Events already due in virtual time happen before the access that follows
// them, even if the timer queue has not run them yet.
void Hpet::catch_up() {
    if (!enabled()) return;
    const uint64_t now = ticks_now();
    for (unsigned n = 0; n < kNumTimers; n++) {
        // Each pass moves the event past the one handled, so this ends.
        while (comparators_[n].scheduled && comparators_[n].event_tick <= now) {
            timers_[n]->cancel();
            on_timer(n);
        }
    }
}

void Hpet::on_timer(unsigned n) {
    Comparator& c = comparators_[n];
    if (!c.scheduled) return;
    c.scheduled = false;
    const uint64_t event = c.event_tick;
    const uint64_t mask = width_mask(n);
    const bool match = (((base_ + event) ^ c.cmp) & mask) == 0;
    const uint64_t now = ticks_now();
    if ((c.config & tcfg::kPeriodic) && match) {
        // The comparator moves on by the increment: no drift. Matches missed
        // because the callback ran late are skipped (their interrupts would
        // have merged into this one).
        c.cmp = (c.cmp + c.period) & mask;
        const unsigned __int128 step =
            (c.period & mask) ? (unsigned __int128)(c.period & mask) : (unsigned __int128)mask + 1;
        if ((unsigned __int128)event + step <= now) {
            const uint64_t skipped = uint64_t((now - event) / step);
            c.cmp = (c.cmp + skipped * c.period) & mask;
        }
    }
    fire(n);
    schedule(n, std::max(event + 1, now));
}

void Hpet::fire(unsigned n) {
    const uint64_t cfg = comparators_[n].config;
    if (cfg & tcfg::kLevel) {
        // Level: the status bit is set whether or not the interrupt is
        // enabled, and the line stays asserted until software clears it.
        isr_ |= 1ull << n;
        update_outputs();
        return;
    }
    if (!enabled() || !(cfg & tcfg::kIntEnable)) return;
    unsigned pin = 0;
    switch (target(n, pin)) {
    case Target::Legacy0:
        if (!legacy_irq0_.level()) legacy_irq0_.pulse();
        break;
    case Target::Legacy8:
        if (!legacy_irq8_.level()) legacy_irq8_.pulse();
        break;
    case Target::Ioapic:
        if (!((pin_levels_ >> pin) & 1) && ioapic_input_) { // a pin held high shows no edge
            ioapic_input_(pin, true);
            ioapic_input_(pin, false);
        }
        break;
    }
}

Hpet::Target Hpet::target(unsigned n, unsigned& pin) const {
    if (legacy_route() && n == 0) return Target::Legacy0;
    if (legacy_route() && n == 1) return Target::Legacy8;
    pin = unsigned((comparators_[n].config & tcfg::kRouteMask) >> tcfg::kRouteShift);
    return Target::Ioapic;
}

void Hpet::update_outputs(uint32_t resend) {
    uint32_t pins = 0;
    bool irq0 = false, irq8 = false;
    if (enabled()) {
        for (unsigned n = 0; n < kNumTimers; n++) {
            const uint64_t cfg = comparators_[n].config;
            if (!(cfg & tcfg::kLevel) || !(cfg & tcfg::kIntEnable) || !((isr_ >> n) & 1)) continue;
            unsigned pin = 0;
            switch (target(n, pin)) {
            case Target::Legacy0: irq0 = true; break;
            case Target::Legacy8: irq8 = true; break;
            case Target::Ioapic: pins |= 1u << pin; break;
            }
        }
    }
    const uint32_t changed = (pins ^ pin_levels_) | resend;
    pin_levels_ = pins;
    for (unsigned pin = 0; pin < kIoapicInputs; pin++)
        if (((changed >> pin) & 1) && ioapic_input_) ioapic_input_(pin, (pins >> pin) & 1);
    legacy_irq0_.set(irq0);
    legacy_irq8_.set(irq8);
}

// ------------------------------------------------------------------- state

void Hpet::save(StateWriter& out) const {
    out.put(kStateVersion);
    out.put(config_);
    out.put(isr_);
    out.put(base_);
    // Time since enable, so a machine whose clock has another origin resumes
    // at the same counter phase.
    out.put(uint64_t(int64_t(queue_.now_ns()) - enable_ns_));
    out.put(pin_levels_);
    for (const Comparator& c : comparators_) {
        out.put(c.config);
        out.put(c.cmp);
        out.put(c.period);
        out.put(c.scheduled);
        out.put(c.event_tick);
    }
}

void Hpet::load(StateReader& in) {
    uint8_t version;
    in.get(version);
    if (version != kStateVersion) throw std::runtime_error("hpet: unknown state version");
    uint64_t config, isr, base, since_enable;
    uint32_t pins;
    in.get(config);
    in.get(isr);
    in.get(base);
    in.get(since_enable);
    in.get(pins);
    std::array<Comparator, kNumTimers> comparators;
    for (unsigned n = 0; n < kNumTimers; n++) {
        Comparator& c = comparators[n];
        in.get(c.config);
        in.get(c.cmp);
        in.get(c.period);
        in.get(c.scheduled);
        in.get(c.event_tick);
        uint64_t writable = tcfg::kLevel | tcfg::kIntEnable | tcfg::kRouteMask;
        if (has_periodic(n)) writable |= tcfg::kPeriodic | tcfg::kValSet;
        if (has_64bit(n)) writable |= tcfg::kMode32;
        const uint64_t route = (c.config & tcfg::kRouteMask) >> tcfg::kRouteShift;
        if ((c.config & ~writable) || (route != 0 && !((kIntRouteCap >> route) & 1)))
            throw std::runtime_error("hpet: invalid timer configuration in state");
    }
    if ((config & ~(gcfg::kEnable | gcfg::kLegacyRoute)) || (isr >> kNumTimers) || pins >> kIoapicInputs)
        throw std::runtime_error("hpet: invalid state");

    for (auto& t : timers_) t->cancel();
    config_ = config;
    isr_ = isr;
    base_ = base;
    enable_ns_ = int64_t(queue_.now_ns()) - int64_t(since_enable);
    comparators_ = comparators;
    for (unsigned n = 0; n < kNumTimers; n++) {
        Comparator& c = comparators_[n];
        c.cmp &= width_mask(n);
        c.period &= width_mask(n);
        const bool scheduled = c.scheduled;
        c.scheduled = false;
        if (scheduled && wants_timer(n)) arm_at(n, c.event_tick);
    }
    if (on_legacy_route_) on_legacy_route_(legacy_route());
    // The board's interrupt controllers may come from elsewhere: every pin
    // this block held or holds now is signalled again.
    update_outputs(pins | pin_levels_);
}

} // namespace hayate
