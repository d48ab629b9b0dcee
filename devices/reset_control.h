// The PIIX3's reset control register (RC) at I/O port 0xCF9, one byte.
//
// Bit 1 (SRST) selects the reset type: 1 = hard reset (PCIRST# and CPU
// reset), 0 = soft reset (INIT#). Bit 2 (RCPU) starts the selected reset on
// its 0-to-1 transition. The other bits are reserved and read 0; bit 3 ("full
// reset") only exists on later ICH parts. The board has one reset path, a
// full machine reset, so both reset types call `on_reset` (as QEMU does).
// 0x06 is the usual value; it is also the ACPI FADT RESET_VALUE for this
// register (RESET_REG = system I/O 0xCF9).
//
// Dword accesses at 0xCF8 belong to the host bridge's CONFIG_ADDRESS: the
// board maps this register through PciHost (see pci_host.h), which hands it
// the byte accesses at 0xCF9.
#pragma once
#include "machine/io.h"
#include <functional>

namespace hayate {

class ResetControl final : public Device {
  public:
    static constexpr uint16_t kPort = 0xcf9;
    static constexpr uint8_t kHardReset = 0x02; // SRST
    static constexpr uint8_t kResetCpu = 0x04;  // RCPU
    static constexpr uint8_t kImplemented = kHardReset | kResetCpu;

    explicit ResetControl(std::function<void()> on_reset);

    const char* name() const override { return "reset-control"; }
    void reset() override { value_ = 0; }
    void save(StateWriter& out) const override { out.put(value_); }
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    bool hard_reset_selected() const { return value_ & kHardReset; }

  private:
    std::function<void()> on_reset_;
    uint8_t value_ = 0;
};

} // namespace hayate
