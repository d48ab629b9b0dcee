#include "machine/clock.h"
#include <algorithm>
#include <ctime>
#include <x86intrin.h>

namespace hayate {

namespace {
int64_t host_monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * int64_t(kNsPerSecond) + ts.tv_nsec;
}
} // namespace

VirtualClock::VirtualClock(Mode mode) : mode_(mode) {
    if (mode_ == Mode::Host) host_origin_ns_ = host_monotonic_ns();
}

uint64_t VirtualClock::now_ns() const {
    if (mode_ == Mode::Manual) return manual_ns_.load(std::memory_order_acquire);
    return uint64_t(host_monotonic_ns() - host_origin_ns_);
}

void VirtualClock::advance_to(uint64_t ns) {
    uint64_t cur = manual_ns_.load();
    while (ns > cur && !manual_ns_.compare_exchange_weak(cur, ns)) {}
}

Timer::Timer(TimerQueue& queue, std::function<void()> callback)
    : queue_(queue), callback_(std::move(callback)) {
    queue_.add(this);
}
Timer::~Timer() { queue_.remove(this); }
void Timer::arm(uint64_t deadline_ns) { queue_.arm(this, deadline_ns); }
void Timer::cancel() { queue_.cancel(this); }
bool Timer::armed() const {
    std::lock_guard lock(queue_.mu_);
    return armed_;
}
uint64_t Timer::deadline() const {
    std::lock_guard lock(queue_.mu_);
    return deadline_;
}

void TimerQueue::add(Timer* t) {
    std::lock_guard lock(mu_);
    timers_.push_back(t);
}

void TimerQueue::remove(Timer* t) {
    std::lock_guard lock(mu_);
    timers_.erase(std::remove(timers_.begin(), timers_.end(), t), timers_.end());
}

void TimerQueue::arm(Timer* t, uint64_t deadline) {
    bool earlier;
    {
        std::lock_guard lock(mu_);
        uint64_t before = kNever;
        for (const Timer* o : timers_)
            if (o->armed_ && o != t) before = std::min(before, o->deadline_);
        t->deadline_ = deadline;
        t->armed_ = true;
        earlier = deadline < before;
    }
    if (earlier && on_earlier_) on_earlier_();
}

void TimerQueue::cancel(Timer* t) {
    std::lock_guard lock(mu_);
    t->armed_ = false;
}

uint64_t TimerQueue::next_deadline() const {
    std::lock_guard lock(mu_);
    uint64_t next = kNever;
    for (const Timer* t : timers_)
        if (t->armed_) next = std::min(next, t->deadline_);
    return next;
}

unsigned TimerQueue::run_expired() {
    unsigned ran = 0;
    // One timer at a time, so a callback that arms or cancels another timer
    // (or itself) is seen by the next pick.
    for (;;) {
        Timer* due = nullptr;
        {
            std::lock_guard lock(mu_);
            const uint64_t now = clock_.now_ns();
            for (Timer* t : timers_)
                if (t->armed_ && t->deadline_ <= now && (!due || t->deadline_ < due->deadline_)) due = t;
            if (!due) return ran;
            due->armed_ = false;
        }
        due->callback_();
        ran++;
    }
}

namespace {
struct TscReference {
    int64_t ns;
    uint64_t tsc;
};
TscReference tsc_reference() {
    static const TscReference ref{host_monotonic_ns(), __rdtsc()};
    return ref;
}
} // namespace

void begin_host_tsc_measurement() { tsc_reference(); }

uint64_t host_tsc_hz() {
    static const uint64_t hz = [] {
        // clock_gettime resolves tens of nanoseconds: over 2 ms or more the
        // rate is good to a few parts in 10^5, plenty for timer deadlines.
        const TscReference t0 = tsc_reference();
        int64_t t1;
        do t1 = host_monotonic_ns();
        while (t1 - t0.ns < 2'000'000);
        const uint64_t c1 = __rdtsc();
        return uint64_t((unsigned __int128)(c1 - t0.tsc) * kNsPerSecond / uint64_t(t1 - t0.ns));
    }();
    return hz;
}

} // namespace hayate
