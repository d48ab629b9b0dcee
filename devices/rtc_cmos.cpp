#include "devices/rtc_cmos.h"
#include "machine/log.h"
#include <algorithm>
#include <stdexcept>

namespace hayate {

namespace {

constexpr uint8_t kStateVersion = 1;
constexpr int64_t kSecondNs = int64_t(kNsPerSecond);
constexpr int64_t kHalfSecondNs = kSecondNs / 2;
constexpr int64_t kDaySeconds = 86400;
constexpr int64_t kNoDay = INT64_MIN;
constexpr int kAny = -1, kNever = -2; // alarm field: don't care / can never match

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

bool is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int64_t days_in_month(int64_t year, int month) {
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return kDays[month - 1] + (month == 2 && is_leap(year));
}

// Leap years among 1..year-1 of the proleptic Gregorian calendar (any year,
// through floor division).
int64_t leap_years_before(int64_t year) {
    const int64_t y = year - 1;
    return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

// Days from 1970-01-01 to January 1 of `year`.
int64_t days_before_year(int64_t year) {
    return 365 * (year - 1970) + leap_years_before(year) - leap_years_before(1970);
}

// Day number (days since 1970-01-01) of a date with month 1-12.
int64_t days_from_date(int64_t year, int month, int64_t day) {
    int64_t days = days_before_year(year);
    for (int m = 1; m < month; m++) days += days_in_month(year, m);
    return days + day - 1;
}

struct Date {
    int64_t year;
    int month, day;
};

Date date_from_days(int64_t days) {
    // 146097 days per 400 years: a first guess, then exact correction.
    int64_t year = 1970 + floor_div(days * 400, 146097);
    while (days_before_year(year) > days) year--;
    while (days_before_year(year + 1) <= days) year++;
    int64_t left = days - days_before_year(year);
    int month = 1;
    while (left >= days_in_month(year, month)) left -= days_in_month(year, month++);
    return {year, month, int(left + 1)};
}

// The first day on or after `day` that lies in a daylight-saving window of
// the MC146818A: the last seven days of April (24-30) or of October (25-31).
int64_t next_dse_window_day(int64_t day) {
    const Date d = date_from_days(day);
    if (d.month < 4 || (d.month == 4 && d.day < 24)) return days_from_date(d.year, 4, 24);
    if (d.month == 4) return day;
    if (d.month < 10 || (d.month == 10 && d.day < 25)) return days_from_date(d.year, 10, 25);
    if (d.month == 10) return day;
    return days_from_date(d.year + 1, 4, 24);
}

} // namespace

// ---------------------------------------------------------------- helpers

struct RtcCmos::Alarm {
    int hour = kNever, minute = kNever, second = kNever; // 24-hour values, kAny or kNever

    // The smallest time of day (seconds) >= tod that matches, or -1.
    int64_t next_in_day(int64_t tod) const {
        auto next_value = [](int field, int from, int limit) {
            if (from >= limit || field == kNever) return -1;
            if (field == kAny) return from;
            return field >= from ? field : -1;
        };
        const int h0 = int(tod / 3600), m0 = int(tod / 60 % 60), s0 = int(tod % 60);
        for (int h = next_value(hour, h0, 24); h >= 0; h = next_value(hour, h + 1, 24)) {
            for (int m = next_value(minute, h == h0 ? m0 : 0, 60); m >= 0;
                 m = next_value(minute, m + 1, 60)) {
                const int s = next_value(second, (h == h0 && m == m0) ? s0 : 0, 60);
                if (s >= 0) return int64_t(h) * 3600 + m * 60 + s;
            }
        }
        return -1;
    }
};

namespace {

int decode(uint8_t byte, bool binary) { return binary ? byte : (byte >> 4) * 10 + (byte & 0x0f); }
uint8_t encode(int value, bool binary) {
    return binary ? uint8_t(value) : uint8_t(((value / 10) << 4) | (value % 10));
}
// `byte` is the proper encoding of a value in [lo, hi] in the current data mode.
bool valid_byte(uint8_t byte, int lo, int hi, bool binary) {
    const int v = decode(byte, binary);
    return v >= lo && v <= hi && encode(v, binary) == byte;
}
bool valid_hours(uint8_t byte, bool binary, bool hour24) {
    if (hour24) return valid_byte(byte, 0, 23, binary);
    return valid_byte(byte & 0x7f, 1, 12, binary);
}

} // namespace

// ------------------------------------------------------------------ setup

RtcCmos::RtcCmos(TimerQueue& timers, IrqLine& irq, int64_t base_unix_seconds)
    : timers_(timers), irq_(irq), timer_(timers, [this] { on_timer(); }),
      base_unix_seconds_(base_unix_seconds) {
    std::lock_guard lock(mu_);
    construct_ns_ = now();
    caught_up_ns_ = construct_ns_;
    // What a PC BIOS programs: the 32.768 kHz time base with the 1024 Hz
    // periodic rate, BCD data, 24-hour mode.
    regs_[kRegA] = kADivider32k | 0x06;
    regs_[kRegB] = kB24Hour;
    set_host_time_locked(construct_ns_);
}

void RtcCmos::set_host_time_locked(int64_t t) {
    const int64_t elapsed = t - construct_ns_;
    const int64_t linear = base_unix_seconds_ + floor_div(elapsed, kSecondNs);
    // 1970-01-01 was a Thursday.
    linear_to_registers(linear, int(floor_mod(floor_div(linear, kDaySeconds) + 4, 7)));
    // Seconds tick over when the host's do: updates at construct_ns_ + k s.
    if (running()) chain_origin_ns_ = construct_ns_ - kHalfSecondNs;
    caught_up_ns_ = std::max(caught_up_ns_, t);
}

void RtcCmos::reset() {
    {
        std::lock_guard lock(mu_);
        const int64_t t = now();
        catch_up_locked(t);
        regs_[kRegB] &= uint8_t(~(kBPie | kBAie | kBUie | kBSqwe));
        regs_[kRegC] = 0;
        index_ = 0;
        nmi_disabled_ = false;
        dse_fell_back_day_ = kNoDay;
        set_host_time_locked(t);
        rearm_locked(t);
    }
    set_irq(false);
}

void RtcCmos::save(StateWriter& out) const {
    std::lock_guard lock(mu_);
    out.put(kStateVersion);
    out.put_bytes(regs_.data(), regs_.size());
    out.put(index_);
    out.put(nmi_disabled_);
    out.put(chain_origin_ns_);
    out.put(caught_up_ns_);
    out.put(dse_fell_back_day_);
}

void RtcCmos::load(StateReader& in) {
    bool level;
    {
        std::lock_guard lock(mu_);
        uint8_t version;
        in.get(version);
        if (version != kStateVersion) throw std::runtime_error("rtc: unknown state version");
        in.get_bytes(regs_.data(), regs_.size());
        in.get(index_);
        in.get(nmi_disabled_);
        in.get(chain_origin_ns_);
        in.get(caught_up_ns_);
        in.get(dse_fell_back_day_);
        index_ &= 0x7f;
        regs_[kRegA] &= uint8_t(~kAUip);
        regs_[kRegC] &= kCPf | kCAf | kCUf;
        regs_[kRegD] = kDVrt;
        timer_.cancel();
        armed_for_ = kNotArmed;
        const int64_t t = std::max(now(), caught_up_ns_);
        catch_up_locked(t);
        level = irqf();
        rearm_locked(t);
    }
    set_irq(level);
}

bool RtcCmos::nmi_disabled() const {
    std::lock_guard lock(mu_);
    return nmi_disabled_;
}

static void check_ram_index(uint8_t index) {
    if (index < 0x0e || index >= RtcCmos::kBytes || index == RtcCmos::kCentury)
        throw std::out_of_range("rtc: CMOS byte " + std::to_string(index) + " is not battery-backed RAM");
}

void RtcCmos::set_nvram(uint8_t index, uint8_t value) {
    check_ram_index(index);
    std::lock_guard lock(mu_);
    regs_[index] = value;
}

uint8_t RtcCmos::nvram(uint8_t index) const {
    check_ram_index(index);
    std::lock_guard lock(mu_);
    return regs_[index];
}

void RtcCmos::fill_memory_size(RtcCmos& rtc, uint64_t ram_below_4g, uint64_t ram_above_4g) {
    constexpr uint64_t KiB = 1024, MiB = 1024 * KiB;
    auto put16 = [&](uint8_t low_index, uint64_t value) {
        rtc.set_nvram(low_index, uint8_t(value));
        rtc.set_nvram(uint8_t(low_index + 1), uint8_t(value >> 8));
    };
    put16(0x15, std::min<uint64_t>(ram_below_4g / KiB, 640)); // conventional memory
    const uint64_t extended = ram_below_4g > MiB ? std::min<uint64_t>((ram_below_4g - MiB) / KiB, 0xffff) : 0;
    put16(0x17, extended); // the AT's configured value
    put16(0x30, extended); // the value POST found
    const uint64_t above_16m =
        ram_below_4g > 16 * MiB ? std::min<uint64_t>((ram_below_4g - 16 * MiB) / (64 * KiB), 0xffff) : 0;
    put16(0x34, above_16m);
    const uint64_t above_4g = std::min<uint64_t>(ram_above_4g / (64 * KiB), 0xffffff);
    rtc.set_nvram(0x5b, uint8_t(above_4g));
    rtc.set_nvram(0x5c, uint8_t(above_4g >> 8));
    rtc.set_nvram(0x5d, uint8_t(above_4g >> 16));
    rtc.set_nvram(0x10, 0x00); // diskette drive types: none
    // Equipment: bits 7-6 diskettes - 1, 5-4 primary display (00: EGA/VGA,
    // with its own BIOS), bit 1 math coprocessor, bit 0 diskette present.
    rtc.set_nvram(0x14, 0x02);
    // IBM AT checksum: the 16-bit sum of bytes 0x10-0x2d, high byte first.
    unsigned sum = 0;
    for (uint8_t i = 0x10; i <= 0x2d; i++) sum += rtc.nvram(i);
    rtc.set_nvram(0x2e, uint8_t(sum >> 8));
    rtc.set_nvram(0x2f, uint8_t(sum));
}

// ------------------------------------------------------------ divider chain

uint64_t RtcCmos::rate_period_cycles() const {
    unsigned rate = regs_[kRegA] & kARateMask;
    if (rate == 0) return 0;
    // With the 32.768 kHz time base, rates 1 and 2 pick the same taps as 8
    // and 9 (256 Hz, 128 Hz): the first divider stages are bypassed.
    if (rate <= 2) rate += 7;
    return uint64_t(1) << (rate - 1);
}

uint64_t RtcCmos::updates_by(int64_t t) const {
    const int64_t d = t - chain_origin_ns_;
    if (d < kHalfSecondNs) return 0;
    return uint64_t((d - kHalfSecondNs) / kSecondNs) + 1;
}

int64_t RtcCmos::next_update_after(int64_t t) const {
    return chain_origin_ns_ + kHalfSecondNs + int64_t(updates_by(t)) * kSecondNs;
}

// Rising edges of a tap with period `period` time-base cycles: at cycles
// period/2 + k * period after the chain started.
uint64_t RtcCmos::ticks_by(int64_t t, uint64_t period) const {
    const int64_t d = t - chain_origin_ns_;
    if (d < 0) return 0;
    const uint64_t cycles = uint64_t((unsigned __int128)d * kTimeBaseHz / kNsPerSecond);
    if (cycles < period / 2) return 0;
    return (cycles - period / 2) / period + 1;
}

int64_t RtcCmos::next_tick_after(int64_t t, uint64_t period) const {
    const unsigned __int128 cycle = period / 2 + ticks_by(t, period) * (unsigned __int128)period;
    // The first nanosecond at or after that edge.
    const unsigned __int128 ns = (cycle * kNsPerSecond + kTimeBaseHz - 1) / kTimeBaseHz;
    return chain_origin_ns_ + int64_t(ns);
}

bool RtcCmos::uip(int64_t t) const {
    if (!running() || (regs_[kRegB] & kBSet)) return false;
    return next_update_after(t) - t <= int64_t(kUipLeadNs);
}

bool RtcCmos::irqf() const {
    // PF/AF/UF sit at the same bit positions as PIE/AIE/UIE.
    return regs_[kRegC] & regs_[kRegB] & (kCPf | kCAf | kCUf);
}

// ------------------------------------------------------------------ calendar

int RtcCmos::dow_index() const { return int(floor_mod(decode(regs_[kDayOfWeek], binary()) - 1, 7)); }

int64_t RtcCmos::registers_to_linear(bool* valid) const {
    const bool bin = binary();
    const int64_t second = decode(regs_[kSeconds], bin), minute = decode(regs_[kMinutes], bin);
    const uint8_t hours = regs_[kHours];
    const int64_t hour =
        hour24() ? decode(hours, bin) : decode(hours & 0x7f, bin) % 12 + ((hours & kHoursPm) ? 12 : 0);
    const int64_t day = decode(regs_[kDayOfMonth], bin);
    const int64_t month = decode(regs_[kMonth], bin);
    int64_t year = decode(regs_[kYear], bin) + 100 * int64_t(decode(regs_[kCentury], bin));
    if (valid) {
        *valid = valid_byte(regs_[kSeconds], 0, 59, bin) && valid_byte(regs_[kMinutes], 0, 59, bin) &&
                 valid_hours(hours, bin, hour24()) && valid_byte(regs_[kDayOfWeek], 1, 7, bin) &&
                 valid_byte(regs_[kMonth], 1, 12, bin) && valid_byte(regs_[kYear], 0, 99, bin) &&
                 valid_byte(regs_[kCentury], 0, 99, bin) &&
                 valid_byte(regs_[kDayOfMonth], 1, int(days_in_month(year, int(month))), bin);
        // (days_in_month is only asked about a month that passed its check.)
    }
    // Out-of-range fields carry into the next ones (the datasheet leaves the
    // result undefined; this one is at least deterministic).
    const int64_t month0 = month - 1;
    year += floor_div(month0, 12);
    const int64_t days = days_from_date(year, int(floor_mod(month0, 12)) + 1, day);
    return days * kDaySeconds + hour * 3600 + minute * 60 + second;
}

void RtcCmos::linear_to_registers(int64_t linear, int dow) {
    const bool bin = binary();
    const int64_t days = floor_div(linear, kDaySeconds);
    const int64_t tod = linear - days * kDaySeconds;
    const Date date = date_from_days(days);
    const int hour = int(tod / 3600);
    regs_[kSeconds] = encode(int(tod % 60), bin);
    regs_[kMinutes] = encode(int(tod / 60 % 60), bin);
    if (hour24())
        regs_[kHours] = encode(hour, bin);
    else
        regs_[kHours] = uint8_t(encode(hour % 12 == 0 ? 12 : hour % 12, bin) | (hour >= 12 ? kHoursPm : 0));
    regs_[kDayOfWeek] = encode(dow + 1, bin);
    regs_[kDayOfMonth] = encode(date.day, bin);
    regs_[kMonth] = encode(date.month, bin);
    regs_[kYear] = encode(int(floor_mod(date.year, 100)), bin);
    regs_[kCentury] = encode(int(floor_mod(floor_div(date.year, 100), 100)), bin);
}

// The next daylight-saving adjustment after linear second `after`: the
// second that would show 2:00:00 AM on the last Sunday of April (shown as
// 3:00:00) or of October (shown as 1:00:00, the first time only). Sunday is
// what the day-of-week register says, as on the chip: `dow_at_start` is its
// value (0 = Sunday) on the day of linear second `start`.
int64_t RtcCmos::next_dse_change_locked(int64_t after, int64_t start, int dow_at_start) const {
    int64_t day = floor_div(after, kDaySeconds);
    if (after - day * kDaySeconds >= 7200) day++;
    const int64_t start_day = floor_div(start, kDaySeconds);
    for (;;) {
        day = next_dse_window_day(day);
        const bool sunday = floor_mod(dow_at_start + (day - start_day), 7) == 0;
        const bool october = date_from_days(day).month == 10;
        if (sunday && !(october && day == dse_fell_back_day_)) return day * kDaySeconds + 7200;
        day++;
    }
}

int64_t RtcCmos::next_alarm_match_locked(int64_t from) const {
    const bool bin = binary();
    auto field = [&](uint8_t byte, int limit) {
        if (byte >= 0xc0) return kAny;
        return valid_byte(byte, 0, limit - 1, bin) ? decode(byte, bin) : kNever;
    };
    Alarm alarm;
    alarm.second = field(regs_[kSecondsAlarm], 60);
    alarm.minute = field(regs_[kMinutesAlarm], 60);
    const uint8_t hours = regs_[kHoursAlarm];
    if (hours >= 0xc0)
        alarm.hour = kAny;
    else if (!valid_hours(hours, bin, hour24()))
        alarm.hour = kNever;
    else if (hour24())
        alarm.hour = decode(hours, bin);
    else
        alarm.hour = decode(hours & 0x7f, bin) % 12 + ((hours & kHoursPm) ? 12 : 0);
    const int64_t day = floor_div(from, kDaySeconds);
    int64_t tod = alarm.next_in_day(from - day * kDaySeconds);
    if (tod >= 0) return day * kDaySeconds + tod;
    tod = alarm.next_in_day(0);
    return tod >= 0 ? (day + 1) * kDaySeconds + tod : -1;
}

bool RtcCmos::alarm_matches_between_locked(int64_t first, int64_t last) const {
    if (first > last) return false;
    const int64_t match = next_alarm_match_locked(first);
    return match >= 0 && match <= last;
}

// ------------------------------------------------------------------ catch-up

// `updates` update cycles happened since the registers were last brought up
// to date: advance the calendar, with the daylight-saving jumps, and set UF
// and (if any new time matched the alarm) AF.
void RtcCmos::advance_time_locked(uint64_t updates) {
    bool valid;
    int64_t linear = registers_to_linear(&valid);
    if (!valid)
        log_guest_error(
            "rtc: update cycle with out-of-range time/date registers ({:02x} {:02x} {:02x} {:02x} "
            "{:02x} {:02x} {:02x} century {:02x}): normalised",
            regs_[kSeconds], regs_[kMinutes], regs_[kHours], regs_[kDayOfWeek], regs_[kDayOfMonth],
            regs_[kMonth], regs_[kYear], regs_[kCentury]);
    const int64_t start = linear;
    const int dow_at_start = dow_index();
    bool alarm = false;
    int64_t remaining = int64_t(updates);
    while (remaining > 0) {
        const int64_t end = linear + remaining;
        const int64_t change =
            (regs_[kRegB] & kBDse) ? next_dse_change_locked(linear, start, dow_at_start) : INT64_MAX;
        if (change > end) {
            alarm |= alarm_matches_between_locked(linear + 1, end);
            linear = end;
            break;
        }
        alarm |= alarm_matches_between_locked(linear + 1, change - 1);
        remaining -= change - linear;
        if (date_from_days(floor_div(change, kDaySeconds)).month == 4) {
            linear = change + 3600; // 1:59:59 -> 3:00:00
        } else {
            linear = change - 3600; // 1:59:59 -> 1:00:00, once
            dse_fell_back_day_ = floor_div(change, kDaySeconds);
        }
        alarm |= alarm_matches_between_locked(linear, linear);
    }
    const int64_t days = floor_div(linear, kDaySeconds) - floor_div(start, kDaySeconds);
    linear_to_registers(linear, int(floor_mod(dow_at_start + days, 7)));
    regs_[kRegC] |= kCUf;
    if (alarm) regs_[kRegC] |= kCAf;
}

void RtcCmos::catch_up_locked(int64_t t) {
    if (t <= caught_up_ns_) return;
    const int64_t from = caught_up_ns_;
    caught_up_ns_ = t;
    if (!running()) return;
    const uint64_t period = rate_period_cycles();
    if (period && ticks_by(t, period) > ticks_by(from, period)) regs_[kRegC] |= kCPf;
    if (regs_[kRegB] & kBSet) return; // updates inhibited
    const uint64_t updates = updates_by(t) - updates_by(from);
    if (updates) advance_time_locked(updates);
}

// The next moment an enabled interrupt would raise IRQF; nothing while IRQF
// is already set (only a read of register C can lower it).
void RtcCmos::rearm_locked(int64_t t) {
    int64_t deadline = kNotArmed;
    const uint8_t b = regs_[kRegB];
    if (!irqf() && running()) {
        auto earliest = [&deadline](int64_t at) { deadline = std::min(deadline, at); };
        const uint64_t period = rate_period_cycles();
        if ((b & kBPie) && period) earliest(next_tick_after(t, period));
        if (!(b & kBSet) && (b & kBUie)) earliest(next_update_after(t));
        if (!(b & kBSet) && (b & kBAie) && !(b & kBUie)) {
            const int64_t linear = registers_to_linear(nullptr);
            const int64_t match = next_alarm_match_locked(linear + 1);
            if (match >= 0) {
                int64_t seconds_ahead = match - linear;
                // A daylight-saving jump on the way makes the prediction
                // wrong: look again at that update.
                if (b & kBDse)
                    seconds_ahead =
                        std::min(seconds_ahead, next_dse_change_locked(linear, linear, dow_index()) - linear);
                earliest(next_update_after(t) + (seconds_ahead - 1) * kSecondNs);
            }
        }
    }
    if (deadline == armed_for_) return;
    armed_for_ = deadline;
    if (deadline == kNotArmed)
        timer_.cancel();
    else
        timer_.arm(uint64_t(deadline));
}

void RtcCmos::on_timer() {
    bool level;
    {
        std::lock_guard lock(mu_);
        const int64_t t = now();
        armed_for_ = kNotArmed; // the timer has fired
        catch_up_locked(t);
        level = irqf();
        rearm_locked(t);
    }
    set_irq(level);
}

void RtcCmos::set_irq(bool level) { irq_.set(level); }

// ------------------------------------------------------------------ registers

uint8_t RtcCmos::read_reg_locked(uint8_t reg, int64_t t) {
    switch (reg) {
    case kRegA: return uint8_t((regs_[kRegA] & ~kAUip) | (uip(t) ? kAUip : 0));
    case kRegC: {
        uint8_t v = regs_[kRegC] & (kCPf | kCAf | kCUf);
        if (irqf()) v |= kCIrqf;
        regs_[kRegC] = 0; // reading C clears every flag (and IRQF with them)
        return v;
    }
    case kRegD: return kDVrt; // battery fine
    default: return regs_[reg];
    }
}

void RtcCmos::write_reg_locked(uint8_t reg, uint8_t value, int64_t t) {
    const bool bin = binary();
    switch (reg) {
    case kRegA: {
        const bool was_running = running();
        regs_[kRegA] = value & uint8_t(~kAUip); // UIP is read-only
        const uint8_t divider = value & kADividerMask;
        if (divider == kADivider32k) {
            // Out of reset (or oscillator on): the first update comes 500 ms later.
            if (!was_running) chain_origin_ns_ = t;
        } else if ((divider & 0x60) != 0x60) {
            log_guest_error("rtc: register A divider {:03b} is not the PC's 32.768 kHz time base: the "
                            "oscillator stops (only 010 keeps time)",
                            divider >> 4);
        }
        break;
    }
    case kRegB:
        // SET going high aborts updates and clears UIE.
        if ((value & kBSet) && !(regs_[kRegB] & kBSet)) value &= uint8_t(~kBUie);
        regs_[kRegB] = value;
        break;
    case kRegC:
    case kRegD:
        log_guest_error("rtc: write {:#04x} to read-only register {:#04x} dropped", value, reg);
        break;
    case kSecondsAlarm:
    case kMinutesAlarm:
    case kHoursAlarm: {
        const bool ok = value >= 0xc0 || (reg == kHoursAlarm ? valid_hours(value, bin, hour24())
                                                             : valid_byte(value, 0, 59, bin));
        if (!ok) log_guest_error("rtc: alarm register {} = {:#04x} can never match", reg, value);
        regs_[reg] = value;
        break;
    }
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury: {
        bool ok;
        switch (reg) {
        case kHours: ok = valid_hours(value, bin, hour24()); break;
        case kDayOfWeek: ok = valid_byte(value, 1, 7, bin); break;
        case kDayOfMonth: ok = valid_byte(value, 1, 31, bin); break;
        case kMonth: ok = valid_byte(value, 1, 12, bin); break;
        case kYear:
        case kCentury: ok = valid_byte(value, 0, 99, bin); break;
        default: ok = valid_byte(value, 0, 59, bin); break;
        }
        if (!ok)
            log_guest_error(
                "rtc: register {:#04x} = {:#04x} is out of range (stored; later updates undefined)", reg,
                value);
        regs_[reg] = value;
        break;
    }
    default: regs_[reg] = value; break; // CMOS RAM
    }
}

uint64_t RtcCmos::io_read(uint64_t offset, unsigned size) {
    uint64_t v = 0;
    bool level;
    {
        std::lock_guard lock(mu_);
        const int64_t t = now();
        catch_up_locked(t);
        for (unsigned i = 0; i < size; i++) {
            uint8_t b = 0xff;
            if (offset + i == 1) {
                b = read_reg_locked(index_, t);
            } else if (offset + i == 0) {
                log_guest_error("rtc: read of the write-only index port 0x70");
            } else {
                log_guest_error("rtc: read beyond the two ports (offset {})", offset + i);
            }
            v |= uint64_t(b) << (8 * i);
        }
        level = irqf();
        rearm_locked(t);
    }
    set_irq(level);
    return v;
}

void RtcCmos::io_write(uint64_t offset, unsigned size, uint64_t value) {
    bool level;
    {
        std::lock_guard lock(mu_);
        const int64_t t = now();
        catch_up_locked(t);
        // A wide access reaches the two ports in turn, as on the ISA bus.
        for (unsigned i = 0; i < size; i++) {
            const uint8_t b = uint8_t(value >> (8 * i));
            if (offset + i == 0) {
                index_ = b & 0x7f;
                nmi_disabled_ = b & 0x80;
            } else if (offset + i == 1) {
                write_reg_locked(index_, b, t);
            } else {
                log_guest_error("rtc: write beyond the two ports (offset {}) dropped", offset + i);
            }
        }
        level = irqf();
        rearm_locked(t);
    }
    set_irq(level);
}

} // namespace hayate
