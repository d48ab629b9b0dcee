#include "devices/debug_exit.h"
#include "machine/log.h"
#include <stdexcept>

namespace hayate {

DebugExit::DebugExit(std::string name, unsigned iosize, std::function<void(int status)> shutdown)
    : name_(std::move(name)), iosize_(iosize), shutdown_(std::move(shutdown)) {
    if (iosize_ < 1 || iosize_ > 4)
        throw std::invalid_argument(fmt::format("{}: iosize must be 1 to 4", name_));
    if (!shutdown_) throw std::invalid_argument(fmt::format("{}: needs a shutdown callback", name_));
}

uint64_t DebugExit::io_read(uint64_t, unsigned) { return 0; }

void DebugExit::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if (offset + size > iosize_) {
        // The bus only delivers the bytes inside the region; the rest go to
        // whatever (nothing) decodes the following ports.
        const uint64_t inside = offset < iosize_ ? iosize_ - offset : 0;
        log_guest_error("{}: {}-byte write of {:#x} at offset {} extends past its {} ports", name_, size,
                        value, offset, iosize_);
        value &= inside >= 8 ? ~0ull : (1ull << (8 * inside)) - 1;
    }
    shutdown_(exit_status(value));
}

} // namespace hayate
