#include "devices/elcr.h"

namespace hayate {

void Elcr::reset() {
    for (Pic8259* p : pics_) p->set_level_triggered(0);
}

void Elcr::save(StateWriter& out) const {
    for (const Pic8259* p : pics_) out.put(p->level_triggered());
}

void Elcr::load(StateReader& in) {
    for (unsigned i = 0; i < 2; i++) {
        uint8_t v;
        in.get(v);
        pics_[i]->set_level_triggered(uint8_t(v & kWritable[i]));
    }
}

uint64_t Elcr::io_read(uint64_t offset, unsigned size) {
    uint64_t v = 0;
    for (unsigned i = 0; i < size && offset + i < kPortCount; i++)
        v |= uint64_t(pics_[offset + i]->level_triggered()) << (8 * i);
    // Bytes past the two registers float.
    for (unsigned i = unsigned(kPortCount > offset ? kPortCount - offset : 0); i < size; i++)
        v |= 0xffull << (8 * i);
    return v;
}

void Elcr::io_write(uint64_t offset, unsigned size, uint64_t value) {
    for (unsigned i = 0; i < size && offset + i < kPortCount; i++)
        pics_[offset + i]->set_level_triggered(uint8_t((value >> (8 * i)) & kWritable[offset + i]));
}

} // namespace hayate
