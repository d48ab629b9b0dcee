#include "devices/pit8254.h"
#include "machine/log.h"
#include <algorithm>

namespace hayate {

namespace {

// Modes in which GATE low stops the count (in modes 1 and 5 only its rising
// edge matters).
bool gate_stops_counting(unsigned mode) { return mode == 0 || mode == 2 || mode == 3 || mode == 4; }

// Mode 3: pulses OUT stays high in one period of N (N/2 for even N,
// (N+1)/2 for odd N; the low half has the rest).
uint32_t high_half(uint32_t n) { return (n + 1) / 2; }

uint16_t to_bcd(uint32_t v) {
    uint16_t r = 0;
    for (unsigned shift = 0; shift < 16; shift += 4, v /= 10) r = uint16_t(r | ((v % 10) << shift));
    return r;
}

// A catch-up after a long stall delivers at most this many edges of
// counter 0 one by one (two pulses in modes 2/3, which the 8259A cannot tell
// from one) and then jumps to the present.
constexpr unsigned kMaxCatchUpEdges = 4;

} // namespace

Pit8254::Pit8254(TimerQueue& timers, IrqLine& irq0)
    : timers_(timers), irq0_(irq0), timer_(timers, [this] { on_timer(); }) {
    reset();
}

int64_t Pit8254::tick_at(uint64_t ns) {
    return int64_t((unsigned __int128)ns * kClockNumerator / kClockDenominator);
}

uint64_t Pit8254::ns_of_tick(int64_t tick) {
    if (tick <= 0) return 0;
    // The first nanosecond at which pulse `tick` has fallen.
    return uint64_t(((unsigned __int128)tick * kClockDenominator + kClockNumerator - 1) / kClockNumerator);
}

void Pit8254::reset() {
    timer_.cancel();
    irq_edge_ = kNever;
    const int64_t now = now_tick();
    for (unsigned i = 0; i < kChannels; i++) {
        Channel& c = channels_[i];
        c = Channel{};
        c.control = 0x36; // LSB then MSB, mode 3, binary
        c.gate = i != 2;
        c.gate_low_tick = now;
    }
    update_irq(now);
}

// ---------------------------------------------------------------- counting

uint32_t Pit8254::effective_count(const Channel& c, uint16_t raw) const {
    if (!c.bcd()) return raw ? raw : 0x10000;
    // A BCD counter counts its digits down with borrows, so a digit above 9
    // (nonsense) just starts from its own value: the count is sum(d_i * 10^i).
    uint32_t value = 0, weight = 1;
    bool valid = true;
    for (unsigned shift = 0; shift < 16; shift += 4, weight *= 10) {
        const unsigned digit = (raw >> shift) & 15;
        valid &= digit <= 9;
        value += digit * weight;
    }
    if (!valid) log_guest_error("pit8254: BCD count {:#06x} has a digit above 9", raw);
    return value ? value : 10000;
}

uint16_t Pit8254::displayed(const Channel& c, uint32_t value) const {
    return c.bcd() ? to_bcd(value % 10000) : uint16_t(value);
}

// Pulses counted since the origin, up to pulse `tick` (GATE low holds the
// count from the pulse after it went low, or from the load if that is later).
int64_t Pit8254::elapsed(const Channel& c, int64_t tick) const {
    if (gate_stops_counting(c.mode()) && !c.gate)
        tick = std::min(tick, std::max(c.gate_low_tick, c.load_tick));
    return std::max<int64_t>(0, tick - c.origin);
}

uint16_t Pit8254::count_at(const Channel& c, int64_t tick) const {
    if (!c.running || tick < c.load_tick) return c.held_count;
    const int64_t e = elapsed(c, tick);
    const uint32_t n = c.initial;
    uint32_t value;
    switch (c.mode()) {
    case 2: value = n - uint32_t(e % n); break; // N, N-1, ..., 1, N, ...
    case 3: {
        // Even N: N, N-2, ..., 2 in each half. Odd N (the 8254's way): N-1,
        // N-3, ..., 0 while high (one pulse more), N-1, ..., 2 while low.
        const uint32_t p = uint32_t(e % n), h = high_half(n), top = n - (n & 1);
        value = p < h ? top - 2 * p : top - 2 * (p - h);
        break;
    }
    default: { // 0, 1, 4, 5: count down through 0 and wrap around
        const uint32_t modulus = c.bcd() ? 10000 : 0x10000;
        value = (n + modulus - uint32_t(e % modulus)) % modulus;
        break;
    }
    }
    return displayed(c, value);
}

bool Pit8254::out_at(const Channel& c, int64_t tick) const {
    const unsigned mode = c.mode();
    if (!c.running) return mode != 0; // after the control word: low in mode 0, high otherwise
    if ((mode == 2 || mode == 3) && !c.gate) return true;
    if (tick < c.load_tick) return c.out_before_load;
    const int64_t e = elapsed(c, tick);
    const uint32_t n = c.initial;
    switch (mode) {
    case 0:
    case 1: return e >= n;                   // low until the count reaches 0
    case 2: return uint32_t(e % n) != n - 1; // low for the pulse the count is 1
    case 3: return uint32_t(e % n) < high_half(n);
    default: return e != n; // 4, 5: strobe low for the pulse the count is 0
    }
}

// The first pulse after `tick` at which OUT may change (or a pending count
// goes in, which may start edges), or kNever. The state must be settled at `tick`.
int64_t Pit8254::next_out_change(const Channel& c, int64_t tick) const {
    if (!c.running) return kNever;
    const unsigned mode = c.mode();
    if (tick < c.load_tick) {
        if (out_at(c, c.load_tick) != out_at(c, tick)) return c.load_tick;
        tick = c.load_tick;
    }
    if (gate_stops_counting(mode) && !c.gate) return kNever;
    const int64_t e = tick - c.origin;
    const uint32_t n = c.initial;
    int64_t next = kNever;
    switch (mode) {
    case 0:
    case 1:
        if (e < n) next = c.origin + n;
        break;
    case 2:
        if (n > 1) {
            const int64_t p = e % n;
            next = p < n - 1 ? tick + (n - 1 - p) : tick + 1;
        }
        break;
    case 3: {
        const uint32_t h = high_half(n);
        if (h < n) {
            const int64_t p = e % n;
            next = p < h ? tick + (h - p) : tick + (n - p);
        }
        break;
    }
    default:
        if (e < n)
            next = c.origin + n;
        else if (e == n)
            next = c.origin + n + 1;
        break;
    }
    if (c.pending) next = std::min(next, c.pending_tick);
    return next;
}

// Modes 2/3, gate high: the pulse ending the current period (mode 2) or
// half-cycle (mode 3), where a count written at `tick` goes in.
int64_t Pit8254::pending_boundary(const Channel& c, int64_t tick) const {
    const int64_t e = tick - c.origin;
    const uint32_t n = c.initial;
    if (c.mode() == 2) return c.origin + (e / n + 1) * n;
    const int64_t p = e % n, h = high_half(n);
    return p < h ? tick - p + h : tick - p + n;
}

// Applies a pending count whose boundary has come by pulse `tick`.
void Pit8254::settle(Channel& c, int64_t tick) {
    if (!c.pending || c.pending_tick > tick) return;
    const int64_t boundary = c.pending_tick;
    // In mode 3 the end of a high half starts the new count's low half.
    const bool starts_low = c.mode() == 3 && out_at(c, boundary - 1);
    const uint32_t n = effective_count(c, c.count_register);
    c.initial = n;
    c.load_tick = boundary;
    c.origin = starts_low ? boundary - high_half(n) : boundary;
    c.pending = false;
    c.pending_tick = kNever;
}

// The count register goes into the counting element on the next pulse.
void Pit8254::load_counter(Channel& c, int64_t now, uint32_t initial, uint16_t held, bool out_before) {
    c.held_count = held;
    c.out_before_load = out_before;
    c.running = true;
    c.initial = initial;
    c.load_tick = c.origin = now + 1;
    c.pending = false;
    c.pending_tick = kNever;
    c.null_count_until = now + 1;
}

// ------------------------------------------------------------- port access

uint64_t Pit8254::io_read(uint64_t offset, unsigned size) {
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++) {
        uint8_t byte = 0xff;
        if (offset + i < kPortCount)
            byte = read_byte(unsigned(offset + i));
        else
            log_guest_error("pit8254: {}-byte read at offset {} runs past port {:#x}", size, offset,
                            kPort + kPortCount - 1);
        value |= uint64_t(byte) << (8 * i);
    }
    return value;
}

void Pit8254::io_write(uint64_t offset, unsigned size, uint64_t value) {
    for (unsigned i = 0; i < size; i++) {
        if (offset + i < kPortCount)
            write_byte(unsigned(offset + i), uint8_t(value >> (8 * i)));
        else
            log_guest_error("pit8254: {}-byte write at offset {} runs past port {:#x}", size, offset,
                            kPort + kPortCount - 1);
    }
}

int64_t Pit8254::sync() {
    const int64_t now = now_tick();
    catch_up(now);
    for (Channel& c : channels_) settle(c, now);
    return now;
}

uint8_t Pit8254::read_byte(unsigned port) {
    if (port == 3) {
        log_guest_error("pit8254: read of the write-only control word register");
        return 0xff; // the 8254 leaves the bus floating
    }
    const int64_t now = sync();
    Channel& c = channels_[port];
    // Latched status comes first, whenever it was latched.
    if (c.status_latched) {
        c.status_latched = false;
        return c.latched_status;
    }
    const uint16_t count = c.count_latched ? c.latched_count : count_at(c, now);
    switch (c.access()) {
    case 1: c.count_latched = false; return uint8_t(count);
    case 2: c.count_latched = false; return uint8_t(count >> 8);
    default:
        // One flip-flop for latched and live reads alike: a routine that
        // reads one byte and leaves gets the other half of whatever comes next.
        if (!c.read_msb_next) {
            c.read_msb_next = true;
            return uint8_t(count);
        }
        c.read_msb_next = false;
        c.count_latched = false;
        return uint8_t(count >> 8);
    }
}

void Pit8254::write_byte(unsigned port, uint8_t value) {
    const int64_t now = sync();
    if (port == 3)
        write_control(value);
    else
        write_count(port, value);
    update_irq(now);
}

void Pit8254::latch_count(Channel& c, int64_t now) {
    // A second latch before the first is read is ignored.
    if (c.count_latched) return;
    c.latched_count = count_at(c, now);
    c.count_latched = true;
}

void Pit8254::latch_status(Channel& c, int64_t now) {
    if (c.status_latched) return;
    const bool null_count = now < c.null_count_until;
    c.latched_status = uint8_t((out_at(c, now) ? 0x80 : 0) | (null_count ? 0x40 : 0) | c.control);
    c.status_latched = true;
}

void Pit8254::write_control(uint8_t value) {
    const int64_t now = now_tick();
    const unsigned select = value >> 6;
    if (select == 3) {
        // Read-back: 11 /COUNT /STATUS CNT2 CNT1 CNT0 0.
        if (value & 1) log_guest_error("pit8254: read-back command {:#04x} has reserved bit 0 set", value);
        const bool count = !(value & 0x20), status = !(value & 0x10);
        const unsigned counters = (value >> 1) & 7;
        if (!counters || (!count && !status)) {
            log_guest_error("pit8254: read-back command {:#04x} latches nothing", value);
            return;
        }
        for (unsigned i = 0; i < kChannels; i++) {
            if (!((counters >> i) & 1)) continue;
            if (status) latch_status(channels_[i], now);
            if (count) latch_count(channels_[i], now);
        }
        return;
    }
    Channel& c = channels_[select];
    if (((value >> 4) & 3) == 0) {
        latch_count(c, now);
        return;
    }
    // A control word resets the counter's control logic at once: counting
    // stops (the element keeps what it holds) until a count is written, OUT
    // takes the mode's initial level, and a latched count is dropped.
    c.held_count = count_at(c, now);
    c.control = uint8_t(value & 0x3f);
    c.running = false;
    c.pending = false;
    c.pending_tick = kNever;
    c.write_msb_next = c.read_msb_next = false;
    c.count_written = false;
    c.count_latched = false;
    c.null_count_until = kNever;
}

void Pit8254::write_count(unsigned channel, uint8_t value) {
    Channel& c = channels_[channel];
    const int64_t now = now_tick();
    switch (c.access()) {
    case 1: c.count_register = value; break;
    case 2: c.count_register = uint16_t(value << 8); break;
    default:
        if (!c.write_msb_next) {
            c.write_lsb = value;
            c.write_msb_next = true;
            if (c.mode() == 0) {
                // Mode 0: the first byte stops the count and sets OUT low.
                c.held_count = count_at(c, now);
                c.running = false;
                c.pending = false;
            }
            return;
        }
        c.write_msb_next = false;
        c.count_register = uint16_t(c.write_lsb | (value << 8));
        break;
    }
    count_complete(channel, now);
}

void Pit8254::count_complete(unsigned channel, int64_t now) {
    Channel& c = channels_[channel];
    c.count_written = true;
    const unsigned mode = c.mode();
    const uint32_t n = effective_count(c, c.count_register);
    if ((mode == 2 || mode == 3) && n == 1)
        log_guest_error("pit8254: counter {} in mode {} given count 1 (the minimum is 2)", channel, mode);
    switch (mode) {
    case 0: load_counter(c, now, n, count_at(c, now), false); break;
    case 4: load_counter(c, now, n, count_at(c, now), out_at(c, now)); break;
    case 1:
    case 5:
        // The next trigger loads it; a trigger whose load pulse has not
        // come yet takes this count.
        if (c.running && now < c.load_tick) {
            c.initial = n;
            c.null_count_until = c.load_tick;
        } else {
            c.null_count_until = kNever;
        }
        break;
    default:
        if (!c.running || now < c.load_tick) {
            load_counter(c, now, n, count_at(c, now), out_at(c, now));
        } else {
            // The current period / half-cycle runs out first; with the gate
            // low, the next trigger loads it.
            c.pending = true;
            c.pending_tick = c.gate ? pending_boundary(c, now) : kNever;
            c.null_count_until = c.pending_tick;
        }
        break;
    }
}

void Pit8254::set_gate(unsigned channel, bool level) {
    if (channel >= kChannels) return;
    const int64_t now = sync();
    Channel& c = channels_[channel];
    if (level == c.gate) return;
    const unsigned mode = c.mode();
    const uint16_t held = count_at(c, now);
    const bool out_now = out_at(c, now);
    c.gate = level;
    if (!level) {
        c.gate_low_tick = now;
        if ((mode == 2 || mode == 3) && c.pending) c.pending_tick = c.null_count_until = kNever;
    } else {
        switch (mode) {
        case 0:
        case 4:
            // Counting resumes where it stopped.
            if (c.running) {
                const int64_t stopped = std::max(c.gate_low_tick, c.load_tick);
                if (now > stopped) {
                    c.origin += now - stopped;
                    c.load_tick += now - stopped;
                }
            }
            break;
        case 1:
        case 5:
            // Trigger: the count register goes in on the next pulse.
            if (c.count_written) load_counter(c, now, effective_count(c, c.count_register), held, out_now);
            break;
        default:
            // Modes 2/3: a rising edge reloads, synchronising the counter.
            if (c.running) load_counter(c, now, effective_count(c, c.count_register), held, out_now);
            break;
        }
    }
    if (channel == 0) update_irq(now);
}

bool Pit8254::gate(unsigned channel) const { return channel < kChannels && channels_[channel].gate; }

bool Pit8254::out(unsigned channel) {
    if (channel >= kChannels) return false;
    const int64_t now = sync();
    return out_at(channels_[channel], now);
}

// ------------------------------------------------------------ counter 0 IRQ

void Pit8254::arm_timer() {
    if (irq_edge_ == kNever)
        timer_.cancel();
    else
        timer_.arm(ns_of_tick(irq_edge_));
}

void Pit8254::catch_up(int64_t now) {
    Channel& c = channels_[0];
    if (irq_edge_ > now) return;
    unsigned edges = 0;
    while (irq_edge_ <= now) {
        if (++edges > kMaxCatchUpEdges) {
            settle(c, now);
            irq0_.set(out_at(c, now));
            irq_edge_ = next_out_change(c, now);
            break;
        }
        const int64_t edge = irq_edge_;
        settle(c, edge);
        irq0_.set(out_at(c, edge));
        irq_edge_ = next_out_change(c, edge);
    }
    arm_timer();
}

void Pit8254::update_irq(int64_t now) {
    const Channel& c = channels_[0];
    irq0_.set(out_at(c, now));
    irq_edge_ = next_out_change(c, now);
    arm_timer();
}

void Pit8254::on_timer() {
    const int64_t now = now_tick();
    catch_up(now);
    settle(channels_[0], now);
    arm_timer(); // run_expired disarmed it
}

// ------------------------------------------------------------------- state

template <typename C, typename Plain, typename Tick> void Pit8254::visit_state(C& c, Plain plain, Tick tick) {
    plain(c.control);
    plain(c.count_register);
    plain(c.write_lsb);
    plain(c.write_msb_next);
    plain(c.read_msb_next);
    plain(c.count_written);
    plain(c.count_latched);
    plain(c.latched_count);
    plain(c.status_latched);
    plain(c.latched_status);
    plain(c.gate);
    plain(c.running);
    plain(c.initial);
    plain(c.held_count);
    plain(c.out_before_load);
    plain(c.pending);
    tick(c.gate_low_tick);
    tick(c.load_tick);
    tick(c.origin);
    tick(c.pending_tick);
    tick(c.null_count_until);
}

// Pulse numbers are saved relative to the pulse at save time, so a state
// restored on a clock with another origin goes on from the same point.
void Pit8254::save(StateWriter& out) const {
    const int64_t now = now_tick();
    for (const Channel& c : channels_)
        visit_state(
            c, [&](const auto& v) { out.put(v); },
            [&](const int64_t& t) { out.put(t == kNever ? kNever : t - now); });
}

void Pit8254::load(StateReader& in) {
    const int64_t now = now_tick();
    for (Channel& c : channels_) {
        visit_state(
            c, [&](auto& v) { in.get(v); },
            [&](int64_t& t) {
                in.get(t);
                if (t != kNever) t = int64_t(uint64_t(t) + uint64_t(now));
            });
        // A state that could not come from this model stops the counter
        // rather than divide by nothing.
        const uint32_t limit = c.bcd() ? 16665 : 0x10000;
        if (c.initial == 0 || c.initial > limit) c.running = false;
        if (c.access() == 0) c.control |= 0x30;
    }
    for (Channel& c : channels_) settle(c, now);
    update_irq(now);
}

} // namespace hayate
