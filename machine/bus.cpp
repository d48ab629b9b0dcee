#include "machine/bus.h"
#include "machine/log.h"
#include <algorithm>
#include <stdexcept>

namespace hayate {

void IoBus::map(uint64_t base, uint64_t size, IoHandler* handler, std::string owner) {
    if (size == 0 || base + size < base || base + size > limit_)
        throw std::logic_error(fmt::format("{}: bad range {:#x}+{:#x} for {}", name_, base, size, owner));
    for (const auto& r : ranges_)
        if (base < r.base + r.size && r.base < base + size)
            throw std::logic_error(fmt::format("{}: {} at {:#x}+{:#x} overlaps {} at {:#x}+{:#x}", name_,
                                               owner, base, size, r.owner, r.base, r.size));
    ranges_.push_back({base, size, handler, std::move(owner)});
    std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.base < b.base; });
}

void IoBus::unmap(IoHandler* handler) {
    std::erase_if(ranges_, [&](const Range& r) { return r.handler == handler; });
}

const IoBus::Range* IoBus::find(uint64_t addr) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                               [](uint64_t a, const Range& r) { return a < r.base; });
    if (it == ranges_.begin()) return nullptr;
    --it;
    return addr - it->base < it->size ? &*it : nullptr;
}

void IoBus::report_unmapped(uint64_t addr, unsigned size, bool write, uint64_t value) {
    if (std::find(reported_.begin(), reported_.end(), addr) != reported_.end()) return;
    if (reported_.size() < 4096) reported_.push_back(addr);
    if (write)
        log_guest_error("{}: write of {:#x} ({} bytes) to unmapped {:#x} dropped", name_, value, size, addr);
    else
        log_guest_error("{}: read ({} bytes) from unmapped {:#x} floats to all ones", name_, size, addr);
}

uint64_t IoBus::read(uint64_t addr, unsigned size) {
    const uint64_t ones = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    const Range* r = find(addr);
    if (!r) {
        report_unmapped(addr, size, false, 0);
        return ones;
    }
    return r->handler->io_read(addr - r->base, size) & ones;
}

void IoBus::write(uint64_t addr, unsigned size, uint64_t value) {
    const Range* r = find(addr);
    if (!r) {
        report_unmapped(addr, size, true, value);
        return;
    }
    const uint64_t ones = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    r->handler->io_write(addr - r->base, size, value & ones);
}

} // namespace hayate
