// Port 0x80, the POST diagnostic port: firmware writes progress codes to it
// and Linux writes it for short I/O delays (outb_p), so writes are frequent
// and are neither logged nor acted on; the last value is kept (save/load,
// last_code() for diagnostics). On a PC the port is write-only - a POST card
// latches the value, nothing drives the bus on reads - so reads float to all
// ones, as QEMU's port 0x80 also answers.
#pragma once
#include "machine/io.h"

namespace hayate {

class PostPort final : public Device {
  public:
    static constexpr uint16_t kPort = 0x80;

    const char* name() const override { return "post-port"; }
    void reset() override { last_ = 0; }
    void save(StateWriter& out) const override { out.put(last_); }
    void load(StateReader& in) override { in.get(last_); }
    uint64_t io_read(uint64_t, unsigned size) override {
        return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    }
    // A wider write puts its low byte on the port (the rest goes to the
    // following, undecoded ports).
    void io_write(uint64_t offset, unsigned, uint64_t value) override {
        if (offset == 0) last_ = uint8_t(value);
    }

    uint8_t last_code() const { return last_; }

  private:
    uint8_t last_ = 0;
};

} // namespace hayate
