// Motorola MC146818A real-time clock with its CMOS RAM, as the PC has it:
// index port 0x70 (bits 0-6 select one of 128 bytes; bit 7 is the chipset's
// NMI-disable latch, kept here for the board), data port 0x71, IRQ 8.
//
// The clock follows the host's wall clock: the board hands in the host's UTC
// time at construction and from then on time advances with the machine's
// virtual clock. Nothing ticks per second: the time registers, the UIP bit
// and the flags of register C are brought up to date from the virtual clock
// whenever they are looked at ("catch-up"), and a Timer is armed only for
// the next moment an enabled interrupt would set IRQF.
//
// The divider chain runs on the PC's 32.768 kHz crystal: updates come once
// a second, 500 ms after the chain leaves reset (DV = 11x -> 010), periodic
// flags on the rising edges of the divider tap chosen by RS3-RS0 (tap period
// P, first edge P/2 after the chain starts, so ticks never drift). The
// century byte (0x32) is part of the calendar, so leap years follow the full
// Gregorian rule. The SQW pin is not connected on a PC; SQWE is only stored.
#pragma once
#include "machine/clock.h"
#include "machine/io.h"
#include <array>
#include <cstdint>
#include <mutex>

namespace hayate {

class RtcCmos final : public Device {
  public:
    static constexpr uint16_t kPort = 0x70;
    static constexpr unsigned kPortCount = 2;
    static constexpr unsigned kIrq = 8;
    static constexpr unsigned kBytes = 128;

    // Register indexes and bits (MC146818A datasheet names).
    static constexpr uint8_t kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03,
                             kHours = 0x04, kHoursAlarm = 0x05, kDayOfWeek = 0x06, kDayOfMonth = 0x07,
                             kMonth = 0x08, kYear = 0x09, kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c,
                             kRegD = 0x0d, kCentury = 0x32;
    static constexpr uint8_t kAUip = 0x80, kADividerMask = 0x70, kADivider32k = 0x20, kARateMask = 0x0f;
    static constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10, kBSqwe = 0x08,
                             kBBinary = 0x04, kB24Hour = 0x02, kBDse = 0x01;
    static constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
    static constexpr uint8_t kDVrt = 0x80;
    static constexpr uint8_t kHoursPm = 0x80; // 12-hour mode

    // The 32.768 kHz time base and what the datasheet derives from it.
    static constexpr uint64_t kTimeBaseHz = 32768;
    // UIP rises 8 time-base cycles (244.14 us, the datasheet's 244 us)
    // before an update: the first ns at or after that edge, counted back.
    static constexpr uint64_t kUipLeadNs = 8 * kNsPerSecond / kTimeBaseHz;

    // `base_unix_seconds` is the host's UTC time (time(nullptr)) the clock
    // shows now; `irq` is IRQ 8. Both references must outlive the device.
    RtcCmos(TimerQueue& timers, IrqLine& irq, int64_t base_unix_seconds);

    const char* name() const override { return "rtc"; }
    // RESET pin plus re-reading the host's time: PIE, AIE, UIE, SQWE and
    // every flag of register C cleared (IRQ 8 low); register A, SET, DM,
    // 24/12, DSE and the CMOS RAM kept; the time registers set to the host's
    // UTC time (the construction time plus the virtual time since).
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // Bit 7 of the last write to port 0x70.
    bool nmi_disabled() const;
    // Board-side CMOS RAM setup; `index` must be a RAM byte (0x0e-0x7f,
    // not the century byte): anything else throws std::out_of_range.
    void set_nvram(uint8_t index, uint8_t value);
    uint8_t nvram(uint8_t index) const;
    // The bytes SeaBIOS (and QEMU's board) use for memory size and
    // equipment: 0x10 diskette types (none), 0x14 equipment (x87 present,
    // no diskette), 0x15/0x16 base memory KiB, 0x17/0x18 and 0x30/0x31
    // extended memory KiB above 1 MiB, 0x34/0x35 memory above 16 MiB in
    // 64 KiB units, 0x5b-0x5d memory above 4 GiB in 64 KiB units, and the
    // AT checksum of 0x10-0x2d in 0x2e (high) / 0x2f (low).
    static void fill_memory_size(RtcCmos& rtc, uint64_t ram_below_4g, uint64_t ram_above_4g);

  private:
    struct Alarm; // the alarm registers as sets of matching values

    void catch_up_locked(int64_t now);
    void advance_time_locked(uint64_t updates);
    bool alarm_matches_between_locked(int64_t first, int64_t last) const;
    int64_t next_alarm_match_locked(int64_t from) const; // linear second, or -1
    int64_t next_dse_change_locked(int64_t after, int64_t start_linear, int dow_index_at_start) const;

    bool running() const { return (regs_[kRegA] & kADividerMask) == kADivider32k; }
    bool binary() const { return regs_[kRegB] & kBBinary; }
    bool hour24() const { return regs_[kRegB] & kB24Hour; }
    uint64_t rate_period_cycles() const; // 0: no periodic flag
    uint64_t updates_by(int64_t t) const;
    uint64_t ticks_by(int64_t t, uint64_t period) const;
    int64_t next_update_after(int64_t t) const;
    int64_t next_tick_after(int64_t t, uint64_t period) const;
    bool uip(int64_t now) const;
    bool irqf() const;

    // Time registers <-> seconds since 1970-01-01 00:00:00 in the RTC's own
    // calendar (no time zone). `valid` tells whether the registers held a
    // proper date and time in the current data mode.
    int64_t registers_to_linear(bool* valid) const;
    void linear_to_registers(int64_t linear, int dow_index);
    int dow_index() const; // 0 = Sunday (register value 1)

    uint8_t read_reg_locked(uint8_t reg, int64_t now);
    void write_reg_locked(uint8_t reg, uint8_t value, int64_t now);
    void set_host_time_locked(int64_t now);
    void rearm_locked(int64_t now);
    void on_timer();
    int64_t now() const { return int64_t(timers_.now_ns()); }
    void set_irq(bool level);

    TimerQueue& timers_;
    IrqLine& irq_;
    Timer timer_;
    const int64_t base_unix_seconds_;
    mutable std::mutex mu_;

    // --- state (saved) ---
    std::array<uint8_t, kBytes> regs_{}; // register C holds PF/AF/UF; IRQF is derived
    uint8_t index_ = 0;
    bool nmi_disabled_ = false;
    int64_t construct_ns_ = 0;              // virtual time at which base_unix_seconds_ was shown
    int64_t chain_origin_ns_ = 0;           // when the divider chain (re)started counting
    int64_t caught_up_ns_ = 0;              // registers and flags reflect the time up to here
    int64_t dse_fell_back_day_ = INT64_MIN; // day (of the linear count) whose 2 AM was already repeated

    static constexpr int64_t kNotArmed = INT64_MAX;
    int64_t armed_for_ = kNotArmed; // the timer's deadline (not saved: load re-arms)
};

} // namespace hayate
