// The HPET against the IA-PC HPET specification 1.0a: capabilities, the
// 100 MHz main counter, one-shot and periodic comparators, 32-bit mode and
// its wrap interrupt, level status, legacy replacement routing, access sizes
// and state save/load. Time is driven by hand.
#include "devices/hpet.h"
#include <catch2/catch.hpp>
#include <utility>
#include <vector>

using namespace hayate;

namespace {

// Register offsets, spec table 2.
constexpr uint64_t GCAP = 0x000, GCFG = 0x010, GSTS = 0x020, COUNTER = 0x0f0;
constexpr uint64_t tcfg(unsigned n) { return 0x100 + 0x20 * n; }
constexpr uint64_t tcmp(unsigned n) { return 0x108 + 0x20 * n; }
// General configuration bits.
constexpr uint64_t ENABLE = 1u << 0, LEG_RT = 1u << 1;
// Timer configuration bits.
constexpr uint64_t LEVEL = 1u << 1, INT_ENB = 1u << 2, PERIODIC = 1u << 3, PER_CAP = 1u << 4,
                   SIZE_CAP = 1u << 5, VAL_SET = 1u << 6, MODE32 = 1u << 8, FSB_CAP = 1u << 15;
constexpr uint64_t route(unsigned pin) { return uint64_t(pin) << 9; }
constexpr uint64_t kNsPerTick = 10; // 10^7 fs

struct Fixture {
    VirtualClock clock{VirtualClock::Mode::Manual};
    TimerQueue queue{clock};
    std::vector<std::pair<unsigned, bool>> pins;
    std::vector<bool> irq0_edges, irq8_edges, legacy_calls;
    IrqLine irq0{[this](bool l) { irq0_edges.push_back(l); }};
    IrqLine irq8{[this](bool l) { irq8_edges.push_back(l); }};
    Hpet hpet{queue, [this](unsigned pin, bool level) { pins.emplace_back(pin, level); }, irq0, irq8,
              [this](bool active) { legacy_calls.push_back(active); }};

    uint64_t rd(uint64_t off) { return hpet.io_read(off, 8); }
    uint32_t rd32(uint64_t off) { return uint32_t(hpet.io_read(off, 4)); }
    void wr(uint64_t off, uint64_t v) { hpet.io_write(off, 8, v); }
    void wr32(uint64_t off, uint32_t v) { hpet.io_write(off, 4, v); }
    // Moves time and runs what fell due, as the vCPU loop does.
    void run_to(uint64_t ns) {
        clock.advance_to(ns);
        queue.run_expired();
    }
    // Rising edges seen on IOAPIC input `pin`.
    unsigned rises(unsigned pin) const {
        unsigned r = 0;
        for (auto [p, l] : pins) r += p == pin && l;
        return r;
    }
    bool pin_level(unsigned pin) const {
        bool level = false;
        for (auto [p, l] : pins)
            if (p == pin) level = l;
        return level;
    }
};

} // namespace

TEST_CASE("hpet: capabilities and reset values", "[hpet]") {
    Fixture f;
    const uint64_t cap = f.rd(GCAP);
    CHECK((cap & 0xff) == 1);                // REV_ID
    CHECK(((cap >> 8) & 0x1f) == 2);         // NUM_TIM_CAP: last timer is #2, three timers
    CHECK(((cap >> 13) & 1) == 1);           // COUNT_SIZE_CAP: 64-bit main counter
    CHECK(((cap >> 14) & 1) == 0);           // reserved
    CHECK(((cap >> 15) & 1) == 1);           // LEG_RT_CAP
    CHECK(((cap >> 16) & 0xffff) == 0x8086); // VENDOR_ID
    const uint64_t period_fs = cap >> 32;
    CHECK(period_fs == 10'000'000);
    CHECK(1'000'000'000'000'000ull / period_fs == 100'000'000); // 100 MHz
    // The two halves read separately.
    CHECK(f.rd32(GCAP) == uint32_t(cap));
    CHECK(f.rd32(GCAP + 4) == uint32_t(cap >> 32));

    CHECK(f.rd(GCFG) == 0);
    CHECK(f.rd(GSTS) == 0);
    CHECK(f.rd(COUNTER) == 0);
    for (unsigned n = 0; n < 3; n++) {
        const uint64_t c = f.rd(tcfg(n));
        CHECK((c >> 32) == Hpet::kIntRouteCap); // Tn_INT_ROUTE_CAP
        CHECK((c & FSB_CAP) == 0);              // no FSB delivery
        CHECK((c & 0xffff & ~(PER_CAP | SIZE_CAP)) == 0);
    }
    CHECK(Hpet::kIntRouteCap == 0x4); // IOAPIC input 2, as QEMU's pc reports
    CHECK((f.rd(tcfg(0)) & (PER_CAP | SIZE_CAP)) == (PER_CAP | SIZE_CAP));
    CHECK((f.rd(tcfg(1)) & (PER_CAP | SIZE_CAP)) == 0);
    CHECK((f.rd(tcfg(2)) & (PER_CAP | SIZE_CAP)) == 0);
    // Comparators reset to all ones in their width.
    CHECK(f.rd(tcmp(0)) == ~0ull);
    CHECK(f.rd(tcmp(1)) == 0xffffffffull);
    CHECK(f.rd(tcmp(2)) == 0xffffffffull);
    // Reserved registers, the FSB route registers and absent timers read 0.
    for (uint64_t off : {0x008ull, 0x018ull, 0x028ull, 0x0f8ull, 0x110ull, 0x118ull, 0x160ull, 0x3f8ull})
        CHECK(f.rd(off) == 0);
}

TEST_CASE("hpet: the main counter runs at exactly 100 MHz", "[hpet]") {
    Fixture f;
    f.run_to(12345);
    f.wr(GCFG, ENABLE);
    f.run_to(12345 + 1'000'000'000);
    CHECK(f.rd(COUNTER) == 100'000'000);
    f.run_to(12345 + 1'000'000'000 + 9);
    CHECK(f.rd(COUNTER) == 100'000'000);
    f.run_to(12345 + 1'000'000'000 + 10);
    CHECK(f.rd(COUNTER) == 100'000'001);
    f.run_to(12345 + 10'000'000'000ull);
    CHECK(f.rd(COUNTER) == 1'000'000'000);
}

TEST_CASE("hpet: the counter halts with ENABLE_CNF clear and is writable only then", "[hpet]") {
    Fixture f;
    f.wr(GCFG, ENABLE);
    f.run_to(1'000'000); // 1 ms
    f.wr(COUNTER, 5);    // dropped: the counter runs
    CHECK(f.rd(COUNTER) == 100'000);
    f.wr(GCFG, 0);
    f.run_to(2'000'000);
    CHECK(f.rd(COUNTER) == 100'000); // kept its value
    f.wr(COUNTER, 0x1234);
    CHECK(f.rd(COUNTER) == 0x1234);
    f.run_to(2'000'005);
    f.wr(GCFG, ENABLE);
    f.run_to(2'000'014);
    CHECK(f.rd(COUNTER) == 0x1234);
    f.run_to(2'000'015);
    CHECK(f.rd(COUNTER) == 0x1235);
}

TEST_CASE("hpet: main counter halves read and write separately", "[hpet]") {
    Fixture f;
    f.wr32(COUNTER, 0x89abcdef);
    f.wr32(COUNTER + 4, 0x01234567);
    CHECK(f.rd(COUNTER) == 0x0123456789abcdefull);
    CHECK(f.rd32(COUNTER) == 0x89abcdef);
    CHECK(f.rd32(COUNTER + 4) == 0x01234567);
    // A carry out of the low half shows in the high half.
    f.wr(COUNTER, 0xfffffff0ull);
    f.wr(GCFG, ENABLE);
    f.run_to(20 * kNsPerTick);
    CHECK(f.rd32(COUNTER) == 0x4);
    CHECK(f.rd32(COUNTER + 4) == 0x1);
}

TEST_CASE("hpet: one-shot comparator interrupts at the exact time; 32-bit timers again at the wrap",
          "[hpet]") {
    Fixture f;
    f.run_to(1000);
    f.wr(tcfg(2), INT_ENB | route(2)); // edge, one-shot, 32-bit timer
    f.wr(tcmp(2), 500);
    CHECK(f.queue.next_deadline() == TimerQueue::kNever); // nothing armed while halted
    f.wr(GCFG, ENABLE);
    const uint64_t due = 1000 + 500 * kNsPerTick;
    CHECK(f.queue.next_deadline() == due);
    f.run_to(due - 1);
    CHECK(f.pins.empty());
    CHECK(f.rd(COUNTER) == 499);
    f.run_to(due);
    CHECK(f.pins == std::vector<std::pair<unsigned, bool>>{{2, true}, {2, false}});
    CHECK(f.rd(GSTS) == 0);      // edge mode leaves the status bit alone
    CHECK(f.rd(tcmp(2)) == 500); // one-shot: the comparator does not move
    // A 32-bit timer interrupts again when the counter's low 32 bits wrap.
    const uint64_t wrap = 1000 + (1ull << 32) * kNsPerTick;
    CHECK(f.queue.next_deadline() == wrap);
    f.run_to(wrap);
    CHECK(f.rises(2) == 2);
    // ...and at the next match after the wrap.
    CHECK(f.queue.next_deadline() == wrap + 500 * kNsPerTick);
}

TEST_CASE("hpet: a 64-bit one-shot comparator behind the counter waits for the 64-bit wrap", "[hpet]") {
    Fixture f;
    f.wr(COUNTER, 1000);
    f.wr(tcfg(0), INT_ENB | route(2));
    f.wr(tcmp(0), 10);
    f.wr(GCFG, ENABLE);
    CHECK(f.queue.next_deadline() == TimerQueue::kNever); // 2^64 ticks away
    f.wr(tcmp(0), 1010);
    CHECK(f.queue.next_deadline() == 10 * kNsPerTick);
    // Disabling the interrupt of an edge one-shot timer disarms it.
    f.wr(tcfg(0), route(2));
    CHECK(f.queue.next_deadline() == TimerQueue::kNever);
}

TEST_CASE("hpet: periodic timer 0 keeps its grid over 1000 periods", "[hpet]") {
    Fixture f;
    f.wr(GCFG, ENABLE);
    f.run_to(12345); // counter 1234
    const uint64_t start = f.rd(COUNTER);
    REQUIRE(start == 1234);
    // Linux's sequence: VAL_SET, the first match, then the period alone.
    f.wr(tcfg(0), PERIODIC | VAL_SET | INT_ENB | route(2));
    f.wr(tcmp(0), start + 1000);
    CHECK((f.rd(tcfg(0)) & VAL_SET) == 0); // cleared by the comparator write
    f.wr(tcmp(0), 1000);
    CHECK(f.rd(tcmp(0)) == start + 1000); // without VAL_SET only the increment changed
    for (unsigned k = 1; k <= 1000; k++) {
        const uint64_t due = (start + 1000 * k) * kNsPerTick;
        REQUIRE(f.queue.next_deadline() == due);
        f.run_to(due - 1);
        REQUIRE(f.rises(2) == k - 1);
        f.run_to(due);
        REQUIRE(f.rises(2) == k);
        REQUIRE(f.rd(tcmp(0)) == start + 1000 * (k + 1));
    }
    // A late callback: the missed matches merge into one interrupt and the
    // comparator stays on the grid.
    const uint64_t late = (start + 1000 * 1005 + 500) * kNsPerTick;
    f.run_to(late);
    CHECK(f.rises(2) == 1001);
    CHECK(f.rd(tcmp(0)) == start + 1000 * 1006);
    CHECK(f.queue.next_deadline() == (start + 1000 * 1006) * kNsPerTick);
}

TEST_CASE("hpet: 32-bit mode truncates timer 0 and interrupts at the 32-bit wrap", "[hpet]") {
    Fixture f;
    f.wr(tcfg(0), MODE32 | INT_ENB | route(2));
    f.wr(tcmp(0), 0x100000080ull);
    CHECK(f.rd(tcmp(0)) == 0x80); // upper half reads 0 in 32-bit mode
    f.wr32(tcmp(0) + 4, 0xffffffff);
    CHECK(f.rd(tcmp(0)) == 0x80);
    f.wr(COUNTER, 0xffffff00ull);
    f.run_to(1000);
    f.wr(GCFG, ENABLE);
    // First the low 32 bits wrap (0x100 ticks), then they match 0x80.
    CHECK(f.queue.next_deadline() == 1000 + 0x100 * kNsPerTick);
    f.run_to(1000 + 0x100 * kNsPerTick);
    CHECK(f.rises(2) == 1);
    CHECK(f.queue.next_deadline() == 1000 + 0x180 * kNsPerTick);
    f.run_to(1000 + 0x180 * kNsPerTick);
    CHECK(f.rises(2) == 2);
    CHECK(f.rd(COUNTER) == 0x100000080ull); // the main counter itself stays 64-bit
}

TEST_CASE("hpet: a periodic 32-bit comparator wraps with the counter", "[hpet]") {
    Fixture f;
    f.wr(COUNTER, 0xffffff00ull);
    f.wr(tcfg(0), MODE32 | PERIODIC | VAL_SET | INT_ENB | route(2));
    f.wr(tcmp(0), 0xffffff80ull);
    f.wr(tcmp(0), 0x100);
    f.wr(GCFG, ENABLE);
    CHECK(f.queue.next_deadline() == 0x80 * kNsPerTick);
    f.run_to(0x80 * kNsPerTick);
    CHECK(f.rises(2) == 1);
    CHECK(f.rd(tcmp(0)) == 0x80); // 0xffffff80 + 0x100 in 32 bits
    // Periodic mode has no extra wrap interrupt: the next is the match.
    CHECK(f.queue.next_deadline() == 0x180 * kNsPerTick);
    f.run_to(0x180 * kNsPerTick);
    CHECK(f.rises(2) == 2);
    CHECK(f.rd(tcmp(0)) == 0x180);
}

TEST_CASE("hpet: level-triggered status stays until written with 1", "[hpet]") {
    Fixture f;
    f.wr(tcfg(1), LEVEL | INT_ENB | route(2));
    f.wr(tcmp(1), 100);
    f.wr(GCFG, ENABLE);
    f.run_to(100 * kNsPerTick);
    CHECK(f.rd(GSTS) == 0x2);
    CHECK(f.pin_level(2));
    f.wr(GSTS, 0x5); // other bits: nothing to clear
    CHECK(f.rd(GSTS) == 0x2);
    CHECK(f.pin_level(2));
    f.wr32(GSTS, 0x2);
    CHECK(f.rd(GSTS) == 0);
    CHECK_FALSE(f.pin_level(2));
    CHECK(f.rises(2) == 1);

    // With INT_ENB clear the status bit is still set, but no interrupt.
    f.wr(tcfg(1), LEVEL | route(2));
    f.wr(tcmp(1), 200);
    f.run_to(200 * kNsPerTick);
    CHECK(f.rd(GSTS) == 0x2);
    CHECK_FALSE(f.pin_level(2));
    // Enabling the interrupt now asserts the line; halting the block drops it.
    f.wr(tcfg(1), LEVEL | INT_ENB | route(2));
    CHECK(f.pin_level(2));
    f.wr(GCFG, 0);
    CHECK_FALSE(f.pin_level(2));
    CHECK(f.rd(GSTS) == 0x2);
}

TEST_CASE("hpet: only routes in INT_ROUTE_CAP can be written", "[hpet]") {
    Fixture f;
    f.wr(tcfg(2), route(5));
    CHECK(((f.rd(tcfg(2)) >> 9) & 0x1f) == 0);
    f.wr(tcfg(2), route(2));
    CHECK(((f.rd(tcfg(2)) >> 9) & 0x1f) == 2);
    f.wr(tcfg(2), route(23));
    CHECK(((f.rd(tcfg(2)) >> 9) & 0x1f) == 2);
    // Periodic and 32-bit mode are not there on timers 1 and 2.
    f.wr(tcfg(1), PERIODIC | MODE32 | VAL_SET);
    CHECK((f.rd(tcfg(1)) & (PERIODIC | MODE32 | VAL_SET)) == 0);
}

TEST_CASE("hpet: legacy replacement route drives IRQ0 and IRQ8 and tells the board", "[hpet]") {
    Fixture f;
    f.wr(GCFG, LEG_RT);
    CHECK(f.legacy_calls == std::vector<bool>{true});
    CHECK(f.hpet.legacy_route());
    f.wr(tcfg(0), INT_ENB | route(2)); // the route field does not matter now
    f.wr(tcmp(0), 10);
    f.wr(tcfg(1), LEVEL | INT_ENB);
    f.wr(tcmp(1), 20);
    f.wr(GCFG, LEG_RT | ENABLE);
    CHECK(f.legacy_calls == std::vector<bool>{true}); // no change, no call
    f.run_to(10 * kNsPerTick);
    CHECK(f.irq0_edges == std::vector<bool>{true, false});
    f.run_to(20 * kNsPerTick);
    CHECK(f.irq8_edges == std::vector<bool>{true});
    CHECK(f.pins.empty());
    f.wr(GSTS, 0x2);
    CHECK(f.irq8_edges == std::vector<bool>{true, false});
    f.wr(GCFG, ENABLE);
    CHECK(f.legacy_calls == std::vector<bool>{true, false});
    f.hpet.reset();
    CHECK(f.legacy_calls == std::vector<bool>{true, false, false});
}

TEST_CASE("hpet: accesses other than aligned 4 or 8 bytes float and are dropped", "[hpet]") {
    Fixture f;
    CHECK(f.hpet.io_read(GCAP, 2) == 0xffff);
    CHECK(f.hpet.io_read(GCAP, 1) == 0xff);
    CHECK(f.hpet.io_read(GCAP + 2, 4) == 0xffffffff);
    CHECK(f.hpet.io_read(GCAP + 4, 8) == ~0ull);
    f.hpet.io_write(GCFG, 1, ENABLE);
    f.hpet.io_write(GCFG + 4, 8, ENABLE);
    CHECK(f.rd(GCFG) == 0);
    f.wr(GCAP, 0); // read-only
    CHECK(f.rd(GCAP) != 0);
}

TEST_CASE("hpet: save and load round trip", "[hpet]") {
    Fixture a;
    a.wr(tcfg(0), PERIODIC | VAL_SET | INT_ENB | route(2));
    a.wr(tcmp(0), 1000);
    a.wr(tcmp(0), 1000);
    a.wr(tcfg(1), LEVEL | INT_ENB | route(2));
    a.wr(tcmp(1), 1500);
    a.wr(tcfg(2), MODE32 | INT_ENB | route(2)); // MODE32 is not writable on timer 2
    a.wr(tcmp(2), 0x12345678);
    a.run_to(777);
    a.wr(GCFG, ENABLE | LEG_RT);
    a.run_to(777 + 1600 * kNsPerTick + 3); // one periodic interrupt and the level one happened
    REQUIRE(a.rd(GSTS) == 0x2);
    REQUIRE(a.irq8_edges == std::vector<bool>{true});
    StateWriter w;
    a.hpet.save(w);

    Fixture b;
    b.run_to(5'000'000); // another clock origin
    StateReader r(w.bytes());
    b.hpet.load(r);
    for (uint64_t off : {GCFG, GSTS, COUNTER, tcfg(0), tcmp(0), tcfg(1), tcmp(1), tcfg(2), tcmp(2)})
        CHECK(b.rd(off) == a.rd(off));
    CHECK(b.legacy_calls == std::vector<bool>{true});
    CHECK(b.irq8.level()); // the level interrupt is asserted again
    CHECK(b.queue.next_deadline() - b.clock.now_ns() == a.queue.next_deadline() - a.clock.now_ns());
    // Both continue identically.
    a.run_to(a.clock.now_ns() + 5000 * kNsPerTick);
    b.run_to(b.clock.now_ns() + 5000 * kNsPerTick);
    CHECK(b.rd(COUNTER) == a.rd(COUNTER));
    CHECK(b.rd(tcmp(0)) == a.rd(tcmp(0)));
    CHECK(b.irq0_edges.size() == a.irq0_edges.size() - 2); // a's first interrupt predates the save
}
