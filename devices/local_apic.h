// The local APIC of one vCPU, xAPIC and x2APIC modes (Intel SDM vol. 3,
// ch. 11 "Advanced Programmable Interrupt Controller"), as on a P4/Xeon-class
// processor: version 0x14 with six LVT entries (timer, thermal, performance
// counters, LINT0, LINT1, error; no CMCI), no EOI-broadcast suppression, the
// timer with one-shot, periodic and TSC-deadline modes.
//
// Registers are reached through MMIO (a 4 KiB page at IA32_APIC_BASE,
// default 0xFEE00000; only 32-bit accesses at 16-byte boundaries are
// architectural) in xAPIC mode and through the MSRs 0x800-0x8FF in x2APIC
// mode. The timer counts a fixed 1 GHz bus clock (one tick per nanosecond of
// the virtual clock before the divider); its current count is computed from
// the virtual clock when read, and a Timer is armed for the expiry.
//
// Threads: MMIO, MSR, CR8, acknowledge() and timer callbacks run on the
// vCPU thread; accept() (messages from the bus) and set_lint() may come from
// any thread. One mutex guards the state; callbacks (on_output, on_nmi,
// on_init, on_startup, on_base_changed, pic_acknowledge) and messages to the
// bus are issued with it released.
#pragma once
#include "machine/apic_bus.h"
#include "machine/clock.h"
#include "machine/io.h"
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace hayate {

class LocalApic final : public Device, public ApicBusTarget {
  public:
    static constexpr uint64_t kDefaultBase = 0xfee00000;
    static constexpr uint64_t kMmioSize = 0x1000;
    static constexpr uint64_t kTimerHz = 1'000'000'000; // the bus clock the timer divides
    static constexpr uint32_t kVersion = 0x00050014;    // max LVT entry 5, version 0x14

    static constexpr uint32_t kMsrApicBase = 0x1b;
    static constexpr uint32_t kMsrTscDeadline = 0x6e0;
    static constexpr uint32_t kMsrX2apicFirst = 0x800, kMsrX2apicLast = 0x8ff;

    // IA32_APIC_BASE bits.
    static constexpr uint64_t kBaseBsp = 1u << 8, kBaseExtd = 1u << 10, kBaseEnable = 1u << 11;

    struct Callbacks {
        // "An interrupt is deliverable to the CPU now" changed (the value of
        // interrupt_pending()). Called in order, from whichever thread made
        // the change; it may read interrupt_pending() but must not call the
        // APIC's mutating methods (set a flag and kick the vCPU).
        std::function<void(bool)> on_output;
        std::function<void()> on_nmi;
        // An INIT arrived (the APIC has already reset its own registers):
        // the vCPU goes to its INIT state (wait-for-SIPI for an AP).
        std::function<void()> on_init;
        // A start-up IPI with its vector (the vCPU starts at vector << 12 if
        // it is waiting for one, otherwise it is ignored).
        std::function<void(uint8_t)> on_startup;
        // The 8259's INTA cycle (ExtINT): returns the vector.
        std::function<uint8_t()> pic_acknowledge;
        // The guest moved the APIC page: remap kMmioSize bytes at new_base.
        std::function<void(uint64_t)> on_base_changed;
    };

    // `guest_tsc` reads the guest's TSC, which ticks at `tsc_hz` (0: the
    // host's rate, host_tsc_hz(), asked for when a deadline is first armed);
    // `phys_addr_bits` is MAXPHYADDR (the base field's width). Attaches
    // itself to `bus`.
    LocalApic(uint32_t apic_id, bool bsp, TimerQueue& timers, ApicBus& bus,
              std::function<uint64_t()> guest_tsc, uint64_t tsc_hz, unsigned phys_addr_bits,
              Callbacks callbacks);
    ~LocalApic() override;

    const char* name() const override { return name_.c_str(); }
    void reset() override; // power-up (and RESET#) state
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // RDMSR/WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range;
    // false means #GP(0).
    bool read_msr(uint32_t msr, uint64_t& value);
    bool write_msr(uint32_t msr, uint64_t value);
    static bool handles_msr(uint32_t msr) {
        return msr == kMsrApicBase || msr == kMsrTscDeadline ||
               (msr >= kMsrX2apicFirst && msr <= kMsrX2apicLast);
    }

    // CR8: TPR[7:4].
    uint8_t tpr() const;
    void set_tpr(uint8_t cr8);

    // An external interrupt can be taken by the CPU (when IF=1).
    bool interrupt_pending() const;
    // The CPU takes it: the vector to dispatch.
    uint8_t acknowledge();

    // LINT0 (the 8259's INTR on a PC) and LINT1 (NMI) pins.
    void set_lint(unsigned pin, bool level);

    // What a PC BIOS leaves before the OS runs (SeaBIOS): APIC software
    // enabled with spurious vector 0xFF, LINT0 ExtINT (the 8259 passes
    // through), LINT1 NMI.
    void setup_virtual_wire();

    uint64_t base_msr() const;
    uint64_t base_address() const { return base_msr() & ~0xfffull & base_field_mask(); }
    uint32_t initial_id() const { return initial_id_; }

    // ApicBusTarget.
    ApicAddressing addressing() const override;
    uint8_t arbitration_priority() const override;
    bool has_vector(uint8_t vector) const override;
    bool accept(const ApicMessage& message) override;

  private:
    enum Lvt : unsigned { LvtTimer, LvtThermal, LvtPerf, LvtLint0, LvtLint1, LvtError, kLvtCount };
    using Bits256 = std::array<uint32_t, 8>;

    // Work found under the lock, done after it is released.
    struct Effects {
        bool nmi = false, init = false;
        int startup = -1;
        int eoi_vector = -1;
        bool send = false;
        ApicMessage message;
        bool base_changed = false;
        uint64_t new_base = 0;
    };

    uint64_t base_field_mask() const {
        return (phys_addr_bits_ >= 64 ? ~0ull : (1ull << phys_addr_bits_) - 1);
    }
    bool hw_enabled() const { return apic_base_ & kBaseEnable; }
    bool x2apic() const { return apic_base_ & kBaseExtd; }
    bool sw_enabled() const { return svr_ & 0x100; }

    void reset_registers_locked(); // everything but the ID and IA32_APIC_BASE
    void finish(std::unique_lock<std::mutex>& lock, Effects& fx);

    uint32_t read_register_locked(unsigned index, bool& ok) const;
    // from_msr: x2APIC access (the ICR is then one 64-bit register).
    bool write_register_locked(unsigned index, uint64_t value, bool from_msr, Effects& fx);
    bool write_apic_base_locked(uint64_t value, Effects& fx);

    unsigned ppr_locked() const;
    unsigned apr_locked() const;
    int highest_deliverable_locked() const;
    bool extint_pending_locked() const;
    bool pending_locked() const;

    void set_irr_locked(uint8_t vector, bool level);
    void signal_error_locked(uint32_t bits, Effects& fx);
    void deliver_lvt_locked(Lvt lvt, Effects& fx);
    void lint_changed_locked(unsigned pin, bool was_level, Effects& fx);
    void eoi_locked(Effects& fx);
    void send_icr_locked(Effects& fx);
    void write_lvt_locked(Lvt lvt, uint32_t value, Effects& fx);

    // Timer.
    unsigned timer_mode_locked() const { return (lvt_[LvtTimer] >> 17) & 3; }
    bool tsc_deadline_mode_locked() const { return timer_mode_locked() == 2; }
    bool periodic_mode_locked() const { return timer_mode_locked() == 1; }
    uint32_t current_count_locked() const;
    void rebase_timer_locked(); // count continues from its present value
    void arm_timer_locked();
    void timer_expired();

    std::string name_;
    uint32_t initial_id_;
    bool bsp_;
    TimerQueue& timers_;
    ApicBus& bus_;
    std::function<uint64_t()> guest_tsc_;
    uint64_t tsc_hz_;
    unsigned phys_addr_bits_;
    Callbacks cb_;
    Timer timer_;

    mutable std::mutex mu_;
    uint64_t apic_base_ = 0;
    uint32_t id_ = 0; // xAPIC: the register's bits 31:24 as an 8-bit value
    uint32_t tpr_ = 0, ldr_ = 0, dfr_ = 0xffffffff, svr_ = 0xff;
    Bits256 isr_{}, tmr_{}, irr_{};
    uint32_t esr_ = 0, esr_pending_ = 0;
    uint32_t icr_low_ = 0, icr_high_ = 0;
    std::array<uint32_t, kLvtCount> lvt_{};
    uint32_t timer_initial_ = 0, divide_config_ = 0;
    bool timer_counting_ = false;
    uint64_t timer_base_ns_ = 0;    // when the count was timer_base_count_
    uint32_t timer_base_count_ = 0; // 1..initial while counting
    uint64_t tsc_deadline_ = 0;
    std::array<bool, 2> lint_level_{}; // raw pin levels
    bool extint_message_ = false;      // an ExtINT message from the bus awaits INTA

    std::mutex notify_mu_;      // orders on_output calls; taken before mu_
    bool notified_ = false;     // under notify_mu_
    bool force_notify_ = false; // under mu_: publish the output even if unchanged (after load)
};

} // namespace hayate
