#include "devices/ferr_latch.h"

namespace hayate {

void FerrLatch::reset() {
    ignne_ = false;
    irq13_.lower();
}

void FerrLatch::save(StateWriter& out) const {
    out.put(irq13_.level());
    out.put(ignne_.load());
}

void FerrLatch::load(StateReader& in) {
    bool level, ignne;
    in.get(level);
    in.get(ignne);
    ignne_ = ignne;
    irq13_.set(level);
}

void FerrLatch::io_write(uint64_t, unsigned, uint64_t) {
    irq13_.lower();
    ignne_ = true;
}

void FerrLatch::assert_error() {
    ignne_ = false;
    irq13_.raise();
}

} // namespace hayate
