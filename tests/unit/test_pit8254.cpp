// The 8254 against its datasheet, on a hand-driven virtual clock: the count
// sequence and OUT waveform of every mode at chosen CLK pulses, latch and
// read-back, BCD, gates, null count, IRQ0 edges at exact pulse times without
// drift, and port 0x61 (refresh toggle, counter 2 gate and OUT, the way
// Linux calibrates the TSC).
#include "devices/pit8254.h"
#include "devices/port61.h"
#include <catch2/catch.hpp>
#include <cmath>
#include <utility>
#include <vector>

using namespace hayate;

namespace {

// CLK is 105/88 MHz: pulse k falls k * 88/105 us = k * 88000/105 ns after
// time 0 (rounded up to the nanosecond the clock can show).
uint64_t ns_of_pulse(int64_t k) { return (uint64_t(k) * 88000 + 104) / 105; }
int64_t pulses_by(uint64_t ns) { return int64_t(ns * 105 / 88000); }

struct Rig {
    VirtualClock clock{VirtualClock::Mode::Manual};
    TimerQueue timers{clock};
    std::vector<std::pair<uint64_t, bool>> irq; // (time, level) of every IRQ0 change
    IrqLine irq0{[this](bool level) { irq.emplace_back(clock.now_ns(), level); }};
    Pit8254 pit{timers, irq0};

    explicit Rig(uint64_t start_ns = 1'000'000) {
        clock.advance_to(start_ns);
        irq.clear();
    }
    int64_t now() const { return pulses_by(clock.now_ns()); }
    // Just after pulse k fell (timers due by then have run).
    void at(int64_t k) {
        clock.advance_to(ns_of_pulse(k));
        timers.run_expired();
    }
    void control(uint8_t v) { pit.io_write(3, 1, v); }
    void write(unsigned ch, uint8_t v) { pit.io_write(ch, 1, v); }
    // LSB then MSB; returns the pulse count after which the write happened.
    int64_t write16(unsigned ch, uint16_t v) {
        write(ch, uint8_t(v));
        write(ch, uint8_t(v >> 8));
        return now();
    }
    uint8_t read(unsigned ch) { return uint8_t(pit.io_read(ch, 1)); }
    // Counter latch command, then LSB and MSB.
    uint16_t latched(unsigned ch) {
        control(uint8_t(ch << 6));
        const uint8_t lo = read(ch);
        return uint16_t(lo | read(ch) << 8);
    }
    // Read-back of the status only.
    uint8_t status(unsigned ch) {
        control(uint8_t(0xe0 | (2 << ch)));
        return read(ch);
    }
};

constexpr uint8_t kOut = 0x80, kNull = 0x40;

} // namespace

TEST_CASE("pit: CLK runs at 105/88 MHz on the virtual clock", "[pit]") {
    CHECK(Pit8254::tick_at(kNsPerSecond) == 1193181); // 1193181.8 pulses in a second
    CHECK(Pit8254::tick_at(ns_of_pulse(12345)) == 12345);
    CHECK(Pit8254::tick_at(ns_of_pulse(12345) - 1) == 12344);
    CHECK(Pit8254::ns_of_tick(12345) == ns_of_pulse(12345));
    // A free-running count of 0x10000 on counter 2 loses 1193181 in one second.
    Rig r;
    r.pit.set_gate(2, true);
    r.control(0xb0); // counter 2, LSB then MSB, mode 0, binary
    const int64_t w = r.write16(2, 0);
    r.at(w + 1);
    CHECK(r.latched(2) == 0x0000);
    r.clock.advance_to(ns_of_pulse(w + 1) + kNsPerSecond);
    const int64_t passed = r.now() - (w + 1);
    CHECK((passed == 1193181 || passed == 1193182));
    CHECK(r.latched(2) == uint16_t(0x10000 - passed % 0x10000));
}

TEST_CASE("pit: mode 0 - interrupt on terminal count", "[pit]") {
    Rig r;
    r.control(0x30); // counter 0, LSB then MSB, mode 0
    CHECK_FALSE(r.pit.out(0));
    CHECK(r.irq == std::vector<std::pair<uint64_t, bool>>{{r.clock.now_ns(), false}}); // at once
    r.irq.clear();
    CHECK(r.status(0) == (kNull | 0x30));
    const int64_t w = r.write16(0, 5);
    CHECK(r.status(0) == (kNull | 0x30)); // not loaded before the next pulse
    // The load pulse does not decrement: OUT rises N+1 pulses after the write.
    for (int k = 0; k <= 5; k++) {
        r.at(w + 1 + k);
        CHECK(r.latched(0) == 5 - k);
        CHECK(r.pit.out(0) == (k == 5));
    }
    CHECK(r.status(0) == (kOut | 0x30));
    REQUIRE(r.irq.size() == 1);
    CHECK(r.irq[0] == std::make_pair(ns_of_pulse(w + 6), true));
    // The counter wraps around and goes on; OUT stays high.
    r.at(w + 8);
    CHECK(r.latched(0) == 0xfffe);
    CHECK(r.pit.out(0));
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
    // First byte of a new count: counting stops and OUT drops at once.
    r.write(0, 3);
    CHECK_FALSE(r.pit.out(0));
    CHECK(r.irq.back() == std::make_pair(r.clock.now_ns(), false));
    r.at(w + 20);
    CHECK(r.latched(0) == 0xfffe);
    r.write(0, 0);
    const int64_t w2 = r.now();
    r.at(w2 + 1);
    CHECK(r.latched(0) == 3);
    r.at(w2 + 3);
    CHECK_FALSE(r.pit.out(0));
    r.at(w2 + 4);
    CHECK(r.pit.out(0));
    CHECK(r.irq.back() == std::make_pair(ns_of_pulse(w2 + 4), true));
}

TEST_CASE("pit: mode 0 - GATE low holds the count, OUT unaffected", "[pit]") {
    Rig r;
    r.pit.set_gate(2, true);
    r.control(0xb0);
    const int64_t w = r.write16(2, 100);
    r.at(w + 11);
    CHECK(r.latched(2) == 90);
    r.pit.set_gate(2, false);
    r.at(w + 50);
    CHECK(r.latched(2) == 90);
    CHECK_FALSE(r.pit.out(2));
    r.pit.set_gate(2, true);
    r.at(w + 51);
    CHECK(r.latched(2) == 89);
    r.at(w + 51 + 88);
    CHECK(r.latched(2) == 1);
    CHECK_FALSE(r.pit.out(2));
    r.at(w + 51 + 89);
    CHECK(r.pit.out(2));
    // A count written while GATE is low is loaded but does not count.
    r.pit.set_gate(2, false);
    const int64_t w2 = r.write16(2, 7);
    r.at(w2 + 30);
    CHECK(r.latched(2) == 7);
    CHECK((r.status(2) & kNull) == 0);
    r.pit.set_gate(2, true);
    r.at(w2 + 32);
    CHECK(r.latched(2) == 5);
}

TEST_CASE("pit: mode 1 - hardware retriggerable one-shot", "[pit]") {
    Rig r;
    r.control(0xb2); // counter 2, mode 1
    CHECK(r.pit.out(2));
    const int64_t w = r.write16(2, 4);
    r.at(w + 10);
    CHECK(r.pit.out(2)); // armed, waiting for a trigger
    CHECK(r.status(2) == (kOut | kNull | 0x32));
    r.pit.set_gate(2, true); // trigger
    const int64_t h = r.now();
    CHECK(r.pit.out(2)); // OUT falls on the pulse after the trigger
    r.at(h + 1);
    CHECK_FALSE(r.pit.out(2));
    CHECK(r.latched(2) == 4);
    CHECK(r.status(2) == 0x32);
    r.at(h + 4);
    CHECK(r.latched(2) == 1);
    CHECK_FALSE(r.pit.out(2));
    r.at(h + 5);
    CHECK(r.pit.out(2));
    CHECK(r.latched(2) == 0);
    r.at(h + 6);
    CHECK(r.latched(2) == 0xffff);
    // Retrigger during a one-shot: OUT stays low, N more pulses from the reload.
    r.pit.set_gate(2, false);
    r.at(h + 10);
    r.pit.set_gate(2, true);
    r.at(h + 13);
    CHECK_FALSE(r.pit.out(2));
    r.pit.set_gate(2, false);
    r.pit.set_gate(2, true);
    r.at(h + 14);
    CHECK(r.latched(2) == 4);
    // A new count does not disturb the running one-shot.
    r.write16(2, 100);
    r.at(h + 17);
    CHECK_FALSE(r.pit.out(2));
    r.at(h + 18);
    CHECK(r.pit.out(2));
    CHECK(r.status(2) & kNull); // 100 waits for the next trigger
    r.pit.set_gate(2, false);
    r.pit.set_gate(2, true);
    r.at(h + 19);
    CHECK(r.latched(2) == 100);
}

TEST_CASE("pit: mode 2 - rate generator, new counts at the period's end", "[pit]") {
    Rig r;
    r.control(0x34); // counter 0, mode 2
    CHECK(r.pit.out(0));
    const int64_t w = r.write16(0, 4);
    const int expect[] = {4, 3, 2, 1, 4, 3, 2, 1, 4};
    for (int k = 0; k < 9; k++) {
        r.at(w + 1 + k);
        CHECK(r.latched(0) == expect[k]);
        CHECK(r.pit.out(0) == (expect[k] != 1)); // low for the one pulse the count is 1
    }
    // IRQ0: OUT falls at pulses w+4, w+8 and rises at w+5, w+9.
    const std::vector<std::pair<uint64_t, bool>> edges = {{ns_of_pulse(w + 4), false},
                                                          {ns_of_pulse(w + 5), true},
                                                          {ns_of_pulse(w + 8), false},
                                                          {ns_of_pulse(w + 9), true}};
    CHECK(r.irq == edges);
    // Count 3 at pulse w+10; a new count 6 goes in when this period ends (w+13).
    r.at(w + 10);
    CHECK(r.latched(0) == 3);
    r.write16(0, 6);
    CHECK(r.status(0) == (kOut | kNull | 0x34));
    r.at(w + 12);
    CHECK(r.latched(0) == 1);
    CHECK_FALSE(r.pit.out(0));
    r.at(w + 13);
    CHECK(r.latched(0) == 6);
    CHECK(r.status(0) == (kOut | 0x34));
    r.at(w + 18);
    CHECK(r.latched(0) == 1);
    CHECK_FALSE(r.pit.out(0));
    r.at(w + 19);
    CHECK(r.pit.out(0));
    CHECK(r.irq.back() == std::make_pair(ns_of_pulse(w + 19), true));
}

TEST_CASE("pit: modes 2 and 3 - GATE low forces OUT high, a rising edge reloads", "[pit]") {
    Rig r;
    r.pit.set_gate(2, true);
    r.control(0xb4); // counter 2, mode 2
    const int64_t w = r.write16(2, 10);
    r.at(w + 9);
    CHECK(r.pit.out(2)); // count 2
    r.at(w + 10);
    CHECK_FALSE(r.pit.out(2)); // count 1
    r.pit.set_gate(2, false);
    CHECK(r.pit.out(2));
    r.at(w + 30);
    CHECK(r.latched(2) == 1);
    CHECK(r.pit.out(2));
    r.pit.set_gate(2, true);
    const int64_t h = r.now();
    r.at(h + 1);
    CHECK(r.latched(2) == 10);
    r.at(h + 9);
    CHECK(r.pit.out(2));
    r.at(h + 10);
    CHECK_FALSE(r.pit.out(2)); // N-1 pulses after the reload
    r.at(h + 11);
    CHECK(r.pit.out(2));
    // Mode 3: the trigger restarts the high half.
    r.control(0xb6);
    const int64_t w3 = r.write16(2, 8);
    r.at(w3 + 6); // second pulse of the low half
    CHECK_FALSE(r.pit.out(2));
    CHECK(r.latched(2) == 6);
    r.pit.set_gate(2, false);
    CHECK(r.pit.out(2));
    r.pit.set_gate(2, true);
    const int64_t h3 = r.now();
    r.at(h3 + 1);
    CHECK(r.latched(2) == 8);
    CHECK(r.pit.out(2));
    r.at(h3 + 4);
    CHECK(r.pit.out(2));
    r.at(h3 + 5);
    CHECK_FALSE(r.pit.out(2));
}

TEST_CASE("pit: mode 3 - square wave, even and odd counts", "[pit]") {
    Rig r;
    r.pit.set_gate(2, true);
    r.control(0xb6); // counter 2, mode 3
    // Even N: N, N-2, ..., 2 in each half; N/2 pulses high, N/2 low.
    int64_t w = r.write16(2, 6);
    const int even[] = {6, 4, 2, 6, 4, 2, 6};
    const bool even_out[] = {true, true, true, false, false, false, true};
    for (int k = 0; k < 7; k++) {
        r.at(w + 1 + k);
        CHECK(r.latched(2) == even[k]);
        CHECK(r.pit.out(2) == even_out[k]);
    }
    // Odd N (8254): N-1 loaded, down by two; OUT high (N+1)/2 pulses, low (N-1)/2.
    r.control(0xb6);
    w = r.write16(2, 5);
    const int odd[] = {4, 2, 0, 4, 2, 4, 2, 0};
    const bool odd_out[] = {true, true, true, false, false, true, true, true};
    for (int k = 0; k < 8; k++) {
        r.at(w + 1 + k);
        CHECK(r.latched(2) == odd[k]);
        CHECK(r.pit.out(2) == odd_out[k]);
    }
    // A new count goes in at the end of the current half-cycle.
    r.control(0xb6);
    w = r.write16(2, 8);
    r.at(w + 2);
    CHECK(r.latched(2) == 6);
    r.write16(2, 4);
    r.at(w + 4);
    CHECK(r.latched(2) == 2); // old sequence, high half
    CHECK(r.pit.out(2));
    r.at(w + 5);
    CHECK(r.latched(2) == 4); // low half of the new count
    CHECK_FALSE(r.pit.out(2));
    r.at(w + 6);
    CHECK(r.latched(2) == 2);
    r.at(w + 7);
    CHECK(r.latched(2) == 4);
    CHECK(r.pit.out(2));
    r.at(w + 9);
    CHECK_FALSE(r.pit.out(2));
}

TEST_CASE("pit: mode 3 on counter 0 with count 0 - the BIOS's 18.2 Hz", "[pit]") {
    Rig r;
    r.control(0x36);
    const int64_t w = r.write16(0, 0); // 0x10000
    while (r.irq.size() < 6) {
        r.clock.advance_to(r.timers.next_deadline());
        r.timers.run_expired();
    }
    for (int k = 0; k < 3; k++) {
        CHECK(r.irq[2 * k] == std::make_pair(ns_of_pulse(w + 1 + 32768 + 65536 * k), false));
        CHECK(r.irq[2 * k + 1] == std::make_pair(ns_of_pulse(w + 1 + 65536 * (k + 1)), true));
    }
}

TEST_CASE("pit: mode 4 - software triggered strobe", "[pit]") {
    Rig r;
    r.control(0x38); // counter 0, mode 4
    CHECK(r.pit.out(0));
    const int64_t w = r.write16(0, 3);
    const int expect[] = {3, 2, 1, 0, 0xffff};
    for (int k = 0; k < 5; k++) {
        r.at(w + 1 + k);
        CHECK(r.latched(0) == expect[k]);
        CHECK(r.pit.out(0) == (k != 3)); // low for the pulse the count is 0
    }
    const std::vector<std::pair<uint64_t, bool>> edges = {{ns_of_pulse(w + 4), false},
                                                          {ns_of_pulse(w + 5), true}};
    CHECK(r.irq == edges);
    CHECK(r.timers.next_deadline() == TimerQueue::kNever); // one strobe only
    // A new count restarts at once (next pulse).
    r.at(w + 100);
    const int64_t w2 = r.write16(0, 2);
    r.at(w2 + 3);
    CHECK_FALSE(r.pit.out(0));
    r.at(w2 + 4);
    CHECK(r.pit.out(0));
    // GATE low stops the count (counter 2).
    r.pit.set_gate(2, true);
    r.control(0xb8);
    const int64_t w3 = r.write16(2, 10);
    r.at(w3 + 3);
    r.pit.set_gate(2, false);
    r.at(w3 + 40);
    CHECK(r.latched(2) == 8);
    CHECK(r.pit.out(2));
    r.pit.set_gate(2, true);
    const int64_t h = r.now();
    r.at(h + 7);
    CHECK(r.pit.out(2));
    r.at(h + 8);
    CHECK_FALSE(r.pit.out(2));
}

TEST_CASE("pit: mode 5 - hardware triggered strobe", "[pit]") {
    Rig r;
    r.control(0xba); // counter 2, mode 5
    const int64_t w = r.write16(2, 3);
    r.at(w + 20);
    CHECK(r.pit.out(2));
    CHECK(r.status(2) & kNull);
    r.pit.set_gate(2, true);
    const int64_t h = r.now();
    const int expect[] = {3, 2, 1, 0, 0xffff};
    for (int k = 0; k < 5; k++) {
        r.at(h + 1 + k);
        CHECK(r.latched(2) == expect[k]);
        CHECK(r.pit.out(2) == (k != 3));
    }
    // Retriggerable; GATE's level does not matter afterwards.
    r.pit.set_gate(2, false);
    r.pit.set_gate(2, true);
    const int64_t h2 = r.now();
    r.pit.set_gate(2, false);
    r.at(h2 + 4);
    CHECK_FALSE(r.pit.out(2));
    r.at(h2 + 5);
    CHECK(r.pit.out(2));
}

TEST_CASE("pit: BCD counting", "[pit]") {
    Rig r;
    r.pit.set_gate(2, true);
    r.control(0xb1); // counter 2, mode 0, BCD
    int64_t w = r.write16(2, 0x0100);
    r.at(w + 1);
    CHECK(r.latched(2) == 0x0100);
    r.at(w + 2);
    CHECK(r.latched(2) == 0x0099);
    r.at(w + 100);
    CHECK(r.latched(2) == 0x0001);
    CHECK_FALSE(r.pit.out(2));
    r.at(w + 101);
    CHECK(r.latched(2) == 0x0000);
    CHECK(r.pit.out(2));
    r.at(w + 102);
    CHECK(r.latched(2) == 0x9999); // wraps to 9999
    // Count 0 is 10^4.
    r.control(0xb1);
    w = r.write16(2, 0);
    r.at(w + 2);
    CHECK(r.latched(2) == 0x9999);
    r.at(w + 10000);
    CHECK_FALSE(r.pit.out(2));
    r.at(w + 10001);
    CHECK(r.pit.out(2));
    // Mode 2 in BCD: count 0x12 is a period of 12 pulses.
    r.control(0xb5);
    w = r.write16(2, 0x12);
    r.at(w + 3);
    CHECK(r.latched(2) == 0x10);
    r.at(w + 12);
    CHECK(r.latched(2) == 0x01);
    CHECK_FALSE(r.pit.out(2));
    r.at(w + 13);
    CHECK(r.latched(2) == 0x12);
    CHECK(r.status(2) == (kOut | 0x35));
}

TEST_CASE("pit: counter latch, access modes and the flip-flops", "[pit]") {
    Rig r;
    r.control(0x34);
    const int64_t w = r.write16(0, 1000);
    r.at(w + 11);
    r.control(0x00); // latch: 990
    r.at(w + 50);
    r.control(0x00); // ignored: the first latch is not read yet
    CHECK(r.read(0) == (990 & 0xff));
    r.at(w + 60);
    CHECK(r.read(0) == (990 >> 8));
    // Unlatched: each byte is the count when it is read.
    CHECK(r.read(0) == ((1000 - 59) & 0xff));
    r.at(w + 400);
    CHECK(r.read(0) == ((1000 - 399) >> 8));
    // Reads and writes have separate flip-flops: read LSB, write LSB, read MSB, write MSB.
    r.control(0x00);
    const uint16_t at400 = uint16_t(1000 - 399);
    CHECK(r.read(0) == (at400 & 0xff));
    r.write(0, 0x34);
    CHECK(r.read(0) == (at400 >> 8));
    r.write(0, 0x12);
    CHECK(r.status(0) == (kOut | kNull | 0x34)); // 0x1234 waits for the period's end
    // A read of one byte, then a latch: the next read is the latch's MSB.
    r.at(w + 500);
    CHECK(r.read(0) == ((1000 - 499) & 0xff));
    r.control(0x00);
    r.at(w + 510);
    CHECK(r.read(0) == ((1000 - 499) >> 8));
    // LSB-only and MSB-only access.
    r.control(0x14); // counter 0, LSB only, mode 2
    const int64_t wl = r.now();
    r.write(0, 200);
    r.at(wl + 21);
    r.control(0x00);
    CHECK(r.read(0) == 180);
    CHECK(r.read(0) == 180 - 0); // unlatched, same pulse
    r.control(0x24);             // MSB only: count 0x0300
    const int64_t wm = r.now();
    r.write(0, 0x03);
    r.at(wm + 1);
    CHECK(r.read(0) == 0x03);
    r.at(wm + 2);
    CHECK(r.read(0) == 0x02); // 0x02ff
    CHECK(r.status(0) == (kOut | 0x24));
    // A control word drops a latched count; counting stops until a count comes.
    r.control(0x00); // latches 0x02ff
    r.at(wm + 3);
    r.control(0x34);
    CHECK(r.read(0) == 0xfe); // what the element held: 0x02fe
    r.at(wm + 10);
    CHECK(r.read(0) == 0x02);
}

TEST_CASE("pit: read-back command", "[pit]") {
    Rig r;
    r.control(0x34);
    const int64_t w = r.write16(0, 1000);
    r.pit.set_gate(2, true);
    r.control(0xb0);
    r.write16(2, 500);
    r.at(w + 101);
    // Count and status of counters 0 and 2 at once.
    r.control(0xc0 | 0x02 | 0x08);
    r.at(w + 200);
    r.control(0xc0 | 0x02); // ignored: both already latched
    CHECK(r.read(0) == (kOut | 0x34));
    CHECK(r.read(0) == ((1000 - 100) & 0xff));
    CHECK(r.read(0) == ((1000 - 100) >> 8));
    CHECK(r.read(2) == 0x30); // mode 0 counting: OUT low, count loaded
    CHECK(r.read(2) == ((500 - 100) & 0xff));
    CHECK(r.read(2) == ((500 - 100) >> 8));
    CHECK(r.read(0) == ((1000 - 199) & 0xff)); // latches gone
    // Count only; then status latched after the count still reads first.
    r.control(0xd0 | 0x02);
    r.control(0xe0 | 0x02);
    CHECK(r.read(0) == (kOut | 0x34));
    CHECK(r.read(0) == ((1000 - 199) >> 8)); // flip-flop was on the MSB
    CHECK(r.read(0) == ((1000 - 199) & 0xff));
    // Nothing selected, or neither count nor status: no effect.
    r.control(0xc0);
    r.control(0xf0 | 0x0e);
    r.at(w + 300);
    CHECK(r.read(0) == ((1000 - 299) >> 8));
    // Status of a counter in the undefined modes 110/111 shows the bits written.
    r.control(0x7c); // counter 1, mode "6" = 2
    CHECK(r.status(1) == (kOut | kNull | 0x3c));
    r.write16(1, 3);
    const int64_t w1 = r.now();
    r.at(w1 + 3);
    CHECK_FALSE(r.pit.out(1));
    r.at(w1 + 4);
    CHECK(r.pit.out(1));
}

TEST_CASE("pit: illegal count 1 in modes 2 and 3, wide accesses", "[pit]") {
    Rig r;
    r.pit.set_gate(2, true);
    // Mode 2: the count is always 1, so OUT stays low.
    r.control(0x34);
    const int64_t w = r.write16(0, 1);
    r.at(w + 1);
    CHECK_FALSE(r.pit.out(0));
    CHECK(r.timers.next_deadline() == TimerQueue::kNever);
    r.at(w + 10);
    CHECK(r.latched(0) == 1);
    CHECK_FALSE(r.irq0.level());
    // Mode 3, odd N=1: loaded with N-1 = 0, the low half is empty, OUT stays high.
    r.control(0xb6);
    const int64_t w3 = r.write16(2, 1);
    for (int k = 1; k < 5; k++) {
        r.at(w3 + k);
        CHECK(r.pit.out(2));
        CHECK(r.latched(2) == 0);
    }
    // A 16-bit access is byte accesses at consecutive ports (0x40, then
    // 0x41); bytes past 0x43 float, and the control register is write-only.
    r.control(0x34);
    const int64_t w4 = r.write16(0, 0x1234);
    r.at(w4 + 1);
    r.control(0x00);
    CHECK(r.pit.io_read(0, 2) == 0x0034); // counter 0's LSB, then counter 1's (idle, holding 0)
    CHECK(r.read(0) == 0x12);
    CHECK(r.pit.io_read(3, 2) == 0xffff);
}

TEST_CASE("pit: IRQ0 at 1 kHz in mode 2 does not drift over 1000 periods", "[pit]") {
    Rig r(123'456'789);
    r.control(0x34);
    const uint16_t latch = 1193; // Linux's LATCH for HZ=1000: (1193182 + 500) / 1000
    const int64_t w = r.write16(0, latch);
    std::vector<uint64_t> rises;
    while (rises.size() < 1000) {
        const uint64_t deadline = r.timers.next_deadline();
        REQUIRE(deadline != TimerQueue::kNever);
        // Nothing happens a nanosecond early.
        r.clock.advance_to(deadline - 1);
        const size_t before = r.irq.size();
        r.timers.run_expired();
        REQUIRE(r.irq.size() == before);
        r.clock.advance_to(deadline);
        r.timers.run_expired();
        REQUIRE(r.irq.size() == before + 1);
        if (r.irq.back().second) rises.push_back(r.irq.back().first);
    }
    for (size_t k = 0; k < rises.size(); k++) {
        INFO("period " << k + 1);
        REQUIRE(rises[k] == ns_of_pulse(w + 1 + int64_t(k + 1) * latch));
    }
    // 1000 periods of 1193 pulses at 105/88 MHz, to the nanosecond.
    const double exact = 1000.0 * latch * 88000.0 / 105.0;
    CHECK(std::abs(double(rises.back() - ns_of_pulse(w + 1)) - exact) <= 1.0);
    // Coarse polling (every 1 ms, a little slower than the period) loses no edge.
    Rig s;
    s.control(0x34);
    const int64_t ws = s.write16(0, latch);
    for (int step = 1; step <= 1000; step++) {
        s.clock.advance_by(1'000'000);
        s.timers.run_expired();
    }
    size_t rising = 0;
    for (const auto& e : s.irq) rising += e.second;
    CHECK(int64_t(rising) == (s.now() - (ws + 1)) / latch);
}

TEST_CASE("pit: a long stall is caught up without replaying every edge", "[pit]") {
    Rig r;
    r.control(0x34);
    const int64_t w = r.write16(0, 100);
    r.clock.advance_to(ns_of_pulse(w + 1 + 100 * 10000 + 50));
    CHECK(r.timers.run_expired() == 1);
    CHECK(r.irq.size() <= 5);
    CHECK(r.irq0.level() == r.pit.out(0));
    CHECK(r.pit.out(0));
    CHECK(r.timers.next_deadline() == ns_of_pulse(w + 1 + 100 * 10001 - 1));
}

TEST_CASE("pit: save and load round trip", "[pit]") {
    Rig a(5'000'000);
    a.control(0x34);
    a.write16(0, 1000);
    a.pit.set_gate(2, true);
    a.control(0xb6);
    const int64_t w = a.write16(2, 300);
    a.at(w + 20);
    a.write16(2, 40);       // pending until the half-cycle ends
    a.control(0x70);        // counter 1, mode 0 ...
    a.write(1, 0x10);       // ... first byte only
    a.control(0x80);        // latch counter 2 ...
    (void)a.read(2);        // ... and read half of it
    a.control(0xe0 | 0x02); // status of counter 0 latched
    StateWriter state;
    a.pit.save(state);

    Rig b(77'777'777);
    StateReader in(state.bytes());
    b.pit.load(in);
    b.irq.clear();
    const int64_t da = a.now(), db = b.now();
    for (int64_t d : {0, 1, 5, 130, 131, 170, 1001, 5000}) {
        a.at(da + d);
        b.at(db + d);
        INFO("pulses after save: " << d);
        for (unsigned ch = 0; ch < 3; ch++) {
            CHECK(a.read(ch) == b.read(ch));
            CHECK(a.pit.out(ch) == b.pit.out(ch));
        }
        CHECK(a.irq0.level() == b.irq0.level());
    }
    // Reset: every counter idle with OUT high, counter 2's gate low.
    b.pit.reset();
    CHECK(b.timers.next_deadline() == TimerQueue::kNever);
    CHECK(b.status(0) == (kOut | kNull | 0x36));
    CHECK(b.pit.gate(0));
    CHECK_FALSE(b.pit.gate(2));
}

TEST_CASE("port61: refresh toggle, stored bits, counter 2 gate and OUT", "[pit]") {
    Rig r(0);
    Port61 port(r.pit, r.timers);
    CHECK_FALSE(r.pit.gate(2));
    // Bit 4 flips every 15.085 us.
    CHECK((port.io_read(0, 1) & 0x10) == 0);
    r.clock.advance_to(15084);
    CHECK((port.io_read(0, 1) & 0x10) == 0);
    r.clock.advance_to(15085);
    CHECK((port.io_read(0, 1) & 0x10) == 0x10);
    r.clock.advance_to(2 * 15085 - 1);
    CHECK((port.io_read(0, 1) & 0x10) == 0x10);
    r.clock.advance_to(2 * 15085);
    CHECK((port.io_read(0, 1) & 0x10) == 0);
    // Bits 0-3 read back; 4-7 are read-only; bit 5 is counter 2's OUT (high
    // after reset), bits 6-7 never set.
    port.io_write(0, 1, 0xfe);
    CHECK((port.io_read(0, 1) & 0xef) == 0x2e);
    CHECK_FALSE(r.pit.gate(2));
    port.io_write(0, 1, 0x01);
    CHECK(r.pit.gate(2));
    CHECK((port.io_read(0, 1) & 0xcf) == 0x01);
    CHECK(port.io_read(0, 2) == (0xff00 | port.io_read(0, 1)));
    StateWriter state;
    port.save(state);
    port.reset();
    CHECK((port.io_read(0, 1) & 0x0f) == 0);
    CHECK_FALSE(r.pit.gate(2));
    StateReader in(state.bytes());
    port.load(in);
    CHECK((port.io_read(0, 1) & 0x0f) == 0x01);
    CHECK(r.pit.gate(2));
}

TEST_CASE("port61: Linux's PIT calibration of the TSC", "[pit]") {
    Rig r(3'000'000);
    Port61 port(r.pit, r.timers);
    auto inb = [&] { return uint8_t(port.io_read(0, 1)); };
    auto outb = [&](uint8_t v) { port.io_write(0, 1, v); };
    // pit_calibrate_tsc: gate high, speaker off; counter 2 mode 0 with 50 ms.
    const uint16_t latch = 1193182 / 20;
    outb(uint8_t((inb() & ~0x02) | 0x01));
    r.control(0xb0);
    r.write(2, uint8_t(latch));
    r.write(2, uint8_t(latch >> 8));
    const int64_t w = r.now();
    // Poll bit 5 every microsecond until counter 2's OUT rises.
    uint64_t seen = 0;
    for (int i = 0; i < 100000 && !seen; i++) {
        r.clock.advance_by(1000);
        if (inb() & 0x20) seen = r.clock.now_ns();
    }
    REQUIRE(seen);
    const uint64_t rise = ns_of_pulse(w + 1 + latch); // N+1 pulses after the write
    CHECK(seen >= rise);
    CHECK(seen < rise + 1000);
    CHECK(rise - ns_of_pulse(w) > 49'990'000);
    CHECK(rise - ns_of_pulse(w) < 50'010'000);

    // quick_pit_calibrate: count from 0xffff, read LSB then MSB unlatched.
    r.control(0xb0);
    r.write(2, 0xff);
    r.write(2, 0xff);
    const int64_t q = r.now();
    for (int64_t k : {1, 255, 256, 257, 40000}) {
        r.at(q + k);
        (void)r.read(2);
        const uint16_t count = uint16_t(0xffff - (k - 1));
        CHECK(r.read(2) == count >> 8);
    }
}

TEST_CASE("pit: a port access before the timer runs delivers the due IRQ0 edges in order", "[pit]") {
    // The vCPU runs timers between blocks; an IN in the middle of one sees
    // counter 0 as of now, with the edges it passed (and a count that went
    // in at a period's end on the way) handed to IRQ0 first.
    Rig r;
    r.control(0x34);
    const int64_t w = r.write16(0, 4);
    r.at(w + 2);
    r.write16(0, 10); // goes in at w+5
    r.clock.advance_to(ns_of_pulse(w + 5 + 9));
    CHECK(r.latched(0) == 1);
    const std::vector<bool> levels = {false, true, false}; // w+4 fall, w+5 rise, w+14 fall
    REQUIRE(r.irq.size() == levels.size());
    for (size_t i = 0; i < levels.size(); i++) CHECK(r.irq[i].second == levels[i]);
    CHECK(r.timers.run_expired() == 0);
    CHECK(r.timers.next_deadline() == ns_of_pulse(w + 15));
}
