// The APIC bus: interrupt messages between the local APICs (one per vCPU)
// and the I/O APICs, as on the P4/Xeon system bus (Intel SDM vol. 3, ch. 11).
//
// A message names its destination the way the sender encoded it (an 8-bit
// xAPIC destination or a 32-bit x2APIC one, physical or logical, or a
// shorthand); the bus asks each registered local APIC for its addressing
// state (ID, LDR, DFR, mode) and hands the message to those that match.
// Lowest-priority messages go to exactly one of them: the focus processor
// (the vector already pending or in service there, when focus checking is
// on), else the one of lowest arbitration priority. EOIs of level-triggered
// vectors are broadcast to every registered I/O APIC.
//
// Registration normally happens while the board is built; it is locked, so
// a vCPU hot-added later may register while messages flow. Delivery works on
// a copy of the target list taken under that lock, so a target may send (an
// I/O APIC resending after an EOI) while the bus is delivering.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

namespace hayate {

enum class ApicDeliveryMode : uint8_t {
    Fixed = 0,
    LowestPriority = 1,
    SMI = 2,
    NMI = 4,
    INIT = 5,
    StartUp = 6,
    ExtINT = 7,
};

enum class ApicDestinationMode : uint8_t { Physical = 0, Logical = 1 };
enum class ApicTriggerMode : uint8_t { Edge = 0, Level = 1 };
enum class ApicShorthand : uint8_t { None = 0, Self = 1, AllIncludingSelf = 2, AllExcludingSelf = 3 };

struct ApicMessage {
    uint8_t vector = 0;
    ApicDeliveryMode delivery_mode = ApicDeliveryMode::Fixed;
    ApicDestinationMode destination_mode = ApicDestinationMode::Physical;
    ApicTriggerMode trigger = ApicTriggerMode::Edge;
    // Clear only for the "INIT level de-assert" message.
    bool level_assert = true;
    // 8 bits from an xAPIC or an I/O APIC, 32 bits from an x2APIC.
    uint32_t destination = 0;
    // The destination is in the x2APIC format (sent by a local APIC in x2APIC mode).
    bool x2apic_destination = false;
    ApicShorthand shorthand = ApicShorthand::None;
    uint32_t source_id = 0; // the sender's APIC ID (for logs)
};

// How a local APIC is addressed right now.
struct ApicAddressing {
    bool hardware_enabled = false; // IA32_APIC_BASE.EN
    bool software_enabled = false; // SVR bit 8
    bool x2apic = false;           // IA32_APIC_BASE.EXTD
    uint32_t id = 0;               // 8-bit xAPIC ID or 32-bit x2APIC ID
    uint32_t ldr = 0;              // logical destination register, as read
    uint32_t dfr = 0xffffffff;     // destination format register (xAPIC)
    bool focus_checking = true;    // SVR bit 9 clear
};

// What the bus needs from a local APIC.
class ApicBusTarget {
  public:
    virtual ~ApicBusTarget() = default;
    virtual ApicAddressing addressing() const = 0;
    virtual uint8_t arbitration_priority() const = 0;
    // The vector is pending (IRR) or in service (ISR): this APIC is the focus.
    virtual bool has_vector(uint8_t vector) const = 0;
    // Returns whether the message was taken (a software-disabled APIC drops
    // fixed interrupts; a hardware-disabled one everything).
    virtual bool accept(const ApicMessage& message) = 0;
};

// What the bus needs from an I/O APIC.
class ApicEoiListener {
  public:
    virtual ~ApicEoiListener() = default;
    virtual void end_of_interrupt(uint8_t vector) = 0;
};

class ApicBus {
  public:
    void attach(ApicBusTarget* target);
    void detach(ApicBusTarget* target);
    void attach(ApicEoiListener* listener);
    void detach(ApicEoiListener* listener);

    // Delivers `message` to every target it addresses. `sender` is the local
    // APIC sending it (for the self shorthands), or null for an I/O APIC.
    // Returns how many targets took it.
    unsigned send(const ApicMessage& message, const ApicBusTarget* sender = nullptr);
    // A local APIC's EOI of a level-triggered vector.
    void broadcast_eoi(uint8_t vector);

    // Whether `target`, addressed as `a`, is a destination of `message`
    // (shorthands are handled by send()).
    static bool matches(const ApicMessage& message, const ApicAddressing& a);

  private:
    std::vector<ApicBusTarget*> targets_snapshot() const;

    mutable std::mutex mu_;
    std::vector<ApicBusTarget*> targets_;
    std::vector<ApicEoiListener*> listeners_;
};

} // namespace hayate
