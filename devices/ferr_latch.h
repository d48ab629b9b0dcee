// The PC's coprocessor-error logic (ISA bridge): with CR0.NE=0 an unmasked
// x87 exception asserts FERR#, which the board latches onto IRQ 13; the
// handler writes port 0xF0 to clear the latch (and assert IGNNE#, so the
// waiting x87 instruction may go on even before FNCLEX).
#pragma once
#include "machine/io.h"
#include <atomic>

namespace hayate {

class FerrLatch final : public Device {
  public:
    static constexpr uint16_t kPort = 0xf0;

    explicit FerrLatch(IrqLine& irq13) : irq13_(irq13) {}

    const char* name() const override { return "ferr-latch"; }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    // Port 0xF0 is write-only: reads see the floating bus.
    uint64_t io_read(uint64_t, unsigned) override { return 0xff; }
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // FERR# asserted by a waiting x87 instruction that found an unmasked error.
    void assert_error();
    // IGNNE# (set by the port write, cleared by the next FERR#): the waiting
    // instruction ignores the pending error.
    bool ignore_errors() const { return ignne_.load(); }

  private:
    IrqLine& irq13_;
    std::atomic<bool> ignne_{false};
};

} // namespace hayate
