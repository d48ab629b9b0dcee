// The i440FX host bridge's PCI configuration mechanism #1 and the chipset
// functions of QEMU's `pc` board on bus 0:
//
//   00:00.0  I440fxHostBridge  8086:1237 rev 02, host bridge (06 00 00)
//   00:01.0  Piix3IsaBridge    8086:7000, ISA bridge (06 01 00), multi-function
//   00:01.3  Piix4Acpi         8086:7113 rev 03, bridge/other (06 80 00), INTA#
//
// CONFIG_ADDRESS (0xCF8) is only a dword register: bit 31 enables
// configuration cycles, bits 23-16 bus, 15-11 device, 10-8 function, 7-2
// register; bits 30-24 and 1-0 read 0. CONFIG_DATA (0xCFC-0xCFF) carries a
// byte, word or dword at register + (port - 0xCFC). With bit 31 clear, or
// for a bus other than 0 (there are no PCI-PCI bridges) or an empty slot,
// reads return all ones and writes are dropped (master abort).
// Byte and word accesses to 0xCF8-0xCFB are not configuration cycles: they
// go to the bus as ordinary I/O, where the PIIX3 claims 0xCF9 (its reset
// control register, passed to the constructor) and nothing else answers.
// Configuration mechanism #2 (CSE at 0xCF8, forward at 0xCFA) does not exist
// on the i440FX and is not provided.
#pragma once
#include "devices/pci_config.h"
#include "machine/io.h"
#include <array>
#include <functional>
#include <vector>

namespace hayate {

class PciHost final : public Device {
  public:
    static constexpr uint16_t kPort = 0xcf8;
    static constexpr unsigned kPortCount = 8;
    static constexpr uint32_t kEnable = 0x80000000u;
    static constexpr uint32_t kAddressWritable = 0x80fffffcu;

    // `port_cf9` (may be null) receives the byte accesses at 0xCF9 - the
    // PIIX3 reset control register.
    explicit PciHost(IoHandler* port_cf9 = nullptr) : port_cf9_(port_cf9) {}

    // Puts `fn` at 00:device.function (bus 0). Throws on a taken slot or
    // an out-of-range number. The function must outlive the host.
    void attach(unsigned device, unsigned function, PciFunction& fn);
    PciFunction* function_at(unsigned bus, unsigned device, unsigned function) const;
    uint32_t config_address() const { return address_; }

    const char* name() const override { return "pci-host"; }
    // CONFIG_ADDRESS back to 0 and every attached function to its power-on
    // configuration (PCI RST#).
    void reset() override;
    // CONFIG_ADDRESS and the configuration space of every attached function,
    // in attach order; load() expects the same functions attached.
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  private:
    PciFunction* target() const; // the function CONFIG_ADDRESS selects, if a cycle would reach one
    uint8_t read_byte(unsigned offset);
    void write_byte(unsigned offset, uint8_t value);
    void report_legacy_access(unsigned offset, unsigned size, bool write);

    IoHandler* port_cf9_;
    uint32_t address_ = 0;
    std::array<PciFunction*, 32 * 8> functions_{};
    std::vector<unsigned> attached_; // slot indices (device * 8 + function) in attach order
    bool legacy_reported_ = false;
};

// 00:00.0, the 82441FX PCI and memory controller. Device-specific registers
// modelled: PAM0-PAM6 (0x59-0x5F) and SMRAM (0x72), as storage. The board
// keeps 0xC0000-0xFFFFF as plain RAM whatever PAM says (logged once when the
// guest changes PAM), and has no SMM (logged once when SMRAM is enabled).
class I440fxHostBridge final : public PciFunction {
  public:
    static constexpr unsigned kPam0 = 0x59, kPamCount = 7, kSmram = 0x72;
    static constexpr uint8_t kSmramOpen = 0x40, kSmramClose = 0x20, kSmramLock = 0x10, kSmramEnable = 0x08;
    static constexpr uint8_t kSmramBaseSeg = 0x02; // C_BASE_SEG: 0xA0000, read-only

    I440fxHostBridge();

  private:
    void config_written(unsigned offset, unsigned size, uint32_t old_value) override;
    bool pam_warned_ = false, smram_warned_ = false;
};

// 00:01.0, the 82371SB PIIX3 PCI-to-ISA bridge. Modelled as storage: the
// PIRQ route control registers (0x60-0x63, reset 0x80 = not routed; read by
// pirq_route()), IORT, XBCS, TOM, MSTAT, MBIRQ0/1, MBDMA0/1, PCSC, APICBASE,
// DLC and the SMI registers. Changes the board does not act on (APIC base
// relocation, motherboard IRQ routing, SMI enables) are logged once.
class Piix3IsaBridge final : public PciFunction {
  public:
    static constexpr unsigned kPirqRoute = 0x60, kTopOfMemory = 0x69, kMbirq0 = 0x70, kApicBase = 0x80;
    static constexpr unsigned kSmiControl = 0xa0, kSmiEnable = 0xa2;
    static constexpr uint8_t kPirqDisabled = 0x80;

    explicit Piix3IsaBridge(uint8_t revision = 0x00);

    // The ISA IRQ that PIRQ A-D (0-3) is routed to, or -1 (not routed, or
    // routed to one of the reserved IRQs 0-2, 8, 13).
    int pirq_route(unsigned pirq) const;

  private:
    void config_written(unsigned offset, unsigned size, uint32_t old_value) override;
    bool apic_warned_ = false, mbirq_warned_ = false, smi_warned_ = false;
};

// 00:01.3, the 82371AB PIIX4 power management function. PMBA (0x40: bits
// 15-6 base of the 64-byte PM I/O block, bit 0 reads 1 = I/O) and PMREGMISC
// bit 0 (0x80, PMIOSE: the block is decoded) are reported to the board
// through `on_pm_base_changed(base, enabled)` whenever they change, and
// after reset()/load(). The SMBus base (0x90) and host configuration (0xD2)
// are storage: enabling the SMBus host, which is not implemented, is logged.
// The count/device-resource/activity registers (0x44-0x7F) are storage; the
// legacy decodes they configure are always on here (changes are logged).
class Piix4Acpi final : public PciFunction {
  public:
    static constexpr unsigned kPmBase = 0x40, kPmRegMisc = 0x80, kSmbBase = 0x90, kSmbHostConfig = 0xd2;
    static constexpr uint16_t kPmBaseMask = 0xffc0;
    static constexpr uint16_t kPmBlockSize = 64;
    static constexpr uint8_t kSciIrq = 9;

    using PmBaseChanged = std::function<void(uint16_t base, bool enabled)>;

    // The initial PMBA base and PMIOSE: what the firmware leaves behind on
    // this firmware-less board (e.g. 0x600 and enabled, as SeaBIOS programs
    // under QEMU); the chip's own reset values are base 0, disabled.
    Piix4Acpi(PmBaseChanged on_pm_base_changed, uint16_t initial_pm_base = 0, bool initial_pm_enabled = false,
              uint8_t interrupt_line = kSciIrq);

    uint16_t pm_base() const { return uint16_t(raw(kPmBase, 2) & kPmBaseMask); }
    bool pm_enabled() const { return raw(kPmRegMisc, 1) & 1; }

  private:
    void config_written(unsigned offset, unsigned size, uint32_t old_value) override;
    void state_restored() override;
    void report_pm();

    PmBaseChanged on_pm_base_changed_;
    uint16_t reported_base_ = 0;
    bool reported_enabled_ = false;
    bool smbus_warned_ = false, devres_warned_ = false;
};

} // namespace hayate
