// One Intel 8259A programmable interrupt controller (the PC has two: the
// master at 0x20-0x21 with the slave cascaded on its IR2, at 0xa0-0xa1).
//
// Modelled after the 8259A datasheet: ICW1-ICW4 initialisation, OCW1 (mask),
// OCW2 (non-specific/specific EOI, rotation), OCW3 (IRR/ISR read, poll mode,
// special mask mode), fully nested priority with rotation, automatic EOI,
// edge or level triggering per input (the PC's ELCR, set by the board), and
// the spurious IR7 answer to an acknowledge without a request. Inputs can
// change from any thread (device backends); the lock serialises them with
// the vCPU's port accesses and acknowledges.
#pragma once
#include "machine/io.h"
#include <functional>
#include <mutex>
#include <string>

namespace hayate {

class Pic8259 final : public Device {
  public:
    static constexpr unsigned kPortCount = 2;

    // `output` follows the INT pin (the CPU's INTR for the master, the
    // master's IR2 for the slave); it is called with the lock released.
    Pic8259(std::string name, std::function<void(bool)> output);

    const char* name() const override { return name_.c_str(); }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // An input (IR0-IR7) changed level.
    void set_input(unsigned line, bool level);
    // Level-triggered inputs (the ELCR bits of this chip); the rest are edge-triggered.
    void set_level_triggered(uint8_t mask);
    uint8_t level_triggered() const;
    // INTA: the vector of the highest-priority request (IR7's vector for a
    // spurious acknowledge), with the in-service bookkeeping done. For a
    // master whose winning input is a cascade line, `cascade` receives that
    // line and the caller asks the slave for the vector.
    uint8_t acknowledge(int* cascade = nullptr);
    bool output() const;

  private:
    int highest_request_locked() const; // IR line to serve next, or -1
    void update_locked(bool& changed, bool& level);
    void notify(bool changed, bool level);
    int priority_of(unsigned line) const { return int((line - lowest_priority_ - 1) & 7); }

    std::string name_;
    std::function<void(bool)> output_;
    mutable std::mutex mu_;
    uint8_t irr_ = 0, isr_ = 0, imr_ = 0;
    uint8_t inputs_ = 0;          // current input levels
    uint8_t level_mode_ = 0;      // ELCR: 1 = level-triggered input
    uint8_t vector_base_ = 0;     // ICW2 (T7-T3)
    uint8_t icw3_ = 0;            // cascade configuration (master: slave lines; slave: its ID)
    uint8_t lowest_priority_ = 7; // rotation: IR(lowest+1) has the highest priority
    uint8_t init_step_ = 0;       // 0: operational; 2..4: expecting ICW2..ICW4
    bool icw4_needed_ = false, single_ = false, auto_eoi_ = false, rotate_on_aeoi_ = false;
    bool special_fully_nested_ = false;
    bool read_isr_ = false, poll_ = false, special_mask_ = false;
    bool out_ = false;
};

} // namespace hayate
