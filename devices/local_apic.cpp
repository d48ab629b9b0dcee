#include "devices/local_apic.h"
#include "machine/log.h"
#include <bit>

namespace hayate {

namespace {

// Register indices: the xAPIC MMIO offset >> 4, the x2APIC MSR - 0x800.
enum Reg : unsigned {
    RegId = 0x02,
    RegVersion = 0x03,
    RegTpr = 0x08,
    RegApr = 0x09,
    RegPpr = 0x0a,
    RegEoi = 0x0b,
    RegRrd = 0x0c,
    RegLdr = 0x0d,
    RegDfr = 0x0e,
    RegSvr = 0x0f,
    RegIsr = 0x10, // 8 registers each
    RegTmr = 0x18,
    RegIrr = 0x20,
    RegEsr = 0x28,
    RegCmci = 0x2f,
    RegIcrLow = 0x30,
    RegIcrHigh = 0x31,
    RegLvtFirst = 0x32, // timer, thermal, perf, LINT0, LINT1, error
    RegLvtLast = 0x37,
    RegInitialCount = 0x38,
    RegCurrentCount = 0x39,
    RegDivide = 0x3e,
    RegSelfIpi = 0x3f,
};

constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kLvtTriggerLevel = 1u << 15;
constexpr uint32_t kLvtRemoteIrr = 1u << 14;
constexpr uint32_t kLvtPolarityLow = 1u << 13;
constexpr uint32_t kLvtReset = kLvtMasked;

// Writable bits of each LVT entry (delivery status and remote IRR are read-only).
constexpr uint32_t kLvtWritable[6] = {
    0x000700ff, // timer: vector, mask, mode (18:17, TSC-deadline included)
    0x000107ff, // thermal: vector, delivery mode, mask
    0x000107ff, // performance counters
    0x0001a7ff, // LINT0: vector, delivery mode, polarity, trigger, mask
    0x0001a7ff, // LINT1
    0x000100ff, // error: vector, mask
};
constexpr const char* kLvtNames[6] = {"timer", "thermal", "perf", "LINT0", "LINT1", "error"};

// ESR bits of the P4/Xeon xAPIC.
constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
constexpr uint32_t kEsrIllegalRegister = 1u << 7;

constexpr uint32_t kSvrWritable = 0x3ff; // vector, APIC enable, focus disable (no EOI suppression)
constexpr uint32_t kSvrEnable = 0x100, kSvrFocusDisable = 0x200;
constexpr uint32_t kIcrLowWritable = 0x000ccfff; // vector, mode, dest mode, level, trigger, shorthand
constexpr uint32_t kDivideWritable = 0x0b;

// Delivery-mode field values (LVT and ICR).
constexpr unsigned kDmFixed = 0, kDmLowest = 1, kDmSmi = 2, kDmNmi = 4, kDmInit = 5, kDmStartUp = 6,
                   kDmExtInt = 7;

bool test_bit(const std::array<uint32_t, 8>& a, unsigned v) { return (a[v >> 5] >> (v & 31)) & 1; }
void set_bit(std::array<uint32_t, 8>& a, unsigned v) { a[v >> 5] |= 1u << (v & 31); }
void clear_bit(std::array<uint32_t, 8>& a, unsigned v) { a[v >> 5] &= ~(1u << (v & 31)); }
int highest_bit(const std::array<uint32_t, 8>& a) {
    for (int i = 7; i >= 0; i--)
        if (a[i]) return i * 32 + 31 - std::countl_zero(a[i]);
    return -1;
}

uint32_t x2apic_ldr(uint32_t id) { return ((id >> 4) << 16) | (1u << (id & 0xf)); }

} // namespace

LocalApic::LocalApic(uint32_t apic_id, bool bsp, TimerQueue& timers, ApicBus& bus,
                     std::function<uint64_t()> guest_tsc, uint64_t tsc_hz, unsigned phys_addr_bits,
                     Callbacks callbacks)
    : name_(fmt::format("lapic{}", apic_id)), initial_id_(apic_id), bsp_(bsp), timers_(timers), bus_(bus),
      guest_tsc_(std::move(guest_tsc)), tsc_hz_(tsc_hz), phys_addr_bits_(phys_addr_bits),
      cb_(std::move(callbacks)), timer_(timers, [this] { timer_expired(); }) {
    std::lock_guard lock(mu_);
    apic_base_ = kDefaultBase | kBaseEnable | (bsp_ ? kBaseBsp : 0);
    id_ = initial_id_ & 0xff;
    reset_registers_locked();
    bus_.attach(this);
}

LocalApic::~LocalApic() { bus_.detach(this); }

// ------------------------------------------------------------ state, reset

void LocalApic::reset_registers_locked() {
    tpr_ = 0;
    ldr_ = 0;
    dfr_ = 0xffffffff;
    svr_ = 0xff;
    isr_ = {};
    tmr_ = {};
    irr_ = {};
    esr_ = esr_pending_ = 0;
    icr_low_ = icr_high_ = 0;
    lvt_.fill(kLvtReset);
    timer_initial_ = 0;
    divide_config_ = 0;
    timer_counting_ = false;
    timer_base_ns_ = 0;
    timer_base_count_ = 0;
    tsc_deadline_ = 0;
    extint_message_ = false;
    timer_.cancel();
}

void LocalApic::reset() {
    std::unique_lock lock(mu_);
    Effects fx;
    const uint64_t old_base = apic_base_ & ~0xfffull;
    apic_base_ = kDefaultBase | kBaseEnable | (bsp_ ? kBaseBsp : 0);
    id_ = initial_id_ & 0xff;
    reset_registers_locked();
    if (old_base != kDefaultBase) {
        fx.base_changed = true;
        fx.new_base = kDefaultBase;
    }
    finish(lock, fx);
}

void LocalApic::setup_virtual_wire() {
    std::unique_lock lock(mu_);
    Effects fx;
    if (!hw_enabled()) {
        log_warning("{}: virtual-wire setup skipped: the APIC is hardware-disabled", name_);
    } else {
        svr_ |= kSvrEnable;
        write_lvt_locked(LvtLint0, 0x8700, fx); // ExtINT (level, as SeaBIOS writes it)
        write_lvt_locked(LvtLint1, 0x8400, fx); // NMI
    }
    finish(lock, fx);
}

void LocalApic::save(StateWriter& out) const {
    std::lock_guard lock(mu_);
    out.put(apic_base_);
    for (uint32_t v : {id_, tpr_, ldr_, dfr_, svr_, esr_, esr_pending_, icr_low_, icr_high_, timer_initial_,
                       divide_config_, timer_base_count_})
        out.put(v);
    out.put(isr_);
    out.put(tmr_);
    out.put(irr_);
    out.put(lvt_);
    out.put(timer_counting_);
    out.put(timer_base_ns_);
    out.put(tsc_deadline_);
    out.put(lint_level_);
    out.put(extint_message_);
}

void LocalApic::load(StateReader& in) {
    std::unique_lock lock(mu_);
    Effects fx;
    const uint64_t old_base = apic_base_ & ~0xfffull;
    in.get(apic_base_);
    for (uint32_t* v : {&id_, &tpr_, &ldr_, &dfr_, &svr_, &esr_, &esr_pending_, &icr_low_, &icr_high_,
                        &timer_initial_, &divide_config_, &timer_base_count_})
        in.get(*v);
    in.get(isr_);
    in.get(tmr_);
    in.get(irr_);
    in.get(lvt_);
    in.get(timer_counting_);
    in.get(timer_base_ns_);
    in.get(tsc_deadline_);
    in.get(lint_level_);
    in.get(extint_message_);
    arm_timer_locked();
    if ((apic_base_ & ~0xfffull) != old_base) {
        fx.base_changed = true;
        fx.new_base = apic_base_ & ~0xfffull;
    }
    force_notify_ = true;
    finish(lock, fx);
}

// Issues what the locked part decided, with the lock released. The output
// is published under its own mutex from the state as it is now, so racing
// threads cannot leave a stale level behind.
void LocalApic::finish(std::unique_lock<std::mutex>& lock, Effects& fx) {
    lock.unlock();
    {
        std::lock_guard notify(notify_mu_);
        bool level, force;
        {
            std::lock_guard state(mu_);
            level = pending_locked();
            force = force_notify_;
            force_notify_ = false;
        }
        if (level != notified_ || force) {
            notified_ = level;
            if (cb_.on_output) cb_.on_output(level);
        }
    }
    if (fx.base_changed && cb_.on_base_changed) cb_.on_base_changed(fx.new_base);
    if (fx.send) bus_.send(fx.message, this);
    if (fx.eoi_vector >= 0) bus_.broadcast_eoi(uint8_t(fx.eoi_vector));
    if (fx.init && cb_.on_init) cb_.on_init();
    if (fx.startup >= 0 && cb_.on_startup) cb_.on_startup(uint8_t(fx.startup));
    if (fx.nmi && cb_.on_nmi) cb_.on_nmi();
}

uint64_t LocalApic::base_msr() const {
    std::lock_guard lock(mu_);
    return apic_base_;
}

// ------------------------------------------------------------- priorities

// PPR: the TPR, or the class of the highest vector in service if higher.
unsigned LocalApic::ppr_locked() const {
    const int isrv = std::max(highest_bit(isr_), 0);
    return (tpr_ >> 4) >= unsigned(isrv >> 4) ? tpr_ : unsigned(isrv) & 0xf0;
}

// APR, as the SDM defines it for the arbitration of lowest-priority messages.
unsigned LocalApic::apr_locked() const {
    const unsigned tpr_class = tpr_ >> 4;
    const unsigned isrv = unsigned(std::max(highest_bit(isr_), 0)) >> 4;
    const unsigned irrv = unsigned(std::max(highest_bit(irr_), 0)) >> 4;
    if (tpr_class >= irrv && tpr_class > isrv) return tpr_;
    return std::max(tpr_class & isrv, irrv) << 4;
}

int LocalApic::highest_deliverable_locked() const {
    if (!sw_enabled()) return -1; // held in the IRR until the APIC is enabled again
    const int v = highest_bit(irr_);
    if (v < 0 || unsigned(v & 0xf0) <= (ppr_locked() & 0xf0)) return -1;
    return v;
}

// An ExtINT source is active: the 8259 answers the next INTA.
bool LocalApic::extint_pending_locked() const {
    if (extint_message_) return true;
    for (unsigned pin = 0; pin < 2; pin++) {
        const uint32_t lvt = lvt_[LvtLint0 + pin];
        if (!(lvt & kLvtMasked) && ((lvt >> 8) & 7) == kDmExtInt &&
            (lint_level_[pin] != bool(lvt & kLvtPolarityLow)))
            return true;
    }
    return false;
}

bool LocalApic::pending_locked() const {
    if (!hw_enabled()) return lint_level_[0]; // no APIC: LINT0 is the CPU's INTR pin
    return extint_pending_locked() || highest_deliverable_locked() >= 0;
}

bool LocalApic::interrupt_pending() const {
    std::lock_guard lock(mu_);
    return pending_locked();
}

uint8_t LocalApic::acknowledge() {
    std::unique_lock lock(mu_);
    Effects fx;
    bool from_pic = !hw_enabled();
    if (!from_pic && extint_pending_locked()) {
        // ExtINT is not subject to the priorities: its vector comes from the 8259.
        extint_message_ = false;
        from_pic = true;
    }
    if (from_pic) {
        const uint8_t spurious = uint8_t(svr_);
        finish(lock, fx);
        if (!cb_.pic_acknowledge) {
            log_warning("{}: ExtINT acknowledge without an 8259 connected; spurious vector", name_);
            return spurious;
        }
        return cb_.pic_acknowledge();
    }
    uint8_t vector;
    const int v = highest_deliverable_locked();
    if (v < 0) {
        // The request went away (TPR raised, APIC disabled) between INTR and
        // INTA: the spurious vector, with nothing put in service.
        vector = uint8_t(svr_ & 0xff);
    } else {
        clear_bit(irr_, unsigned(v));
        set_bit(isr_, unsigned(v));
        vector = uint8_t(v);
    }
    finish(lock, fx);
    return vector;
}

uint8_t LocalApic::tpr() const {
    std::lock_guard lock(mu_);
    return uint8_t(tpr_ >> 4);
}

void LocalApic::set_tpr(uint8_t cr8) {
    std::unique_lock lock(mu_);
    Effects fx;
    tpr_ = uint32_t(cr8 & 0xf) << 4; // MOV CR8 clears TPR[3:0]
    finish(lock, fx);
}

// ------------------------------------------------------- interrupt intake

void LocalApic::set_irr_locked(uint8_t vector, bool level) {
    set_bit(irr_, vector);
    if (level)
        set_bit(tmr_, vector);
    else
        clear_bit(tmr_, vector);
}

// Errors are collected for the next ESR write and signalled through the
// error LVT; an illegal vector in that LVT itself is only recorded.
void LocalApic::signal_error_locked(uint32_t bits, Effects& fx) {
    (void)fx;
    esr_pending_ |= bits;
    const uint32_t lvt = lvt_[LvtError];
    if (lvt & kLvtMasked) return;
    const uint8_t vector = uint8_t(lvt);
    if (vector < 16) {
        esr_pending_ |= kEsrReceiveIllegalVector;
        log_guest_error("{}: error LVT vector {:#x} is illegal", name_, vector);
        return;
    }
    set_irr_locked(vector, false);
}

// A local interrupt source fired through its LVT entry.
void LocalApic::deliver_lvt_locked(Lvt lvt, Effects& fx) {
    const uint32_t entry = lvt_[lvt];
    if (entry & kLvtMasked) return;
    const unsigned mode = (lvt == LvtTimer || lvt == LvtError) ? kDmFixed : (entry >> 8) & 7;
    const uint8_t vector = uint8_t(entry);
    switch (mode) {
    case kDmFixed: {
        if (vector < 16) {
            log_guest_error("{}: {} LVT delivers illegal vector {:#x}", name_, kLvtNames[lvt], vector);
            signal_error_locked(kEsrReceiveIllegalVector, fx);
            return;
        }
        // Only LINT0 can be level-triggered (LINT1 is always edge, SDM).
        const bool level = lvt == LvtLint0 && (entry & kLvtTriggerLevel);
        set_irr_locked(vector, level);
        if (level) lvt_[lvt] |= kLvtRemoteIrr;
        break;
    }
    case kDmNmi: fx.nmi = true; break;
    case kDmInit:
        reset_registers_locked();
        fx.init = true;
        break;
    case kDmSmi:
        log_warning("{}: {} LVT delivers an SMI: SMM is not implemented, the SMI is dropped", name_,
                    kLvtNames[lvt]);
        break;
    case kDmExtInt: break; // a level the CPU sees through extint_pending_locked()
    default:
        log_guest_error("{}: {} LVT has reserved delivery mode {}; nothing delivered", name_, kLvtNames[lvt],
                        mode);
        break;
    }
}

bool LocalApic::accept(const ApicMessage& m) {
    std::unique_lock lock(mu_);
    Effects fx;
    if (!hw_enabled()) {
        finish(lock, fx);
        return false;
    }
    bool taken = true;
    switch (m.delivery_mode) {
    case ApicDeliveryMode::Fixed:
    case ApicDeliveryMode::LowestPriority:
        // A software-disabled APIC takes only NMI, SMI, INIT and start-up.
        if (!sw_enabled()) {
            taken = false;
            break;
        }
        if (m.vector < 16) {
            log_guest_error("{}: received illegal vector {:#x} from APIC {}", name_, m.vector, m.source_id);
            signal_error_locked(kEsrReceiveIllegalVector, fx);
            break;
        }
        set_irr_locked(m.vector, m.trigger == ApicTriggerMode::Level);
        break;
    case ApicDeliveryMode::NMI: fx.nmi = true; break;
    case ApicDeliveryMode::INIT:
        // INIT level de-assert only resynchronised arbitration IDs on the
        // P6; the xAPIC has none to resynchronise.
        if (!m.level_assert) break;
        reset_registers_locked();
        fx.init = true;
        break;
    case ApicDeliveryMode::StartUp: fx.startup = m.vector; break;
    case ApicDeliveryMode::SMI:
        log_warning("{}: SMI message from APIC {}: SMM is not implemented, the SMI is dropped", name_,
                    m.source_id);
        break;
    case ApicDeliveryMode::ExtINT:
        if (sw_enabled())
            extint_message_ = true;
        else
            taken = false;
        break;
    }
    finish(lock, fx);
    return taken;
}

void LocalApic::set_lint(unsigned pin, bool level) {
    if (pin > 1) {
        log_warning("{}: LINT{} does not exist", name_, pin);
        return;
    }
    std::unique_lock lock(mu_);
    Effects fx;
    const bool was = lint_level_[pin];
    lint_level_[pin] = level;
    lint_changed_locked(pin, was, fx);
    finish(lock, fx);
}

void LocalApic::lint_changed_locked(unsigned pin, bool was_level, Effects& fx) {
    const bool level = lint_level_[pin];
    if (!hw_enabled()) {
        // Without the APIC, LINT1 is the NMI pin (edge); LINT0 is INTR.
        if (pin == 1 && level && !was_level) fx.nmi = true;
        return;
    }
    const Lvt lvt = pin ? LvtLint1 : LvtLint0;
    const uint32_t entry = lvt_[lvt];
    if (entry & kLvtMasked) return;
    const bool active_low = entry & kLvtPolarityLow;
    const bool active = level != active_low, was_active = was_level != active_low;
    switch ((entry >> 8) & 7) {
    case kDmFixed:
        if (pin == 0 && (entry & kLvtTriggerLevel)) {
            if (active && !(entry & kLvtRemoteIrr)) deliver_lvt_locked(lvt, fx);
        } else if (active && !was_active) {
            deliver_lvt_locked(lvt, fx);
        }
        break;
    case kDmExtInt: break; // followed by the output
    default:
        if (active && !was_active) deliver_lvt_locked(lvt, fx); // NMI, INIT, SMI: edge
        break;
    }
}

// ---------------------------------------------------------------- EOI, IPI

void LocalApic::eoi_locked(Effects& fx) {
    const int v = highest_bit(isr_);
    if (v < 0) return; // nothing in service: no effect
    clear_bit(isr_, unsigned(v));
    if (!test_bit(tmr_, unsigned(v))) return;
    fx.eoi_vector = v; // level-triggered: the I/O APICs clear their remote IRR
    uint32_t& lint0 = lvt_[LvtLint0];
    if ((lint0 & kLvtRemoteIrr) && uint8_t(lint0) == v) {
        lint0 &= ~kLvtRemoteIrr;
        lint_changed_locked(0, lint_level_[0], fx); // still asserted: delivered again
    }
}

void LocalApic::send_icr_locked(Effects& fx) {
    const uint32_t low = icr_low_;
    const uint8_t vector = uint8_t(low);
    const unsigned mode = (low >> 8) & 7;
    const auto shorthand = ApicShorthand((low >> 18) & 3);
    const bool level_trigger = low & (1u << 15), assert_level = low & (1u << 14);
    if (mode == 3 || mode == kDmExtInt) {
        log_guest_error("{}: ICR {:#x}: reserved delivery mode {}; no IPI sent", name_, low, mode);
        return;
    }
    if ((shorthand == ApicShorthand::Self || shorthand == ApicShorthand::AllIncludingSelf) &&
        mode != kDmFixed) {
        log_guest_error(
            "{}: ICR {:#x}: delivery mode {} is invalid with a self-including shorthand; no IPI sent", name_,
            low, mode);
        return;
    }
    if ((mode == kDmFixed || mode == kDmLowest) && vector < 16) {
        log_guest_error("{}: ICR {:#x}: illegal vector; no IPI sent", name_, low);
        signal_error_locked(kEsrSendIllegalVector, fx);
        return;
    }
    ApicMessage& m = fx.message;
    m = ApicMessage{};
    m.vector = vector;
    m.delivery_mode = ApicDeliveryMode(mode);
    m.destination_mode = (low & (1u << 11)) ? ApicDestinationMode::Logical : ApicDestinationMode::Physical;
    // The xAPIC issues every IPI edge-triggered; an INIT with trigger=level
    // and level=0 is the INIT level de-assert message.
    m.trigger = ApicTriggerMode::Edge;
    if (mode == kDmInit && level_trigger && !assert_level) {
        m.trigger = ApicTriggerMode::Level;
        m.level_assert = false;
    }
    m.x2apic_destination = x2apic();
    m.destination = x2apic() ? icr_high_ : icr_high_ >> 24;
    m.shorthand = shorthand;
    m.source_id = id_;
    fx.send = true;
    log_cat(logcat::kInt, "{}: IPI mode {} vector {:#x} shorthand {} destination {:#x}{}", name_, mode,
            vector, unsigned(shorthand), m.destination,
            m.destination_mode == ApicDestinationMode::Logical ? " logical" : "");
}

// ------------------------------------------------------------------- LVT

void LocalApic::write_lvt_locked(Lvt lvt, uint32_t value, Effects& fx) {
    const uint32_t old = lvt_[lvt];
    uint32_t entry = value & kLvtWritable[lvt];
    if (!sw_enabled()) entry |= kLvtMasked; // masks cannot be cleared while software-disabled
    const unsigned mode = (entry >> 8) & 7;
    if (lvt == LvtThermal || lvt == LvtPerf || lvt == LvtLint0 || lvt == LvtLint1) {
        if (mode == 1 || mode == 3 || mode == 6 ||
            (mode == kDmExtInt && (lvt == LvtThermal || lvt == LvtPerf)))
            log_guest_error("{}: {} LVT {:#x}: reserved delivery mode {}", name_, kLvtNames[lvt], value,
                            mode);
    }
    if (lvt == LvtLint1 && mode == kDmFixed && (entry & kLvtTriggerLevel))
        log_guest_error("{}: LINT1 LVT {:#x}: level trigger is not supported on LINT1; edge is used", name_,
                        value);
    if (lvt == LvtLint0 || lvt == LvtLint1) {
        // Remote IRR stays while the entry remains fixed and level-triggered.
        if (mode == kDmFixed && (entry & kLvtTriggerLevel)) entry |= old & kLvtRemoteIrr;
    }
    if (lvt == LvtTimer) {
        const unsigned old_mode = (old >> 17) & 3, new_mode = (entry >> 17) & 3;
        if (new_mode == 3)
            log_guest_error("{}: timer LVT {:#x}: reserved timer mode 3, counts as one-shot", name_, value);
        const bool old_deadline = old_mode == 2, new_deadline = new_mode == 2;
        if (old_deadline != new_deadline) {
            // Switching into or out of TSC-deadline mode disarms the timer.
            lvt_[lvt] = entry;
            timer_counting_ = false;
            tsc_deadline_ = 0;
            timer_.cancel();
        } else if (old_mode != new_mode && !new_deadline) {
            // One-shot <-> periodic: the count goes on from where it is.
            const uint32_t count = current_count_locked();
            lvt_[lvt] = entry;
            timer_counting_ = count != 0;
            timer_base_ns_ = timers_.now_ns();
            timer_base_count_ = count;
            arm_timer_locked();
        }
    }
    lvt_[lvt] = entry;
    // An unmasked level-triggered LINT0 whose pin is asserted delivers now.
    if (lvt == LvtLint0 && mode == kDmFixed && (entry & kLvtTriggerLevel))
        lint_changed_locked(0, lint_level_[0], fx);
}

// ----------------------------------------------------------------- timer

namespace {
uint32_t divisor_of(uint32_t config) {
    const unsigned v = ((config >> 1) & 4) | (config & 3);
    return v == 7 ? 1 : 2u << v;
}
} // namespace

uint32_t LocalApic::current_count_locked() const {
    if (!timer_counting_ || tsc_deadline_mode_locked()) return 0;
    const uint64_t now = timers_.now_ns();
    const uint64_t ticks = now > timer_base_ns_ ? (now - timer_base_ns_) / divisor_of(divide_config_) : 0;
    if (ticks < timer_base_count_) return uint32_t(timer_base_count_ - ticks);
    if (!periodic_mode_locked() || timer_initial_ == 0) return 0;
    // Periodic: reloaded with the initial count each time it reaches 0.
    return timer_initial_ - uint32_t((ticks - timer_base_count_) % timer_initial_);
}

void LocalApic::rebase_timer_locked() {
    const uint32_t count = current_count_locked();
    timer_counting_ = timer_counting_ && count != 0;
    timer_base_ns_ = timers_.now_ns();
    timer_base_count_ = count;
}

void LocalApic::arm_timer_locked() {
    if (tsc_deadline_mode_locked()) {
        if (tsc_deadline_ == 0) {
            timer_.cancel();
            return;
        }
        const uint64_t tsc = guest_tsc_();
        const uint64_t now = timers_.now_ns();
        if (tsc_deadline_ <= tsc) {
            timer_.arm(now);
            return;
        }
        // Rounded up, so the expiry never comes before the deadline.
        const unsigned __int128 cycles = tsc_deadline_ - tsc;
        const uint64_t hz = tsc_hz_ ? tsc_hz_ : host_tsc_hz();
        const unsigned __int128 ns = (cycles * kNsPerSecond + hz - 1) / hz;
        timer_.arm(ns > TimerQueue::kNever - now ? TimerQueue::kNever - 1 : now + uint64_t(ns));
        return;
    }
    if (!timer_counting_) {
        timer_.cancel();
        return;
    }
    const uint64_t divisor = divisor_of(divide_config_);
    const uint64_t first = timer_base_ns_ + uint64_t(timer_base_count_) * divisor;
    const uint64_t now = timers_.now_ns();
    if (!periodic_mode_locked() || now < first) {
        timer_.arm(first);
        return;
    }
    // Periodic: the next multiple of the period after now, counted from the
    // first expiry, so late callbacks never shift the schedule.
    const uint64_t period = uint64_t(timer_initial_) * divisor;
    timer_.arm(first + ((now - first) / period + 1) * period);
}

void LocalApic::timer_expired() {
    std::unique_lock lock(mu_);
    Effects fx;
    if (tsc_deadline_mode_locked()) {
        if (tsc_deadline_ != 0) {
            if (guest_tsc_() < tsc_deadline_) {
                arm_timer_locked();
            } else {
                tsc_deadline_ = 0; // the MSR clears when the timer fires
                deliver_lvt_locked(LvtTimer, fx);
            }
        }
    } else if (timer_counting_) {
        const uint64_t first = timer_base_ns_ + uint64_t(timer_base_count_) * divisor_of(divide_config_);
        if (timers_.now_ns() < first) {
            arm_timer_locked();
        } else {
            if (!periodic_mode_locked()) timer_counting_ = false;
            deliver_lvt_locked(LvtTimer, fx);
            if (timer_counting_) arm_timer_locked();
        }
    }
    finish(lock, fx);
}

// ------------------------------------------------------------- registers

ApicAddressing LocalApic::addressing() const {
    std::lock_guard lock(mu_);
    ApicAddressing a;
    a.hardware_enabled = hw_enabled();
    a.software_enabled = hw_enabled() && sw_enabled();
    a.x2apic = x2apic();
    a.id = id_;
    a.ldr = x2apic() ? x2apic_ldr(id_) : ldr_;
    a.dfr = dfr_;
    a.focus_checking = !(svr_ & kSvrFocusDisable);
    return a;
}

uint8_t LocalApic::arbitration_priority() const {
    std::lock_guard lock(mu_);
    return uint8_t(apr_locked());
}

bool LocalApic::has_vector(uint8_t vector) const {
    std::lock_guard lock(mu_);
    return test_bit(irr_, vector) || test_bit(isr_, vector);
}

// Reads a register common to both modes (ICR as its low half); `ok` false
// for an index that is not a readable register.
uint32_t LocalApic::read_register_locked(unsigned index, bool& ok) const {
    ok = true;
    switch (index) {
    case RegId: return x2apic() ? id_ : id_ << 24;
    case RegVersion: return kVersion;
    case RegTpr: return tpr_;
    case RegApr: return apr_locked();
    case RegPpr: return ppr_locked();
    case RegLdr: return x2apic() ? x2apic_ldr(id_) : ldr_;
    case RegDfr: return dfr_;
    case RegSvr: return svr_;
    case RegEsr: return esr_;
    case RegIcrLow: return icr_low_;
    case RegIcrHigh: return icr_high_;
    case RegInitialCount: return timer_initial_;
    case RegCurrentCount: return current_count_locked();
    case RegDivide: return divide_config_;
    default: break;
    }
    if (index >= RegIsr && index < RegIsr + 8) return isr_[index - RegIsr];
    if (index >= RegTmr && index < RegTmr + 8) return tmr_[index - RegTmr];
    if (index >= RegIrr && index < RegIrr + 8) return irr_[index - RegIrr];
    if (index >= RegLvtFirst && index <= RegLvtLast) return lvt_[index - RegLvtFirst];
    ok = false;
    return 0;
}

// Writes a register common to both modes; the callers have rejected the
// read-only and mode-specific ones. Returns false for anything else.
bool LocalApic::write_register_locked(unsigned index, uint64_t value, bool from_msr, Effects& fx) {
    const uint32_t v = uint32_t(value);
    switch (index) {
    case RegTpr: tpr_ = v & 0xff; return true;
    case RegEoi: eoi_locked(fx); return true;
    case RegSvr: {
        if (v & ~kSvrWritable)
            log_guest_error("{}: SVR {:#x}: reserved bits (no EOI-broadcast suppression) ignored", name_, v);
        svr_ = v & kSvrWritable;
        if (!sw_enabled())
            for (uint32_t& e : lvt_) e |= kLvtMasked;
        return true;
    }
    case RegEsr:
        // Write-to-update: the errors since the previous write become visible.
        esr_ = esr_pending_;
        esr_pending_ = 0;
        return true;
    case RegIcrLow:
        icr_low_ = v & kIcrLowWritable;
        if (from_msr) icr_high_ = uint32_t(value >> 32);
        send_icr_locked(fx);
        return true;
    case RegInitialCount:
        if (tsc_deadline_mode_locked()) return true; // ignored in TSC-deadline mode
        timer_initial_ = v;
        timer_counting_ = v != 0;
        timer_base_ns_ = timers_.now_ns();
        timer_base_count_ = v;
        arm_timer_locked();
        return true;
    case RegDivide:
        rebase_timer_locked();
        divide_config_ = v & kDivideWritable;
        arm_timer_locked();
        return true;
    default: break;
    }
    if (index >= RegLvtFirst && index <= RegLvtLast) {
        write_lvt_locked(Lvt(index - RegLvtFirst), v, fx);
        return true;
    }
    return false;
}

// ------------------------------------------------------------------ MMIO

uint64_t LocalApic::io_read(uint64_t offset, unsigned size) {
    const uint64_t ones = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    std::unique_lock lock(mu_);
    if (!hw_enabled() || x2apic() || offset >= kMmioSize) {
        log_guest_error("{}: MMIO read at {:#x} while the xAPIC page is not decoded: all ones", name_,
                        offset);
        return ones;
    }
    Effects fx;
    const unsigned index = unsigned(offset >> 4), pos = unsigned(offset & 15);
    bool ok;
    uint32_t reg;
    if (index == RegEoi || index == RegRrd) {
        // EOI is write-only; the remote read register of the P6 stays at its
        // reset value (the xAPIC has no remote read).
        reg = 0;
        ok = true;
    } else {
        reg = read_register_locked(index, ok);
    }
    if (!ok) {
        log_guest_error("{}: read of reserved register {:#x}", name_, index << 4);
        signal_error_locked(kEsrIllegalRegister, fx);
        reg = 0;
    }
    uint64_t result;
    if (size == 4 && pos == 0) {
        result = reg;
    } else {
        // Only 32-bit accesses at 16-byte boundaries are architectural; the
        // other bytes of a 16-byte slot float.
        log_guest_error("{}: {}-byte read at {:#x}: not a 32-bit aligned register access", name_, size,
                        offset);
        result = 0;
        for (unsigned i = 0; i < size && i < 8; i++) {
            const unsigned p = pos + i;
            const uint64_t byte = p < 4 ? (reg >> (p * 8)) & 0xff : 0xff;
            result |= byte << (i * 8);
        }
    }
    finish(lock, fx);
    return result;
}

void LocalApic::io_write(uint64_t offset, unsigned size, uint64_t value) {
    std::unique_lock lock(mu_);
    Effects fx;
    const unsigned index = unsigned(offset >> 4);
    if (!hw_enabled() || x2apic() || offset >= kMmioSize) {
        log_guest_error("{}: MMIO write {:#x} at {:#x} while the xAPIC page is not decoded: dropped", name_,
                        value, offset);
    } else if (size != 4 || (offset & 15)) {
        log_guest_error("{}: {}-byte write {:#x} at {:#x}: not a 32-bit aligned register access, dropped",
                        name_, size, value, offset);
    } else {
        const uint32_t v = uint32_t(value);
        switch (index) {
        case RegId: id_ = v >> 24; break;
        case RegLdr: ldr_ = v & 0xff000000; break;
        case RegDfr:
            dfr_ = v | 0x0fffffff;
            if ((v >> 28) != 0 && (v >> 28) != 0xf)
                log_guest_error("{}: DFR {:#x}: undefined model (flat is 0xF, cluster 0x0)", name_, v);
            break;
        case RegIcrHigh: icr_high_ = v & 0xff000000; break;
        case RegVersion:
        case RegApr:
        case RegPpr:
        case RegRrd:
        case RegCurrentCount:
            log_guest_error("{}: write {:#x} to read-only register {:#x} ignored", name_, v, index << 4);
            break;
        default:
            if (index >= RegIsr && index < RegIrr + 8) {
                log_guest_error("{}: write {:#x} to read-only register {:#x} ignored", name_, v, index << 4);
            } else if (!write_register_locked(index, v, false, fx)) {
                log_guest_error("{}: write {:#x} to reserved register {:#x}", name_, v, index << 4);
                signal_error_locked(kEsrIllegalRegister, fx);
            }
            break;
        }
    }
    finish(lock, fx);
}

// ------------------------------------------------------------------ MSRs

bool LocalApic::write_apic_base_locked(uint64_t value, Effects& fx) {
    const uint64_t base_bits = base_field_mask() & ~0xfffull;
    if (value & ~(base_bits | kBaseBsp | kBaseEnable | kBaseExtd)) return false; // reserved bits
    const bool en = hw_enabled(), extd = x2apic();
    const bool new_en = value & kBaseEnable, new_extd = value & kBaseExtd;
    // The transitions the SDM forbids: EXTD without EN, x2APIC straight
    // back to xAPIC, disabled straight to x2APIC.
    if (new_extd && !new_en) return false;
    if (extd && new_en && !new_extd) return false;
    if (!en && new_extd) return false;
    const uint64_t old_base = apic_base_ & base_bits;
    if (en && !new_en) {
        // Disabling loses the APIC's state: it comes back in its reset state.
        reset_registers_locked();
        id_ = initial_id_ & 0xff;
    }
    if (!extd && new_extd) id_ = initial_id_; // the x2APIC ID is the initial APIC ID
    apic_base_ = (value & (base_bits | kBaseEnable | kBaseExtd)) | (apic_base_ & kBaseBsp);
    if ((apic_base_ & base_bits) != old_base) {
        fx.base_changed = true;
        fx.new_base = apic_base_ & base_bits;
    }
    return true;
}

bool LocalApic::read_msr(uint32_t msr, uint64_t& value) {
    std::lock_guard lock(mu_);
    if (msr == kMsrApicBase) {
        value = apic_base_;
        return true;
    }
    if (msr == kMsrTscDeadline) {
        value = tsc_deadline_mode_locked() ? tsc_deadline_ : 0; // reads 0 in the other modes
        return true;
    }
    if (msr < kMsrX2apicFirst || msr > kMsrX2apicLast || !hw_enabled() || !x2apic()) return false;
    const unsigned index = msr - kMsrX2apicFirst;
    switch (index) {
    case RegApr:
    case RegEoi:
    case RegRrd:
    case RegDfr:
    case RegIcrHigh:
    case RegSelfIpi: return false; // absent in x2APIC mode, or write-only
    case RegIcrLow: value = (uint64_t(icr_high_) << 32) | icr_low_; return true;
    default: break;
    }
    bool ok;
    value = read_register_locked(index, ok);
    return ok;
}

bool LocalApic::write_msr(uint32_t msr, uint64_t value) {
    std::unique_lock lock(mu_);
    Effects fx;
    bool ok = true;
    if (msr == kMsrApicBase) {
        ok = write_apic_base_locked(value, fx);
    } else if (msr == kMsrTscDeadline) {
        if (tsc_deadline_mode_locked()) { // ignored in the other modes
            tsc_deadline_ = value;
            arm_timer_locked();
        }
    } else if (msr < kMsrX2apicFirst || msr > kMsrX2apicLast || !hw_enabled() || !x2apic()) {
        ok = false;
    } else {
        const unsigned index = msr - kMsrX2apicFirst;
        if (index != RegIcrLow && (value >> 32)) {
            ok = false; // bits 63:32 are reserved except in the ICR
        } else {
            switch (index) {
            case RegEoi:
            case RegEsr: ok = value == 0 && write_register_locked(index, value, true, fx); break;
            case RegSelfIpi:
                if (value & ~0xffull) {
                    ok = false;
                    break;
                }
                if (value < 16) {
                    log_guest_error("{}: SELF IPI with illegal vector {:#x}; not sent", name_, value);
                    signal_error_locked(kEsrSendIllegalVector, fx);
                    break;
                }
                fx.message = ApicMessage{};
                fx.message.vector = uint8_t(value);
                fx.message.shorthand = ApicShorthand::Self;
                fx.message.x2apic_destination = true;
                fx.message.source_id = id_;
                fx.send = true;
                break;
            case RegTpr:
            case RegSvr:
            case RegIcrLow:
            case RegInitialCount:
            case RegDivide: ok = write_register_locked(index, value, true, fx); break;
            default:
                // LVTs are writable; ID, version, PPR, LDR, ISR/TMR/IRR and
                // current count are read-only; the rest is absent: #GP.
                ok = index >= RegLvtFirst && index <= RegLvtLast &&
                     write_register_locked(index, value, true, fx);
                break;
            }
        }
    }
    finish(lock, fx);
    return ok;
}

} // namespace hayate
