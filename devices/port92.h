// System control port A at 0x92 ("fast A20 and fast init"), decoded by the
// PIIX3 on the i440FX board. Bit 0 (ALT_RST) asks for a CPU reset on its
// 0-to-1 edge; bit 1 (ALT_A20) drives the A20 gate, ORed by the board with
// the keyboard controller's A20 output. Bits 2-7 are reserved on the PIIX:
// they keep what was written, as a plain latch, and read back.
#pragma once
#include "machine/io.h"
#include <functional>

namespace hayate {

class Port92 final : public Device {
  public:
    static constexpr uint16_t kPort = 0x92;
    static constexpr uint8_t kFastReset = 0x01;
    static constexpr uint8_t kA20 = 0x02;

    // `on_reset` runs on a 0-to-1 edge of bit 0; `on_a20` gets bit 1 after
    // every change of it (and after reset()/load(), so the board re-syncs).
    Port92(std::function<void()> on_reset, std::function<void(bool)> on_a20);

    const char* name() const override { return "port92"; }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    bool a20() const { return value_ & kA20; }

  private:
    std::function<void()> on_reset_;
    std::function<void(bool)> on_a20_;
    uint8_t value_ = 0;
};

} // namespace hayate
