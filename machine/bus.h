// Bus registries for port I/O and MMIO: address ranges mapped to IoHandlers.
#pragma once
#include "machine/io.h"
#include <cstdint>
#include <string>
#include <vector>

namespace hayate {

class IoBus {
  public:
    explicit IoBus(std::string name, uint64_t address_limit)
        : name_(std::move(name)), limit_(address_limit) {}

    // Maps [base, base+size) to `handler`. Overlapping an existing range is a
    // board wiring bug: throws std::logic_error.
    void map(uint64_t base, uint64_t size, IoHandler* handler, std::string owner);
    void unmap(IoHandler* handler);

    // Unmapped reads float to all ones; unmapped writes are dropped. Both are
    // reported once per address through the guest_errors log.
    uint64_t read(uint64_t addr, unsigned size);
    void write(uint64_t addr, unsigned size, uint64_t value);
    bool is_mapped(uint64_t addr) const { return find(addr) != nullptr; }

    struct Range {
        uint64_t base, size;
        IoHandler* handler;
        std::string owner;
    };
    const std::vector<Range>& ranges() const { return ranges_; }

  private:
    const Range* find(uint64_t addr) const;
    void report_unmapped(uint64_t addr, unsigned size, bool write, uint64_t value);
    std::string name_;
    uint64_t limit_;
    std::vector<Range> ranges_; // sorted by base
    std::vector<uint64_t> reported_;
};

} // namespace hayate
