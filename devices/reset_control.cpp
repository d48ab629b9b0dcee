#include "devices/reset_control.h"
#include "machine/log.h"
#include <stdexcept>

namespace hayate {

ResetControl::ResetControl(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {
    if (!on_reset_) throw std::invalid_argument("reset-control: needs a reset callback");
}

void ResetControl::load(StateReader& in) {
    in.get(value_);
    value_ &= kImplemented;
}

uint64_t ResetControl::io_read(uint64_t offset, unsigned size) {
    uint64_t v = offset == 0 ? value_ : 0xff;
    for (unsigned i = 1; i < size; i++) v |= 0xffull << (8 * i);
    if (size > 1) log_guest_error("reset-control: {}-byte read at offset {}", size, offset);
    return v;
}

void ResetControl::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if (size > 1) log_guest_error("reset-control: {}-byte write of {:#x} at offset {}", size, value, offset);
    if (offset != 0) return;
    const uint8_t old = value_;
    if (value & ~uint64_t(kImplemented) & 0xff)
        log_guest_error("reset-control: reserved bits set in {:#04x}", value & 0xff);
    value_ = uint8_t(value & kImplemented);
    if ((value_ & kResetCpu) && !(old & kResetCpu)) on_reset_();
}

} // namespace hayate
