#include "devices/port61.h"
#include "machine/log.h"

namespace hayate {

Port61::Port61(Pit8254& pit, TimerQueue& timers) : pit_(pit), timers_(timers) { reset(); }

void Port61::reset() {
    control_ = 0;
    pit_.set_gate(2, false);
}

void Port61::save(StateWriter& out) const { out.put(control_); }

void Port61::load(StateReader& in) {
    in.get(control_);
    control_ &= 0x0f;
    // The PIT restores its own copy of the gate; this only keeps the two
    // consistent should they disagree.
    pit_.set_gate(2, control_ & 1);
}

uint64_t Port61::io_read(uint64_t offset, unsigned size) {
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++) {
        if (offset + i != 0) {
            log_guest_error("port61: {}-byte read at offset {} runs past port {:#x}", size, offset, kPort);
            value |= 0xffull << (8 * i);
            continue;
        }
        const bool refresh = (timers_.now_ns() / kRefreshToggleNs) & 1;
        value |= uint64_t(control_ | (refresh ? 0x10 : 0) | (pit_.out(2) ? 0x20 : 0)) << (8 * i);
    }
    return value;
}

void Port61::io_write(uint64_t offset, unsigned size, uint64_t value) {
    for (unsigned i = 0; i < size; i++) {
        if (offset + i != 0) {
            log_guest_error("port61: {}-byte write at offset {} runs past port {:#x}", size, offset, kPort);
            continue;
        }
        control_ = uint8_t((value >> (8 * i)) & 0x0f);
        pit_.set_gate(2, control_ & 1);
        if ((control_ & 3) == 3 && !speaker_warned_) {
            speaker_warned_ = true;
            log_warning("port61: PC speaker turned on (timer 2 gate and speaker data); there is no audio "
                        "output, the tone is not played");
        }
    }
}

} // namespace hayate
