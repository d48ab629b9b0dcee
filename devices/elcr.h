// The PIIX3's edge/level control registers (ELCR1 at 0x4d0 for IRQ0-7, ELCR2
// at 0x4d1 for IRQ8-15): a set bit makes that 8259A input level-triggered.
// IRQ0, 1, 2, 8 and 13 are always edge-triggered (their bits read as 0).
#pragma once
#include "devices/pic8259.h"
#include "machine/io.h"

namespace hayate {

class Elcr final : public Device {
  public:
    static constexpr uint16_t kPort = 0x4d0;
    static constexpr unsigned kPortCount = 2;
    static constexpr uint8_t kWritable[2] = {0xf8, 0xde};

    Elcr(Pic8259& master, Pic8259& slave) : pics_{&master, &slave} {}

    const char* name() const override { return "elcr"; }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  private:
    Pic8259* pics_[2];
};

} // namespace hayate
