// The MC146818A RTC/CMOS against its datasheet, on a manual virtual clock:
// time and date formats, calendar roll-overs, setting the time, the three
// interrupt sources and their flags, UIP, the divider reset, daylight saving,
// the NMI latch, the memory-size bytes SeaBIOS reads, reset and save/load.
//
// Dates used (checked with `date -u`):
//   1709210096 = 2024-02-29 12:34:56 UTC, a Thursday (day-of-week 5, Sunday = 1)
//   + 366 days = 2025-03-01 12:34:56, a Saturday
//   1999-12-31 Friday, 2000-01-01 Saturday, 2000-02-28 Monday, 2100-02-28
//   Sunday, 2023-02-28 Tuesday, 2024-04-30 Tuesday; 2024-04-28 and
//   2024-10-27 are the last Sundays of April and October 2024.
#include "devices/rtc_cmos.h"
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

using namespace hayate;

namespace {

constexpr int64_t kBase = 1709210096;
constexpr uint64_t kSecond = kNsPerSecond;
constexpr uint64_t kMs = kNsPerSecond / 1000;

struct Rtc {
    VirtualClock clock{VirtualClock::Mode::Manual};
    TimerQueue timers{clock};
    unsigned raises = 0;
    IrqLine irq{[this](bool level) { raises += level; }};
    std::unique_ptr<RtcCmos> rtc;

    explicit Rtc(int64_t base = kBase) : rtc(std::make_unique<RtcCmos>(timers, irq, base)) {}

    uint8_t read(uint8_t reg) {
        rtc->io_write(0, 1, reg);
        return uint8_t(rtc->io_read(1, 1));
    }
    void write(uint8_t reg, uint8_t value) {
        rtc->io_write(0, 1, reg);
        rtc->io_write(1, 1, value);
    }
    // Moves time forward to `ns`, running each timer at its deadline.
    void run_to(uint64_t ns) {
        for (uint64_t d = timers.next_deadline(); d <= ns; d = timers.next_deadline()) {
            clock.advance_to(d);
            timers.run_expired();
        }
        clock.advance_to(ns);
        timers.run_expired();
    }
    // As run_to, acknowledging (reading register C) every interrupt as a
    // handler would; returns how many were raised.
    unsigned count_irqs_to(uint64_t ns) {
        const unsigned before = raises;
        for (uint64_t d = timers.next_deadline(); d <= ns; d = timers.next_deadline()) {
            clock.advance_to(d);
            timers.run_expired();
            if (irq.level()) read(RtcCmos::kRegC);
        }
        clock.advance_to(ns);
        timers.run_expired();
        if (irq.level()) read(RtcCmos::kRegC);
        return raises - before;
    }
    // Sets the clock the way an OS does: SET, the registers, SET cleared.
    void set_time(uint8_t b, uint8_t century, uint8_t year, uint8_t month, uint8_t day, uint8_t dow,
                  uint8_t hours, uint8_t minutes, uint8_t seconds) {
        write(RtcCmos::kRegB, uint8_t(b | RtcCmos::kBSet));
        write(RtcCmos::kCentury, century);
        write(RtcCmos::kYear, year);
        write(RtcCmos::kMonth, month);
        write(RtcCmos::kDayOfMonth, day);
        write(RtcCmos::kDayOfWeek, dow);
        write(RtcCmos::kHours, hours);
        write(RtcCmos::kMinutes, minutes);
        write(RtcCmos::kSeconds, seconds);
        write(RtcCmos::kRegB, b);
    }
    std::vector<uint8_t> date_time() {
        return {read(RtcCmos::kCentury),    read(RtcCmos::kYear),      read(RtcCmos::kMonth),
                read(RtcCmos::kDayOfMonth), read(RtcCmos::kDayOfWeek), read(RtcCmos::kHours),
                read(RtcCmos::kMinutes),    read(RtcCmos::kSeconds)};
    }
    uint64_t now() const { return clock.now_ns(); }
};

using Bytes = std::vector<uint8_t>;

} // namespace

TEST_CASE("rtc: power-on state shows the host's UTC time in BCD, 24-hour", "[rtc]") {
    Rtc r;
    CHECK(r.date_time() == Bytes{0x20, 0x24, 0x02, 0x29, 5, 0x12, 0x34, 0x56});
    CHECK(r.read(RtcCmos::kRegA) == 0x26); // 32.768 kHz time base, 1024 Hz rate
    CHECK(r.read(RtcCmos::kRegB) == RtcCmos::kB24Hour);
    CHECK(r.read(RtcCmos::kRegC) == 0);
    CHECK(r.read(RtcCmos::kRegD) == RtcCmos::kDVrt);
    CHECK_FALSE(r.irq.level());
    CHECK(r.timers.next_deadline() == TimerQueue::kNever); // no interrupt enabled: no timer
    // Time advances with the virtual clock, computed when read.
    r.clock.advance_to(4 * kSecond);
    CHECK(r.date_time() == Bytes{0x20, 0x24, 0x02, 0x29, 5, 0x12, 0x35, 0x00});
    // 366 days later, read only then.
    r.clock.advance_to(4 * kSecond + 366 * 86400 * kSecond);
    CHECK(r.date_time() == Bytes{0x20, 0x25, 0x03, 0x01, 7, 0x12, 0x35, 0x00});
}

TEST_CASE("rtc: binary data mode", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBBinary);
    r.rtc->reset(); // re-reads the host time, now rendered in binary
    CHECK(r.date_time() == Bytes{20, 24, 2, 29, 5, 12, 34, 56});
    r.clock.advance_to(4 * kSecond);
    CHECK(r.date_time() == Bytes{20, 24, 2, 29, 5, 12, 35, 0});
    // Binary roll-over through the end of a year.
    r.set_time(RtcCmos::kB24Hour | RtcCmos::kBBinary, 19, 99, 12, 31, 6, 23, 59, 59);
    r.run_to(5 * kSecond);
    CHECK(r.date_time() == Bytes{20, 0, 1, 1, 7, 0, 0, 0});
}

TEST_CASE("rtc: 12-hour mode with the PM bit, BCD and binary", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegB, 0x00); // 12-hour, BCD
    r.rtc->reset();
    CHECK(r.read(RtcCmos::kHours) == (0x12 | RtcCmos::kHoursPm)); // 12:34:56 PM
    // 11:59:59 PM -> 12:00:00 AM of the next day.
    r.set_time(0x00, 0x20, 0x24, 0x03, 0x15, 6, 0x11 | RtcCmos::kHoursPm, 0x59, 0x59);
    r.run_to(r.now() + kSecond);
    CHECK(r.date_time() == Bytes{0x20, 0x24, 0x03, 0x16, 7, 0x12, 0x00, 0x00});
    // 11:59:59 AM -> 12:00:00 PM.
    r.set_time(0x00, 0x20, 0x24, 0x03, 0x16, 7, 0x11, 0x59, 0x59);
    r.run_to(r.now() + kSecond);
    CHECK(r.read(RtcCmos::kHours) == (0x12 | RtcCmos::kHoursPm));
    // 12:59:59 AM -> 1:00:00 AM.
    r.set_time(0x00, 0x20, 0x24, 0x03, 0x16, 7, 0x12, 0x59, 0x59);
    r.run_to(r.now() + kSecond);
    CHECK(r.read(RtcCmos::kHours) == 0x01);
    // Binary 12-hour: 11 PM is 0x8b, midnight is 12 = 0x0c.
    r.set_time(RtcCmos::kBBinary, 20, 24, 3, 16, 7, 11 | RtcCmos::kHoursPm, 59, 59);
    r.run_to(r.now() + kSecond);
    CHECK(r.date_time() == Bytes{20, 24, 3, 17, 1, 12, 0, 0});
}

TEST_CASE("rtc: date roll-overs: midnight, month ends, years, leap days, centuries", "[rtc]") {
    struct Case {
        Bytes before, after; // century, year, month, day, day-of-week, hours, minutes, seconds
    };
    const Case cases[] = {
        {{0x19, 0x99, 0x12, 0x31, 6, 0x23, 0x59, 0x59}, {0x20, 0x00, 0x01, 0x01, 7, 0x00, 0x00, 0x00}},
        {{0x20, 0x00, 0x02, 0x28, 2, 0x23, 0x59, 0x59}, {0x20, 0x00, 0x02, 0x29, 3, 0x00, 0x00, 0x00}},
        {{0x21, 0x00, 0x02, 0x28, 1, 0x23, 0x59, 0x59}, {0x21, 0x00, 0x03, 0x01, 2, 0x00, 0x00, 0x00}},
        {{0x20, 0x23, 0x02, 0x28, 3, 0x23, 0x59, 0x59}, {0x20, 0x23, 0x03, 0x01, 4, 0x00, 0x00, 0x00}},
        {{0x20, 0x24, 0x02, 0x28, 4, 0x23, 0x59, 0x59}, {0x20, 0x24, 0x02, 0x29, 5, 0x00, 0x00, 0x00}},
        {{0x20, 0x24, 0x02, 0x29, 5, 0x23, 0x59, 0x59}, {0x20, 0x24, 0x03, 0x01, 6, 0x00, 0x00, 0x00}},
        {{0x20, 0x24, 0x04, 0x30, 3, 0x23, 0x59, 0x59}, {0x20, 0x24, 0x05, 0x01, 4, 0x00, 0x00, 0x00}},
        {{0x20, 0x24, 0x04, 0x30, 3, 0x09, 0x59, 0x59}, {0x20, 0x24, 0x04, 0x30, 3, 0x10, 0x00, 0x00}},
        {{0x20, 0x24, 0x05, 0x04, 7, 0x23, 0x59, 0x59}, {0x20, 0x24, 0x05, 0x05, 1, 0x00, 0x00, 0x00}},
    };
    for (const Case& c : cases) {
        Rtc r;
        r.set_time(RtcCmos::kB24Hour, c.before[0], c.before[1], c.before[2], c.before[3], c.before[4],
                   c.before[5], c.before[6], c.before[7]);
        CHECK(r.date_time() == c.before);
        r.run_to(kSecond); // the first update after construction
        CHECK(r.date_time() == c.after);
    }
}

TEST_CASE("rtc: setting the time: SET holds the registers, the clock resumes from them", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBUie);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBSet | RtcCmos::kBUie);
    // SET going high cleared UIE.
    CHECK(r.read(RtcCmos::kRegB) == (RtcCmos::kB24Hour | RtcCmos::kBSet));
    r.write(RtcCmos::kHours, 0x08);
    r.write(RtcCmos::kMinutes, 0x15);
    r.write(RtcCmos::kSeconds, 0x30);
    r.clock.advance_to(3 * kSecond + 700 * kMs);
    // No update while SET: the registers read back as written, no UF.
    CHECK(r.read(RtcCmos::kHours) == 0x08);
    CHECK(r.read(RtcCmos::kMinutes) == 0x15);
    CHECK(r.read(RtcCmos::kSeconds) == 0x30);
    CHECK((r.read(RtcCmos::kRegA) & RtcCmos::kAUip) == 0);
    CHECK((r.read(RtcCmos::kRegC) & RtcCmos::kCUf) == 0);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour);
    // The divider kept running: the next update is at the next whole second.
    r.clock.advance_to(4 * kSecond - 1);
    CHECK(r.read(RtcCmos::kSeconds) == 0x30);
    r.clock.advance_to(4 * kSecond);
    CHECK(r.read(RtcCmos::kSeconds) == 0x31);
    r.clock.advance_to(4 * kSecond + 3600 * kSecond);
    CHECK(r.read(RtcCmos::kHours) == 0x09);
    CHECK(r.read(RtcCmos::kMinutes) == 0x15);
    CHECK(r.read(RtcCmos::kSeconds) == 0x31);
    CHECK(r.read(RtcCmos::kDayOfMonth) == 0x29);
}

TEST_CASE("rtc: out-of-range values are stored as written and do no harm", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBSet);
    const uint8_t garbage[] = {0x7a, 0xff, 0x99, 0x00, 0xee, 0x13};
    const uint8_t regs[] = {RtcCmos::kSeconds,    RtcCmos::kMinutes, RtcCmos::kHours,
                            RtcCmos::kDayOfMonth, RtcCmos::kMonth,   RtcCmos::kDayOfWeek};
    for (unsigned i = 0; i < 6; i++) r.write(regs[i], garbage[i]);
    for (unsigned i = 0; i < 6; i++) CHECK(r.read(regs[i]) == garbage[i]);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBAie | RtcCmos::kBUie);
    r.write(RtcCmos::kSecondsAlarm, 0x7f); // can never match
    r.count_irqs_to(100 * kSecond);
    // Whatever the datasheet's "undefined" becomes, the clock now holds a
    // proper time and keeps counting.
    const uint8_t s1 = r.read(RtcCmos::kSeconds);
    r.run_to(101 * kSecond);
    const uint8_t s2 = r.read(RtcCmos::kSeconds);
    CHECK(s1 <= 0x59);
    CHECK(s2 == (s1 == 0x59 ? 0x00 : ((s1 & 0x0f) == 9 ? s1 + 7 : s1 + 1)));
}

TEST_CASE("rtc: periodic interrupt rates over one virtual second", "[rtc]") {
    // Rates 3-15: 32768 >> (rate - 1) Hz; rates 1 and 2 repeat 8 and 9
    // (256 Hz, 128 Hz) with the 32.768 kHz time base.
    for (unsigned rate : {3u, 6u, 15u, 1u, 2u}) {
        Rtc r;
        r.write(RtcCmos::kRegA, uint8_t(RtcCmos::kADivider32k | rate));
        r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBPie);
        r.read(RtcCmos::kRegC);
        const unsigned effective = rate <= 2 ? rate + 7 : rate;
        const uint64_t t0 = r.now();
        CHECK(r.count_irqs_to(t0 + kSecond) == (32768u >> (effective - 1)));
        // No drift: another second, the same count.
        CHECK(r.count_irqs_to(t0 + 2 * kSecond) == (32768u >> (effective - 1)));
    }
}

TEST_CASE("rtc: periodic flag without PIE, rate 0, and the phase after a divider reset", "[rtc]") {
    Rtc r;
    // PIE clear: no timer, no IRQ, but PF shows in register C.
    r.clock.advance_to(10 * kMs);
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
    CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCPf);
    CHECK(r.raises == 0);
    // Rate 0: no periodic flag at all, even with PIE.
    r.write(RtcCmos::kRegA, RtcCmos::kADivider32k);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBPie);
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
    r.clock.advance_to(20 * kMs);
    CHECK((r.read(RtcCmos::kRegC) & RtcCmos::kCPf) == 0);
    // Divider held in reset, then released at T: a tap of period P has its
    // first rising edge at T + P/2 (the 1 Hz tap's is the first update, the
    // datasheet's "500 ms later").
    const uint8_t rate = 15; // P = 500 ms
    r.write(RtcCmos::kRegA, 0x60 | rate);
    r.run_to(100 * kMs);
    const uint64_t t = r.now();
    r.write(RtcCmos::kRegA, RtcCmos::kADivider32k | rate);
    r.run_to(t + 250 * kMs - 1);
    CHECK_FALSE(r.irq.level());
    r.run_to(t + 250 * kMs);
    CHECK(r.irq.level());
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCIrqf | RtcCmos::kCPf));
    CHECK_FALSE(r.irq.level());
    r.run_to(t + 750 * kMs - 1);
    CHECK_FALSE(r.irq.level());
    r.run_to(t + 750 * kMs);
    CHECK(r.irq.level());
}

TEST_CASE("rtc: divider reset holds the time; the first update comes 500 ms after release", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegA, 0x70);
    r.clock.advance_to(5 * kSecond + 300 * kMs);
    CHECK(r.read(RtcCmos::kSeconds) == 0x56);
    CHECK((r.read(RtcCmos::kRegA) & RtcCmos::kAUip) == 0);
    r.write(RtcCmos::kRegA, 0x26);
    r.clock.advance_to(5 * kSecond + 800 * kMs - 1);
    CHECK(r.read(RtcCmos::kSeconds) == 0x56);
    r.clock.advance_to(5 * kSecond + 800 * kMs);
    CHECK(r.read(RtcCmos::kSeconds) == 0x57);
    r.clock.advance_to(6 * kSecond + 800 * kMs);
    CHECK(r.read(RtcCmos::kSeconds) == 0x58);
    // A time base the 32.768 kHz crystal does not provide stops the clock.
    r.write(RtcCmos::kRegA, 0x06);
    r.clock.advance_to(20 * kSecond);
    CHECK(r.read(RtcCmos::kSeconds) == 0x58);
}

TEST_CASE("rtc: update-ended interrupt once a second", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegA, RtcCmos::kADivider32k); // no periodic flag in the way
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBUie);
    CHECK(r.timers.next_deadline() == kSecond);
    r.run_to(kSecond - 1);
    CHECK_FALSE(r.irq.level());
    r.run_to(kSecond);
    CHECK(r.irq.level());
    CHECK(r.read(RtcCmos::kSeconds) == 0x57); // already updated
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCIrqf | RtcCmos::kCUf));
    CHECK_FALSE(r.irq.level());
    CHECK(r.count_irqs_to(4 * kSecond + 500 * kMs) == 3);
    // While IRQF stays set, no timer runs; missed updates still leave UF.
    r.run_to(7 * kSecond + 500 * kMs);
    CHECK(r.irq.level());
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
    CHECK(r.raises == 5);
}

TEST_CASE("rtc: register C read clears the flags and lowers IRQ 8; IRQF follows the enables", "[rtc]") {
    Rtc r;
    r.clock.advance_to(2 * kSecond);
    // PF and UF set, none enabled: IRQF clear.
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCPf | RtcCmos::kCUf));
    CHECK(r.read(RtcCmos::kRegC) == 0);
    r.clock.advance_to(3 * kSecond);
    // Enabling an interrupt whose flag is already set raises IRQF at once.
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBUie);
    CHECK(r.irq.level());
    // Disabling it again drops IRQF (it is the OR of enabled flags).
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour);
    CHECK_FALSE(r.irq.level());
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBUie);
    CHECK(r.irq.level());
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCIrqf | RtcCmos::kCPf | RtcCmos::kCUf));
    CHECK_FALSE(r.irq.level());
    CHECK(r.read(RtcCmos::kRegC) == 0);
    // Register C and D are read-only.
    r.write(RtcCmos::kRegC, 0xff);
    r.write(RtcCmos::kRegD, 0x00);
    CHECK(r.read(RtcCmos::kRegC) == 0);
    CHECK(r.read(RtcCmos::kRegD) == RtcCmos::kDVrt);
}

TEST_CASE("rtc: alarm interrupt with exact and don't-care fields", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegA, RtcCmos::kADivider32k);
    r.set_time(RtcCmos::kB24Hour, 0x20, 0x24, 0x03, 0x01, 6, 0x10, 0x59, 0x55);
    // Once an hour: xx:00:00.
    r.write(RtcCmos::kSecondsAlarm, 0x00);
    r.write(RtcCmos::kMinutesAlarm, 0x00);
    r.write(RtcCmos::kHoursAlarm, 0xc0);
    r.read(RtcCmos::kRegC);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBAie);
    CHECK(r.timers.next_deadline() == 5 * kSecond); // no timer for the updates in between
    r.run_to(5 * kSecond - 1);
    CHECK_FALSE(r.irq.level());
    r.run_to(5 * kSecond);
    CHECK(r.irq.level());
    CHECK(r.read(RtcCmos::kHours) == 0x11);
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCIrqf | RtcCmos::kCAf | RtcCmos::kCUf));
    // The next match is 12:00:00.
    CHECK(r.count_irqs_to(5 * kSecond + 3600 * kSecond - 1) == 0);
    CHECK(r.count_irqs_to(5 * kSecond + 3600 * kSecond) == 1);
    // Exact alarm, 12-hour mode: 1:00:05 PM (0x81) matches once, 13:00:05.
    r.set_time(0x00, 0x20, 0x24, 0x03, 0x01, 6, 0x01 | RtcCmos::kHoursPm, 0x00, 0x00);
    r.write(RtcCmos::kRegB, RtcCmos::kBAie);
    r.write(RtcCmos::kHoursAlarm, 0x01 | RtcCmos::kHoursPm);
    r.write(RtcCmos::kSecondsAlarm, 0x05);
    r.read(RtcCmos::kRegC);
    const uint64_t t = r.now();
    CHECK(r.count_irqs_to(t + 86400 * kSecond - 10 * kSecond) == 1);
    // Don't-care seconds: every second of minute 00 of every hour.
    r.write(RtcCmos::kSecondsAlarm, 0xff);
    r.write(RtcCmos::kHoursAlarm, 0xff);
    r.set_time(RtcCmos::kBAie, 0x20, 0x24, 0x03, 0x01, 6, 0x01, 0x59, 0x59);
    r.read(RtcCmos::kRegC);
    const uint64_t t2 = r.now();
    CHECK(r.count_irqs_to(t2 + 2 * 3600 * kSecond) == 120);
}

TEST_CASE("rtc: an alarm byte that is no proper BCD value never matches", "[rtc]") {
    // 0x0a decodes to 10 but the seconds register never holds it in BCD
    // (10 s is 0x10): the byte comparison of the chip never succeeds.
    Rtc r;
    r.write(RtcCmos::kRegA, RtcCmos::kADivider32k);
    r.write(RtcCmos::kSecondsAlarm, 0x0a);
    r.write(RtcCmos::kMinutesAlarm, 0xc0);
    r.write(RtcCmos::kHoursAlarm, 0xc0);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBAie);
    CHECK(r.count_irqs_to(120 * kSecond) == 0);
    r.write(RtcCmos::kSecondsAlarm, 0x10);
    CHECK(r.count_irqs_to(240 * kSecond) == 2);
}

TEST_CASE("rtc: alarm flag set without AIE, found lazily", "[rtc]") {
    Rtc r;
    r.write(RtcCmos::kRegA, RtcCmos::kADivider32k);
    r.write(RtcCmos::kSecondsAlarm, 0x00);
    r.write(RtcCmos::kMinutesAlarm, 0x35);
    r.write(RtcCmos::kHoursAlarm, 0x12);
    r.clock.advance_to(3 * kSecond);
    CHECK(r.read(RtcCmos::kRegC) == RtcCmos::kCUf);
    r.clock.advance_to(10 * kSecond); // 12:35:00 went by at 4 s
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
    CHECK(r.read(RtcCmos::kRegC) == (RtcCmos::kCAf | RtcCmos::kCUf));
    CHECK(r.raises == 0);
    // An alarm second skipped by SET does not match.
    r.clock.advance_to(86400 * kSecond);
    r.read(RtcCmos::kRegC);
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBSet);
    r.clock.advance_to(86400 * kSecond + 10 * kSecond);
    CHECK(r.read(RtcCmos::kRegC) == 0);
}

TEST_CASE("rtc: UIP is set for the 244 us before each update", "[rtc]") {
    Rtc r;
    // 8 cycles of the 32.768 kHz time base; the first whole ns at or after
    // that edge is the integer part of 8e9 / 32768 before the update.
    const uint64_t lead = 8 * kNsPerSecond / 32768;
    CHECK(lead == RtcCmos::kUipLeadNs);
    auto uip = [&](uint64_t t) {
        r.clock.advance_to(t);
        return (r.read(RtcCmos::kRegA) & RtcCmos::kAUip) != 0;
    };
    CHECK_FALSE(uip(kSecond - lead - 1));
    CHECK(uip(kSecond - lead));
    CHECK(r.read(RtcCmos::kSeconds) == 0x56);
    CHECK(uip(kSecond - 1));
    CHECK_FALSE(uip(kSecond));
    CHECK(r.read(RtcCmos::kSeconds) == 0x57);
    CHECK(uip(2 * kSecond - 100'000));
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour | RtcCmos::kBSet); // SET clears UIP
    CHECK((r.read(RtcCmos::kRegA) & RtcCmos::kAUip) == 0);
    // UIP is read-only.
    r.write(RtcCmos::kRegB, RtcCmos::kB24Hour);
    r.write(RtcCmos::kRegA, 0xa6);
    CHECK(r.read(RtcCmos::kRegA) == 0xa6); // still inside the window
    r.clock.advance_to(2 * kSecond + 1000);
    CHECK(r.read(RtcCmos::kRegA) == 0x26);
}

TEST_CASE("rtc: daylight saving: last Sundays of April and October", "[rtc]") {
    const uint8_t b = RtcCmos::kB24Hour | RtcCmos::kBDse;
    {
        Rtc r;
        r.set_time(b, 0x20, 0x24, 0x04, 0x28, 1, 0x01, 0x59, 0x59);
        r.run_to(kSecond);
        CHECK(r.date_time() == Bytes{0x20, 0x24, 0x04, 0x28, 1, 0x03, 0x00, 0x00});
    }
    {
        Rtc r;
        r.set_time(b, 0x20, 0x24, 0x10, 0x27, 1, 0x01, 0x59, 0x59);
        r.run_to(kSecond);
        CHECK(r.date_time() == Bytes{0x20, 0x24, 0x10, 0x27, 1, 0x01, 0x00, 0x00});
        // The second time 1:59:59 comes, the clock goes on to 2:00:00.
        r.run_to(kSecond + 3600 * kSecond);
        CHECK(r.date_time() == Bytes{0x20, 0x24, 0x10, 0x27, 1, 0x02, 0x00, 0x00});
    }
    {
        // Set to 2:00:00 on that Sunday: the jump happens only on the way
        // from 1:59:59.
        Rtc r;
        r.set_time(b, 0x20, 0x24, 0x04, 0x28, 1, 0x02, 0x00, 0x00);
        r.run_to(kSecond);
        CHECK(r.date_time() == Bytes{0x20, 0x24, 0x04, 0x28, 1, 0x02, 0x00, 0x01});
    }
    {
        // A Sunday that is not the last one of April, and DSE off: no jump.
        Rtc r;
        r.set_time(b, 0x20, 0x24, 0x04, 0x21, 1, 0x01, 0x59, 0x59);
        r.run_to(kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x02);
        r.set_time(RtcCmos::kB24Hour, 0x20, 0x24, 0x04, 0x28, 1, 0x01, 0x59, 0x59);
        r.run_to(2 * kSecond);
        CHECK(r.read(RtcCmos::kHours) == 0x02);
    }
    {
        // Read only long after: both changes of 2024 applied once each.
        Rtc r;
        r.set_time(b, 0x20, 0x24, 0x01, 0x01, 2, 0x00, 0x00, 0x00);
        r.clock.advance_to(366 * 86400 * kSecond); // 2024 has 366 days
        CHECK(r.date_time() == Bytes{0x20, 0x25, 0x01, 0x01, 4, 0x00, 0x00, 0x00});
        r.clock.advance_to(366 * 86400 * kSecond + 150 * 86400 * kSecond);
        // 2025-05-31, 01:00 after spring forward (one hour skipped).
        CHECK(r.date_time() == Bytes{0x20, 0x25, 0x05, 0x31, 7, 0x01, 0x00, 0x00});
    }
}

TEST_CASE("rtc: index port bit 7 is the NMI-disable latch", "[rtc]") {
    Rtc r;
    CHECK_FALSE(r.rtc->nmi_disabled());
    r.rtc->io_write(0, 1, 0x80 | RtcCmos::kRegD);
    CHECK(r.rtc->nmi_disabled());
    CHECK(r.rtc->io_read(1, 1) == RtcCmos::kDVrt); // index bits 0-6 still select D
    r.rtc->io_write(0, 1, RtcCmos::kRegB);
    CHECK_FALSE(r.rtc->nmi_disabled());
    CHECK(r.rtc->io_read(1, 1) == RtcCmos::kB24Hour);
    CHECK(r.rtc->io_read(0, 1) == 0xff); // the index port is write-only
    // A word write reaches index and data ports in turn.
    r.rtc->io_write(0, 2, 0xa540);
    CHECK(r.rtc->nvram(0x40) == 0xa5);
}

TEST_CASE("rtc: CMOS RAM: memory-size bytes for 512 MiB and 6 GiB", "[rtc]") {
    constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;
    auto word = [](Rtc& r, uint8_t low) { return r.read(low) | (r.read(uint8_t(low + 1)) << 8); };
    auto checksum_ok = [](Rtc& r) {
        unsigned sum = 0;
        for (uint8_t i = 0x10; i <= 0x2d; i++) sum += r.read(i);
        return sum != 0 && ((r.read(0x2e) << 8) | r.read(0x2f)) == int(sum & 0xffff);
    };
    {
        Rtc r;
        RtcCmos::fill_memory_size(*r.rtc, 512 * MiB, 0);
        CHECK(word(r, 0x15) == 640);
        // (512 MiB - 1 MiB) / 1 KiB = 523264, over 0xffff: capped.
        CHECK(word(r, 0x17) == 0xffff);
        CHECK(word(r, 0x30) == 0xffff);
        CHECK(word(r, 0x34) == int((512 - 16) * MiB / (64 * 1024)));
        CHECK(r.read(0x5b) == 0);
        CHECK(r.read(0x5c) == 0);
        CHECK(r.read(0x5d) == 0);
        CHECK(r.read(0x10) == 0);
        CHECK(r.read(0x14) == 0x02);
        CHECK(checksum_ok(r));
    }
    {
        Rtc r;
        RtcCmos::fill_memory_size(*r.rtc, 3 * GiB, 3 * GiB); // 6 GiB with a 1 GiB hole below 4 GiB
        CHECK(word(r, 0x15) == 640);
        CHECK(word(r, 0x17) == 0xffff);
        CHECK(word(r, 0x34) == int((3 * GiB - 16 * MiB) / (64 * 1024)));
        const uint64_t high = 3 * GiB / (64 * 1024);
        CHECK(r.read(0x5b) == (high & 0xff));
        CHECK(r.read(0x5c) == ((high >> 8) & 0xff));
        CHECK(r.read(0x5d) == ((high >> 16) & 0xff));
        CHECK(checksum_ok(r));
    }
    {
        // Below 16 MiB: extended memory counted in KiB, nothing above 16 MiB.
        Rtc r;
        RtcCmos::fill_memory_size(*r.rtc, 8 * MiB, 0);
        CHECK(word(r, 0x17) == int(7 * MiB / 1024));
        CHECK(word(r, 0x34) == 0);
    }
    Rtc r;
    CHECK_THROWS_AS(r.rtc->set_nvram(RtcCmos::kRegA, 0), std::out_of_range);
    CHECK_THROWS_AS(r.rtc->set_nvram(RtcCmos::kCentury, 0), std::out_of_range);
    CHECK_THROWS_AS(r.rtc->set_nvram(0x80, 0), std::out_of_range);
}

TEST_CASE("rtc: reset keeps CMOS RAM and modes, clears enables and flags, re-reads the host time", "[rtc]") {
    Rtc r;
    r.rtc->set_nvram(0x40, 0x5a);
    r.write(0x41, 0xc3);
    r.write(RtcCmos::kRegA, 0x2f);
    r.write(RtcCmos::kRegB, 0xff & ~RtcCmos::kBSet & ~RtcCmos::kBBinary);
    r.set_time(0x7b, 0x19, 0x80, 0x01, 0x01, 3, 0x00, 0x00, 0x00); // the guest set another time
    r.run_to(10 * kSecond);
    CHECK(r.irq.level());
    r.rtc->reset();
    CHECK_FALSE(r.irq.level());
    CHECK(r.read(0x40) == 0x5a);
    CHECK(r.read(0x41) == 0xc3);
    CHECK(r.read(RtcCmos::kRegA) == 0x2f);
    CHECK(r.read(RtcCmos::kRegB) == (RtcCmos::kB24Hour | RtcCmos::kBDse));
    CHECK(r.read(RtcCmos::kRegC) == 0);
    // kBase + 10 s = 12:35:06.
    CHECK(r.date_time() == Bytes{0x20, 0x24, 0x02, 0x29, 5, 0x12, 0x35, 0x06});
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
}

TEST_CASE("rtc: save/load round trip", "[rtc]") {
    Rtc a;
    a.rtc->set_nvram(0x70, 0x11);
    a.write(RtcCmos::kRegA, RtcCmos::kADivider32k | 6);
    a.set_time(RtcCmos::kB24Hour | RtcCmos::kBPie | RtcCmos::kBAie, 0x20, 0x30, 0x06, 0x15, 7, 0x08, 0x00,
               0x00);
    a.write(RtcCmos::kSecondsAlarm, 0x03);
    a.write(RtcCmos::kMinutesAlarm, 0x00);
    a.write(RtcCmos::kHoursAlarm, 0x08);
    a.run_to(1500 * kMs);
    a.read(RtcCmos::kRegC);
    a.rtc->io_write(0, 1, 0x80 | 0x70);
    StateWriter w;
    a.rtc->save(w);

    // Another RTC on a clock at the same virtual time, from another host time.
    Rtc b(0);
    b.clock.advance_to(a.now());
    StateReader rd(w.bytes());
    b.rtc->load(rd);
    CHECK(b.rtc->nmi_disabled());
    CHECK(b.rtc->io_read(1, 1) == 0x11);
    for (uint8_t i = 0; i < RtcCmos::kBytes; i++) CHECK(b.read(i) == a.read(i));
    // Both go on alike: 1024 Hz periodic interrupts and the alarm at 08:00:03.
    CHECK(a.count_irqs_to(2 * kSecond) == b.count_irqs_to(2 * kSecond));
    a.run_to(3500 * kMs);
    b.run_to(3500 * kMs);
    CHECK(a.read(RtcCmos::kRegC) == (RtcCmos::kCIrqf | RtcCmos::kCPf | RtcCmos::kCAf | RtcCmos::kCUf));
    CHECK(b.read(RtcCmos::kRegC) == (RtcCmos::kCIrqf | RtcCmos::kCPf | RtcCmos::kCAf | RtcCmos::kCUf));
    CHECK(a.date_time() == b.date_time());

    std::vector<uint8_t> truncated(w.bytes().begin(), w.bytes().begin() + 20);
    StateReader short_reader(truncated);
    CHECK_THROWS(b.rtc->load(short_reader));
}
