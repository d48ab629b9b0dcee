// The ACPI PM registers against ACPI 6.x section 4.8 (PM1 event and control
// blocks, the PM timer, GPE0): the 3.579545 MHz 24-bit timer, TMR_STS and
// the SCI, write-1-to-clear status, sleep requests, and state save/load.
#include "devices/acpi_pm.h"
#include <catch2/catch.hpp>

using namespace hayate;

namespace {

// Offsets from the PM base (QEMU's pc layout).
constexpr unsigned PM1_STS = 0, PM1_EN = 2, PM1_CNT = 4, PM_TMR = 8;
constexpr uint16_t TMR_STS = 1u << 0, PWRBTN_STS = 1u << 8, RTC_STS = 1u << 10;
constexpr uint16_t TMR_EN = 1u << 0, PWRBTN_EN = 1u << 8, RTC_EN = 1u << 10;
constexpr uint16_t SCI_EN = 1u << 0, BM_RLD = 1u << 1, SLP_EN = 1u << 13;
constexpr uint16_t slp_typ(unsigned t) { return uint16_t(t << 10); }
constexpr uint64_t kHz = 3'579'545;

// The first nanosecond at which the PM timer has counted `ticks` ticks.
constexpr uint64_t ns_of_tick(uint64_t ticks) { return (ticks * 1'000'000'000ull + kHz - 1) / kHz; }

struct Fixture {
    VirtualClock clock{VirtualClock::Mode::Manual};
    TimerQueue queue{clock};
    unsigned sci_rises = 0;
    IrqLine sci{[this](bool level) { sci_rises += level; }};
    unsigned poweroffs = 0;
    AcpiPm pm{queue, sci, [this] { poweroffs++; }};

    uint16_t in16(unsigned off) { return uint16_t(pm.io_read(off, 2)); }
    uint32_t in32(unsigned off) { return uint32_t(pm.io_read(off, 4)); }
    void out16(unsigned off, uint16_t v) { pm.io_write(off, 2, v); }
    void run_to(uint64_t ns) {
        clock.advance_to(ns);
        queue.run_expired();
    }
};

} // namespace

TEST_CASE("acpi-pm: reset values; SCI_EN reads 1 and stays 1", "[acpi_pm]") {
    Fixture f;
    CHECK(f.in16(PM1_STS) == 0);
    CHECK(f.in16(PM1_EN) == 0);
    CHECK(f.in16(PM1_CNT) == SCI_EN);
    CHECK(f.in32(PM_TMR) == 0);
    f.out16(PM1_CNT, BM_RLD); // clears SCI_EN: not possible without SMM
    CHECK(f.in16(PM1_CNT) == (SCI_EN | BM_RLD));
    // The two unassigned ports between PM1_CNT and PM_TMR float.
    CHECK(f.pm.io_read(6, 2) == 0xffff);
    CHECK(f.pm.io_read(4, 4) == (0xffff0000u | SCI_EN | BM_RLD));
}

TEST_CASE("acpi-pm: the PM timer counts at 3.579545 MHz and wraps at 24 bits", "[acpi_pm]") {
    Fixture f;
    // 10^9 / 3579545 = 279.37 ns per tick.
    f.run_to(279);
    CHECK(f.in32(PM_TMR) == 0);
    f.run_to(280);
    CHECK(f.in32(PM_TMR) == 1);
    f.run_to(1'000'000'000);
    CHECK(f.in32(PM_TMR) == 3'579'545);
    CHECK(f.pm.pm_timer() == 3'579'545);
    // Byte reads of the same moment agree with the dword.
    const uint32_t v = f.in32(PM_TMR);
    CHECK((f.pm.io_read(PM_TMR, 1) | f.pm.io_read(PM_TMR + 1, 1) << 8 | f.pm.io_read(PM_TMR + 2, 1) << 16) ==
          v);
    CHECK(f.pm.io_read(PM_TMR + 3, 1) == 0); // TMR_VAL_EXT = 0: bits 24-31 read 0
    // Wrap: 2^24 ticks.
    const uint64_t wrap = ns_of_tick(1u << 24);
    f.run_to(wrap - 1);
    CHECK(f.in32(PM_TMR) == 0xffffff);
    f.run_to(wrap);
    CHECK(f.in32(PM_TMR) == 0);
    // Writes do nothing to it.
    f.pm.io_write(PM_TMR, 4, 0x123456);
    CHECK(f.in32(PM_TMR) == 0);
}

TEST_CASE("acpi-pm: TMR_STS on each bit-23 change, SCI with TMR_EN", "[acpi_pm]") {
    Fixture f;
    CHECK(f.queue.next_deadline() == TimerQueue::kNever); // no timer without TMR_EN
    f.out16(PM1_EN, TMR_EN);
    const uint64_t half = ns_of_tick(1u << 23);
    CHECK(f.queue.next_deadline() == half);
    f.run_to(half - 1);
    CHECK(f.in16(PM1_STS) == 0);
    CHECK_FALSE(f.sci.level());
    f.run_to(half);
    CHECK(f.in32(PM_TMR) == 0x800000);
    CHECK(f.in16(PM1_STS) == TMR_STS);
    CHECK(f.sci.level());
    CHECK(f.queue.next_deadline() == TimerQueue::kNever); // the status holds until cleared
    f.out16(PM1_STS, 0);                                  // writing 0 does not clear
    CHECK(f.in16(PM1_STS) == TMR_STS);
    f.out16(PM1_STS, TMR_STS);
    CHECK(f.in16(PM1_STS) == 0);
    CHECK_FALSE(f.sci.level());
    // Bit 23 changes again (1 -> 0) at the 24-bit wrap.
    CHECK(f.queue.next_deadline() == ns_of_tick(1u << 24));
    f.run_to(ns_of_tick(1u << 24));
    CHECK(f.in16(PM1_STS) == TMR_STS);
    CHECK(f.sci.level());
    CHECK(f.sci_rises == 2);

    // Without TMR_EN the status bit is still set, but there is no SCI.
    f.out16(PM1_EN, 0);
    f.out16(PM1_STS, TMR_STS);
    CHECK(f.queue.next_deadline() == TimerQueue::kNever);
    f.run_to(ns_of_tick(3u << 23));
    CHECK(f.in16(PM1_STS) == TMR_STS);
    CHECK_FALSE(f.sci.level());
    // Enabling it with the status already set raises the SCI at once.
    f.out16(PM1_EN, TMR_EN);
    CHECK(f.sci.level());
}

TEST_CASE("acpi-pm: power button status is write-1-to-clear; SCI follows status and enable", "[acpi_pm]") {
    Fixture f;
    f.pm.press_power_button();
    CHECK(f.in16(PM1_STS) == PWRBTN_STS);
    CHECK_FALSE(f.sci.level());
    f.out16(PM1_EN, PWRBTN_EN);
    CHECK(f.sci.level());
    f.out16(PM1_STS, uint16_t(~PWRBTN_STS)); // ones elsewhere clear nothing set
    CHECK(f.in16(PM1_STS) == PWRBTN_STS);
    f.pm.io_write(PM1_STS + 1, 1, PWRBTN_STS >> 8); // byte access to the high half
    CHECK(f.in16(PM1_STS) == 0);
    CHECK_FALSE(f.sci.level());
    // A dword at the base covers PM1_STS and PM1_EN together.
    f.pm.rtc_alarm();
    f.pm.io_write(PM1_STS, 4, uint32_t(RTC_EN | PWRBTN_EN) << 16 | RTC_STS);
    CHECK(f.in32(PM1_STS) == uint32_t(RTC_EN | PWRBTN_EN) << 16);
    f.pm.rtc_alarm();
    CHECK(f.in32(PM1_STS) == (uint32_t(RTC_EN | PWRBTN_EN) << 16 | RTC_STS));
    CHECK(f.sci.level());
}

TEST_CASE("acpi-pm: SLP_EN with the S5 type powers off; other types are ignored", "[acpi_pm]") {
    Fixture f;
    f.out16(PM1_CNT, SCI_EN | slp_typ(1) | SLP_EN); // S1-S4 types: not implemented
    CHECK(f.poweroffs == 0);
    CHECK(f.in16(PM1_CNT) == (SCI_EN | slp_typ(1))); // SLP_EN reads 0
    f.out16(PM1_CNT, SCI_EN | slp_typ(5));           // no SLP_EN: just the type
    CHECK(f.poweroffs == 0);
    f.out16(PM1_CNT, SCI_EN | slp_typ(AcpiPm::kSlpTypS5) | SLP_EN);
    CHECK(f.poweroffs == 1);
    // A byte write of the high half (SLP_TYP and SLP_EN live there).
    f.pm.io_write(PM1_CNT + 1, 1, (slp_typ(0) | SLP_EN) >> 8);
    CHECK(f.poweroffs == 2);
}

TEST_CASE("acpi-pm: GPE0 status and enable raise the SCI", "[acpi_pm]") {
    Fixture f;
    IoHandler& gpe = f.pm.gpe0();
    f.pm.set_gpe_status(1);
    CHECK(gpe.io_read(0, 2) == 0x2);
    CHECK_FALSE(f.sci.level());
    gpe.io_write(2, 2, 0x2);
    CHECK(gpe.io_read(2, 2) == 0x2);
    CHECK(f.sci.level());
    CHECK(gpe.io_read(0, 4) == 0x00020002);
    gpe.io_write(0, 2, 0x2);
    CHECK(gpe.io_read(0, 2) == 0);
    CHECK_FALSE(f.sci.level());
    CHECK(gpe.io_read(4, 1) == 0xff); // past the block
}

TEST_CASE("acpi-pm: save and load round trip", "[acpi_pm]") {
    Fixture a;
    a.out16(PM1_EN, TMR_EN | PWRBTN_EN);
    a.out16(PM1_CNT, SCI_EN | BM_RLD | slp_typ(3));
    a.pm.press_power_button();
    a.pm.set_gpe_status(3);
    a.pm.gpe0().io_write(2, 2, 0x10);
    a.run_to(ns_of_tick(123456) + 17);
    StateWriter w;
    a.pm.save(w);

    Fixture b;
    b.run_to(999'999); // another clock origin
    StateReader r(w.bytes());
    b.pm.load(r);
    for (unsigned off : {PM1_STS, PM1_EN, PM1_CNT, PM_TMR}) CHECK(b.in32(off) == a.in32(off));
    CHECK(b.pm.gpe0().io_read(0, 4) == a.pm.gpe0().io_read(0, 4));
    CHECK(b.sci.level()); // PWRBTN_STS & PWRBTN_EN
    CHECK(b.queue.next_deadline() - b.clock.now_ns() == a.queue.next_deadline() - a.clock.now_ns());
    // Same phase: both tick at the same moments from here on.
    const uint64_t to_next = ns_of_tick(123457) - (ns_of_tick(123456) + 17);
    a.run_to(a.clock.now_ns() + to_next - 1);
    b.run_to(b.clock.now_ns() + to_next - 1);
    CHECK(a.in32(PM_TMR) == 123456);
    CHECK(b.in32(PM_TMR) == 123456);
    a.run_to(a.clock.now_ns() + 1);
    b.run_to(b.clock.now_ns() + 1);
    CHECK(a.in32(PM_TMR) == 123457);
    CHECK(b.in32(PM_TMR) == 123457);
}
