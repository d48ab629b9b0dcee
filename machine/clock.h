// The machine's virtual clock and the timers devices arm on it.
//
// Time is nanoseconds since the machine was built. By default it follows the
// host's monotonic clock; unit tests drive it by hand (Mode::Manual).
// Timer callbacks run on the thread that calls TimerQueue::run_expired() -
// the vCPU thread, between blocks of guest code - so a device whose state is
// only touched by port/MMIO accesses and its own timers needs no lock.
// arm()/cancel() are safe from any thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace hayate {

constexpr uint64_t kNsPerSecond = 1'000'000'000ull;

class VirtualClock {
  public:
    enum class Mode { Host, Manual };
    explicit VirtualClock(Mode mode = Mode::Host);
    uint64_t now_ns() const;
    Mode mode() const { return mode_; }
    // Manual mode only: moves time forward to `ns` (never backwards).
    void advance_to(uint64_t ns);
    void advance_by(uint64_t ns) { advance_to(now_ns() + ns); }

  private:
    Mode mode_;
    int64_t host_origin_ns_ = 0;
    std::atomic<uint64_t> manual_ns_{0};
};

class TimerQueue;

// A one-shot timer. Periodic devices re-arm it from their callback.
class Timer {
  public:
    Timer(TimerQueue& queue, std::function<void()> callback);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    void arm(uint64_t deadline_ns); // replaces an earlier deadline
    void cancel();
    bool armed() const;
    uint64_t deadline() const; // meaningful while armed

  private:
    friend class TimerQueue;
    TimerQueue& queue_;
    std::function<void()> callback_;
    uint64_t deadline_ = 0;
    bool armed_ = false;
};

class TimerQueue {
  public:
    static constexpr uint64_t kNever = UINT64_MAX;

    explicit TimerQueue(VirtualClock& clock) : clock_(clock) {}
    VirtualClock& clock() const { return clock_; }
    uint64_t now_ns() const { return clock_.now_ns(); }

    // Runs, in deadline order, every timer due at the current time; a
    // callback may arm or cancel any timer. Returns how many ran.
    unsigned run_expired();
    // The earliest armed deadline, or kNever.
    uint64_t next_deadline() const;
    // Called after an arm() moved the earliest deadline earlier, so whoever
    // sleeps until next_deadline() (the vCPU's HLT, the timer watcher) wakes.
    void set_deadline_moved_earlier(std::function<void()> fn) { on_earlier_ = std::move(fn); }

  private:
    friend class Timer;
    void add(Timer* t);
    void remove(Timer* t);
    void arm(Timer* t, uint64_t deadline);
    void cancel(Timer* t);

    VirtualClock& clock_;
    mutable std::mutex mu_;
    std::vector<Timer*> timers_;
    std::function<void()> on_earlier_;
};

// The host TSC's frequency in Hz, measured once against CLOCK_MONOTONIC (the
// guest TSC is the host's plus an offset, so it ticks at this rate). The
// measurement spans from begin_host_tsc_measurement() (or the first call)
// to the first call, at least 2 ms: begun early, it costs start-up nothing.
uint64_t host_tsc_hz();
void begin_host_tsc_measurement();

} // namespace hayate
