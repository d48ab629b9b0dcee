// Guest physical memory: RAM (one host mapping), ROM, and MMIO through a bus.
// Also tracks which RAM pages hold translated code, for self-modifying code.
#pragma once
#include "machine/bus.h"
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace hayate {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageMask = ~(kPageSize - 1);

// Where the PC's RAM sits in the physical address space: low RAM up to the
// PCI hole, the rest from 4 GiB (QEMU's pc machine splits at 3 GiB once RAM
// reaches 3.5 GiB, otherwise all of it sits below 4 GiB).
struct RamLayout {
    uint64_t below_4g = 0;
    uint64_t above_4g = 0;
    static RamLayout for_size(uint64_t ram_bytes);
};
constexpr uint64_t k4GiB = 1ull << 32;

class PhysicalMemory {
  public:
    // Reserves `ram_bytes` of guest RAM laid out as RamLayout::for_size says.
    // Throws std::runtime_error with a user-facing message if the host cannot map it.
    explicit PhysicalMemory(uint64_t ram_bytes);
    ~PhysicalMemory();
    PhysicalMemory(const PhysicalMemory&) = delete;
    PhysicalMemory& operator=(const PhysicalMemory&) = delete;

    uint64_t ram_size() const { return layout_.below_4g + layout_.above_4g; }
    const RamLayout& layout() const { return layout_; }
    // One past the highest RAM address (4 GiB + RAM above 4 GiB, if any).
    uint64_t address_end() const { return address_end_; }
    // The host mapping of guest-physical 0 (the PCI hole is not accessible).
    uint8_t* ram() const { return ram_; }

    // Host address of guest-physical [addr, addr+len) if it is all RAM
    // (not shadowed by MMIO); nullptr otherwise.
    uint8_t* host_range(uint64_t addr, uint64_t len) const {
        const uint64_t low = layout_.below_4g;
        if (!(addr < low && len <= low - addr) &&
            !(addr >= k4GiB && addr < address_end_ && len <= address_end_ - addr))
            return nullptr;
        if (has_mmio_in_ram_ && overlaps_mmio(addr, len)) return nullptr;
        return ram_ + addr;
    }
    // Host address of the page holding `addr` if that page is plain RAM.
    uint8_t* host_page(uint64_t addr) const { return host_range(addr & kPageMask, kPageSize); }

    IoBus& mmio() { return mmio_; }
    // Maps an MMIO device; may shadow RAM (pages then stop being RAM).
    void map_mmio(uint64_t base, uint64_t size, IoHandler* handler, std::string owner);
    void unmap_mmio(IoHandler* handler) { mmio_.unmap(handler); }

    // Accesses of any physical address: RAM, MMIO, or unmapped (reads all
    // ones, writes dropped). `size` is 1, 2, 4 or 8.
    uint64_t read(uint64_t addr, unsigned size);
    void write(uint64_t addr, unsigned size, uint64_t value);
    // Bulk copies for loaders and DMA; false if any byte is outside RAM.
    bool read_bytes(uint64_t addr, void* dst, uint64_t len) const;
    bool write_bytes(uint64_t addr, const void* src, uint64_t len);

    // --- translated-code tracking (per 4 KiB RAM page) ---
    bool is_code_page(uint64_t addr) const {
        uint64_t p = addr >> 12;
        return p < code_pages_.size() && code_pages_[p].load(std::memory_order_relaxed);
    }
    void set_code_page(uint64_t addr, bool code) {
        uint64_t p = addr >> 12;
        if (p < code_pages_.size()) code_pages_[p].store(code, std::memory_order_relaxed);
    }

    // Called by every path that writes guest RAM other than generated code's
    // fast path (DMA, loaders, slow-path stores), so code pages get invalidated.
    using CodeWriteHook = std::function<void(uint64_t addr, uint64_t len)>;
    void set_code_write_hook(CodeWriteHook hook) { code_write_hook_ = std::move(hook); }
    void notify_write(uint64_t addr, uint64_t len) {
        if (!code_write_hook_) return;
        for (uint64_t p = addr & kPageMask; p < addr + len; p += kPageSize)
            if (is_code_page(p)) {
                code_write_hook_(addr, len);
                return;
            }
    }

  private:
    bool overlaps_mmio(uint64_t addr, uint64_t len) const;
    uint8_t* ram_ = nullptr;
    RamLayout layout_;
    uint64_t address_end_ = 0;
    uint64_t map_size_ = 0;
    IoBus mmio_;
    bool has_mmio_in_ram_ = false;
    std::unique_ptr<std::atomic<uint8_t>[]> code_pages_storage_;
    std::span<std::atomic<uint8_t>> code_pages_;
    CodeWriteHook code_write_hook_;
};

} // namespace hayate
