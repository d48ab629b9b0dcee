#include "devices/io_apic.h"
#include "machine/log.h"

namespace hayate {

namespace {

constexpr uint64_t kMasked = 1ull << 16;
constexpr uint64_t kTriggerLevel = 1ull << 15;
constexpr uint64_t kRemoteIrr = 1ull << 14;
constexpr uint64_t kPolarityLow = 1ull << 13;
// Vector, delivery mode, destination mode, polarity, trigger, mask; the
// destination in bits 63:56. Delivery status and remote IRR are read-only.
constexpr uint64_t kWritable = 0xff0000000001afffull;

constexpr uint32_t kRegId = 0x00, kRegVersion = 0x01, kRegArbitration = 0x02, kRegTableFirst = 0x10;

unsigned delivery_mode(uint64_t entry) { return unsigned(entry >> 8) & 7; }
// Remote IRR and resending apply to level-triggered Fixed and Lowest Priority
// entries; the datasheet requires edge mode for SMI, NMI, INIT and ExtINT.
bool level_entry(uint64_t entry) { return (entry & kTriggerLevel) && delivery_mode(entry) <= 1; }

} // namespace

IoApic::IoApic(ApicBus& bus, std::string name) : name_(std::move(name)), bus_(bus) {
    redirection_.fill(kMasked);
    bus_.attach(this);
}

IoApic::~IoApic() { bus_.detach(this); }

void IoApic::reset() {
    std::lock_guard lock(mu_);
    select_ = 0;
    id_ = 0;
    arbitration_ = 0;
    redirection_.fill(kMasked); // masked; the other bits are undefined at reset (zero here)
}

void IoApic::save(StateWriter& out) const {
    std::lock_guard lock(mu_);
    out.put(select_);
    out.put(id_);
    out.put(arbitration_);
    out.put(redirection_);
    out.put(inputs_);
}

void IoApic::load(StateReader& in) {
    std::lock_guard lock(mu_);
    in.get(select_);
    in.get(id_);
    in.get(arbitration_);
    in.get(redirection_);
    in.get(inputs_);
}

uint64_t IoApic::redirection_entry(unsigned pin) const {
    std::lock_guard lock(mu_);
    return pin < kPins ? redirection_[pin] : 0;
}

bool IoApic::asserted_locked(unsigned pin) const {
    return bool((inputs_ >> pin) & 1) != bool(redirection_[pin] & kPolarityLow);
}

void IoApic::service_locked(unsigned pin, bool rising, std::vector<Pending>& out) {
    uint64_t& entry = redirection_[pin];
    if (entry & kMasked) return;
    const bool level = level_entry(entry);
    if (level ? (!asserted_locked(pin) || (entry & kRemoteIrr)) : !rising) return;
    const unsigned mode = delivery_mode(entry);
    const uint8_t vector = uint8_t(entry);
    if (mode == 3 || mode == 6) {
        log_guest_error("{}: pin {}: reserved delivery mode {}; nothing delivered", name_, pin, mode);
        return;
    }
    if (mode <= 1 && vector < 16) {
        log_guest_error("{}: pin {}: illegal vector {:#x}; nothing delivered", name_, pin, vector);
        return;
    }
    Pending p{pin, level, ApicMessage{}};
    p.message.vector = vector;
    p.message.delivery_mode = ApicDeliveryMode(mode);
    p.message.destination_mode =
        (entry & (1ull << 11)) ? ApicDestinationMode::Logical : ApicDestinationMode::Physical;
    p.message.trigger = level ? ApicTriggerMode::Level : ApicTriggerMode::Edge;
    p.message.destination = uint32_t(entry >> 56);
    p.message.source_id = id_ >> 24;
    if (level) entry |= kRemoteIrr;
    out.push_back(p);
}

// Sends with the lock released. A level message nobody accepted leaves no
// remote IRR behind (no EOI would ever clear it).
void IoApic::deliver(std::vector<Pending>& pending) {
    for (const Pending& p : pending) {
        const unsigned accepted = bus_.send(p.message);
        if (p.level && accepted == 0) {
            std::lock_guard lock(mu_);
            if (uint8_t(redirection_[p.pin]) == p.message.vector) redirection_[p.pin] &= ~kRemoteIrr;
        }
    }
}

void IoApic::set_input(unsigned pin, bool level) {
    if (pin >= kPins) {
        log_warning("{}: input {} does not exist (board wiring)", name_, pin);
        return;
    }
    std::vector<Pending> pending;
    {
        std::lock_guard lock(mu_);
        const bool was = asserted_locked(pin);
        if (level)
            inputs_ |= 1u << pin;
        else
            inputs_ &= ~(1u << pin);
        const bool now = asserted_locked(pin);
        if (now != was || level_entry(redirection_[pin])) service_locked(pin, now && !was, pending);
    }
    deliver(pending);
}

void IoApic::eoi_locked(uint8_t vector, std::vector<Pending>& out) {
    for (unsigned pin = 0; pin < kPins; pin++) {
        uint64_t& entry = redirection_[pin];
        if ((entry & kRemoteIrr) && uint8_t(entry) == vector) {
            entry &= ~kRemoteIrr;
            service_locked(pin, false, out); // still asserted: sent again
        }
    }
}

void IoApic::end_of_interrupt(uint8_t vector) {
    std::vector<Pending> pending;
    {
        std::lock_guard lock(mu_);
        eoi_locked(vector, pending);
    }
    deliver(pending);
}

uint32_t IoApic::read_window_locked() {
    switch (select_) {
    case kRegId: return id_;
    case kRegVersion: return kVersion;
    case kRegArbitration: return arbitration_;
    default: break;
    }
    if (select_ >= kRegTableFirst && select_ < kRegTableFirst + 2 * kPins) {
        const uint64_t entry = redirection_[(select_ - kRegTableFirst) / 2];
        return (select_ & 1) ? uint32_t(entry >> 32) : uint32_t(entry);
    }
    log_guest_error("{}: read of undefined register {:#x}: all ones", name_, select_);
    return 0xffffffff;
}

void IoApic::write_window_locked(uint32_t value, std::vector<Pending>& out) {
    if (select_ == kRegId) {
        id_ = value & 0x0f000000;
        arbitration_ = id_; // the arbitration ID is loaded from the ID on a write
        return;
    }
    if (select_ == kRegVersion || select_ == kRegArbitration) {
        log_guest_error("{}: write {:#x} to read-only register {:#x} ignored", name_, value, select_);
        return;
    }
    if (select_ < kRegTableFirst || select_ >= kRegTableFirst + 2 * kPins) {
        log_guest_error("{}: write {:#x} to undefined register {:#x} dropped", name_, value, select_);
        return;
    }
    const unsigned pin = (select_ - kRegTableFirst) / 2;
    uint64_t& entry = redirection_[pin];
    uint64_t update =
        (select_ & 1) ? (uint64_t(value) << 32) | uint32_t(entry) : (entry & ~0xffffffffull) | value;
    if (update & ~kWritable & ((select_ & 1) ? ~0xffffffffull : 0xffffffffull) & ~(kRemoteIrr | (1ull << 12)))
        log_guest_error("{}: pin {} entry {:#x}: reserved bits ignored", name_, pin, update);
    update = (update & kWritable) | (entry & kRemoteIrr);
    if (!level_entry(update)) update &= ~kRemoteIrr; // remote IRR is meaningless for edge entries
    const unsigned mode = delivery_mode(update);
    if ((update & kTriggerLevel) && mode >= 2 && !(select_ & 1))
        log_guest_error("{}: pin {}: delivery mode {} requires edge trigger; treated as edge", name_, pin,
                        mode);
    entry = update;
    if (level_entry(entry)) service_locked(pin, false, out); // unmasked while asserted
}

uint64_t IoApic::io_read(uint64_t offset, unsigned size) {
    const uint64_t ones = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    std::lock_guard lock(mu_);
    if (offset == kRegSelect && size <= 4) return select_;
    if (offset == kRegWindow && size == 4) return read_window_locked();
    if (offset == kRegEoi && size == 4) {
        log_guest_error("{}: read of the write-only EOI register: all ones", name_);
        return ones;
    }
    log_guest_error("{}: {}-byte read at {:#x}: no register there, all ones", name_, size, offset);
    return ones;
}

void IoApic::io_write(uint64_t offset, unsigned size, uint64_t value) {
    std::vector<Pending> pending;
    {
        std::lock_guard lock(mu_);
        if (offset == kRegSelect && size <= 4) {
            select_ = uint8_t(value);
        } else if (offset == kRegWindow && size == 4) {
            write_window_locked(uint32_t(value), pending);
        } else if (offset == kRegEoi && size == 4) {
            eoi_locked(uint8_t(value), pending);
        } else {
            log_guest_error("{}: {}-byte write {:#x} at {:#x}: no register there, dropped", name_, size,
                            value, offset);
        }
    }
    deliver(pending);
}

} // namespace hayate
