// The ACPI fixed-hardware power-management registers of a PIIX4-style ACPI
// function, as QEMU's pc machine has them (ACPI 6.x, section 4.8):
//
//   base + 0   PM1_STS  (16 bits, write 1 to clear)    } PM1a_EVT_BLK
//   base + 2   PM1_EN   (16 bits)                       }
//   base + 4   PM1_CNT  (16 bits)                         PM1a_CNT_BLK
//   base + 8   PM_TMR   (24-bit value in 32 bits)         PM_TMR_BLK
//   gpe0 + 0   GPE0_STS (16 bits, write 1 to clear)    } GPE0_BLK
//   gpe0 + 2   GPE0_EN  (16 bits)                       }
//
// The board maps the device at kPmBase (kPortCount ports; base + 6 and + 7
// are unassigned and float) and gpe0() at kGpe0Base (kGpe0PortCount ports).
// Registers are byte-addressable: wider accesses are split into bytes, so a
// 32-bit access at base + 0 covers PM1_STS and PM1_EN.
//
// The PM timer counts at 3.579545 MHz from the virtual clock (24 bits:
// TMR_VAL_EXT = 0 in the FADT); TMR_STS is set whenever bit 23 changes. The
// board has no SMI_CMD (the FADT says ACPI is always enabled), so SCI_EN
// reads 1 from reset and stays so. The SCI (level, active high; the board's
// ISA IRQ 9) is asserted while any enabled PM1 or GPE0 status bit is set.
// SLP_EN with SLP_TYP 0 (the DSDT's _S5, as for QEMU's PIIX4) powers the
// machine off; the sleeping states S1-S4 are not implemented.
//
// Port accesses and the timer run on the vCPU thread; press_power_button(),
// rtc_alarm() and set_gpe_status() may come from any thread, so the state
// has a lock, released before the SCI line and on_poweroff are driven.
#pragma once
#include "machine/clock.h"
#include "machine/io.h"
#include <functional>
#include <mutex>

namespace hayate {

class AcpiPm final : public Device {
  public:
    static constexpr uint16_t kPmBase = 0x600;
    static constexpr unsigned kPortCount = 12;
    static constexpr uint16_t kGpe0Base = 0xafe0;
    static constexpr unsigned kGpe0PortCount = 4;
    static constexpr uint64_t kTimerHz = 3'579'545;
    static constexpr uint8_t kSlpTypS5 = 0; // the DSDT's _S5 package {0, 0}

    // PM1_STS / PM1_EN bits (ACPI 6.x, tables 4.16 and 4.17).
    static constexpr uint16_t kTmrSts = 1u << 0, kBmSts = 1u << 4, kGblSts = 1u << 5, kPwrBtnSts = 1u << 8,
                              kSlpBtnSts = 1u << 9, kRtcSts = 1u << 10, kWakSts = 1u << 15;
    static constexpr uint16_t kTmrEn = 1u << 0, kGblEn = 1u << 5, kPwrBtnEn = 1u << 8, kSlpBtnEn = 1u << 9,
                              kRtcEn = 1u << 10;
    // PM1_CNT bits (table 4.18).
    static constexpr uint16_t kSciEn = 1u << 0, kBmRld = 1u << 1, kGblRls = 1u << 2, kSlpTypShift = 10,
                              kSlpTypMask = 7u << kSlpTypShift, kSlpEn = 1u << 13;

    // `sci` is driven with the SCI level; `on_poweroff` is called (port
    // access thread, no lock held) when the guest enters S5.
    AcpiPm(TimerQueue& timers, IrqLine& sci, std::function<void()> on_poweroff);

    const char* name() const override { return "acpi-pm"; }
    void reset() override;
    void save(StateWriter& out) const override; // includes GPE0
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // The GPE0 block, to be mapped at kGpe0Base.
    IoHandler& gpe0() { return gpe0_; }

    // Host events.
    void press_power_button();             // PWRBTN_STS (e.g. on a host SIGTERM)
    void rtc_alarm();                      // RTC_STS: the RTC raised its alarm
    void set_gpe_status(unsigned gpe_bit); // a general-purpose event 0-15 occurred

    uint32_t pm_timer() const; // the 24-bit PM_TMR value now

  private:
    class Gpe0Block final : public IoHandler {
      public:
        explicit Gpe0Block(AcpiPm& pm) : pm_(pm) {}
        uint64_t io_read(uint64_t offset, unsigned size) override { return pm_.gpe_read(offset, size); }
        void io_write(uint64_t offset, unsigned size, uint64_t value) override {
            pm_.gpe_write(offset, size, value);
        }

      private:
        AcpiPm& pm_;
    };

    uint64_t gpe_read(uint64_t offset, unsigned size);
    void gpe_write(uint64_t offset, unsigned size, uint64_t value);

    // *_locked: mu_ held.
    uint64_t ticks_locked() const; // PM timer ticks since reset (not wrapped)
    uint16_t pm1_status_locked() const;
    uint8_t read_byte_locked(unsigned offset) const;
    bool sci_level_locked() const;
    void rearm_locked();
    void reset_locked();
    // Applies a state change made by `change` (run under mu_) and drives the
    // SCI with mu_ released; returns whatever `change` returns.
    template <typename F> auto modify(F change);
    void on_timer();

    TimerQueue& queue_;
    IrqLine& sci_;
    std::function<void()> on_poweroff_;
    Gpe0Block gpe0_{*this};
    Timer timer_;

    mutable std::mutex mu_;
    std::mutex sci_mu_;    // keeps SCI level changes in the order they were computed
    uint16_t pm1_sts_ = 0; // status bits other than TMR_STS
    uint16_t pm1_en_ = 0;
    uint16_t pm1_cnt_ = kSciEn; // SCI_EN, BM_RLD, SLP_TYP
    uint16_t gpe_sts_ = 0, gpe_en_ = 0;
    int64_t origin_ns_ = 0;     // virtual time of PM timer tick 0
    uint64_t tmr_ref_tick_ = 0; // TMR_STS is set once bit 23 differs from this tick's
};

} // namespace hayate
