#include "machine/memory.h"
#include "machine/log.h"
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/mman.h>

namespace hayate {

RamLayout RamLayout::for_size(uint64_t ram_bytes) {
    constexpr uint64_t kHoleStartLarge = 0xc0000000; // 3 GiB, once RAM reaches 3.5 GiB
    constexpr uint64_t kHoleStartSmall = 0xe0000000;
    RamLayout r;
    const uint64_t low_limit = ram_bytes >= kHoleStartSmall ? kHoleStartLarge : kHoleStartSmall;
    r.below_4g = ram_bytes < low_limit ? ram_bytes : low_limit;
    r.above_4g = ram_bytes - r.below_4g;
    return r;
}

PhysicalMemory::PhysicalMemory(uint64_t ram_bytes) : mmio_("mmio", ~0ull) {
    if (ram_bytes == 0 || ram_bytes % kPageSize)
        throw std::runtime_error(
            fmt::format("guest RAM size {} is not a positive multiple of 4 KiB", ram_bytes));
    layout_ = RamLayout::for_size(ram_bytes);
    address_end_ = layout_.above_4g ? k4GiB + layout_.above_4g : layout_.below_4g;
    // The whole physical range up to address_end_ plus one guard page is
    // reserved inaccessible; only the RAM pieces become readable and
    // writable, so a translation bug that runs into the PCI hole or off the
    // end faults instead of touching other host memory.
    map_size_ = address_end_ + kPageSize;
    void* p = mmap(nullptr, map_size_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        throw std::runtime_error(
            fmt::format("cannot map {} MiB of guest RAM: {}", ram_bytes >> 20, strerror(errno)));
    ram_ = static_cast<uint8_t*>(p);
    auto open_ram = [&](uint64_t base, uint64_t size) {
        if (!size) return;
        if (mprotect(ram_ + base, size, PROT_READ | PROT_WRITE) != 0)
            throw std::runtime_error(
                fmt::format("cannot map {} MiB of guest RAM: {}", ram_bytes >> 20, strerror(errno)));
        madvise(ram_ + base, size, MADV_HUGEPAGE);
    };
    open_ram(0, layout_.below_4g);
    open_ram(k4GiB, layout_.above_4g);
    uint64_t pages = address_end_ / kPageSize;
    code_pages_storage_ = std::make_unique<std::atomic<uint8_t>[]>(pages);
    code_pages_ = {code_pages_storage_.get(), pages};
    for (auto& c : code_pages_) c.store(0, std::memory_order_relaxed);
}

PhysicalMemory::~PhysicalMemory() {
    if (ram_) munmap(ram_, map_size_);
}

void PhysicalMemory::map_mmio(uint64_t base, uint64_t size, IoHandler* handler, std::string owner) {
    mmio_.map(base, size, handler, std::move(owner));
    if (base < address_end_) has_mmio_in_ram_ = true;
}

bool PhysicalMemory::overlaps_mmio(uint64_t addr, uint64_t len) const {
    for (const auto& r : mmio_.ranges())
        if (addr < r.base + r.size && r.base < addr + len) return true;
    return false;
}

uint64_t PhysicalMemory::read(uint64_t addr, unsigned size) {
    if (uint8_t* h = host_range(addr, size)) {
        uint64_t v = 0;
        std::memcpy(&v, h, size);
        return v;
    }
    return mmio_.read(addr, size);
}

void PhysicalMemory::write(uint64_t addr, unsigned size, uint64_t value) {
    if (uint8_t* h = host_range(addr, size)) {
        std::memcpy(h, &value, size);
        notify_write(addr, size);
        return;
    }
    mmio_.write(addr, size, value);
}

bool PhysicalMemory::read_bytes(uint64_t addr, void* dst, uint64_t len) const {
    const uint8_t* h = host_range(addr, len);
    if (!h) return false;
    std::memcpy(dst, h, len);
    return true;
}

bool PhysicalMemory::write_bytes(uint64_t addr, const void* src, uint64_t len) {
    uint8_t* h = host_range(addr, len);
    if (!h) return false;
    std::memcpy(h, src, len);
    notify_write(addr, len);
    return true;
}

} // namespace hayate
