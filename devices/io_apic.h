// An 82093AA-compatible I/O APIC with 24 inputs, version 0x20 (the ICH
// generation: an EOI register at offset 0x40 beside the indirect
// IOREGSEL/IOWIN pair). Registers through IOWIN: 0x00 ID, 0x01 version,
// 0x02 arbitration ID, 0x10-0x3F the redirection table (two dwords a pin).
//
// An input's level, adjusted for the entry's polarity, is "asserted".
// Edge-triggered pins send a message on each assertion; level-triggered
// Fixed/LowestPriority pins send while asserted and set remote IRR until an
// EOI for their vector (from a local APIC over the bus, or the EOI register)
// clears it, then send again if still asserted. Masked pins drop edges and
// ignore levels; unmasking an asserted level pin sends. Delivery over the
// bus is immediate, so delivery status reads 0.
//
// set_input() may be called from any thread (device backends); a mutex
// guards the state and messages go to the bus with it released.
#pragma once
#include "machine/apic_bus.h"
#include "machine/io.h"
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace hayate {

class IoApic final : public Device, public ApicEoiListener {
  public:
    static constexpr uint64_t kDefaultBase = 0xfec00000;
    static constexpr uint64_t kMmioSize = 0x1000;
    static constexpr unsigned kPins = 24;
    static constexpr uint32_t kVersion = ((kPins - 1) << 16) | 0x20;
    // MMIO offsets.
    static constexpr uint64_t kRegSelect = 0x00, kRegWindow = 0x10, kRegEoi = 0x40;

    // Attaches itself to `bus` for EOI broadcasts.
    explicit IoApic(ApicBus& bus, std::string name = "ioapic");
    ~IoApic() override;

    const char* name() const override { return name_.c_str(); }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // Input pin `pin` (0-23) changed level (thread-safe).
    void set_input(unsigned pin, bool level);
    // ApicEoiListener: a local APIC ended a level-triggered vector.
    void end_of_interrupt(uint8_t vector) override;

    // The redirection entry of `pin` as the guest reads it (tests, dumps).
    uint64_t redirection_entry(unsigned pin) const;

  private:
    struct Pending {
        unsigned pin;
        bool level;
        ApicMessage message;
    };

    bool asserted_locked(unsigned pin) const;
    // Sends `pin`'s interrupt if its state calls for it.
    void service_locked(unsigned pin, bool rising, std::vector<Pending>& out);
    void eoi_locked(uint8_t vector, std::vector<Pending>& out);
    uint32_t read_window_locked();
    void write_window_locked(uint32_t value, std::vector<Pending>& out);
    void deliver(std::vector<Pending>& pending);

    std::string name_;
    ApicBus& bus_;
    mutable std::mutex mu_;
    uint8_t select_ = 0;
    uint32_t id_ = 0; // as read: ID in bits 27:24
    uint32_t arbitration_ = 0;
    std::array<uint64_t, kPins> redirection_{};
    uint32_t inputs_ = 0; // raw pin levels
};

} // namespace hayate
