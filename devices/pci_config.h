// A PCI function's type-0 configuration space (256 bytes) as the PCI Local
// Bus Specification 3.0 describes it: read-only identification (vendor,
// device, revision, class code, header type, subsystem IDs, interrupt pin),
// the command register, the status register with its write-1-to-clear error
// bits, cache line size / latency timer / interrupt line as plain storage,
// up to six base address registers sized by their writable bits (writing all
// ones reads back the size mask), and device-specific registers declared by
// a subclass with a reset value, writable mask and W1C mask.
//
// The host bridge (pci_host.h) calls config_read/config_write on the vCPU
// thread, and owns the save/load/reset of every attached function's space.
// A subclass sees writes through config_written() and can refresh values
// before a read in before_config_read(). The mapping callback fires after a
// write, reset or load changed the command register's I/O or memory enable
// or a BAR's address, so a device can move its BAR regions.
//
// Bytes outside the header that no register covers read 0 and drop writes;
// a write to one is logged once per offset with log_warning (a register of
// the real chip that is not modelled looks exactly like that).
#pragma once
#include "machine/io.h"
#include <array>
#include <cstdint>
#include <functional>
#include <string>

namespace hayate {

struct PciIds {
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint8_t revision = 0;
    uint8_t base_class = 0, sub_class = 0, prog_if = 0;
    uint8_t header_type = 0; // bit 7: multi-function device (function 0 only)
    uint16_t subsystem_vendor = 0, subsystem = 0;
    uint8_t interrupt_pin = 0;  // 0 none, 1-4 INTA#-INTD#
    uint8_t interrupt_line = 0; // reset value of the (writable) interrupt line register
    // Command bits the function implements (PCI 3.0 6.2.2); the rest read 0.
    uint16_t command_writable =
        kCommandIo | kCommandMemory | kCommandMaster | kCommandParity | kCommandSerr | kCommandIntxDisable;
    uint16_t command_reset = 0;
    uint16_t status_reset = 0; // read-only status bits (DEVSEL timing, fast back-to-back, 66 MHz)

    static constexpr uint16_t kCommandIo = 0x0001;
    static constexpr uint16_t kCommandMemory = 0x0002;
    static constexpr uint16_t kCommandMaster = 0x0004;
    static constexpr uint16_t kCommandSpecialCycles = 0x0008;
    static constexpr uint16_t kCommandParity = 0x0040;
    static constexpr uint16_t kCommandSerr = 0x0100;
    static constexpr uint16_t kCommandIntxDisable = 0x0400;
};

enum class PciBarKind { Io, Memory32, Memory64 };

class PciFunction {
  public:
    static constexpr unsigned kConfigSize = 256;
    static constexpr unsigned kBarCount = 6;
    // Header offsets.
    static constexpr unsigned kVendorId = 0x00, kDeviceId = 0x02, kCommand = 0x04, kStatus = 0x06;
    static constexpr unsigned kRevision = 0x08, kClassCode = 0x09, kCacheLineSize = 0x0c;
    static constexpr unsigned kLatencyTimer = 0x0d, kHeaderType = 0x0e, kBar0 = 0x10;
    static constexpr unsigned kSubsystemVendor = 0x2c, kSubsystemId = 0x2e;
    static constexpr unsigned kInterruptLine = 0x3c, kInterruptPin = 0x3d;
    static constexpr unsigned kDeviceSpecific = 0x40;
    // Status bits cleared by writing 1 (PCI 3.0 6.2.3).
    static constexpr uint16_t kStatusW1c = 0xf900;
    static constexpr uint16_t kStatusInterrupt = 0x0008;

    using MappingChanged = std::function<void(PciFunction&)>;

    PciFunction(std::string name, const PciIds& ids, MappingChanged on_mapping_changed = {});
    virtual ~PciFunction() = default;
    PciFunction(const PciFunction&) = delete;
    PciFunction& operator=(const PciFunction&) = delete;

    const std::string& name() const { return name_; }

    // `offset` + `size` (1, 2 or 4) must lie inside one dword of the space;
    // anything else reads all ones / is dropped (logged as a guest error).
    uint32_t config_read(unsigned offset, unsigned size);
    void config_write(unsigned offset, unsigned size, uint32_t value);

    void reset();
    void save(StateWriter& out) const;
    void load(StateReader& in);

    // BAR setup, from a subclass constructor: `size` is a power of two, at
    // least 4 for I/O and 16 for memory; a 64-bit BAR takes index and index+1.
    void define_bar(unsigned index, PciBarKind kind, uint64_t size, bool prefetchable = false);
    bool bar_defined(unsigned index) const { return index < kBarCount && bars_[index].size != 0; }
    PciBarKind bar_kind(unsigned index) const { return bars_[index].kind; }
    uint64_t bar_size(unsigned index) const { return bars_[index].size; }
    uint64_t bar_address(unsigned index) const; // base programmed in the BAR (0 if undefined)
    bool io_enabled() const { return command() & PciIds::kCommandIo; }
    bool memory_enabled() const { return command() & PciIds::kCommandMemory; }
    uint16_t command() const { return uint16_t(raw(kCommand, 2)); }
    uint16_t status() const { return uint16_t(raw(kStatus, 2)); }
    uint8_t interrupt_line() const { return uint8_t(raw(kInterruptLine, 1)); }
    // Device side: sets status bits (an error it signalled, its INTx state).
    void set_status_bits(uint16_t bits, bool on);

  protected:
    // Declares a device-specific register (or changes a header one): its
    // reset value, the bits the guest may write, and the bits a written 1
    // clears. Call from the subclass constructor.
    void define_register(unsigned offset, unsigned size, uint32_t reset_value, uint32_t writable,
                         uint32_t write1_clear = 0);
    // Raw access to the current space, for subclass logic (no masks applied).
    uint32_t raw(unsigned offset, unsigned size) const;
    void set_raw(unsigned offset, unsigned size, uint32_t value);
    // Makes bits of a register read-only from now until reset (lock bits).
    void clear_writable(unsigned offset, unsigned size, uint32_t bits);

    // After a guest write took effect: `old_value` is what the accessed
    // bytes held before.
    virtual void config_written(unsigned offset, unsigned size, uint32_t old_value) {
        (void)offset, (void)size, (void)old_value;
    }
    virtual void before_config_read(unsigned offset, unsigned size) { (void)offset, (void)size; }
    // After reset() and load() restored the space (the subclass re-announces
    // what it derives from it).
    virtual void state_restored() {}

  private:
    struct Bar {
        PciBarKind kind = PciBarKind::Io;
        uint64_t size = 0;
        bool prefetchable = false;
        bool upper_half = false; // the high dword of a 64-bit BAR
    };
    struct MappingState {
        uint16_t enables;
        std::array<uint64_t, kBarCount> bases;
        bool operator==(const MappingState&) const = default;
    };
    MappingState mapping_state() const;
    void notify_mapping(const MappingState& before);

    std::string name_;
    MappingChanged on_mapping_changed_;
    std::array<uint8_t, kConfigSize> config_{};
    std::array<uint8_t, kConfigSize> reset_image_{};
    std::array<uint8_t, kConfigSize> writable_{};
    std::array<uint8_t, kConfigSize> reset_writable_{};
    std::array<uint8_t, kConfigSize> w1c_{};
    std::array<bool, kConfigSize> declared_{};
    std::array<bool, kConfigSize> warned_{};
    std::array<Bar, kBarCount> bars_{};
};

} // namespace hayate
