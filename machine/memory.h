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

class PhysicalMemory {
  public:
    // Reserves `ram_bytes` of guest RAM at guest-physical 0. Throws
    // std::runtime_error with a user-facing message if the host cannot map it.
    explicit PhysicalMemory(uint64_t ram_bytes);
    ~PhysicalMemory();
    PhysicalMemory(const PhysicalMemory&) = delete;
    PhysicalMemory& operator=(const PhysicalMemory&) = delete;

    uint64_t ram_size() const { return ram_size_; }
    uint8_t* ram() const { return ram_; }

    // Host address of guest-physical [addr, addr+len) if it is all RAM
    // (not shadowed by MMIO); nullptr otherwise.
    uint8_t* host_range(uint64_t addr, uint64_t len) const {
        if (addr >= ram_size_ || len > ram_size_ - addr) return nullptr;
        if (has_mmio_in_ram_ && overlaps_mmio(addr, len)) return nullptr;
        return ram_ + addr;
    }
    // Host address of the page holding `addr` if that page is plain RAM.
    uint8_t* host_page(uint64_t addr) const { return host_range(addr & kPageMask, kPageSize); }

    IoBus& mmio() { return mmio_; }
    // Maps an MMIO device; may shadow RAM (pages then stop being RAM).
    void map_mmio(uint64_t base, uint64_t size, IoHandler* handler, std::string owner);

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
    uint64_t ram_size_ = 0;
    uint64_t map_size_ = 0;
    IoBus mmio_;
    bool has_mmio_in_ram_ = false;
    std::unique_ptr<std::atomic<uint8_t>[]> code_pages_storage_;
    std::span<std::atomic<uint8_t>> code_pages_;
    CodeWriteHook code_write_hook_;
};

} // namespace hayate
