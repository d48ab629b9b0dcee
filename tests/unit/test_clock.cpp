// The virtual clock and timer queue: manual time, deadline order, re-arming
// from a callback, cancel, and the earlier-deadline notification.
#include "machine/clock.h"
#include <catch2/catch.hpp>
#include <vector>

using namespace hayate;

TEST_CASE("clock: timers fire in deadline order once due", "[clock]") {
    VirtualClock clock(VirtualClock::Mode::Manual);
    TimerQueue q(clock);
    std::vector<int> fired;
    Timer a(q, [&] { fired.push_back(1); });
    Timer b(q, [&] { fired.push_back(2); });
    CHECK(q.next_deadline() == TimerQueue::kNever);
    a.arm(200);
    b.arm(100);
    CHECK(q.next_deadline() == 100);
    CHECK(q.run_expired() == 0);
    clock.advance_to(150);
    CHECK(q.run_expired() == 1);
    CHECK(fired == std::vector<int>{2});
    CHECK_FALSE(b.armed());
    clock.advance_to(1000);
    q.run_expired();
    CHECK(fired == std::vector<int>{2, 1});
    CHECK(q.next_deadline() == TimerQueue::kNever);
}

TEST_CASE("clock: a periodic timer re-arms itself; cancel stops it", "[clock]") {
    VirtualClock clock(VirtualClock::Mode::Manual);
    TimerQueue q(clock);
    int ticks = 0;
    uint64_t next = 10;
    Timer* self = nullptr;
    Timer t(q, [&] {
        ticks++;
        next += 10;
        self->arm(next);
    });
    self = &t;
    t.arm(next);
    clock.advance_to(35);
    CHECK(q.run_expired() == 3); // 10, 20, 30
    CHECK(ticks == 3);
    CHECK(t.deadline() == 40);
    t.cancel();
    clock.advance_to(100);
    CHECK(q.run_expired() == 0);
}

TEST_CASE("clock: arming an earlier deadline notifies the sleeper", "[clock]") {
    VirtualClock clock(VirtualClock::Mode::Manual);
    TimerQueue q(clock);
    int woken = 0;
    q.set_deadline_moved_earlier([&] { woken++; });
    Timer a(q, [] {});
    Timer b(q, [] {});
    a.arm(100);
    CHECK(woken == 1);
    b.arm(200); // later than the earliest: nobody needs waking
    CHECK(woken == 1);
    b.arm(50);
    CHECK(woken == 2);
}

TEST_CASE("clock: host mode moves forward; host TSC rate is plausible", "[clock]") {
    VirtualClock clock;
    uint64_t t0 = clock.now_ns();
    uint64_t t1 = clock.now_ns();
    CHECK(t1 >= t0);
    uint64_t hz = host_tsc_hz();
    CHECK(hz > 100'000'000ull);
    CHECK(hz < 10'000'000'000ull);
}
