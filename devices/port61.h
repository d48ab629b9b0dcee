// The PC's system control port B at 0x61 (PIIX "NMI status and control").
//
// Read: bit 0 timer 2 gate and bit 1 speaker data enable (as written),
// bits 2-3 as written (parity and IOCHK check enables), bit 4 the refresh
// request toggle (flips every 15.085 us of virtual time), bit 5 the 8254's
// counter 2 OUT, bit 6 IOCHK and bit 7 parity error (never raised here: 0).
// Write: bits 0-3 are stored, bit 0 drives counter 2's GATE; bits 4-7 are
// read-only. There is no audio output: speaker tones are not played.
#pragma once
#include "devices/pit8254.h"
#include "machine/clock.h"
#include "machine/io.h"

namespace hayate {

class Port61 final : public Device {
  public:
    static constexpr uint16_t kPort = 0x61;
    static constexpr unsigned kPortCount = 1;
    // Refresh request toggle: half a period of the DRAM refresh (counter 1
    // in mode 2 with count 18 on the original PC, 15.085 us).
    static constexpr uint64_t kRefreshToggleNs = 15085;

    Port61(Pit8254& pit, TimerQueue& timers);

    const char* name() const override { return "port61"; }
    void reset() override; // 0: timer 2 gate low, speaker off, checks enabled
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    // One byte; the bytes of a wider access past 0x61 float (read 0xff,
    // writes dropped).
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  private:
    Pit8254& pit_;
    TimerQueue& timers_;
    uint8_t control_ = 0; // bits 0-3 as written
    bool speaker_warned_ = false;
};

} // namespace hayate
