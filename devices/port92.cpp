#include "devices/port92.h"
#include "machine/log.h"
#include <stdexcept>

namespace hayate {

Port92::Port92(std::function<void()> on_reset, std::function<void(bool)> on_a20)
    : on_reset_(std::move(on_reset)), on_a20_(std::move(on_a20)) {
    if (!on_reset_ || !on_a20_) throw std::invalid_argument("port92: needs reset and A20 callbacks");
}

void Port92::reset() {
    value_ = 0; // ALT_A20 and ALT_RST are 0 after a hard reset
    on_a20_(false);
}

void Port92::save(StateWriter& out) const { out.put(value_); }

void Port92::load(StateReader& in) {
    in.get(value_);
    on_a20_(a20());
}

uint64_t Port92::io_read(uint64_t offset, unsigned size) {
    // One byte-wide port: bytes of a wider access beyond it float.
    uint64_t v = offset == 0 ? value_ : 0xff;
    for (unsigned i = 1; i < size; i++) v |= 0xffull << (8 * i);
    if (size > 1) log_guest_error("port92: {}-byte read at offset {}", size, offset);
    return v;
}

void Port92::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if (size > 1) log_guest_error("port92: {}-byte write of {:#x} at offset {}", size, value, offset);
    if (offset != 0) return;
    const uint8_t old = value_;
    value_ = uint8_t(value);
    if ((old ^ value_) & kA20) on_a20_(a20());
    if ((value_ & kFastReset) && !(old & kFastReset)) on_reset_();
}

} // namespace hayate
