// QEMU's isa-debug-exit: a guest write of V ends the emulator with exit
// status (V << 1) | 1, so test programs can report pass/fail to the host.
// The board maps it at `iobase` (default 0x501) with `iosize` ports.
#pragma once
#include "machine/io.h"
#include <functional>
#include <string>

namespace hayate {

class DebugExit final : public Device {
  public:
    // `shutdown` receives the exit status (the board passes
    // Machine::request_shutdown). `iosize` is the mapped size, 1 to 4 ports.
    DebugExit(std::string name, unsigned iosize, std::function<void(int status)> shutdown);

    // The status QEMU computes for a written value: (V << 1) | 1, truncated
    // to an int like QEMU's exit() argument (the host keeps its low 8 bits).
    static int exit_status(uint64_t value) { return int(uint32_t((value << 1) | 1)); }

    const char* name() const override { return name_.c_str(); }
    void save(StateWriter&) const override {} // no state
    void load(StateReader&) override {}

    // Reads return 0, as QEMU's debug_exit_read does.
    uint64_t io_read(uint64_t offset, unsigned size) override;
    // Any write, at any offset in the region, ends the emulator. Bytes of a
    // wider access that fall past the region are not part of the value.
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  private:
    std::string name_;
    unsigned iosize_;
    std::function<void(int)> shutdown_;
};

} // namespace hayate
