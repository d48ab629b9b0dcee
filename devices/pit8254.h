// Intel 8254 programmable interval timer, as on the PC: three counters at
// 0x40-0x42 and the control word register at 0x43 (the board maps the chip
// at 0x40 with size kPortCount). Every counter is clocked at 105/88 MHz
// (1.193182 MHz).
//
// Nothing ticks. The CLK input is a fixed grid on the machine's virtual
// clock (pulse k falls at k * 88/105 us after time 0), and each counter keeps
// the pulse its current count was loaded on; counts, OUT levels and status
// are computed from the number of pulses since then when somebody looks.
// Counter 0's OUT drives IRQ0: a Timer is armed at its next OUT change only,
// and periodic modes compute every edge from the load pulse, so they do not
// drift. Counters 1 and 2 have no timer (counter 2's OUT is read through
// port 0x61 and computed on that read).
//
// Implemented from the 8254 datasheet: modes 0-5, binary and BCD counting,
// LSB / MSB / LSB-then-MSB access with the read and write flip-flops, the
// counter latch and read-back commands, null count, count 0 = 2^16 (10^4 in
// BCD), the gate rules of every mode, and the datasheet's illegal cases
// (count 1 in modes 2 and 3, invalid BCD digits) behaving as the counting
// logic makes them behave, logged as guest errors.
//
// Port accesses, set_gate() and the timer callback all run on the vCPU
// thread; the device has no lock.
#pragma once
#include "machine/clock.h"
#include "machine/io.h"
#include <array>
#include <cstdint>

namespace hayate {

class Pit8254 final : public Device {
  public:
    static constexpr uint16_t kPort = 0x40;
    static constexpr unsigned kPortCount = 4;
    static constexpr unsigned kChannels = 3;
    // CLK input: 105/88 MHz, i.e. one pulse every 17600/21 ns.
    static constexpr uint64_t kClockNumerator = 21;      // pulses ...
    static constexpr uint64_t kClockDenominator = 17600; // ... per this many ns

    // `irq0` follows counter 0's OUT. Both references must outlive the PIT.
    Pit8254(TimerQueue& timers, IrqLine& irq0);

    const char* name() const override { return "pit8254"; }
    // Power-on state (the datasheet leaves it undefined): every counter as
    // after a mode 3, LSB-then-MSB, binary control word with no count yet -
    // OUT high, nothing counting. Gates of counters 0 and 1 high (tied on the
    // PC), counter 2's low (port 0x61 bit 0 after reset).
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    // Byte registers; a wider access is split into byte accesses at
    // consecutive ports, bytes past 0x43 float (read 0xff, writes dropped).
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    // GATE input of a counter (channel 0-2).
    void set_gate(unsigned channel, bool level);
    bool gate(unsigned channel) const;
    // Current level of a counter's OUT pin.
    bool out(unsigned channel);

    // Virtual-time conversions of the CLK grid.
    static int64_t tick_at(uint64_t ns); // pulses that have fallen by `ns`
    static uint64_t ns_of_tick(int64_t tick);

  private:
    static constexpr int64_t kNever = INT64_MAX;

    struct Channel {
        // Programming.
        uint8_t control = 0;         // bits 5-0 of the control word: RW1 RW0 M2 M1 M0 BCD
        uint16_t count_register = 0; // CR: the last complete count written
        uint8_t write_lsb = 0;       // first byte of an LSB-then-MSB write
        bool write_msb_next = false;
        bool read_msb_next = false;
        bool count_written = false; // a complete count since the control word (modes 1/5: armed)
        bool count_latched = false;
        uint16_t latched_count = 0;
        bool status_latched = false;
        uint8_t latched_status = 0;
        bool gate = false;
        int64_t gate_low_tick = 0; // pulse after which a low gate stopped counting
        // Counting element: loaded with `initial` (1..65536; in BCD 1..10000,
        // up to 16665 with digits above 9) on pulse `load_tick`; `origin` is the pulse the current
        // sequence counts from (in mode 3 a sequence that began with the low
        // half has its origin one high half earlier).
        bool running = false;
        uint32_t initial = 0;
        int64_t load_tick = 0;
        int64_t origin = 0;
        uint16_t held_count = 0; // CE contents before load_tick / while not running (raw)
        bool out_before_load = true;
        // Modes 2/3: a count written while counting goes in at the end of
        // the period / half-cycle (pending_tick), or at the next trigger
        // (pending_tick == kNever while the gate is low).
        bool pending = false;
        int64_t pending_tick = kNever;
        int64_t null_count_until = kNever; // null count bit set for ticks before this

        // M2 M1 M0: 110 and 111 are modes 2 and 3.
        unsigned mode() const {
            const unsigned m = (control >> 1) & 7;
            return m >= 6 ? m - 4 : m;
        }
        unsigned access() const { return (control >> 4) & 3; }
        bool bcd() const { return control & 1; }
    };

    // Port handlers for one byte.
    uint8_t read_byte(unsigned port);
    void write_byte(unsigned port, uint8_t value);
    void write_control(uint8_t value);
    void write_count(unsigned channel, uint8_t value);
    void count_complete(unsigned channel, int64_t now);
    void latch_count(Channel& c, int64_t now);
    void latch_status(Channel& c, int64_t now);

    // The counting model.
    uint32_t effective_count(const Channel& c, uint16_t raw) const;
    uint16_t displayed(const Channel& c, uint32_t value) const;
    int64_t elapsed(const Channel& c, int64_t tick) const;
    uint16_t count_at(const Channel& c, int64_t tick) const;
    bool out_at(const Channel& c, int64_t tick) const;
    int64_t next_out_change(const Channel& c, int64_t tick) const;
    int64_t pending_boundary(const Channel& c, int64_t tick) const;
    void settle(Channel& c, int64_t tick);
    void load_counter(Channel& c, int64_t now, uint32_t initial, uint16_t held, bool out_before);
    template <typename C, typename Plain, typename Tick>
    static void visit_state(C& c, Plain plain, Tick tick);

    // Counter 0 -> IRQ0.
    int64_t now_tick() const { return tick_at(timers_.now_ns()); }
    int64_t sync();               // every counter brought to the present; returns the current pulse
    void catch_up(int64_t now);   // OUT edges of counter 0 up to now, in order
    void update_irq(int64_t now); // after a state change at `now`
    void arm_timer();
    void on_timer();

    TimerQueue& timers_;
    IrqLine& irq0_;
    Timer timer_;
    std::array<Channel, kChannels> channels_;
    int64_t irq_edge_ = kNever; // next OUT change of counter 0 the timer waits for
};

} // namespace hayate
