#include "devices/acpi_pm.h"
#include "machine/log.h"
#include <stdexcept>

namespace hayate {

namespace {

// Byte offsets from the PM base.
constexpr unsigned kPm1Sts = 0, kPm1En = 2, kPm1Cnt = 4, kPmTmr = 8;
constexpr unsigned kUnassignedFirst = 6, kUnassignedLast = 7;
// Byte offsets in the GPE0 block.
constexpr unsigned kGpeSts = 0, kGpeEn = 2;

constexpr uint16_t kStsWriteClear = AcpiPm::kTmrSts | AcpiPm::kBmSts | AcpiPm::kGblSts | AcpiPm::kPwrBtnSts |
                                    AcpiPm::kSlpBtnSts | AcpiPm::kRtcSts | AcpiPm::kWakSts;
constexpr uint16_t kEnWritable =
    AcpiPm::kTmrEn | AcpiPm::kGblEn | AcpiPm::kPwrBtnEn | AcpiPm::kSlpBtnEn | AcpiPm::kRtcEn;
// Status bits that raise the SCI when enabled: each sits at its enable bit.
constexpr uint16_t kSciSources = kEnWritable;
constexpr uint16_t kCntStored = AcpiPm::kSciEn | AcpiPm::kBmRld | AcpiPm::kSlpTypMask;
constexpr uint16_t kCntDefined = kCntStored | AcpiPm::kGblRls | AcpiPm::kSlpEn;

constexpr unsigned kTmrStsBit = 23; // TMR_VAL_EXT = 0: a 24-bit counter
constexpr uint32_t kTmrMask = 0xffffff;
constexpr uint8_t kStateVersion = 1;

// A byte-wise write gathered into one 16-bit register: value and byte mask.
struct Write16 {
    uint16_t value = 0, mask = 0;
    void add(unsigned byte, uint8_t v) {
        value |= uint16_t(v << (8 * byte));
        mask |= uint16_t(0xff << (8 * byte));
    }
};

} // namespace

AcpiPm::AcpiPm(TimerQueue& timers, IrqLine& sci, std::function<void()> on_poweroff)
    : queue_(timers), sci_(sci), on_poweroff_(std::move(on_poweroff)),
      timer_(timers, [this] { on_timer(); }) {
    std::lock_guard lock(mu_);
    reset_locked();
}

template <typename F> auto AcpiPm::modify(F change) {
    std::lock_guard order(sci_mu_);
    bool level;
    decltype(change()) result;
    {
        std::lock_guard lock(mu_);
        result = change();
        rearm_locked();
        level = sci_level_locked();
    }
    sci_.set(level);
    return result;
}

void AcpiPm::reset_locked() {
    pm1_sts_ = 0;
    pm1_en_ = 0;
    pm1_cnt_ = kSciEn; // no SMI_CMD: ACPI mode from power-on
    gpe_sts_ = gpe_en_ = 0;
    origin_ns_ = int64_t(queue_.now_ns());
    tmr_ref_tick_ = 0;
}

void AcpiPm::reset() {
    modify([this] {
        reset_locked();
        return true;
    });
}

// ---------------------------------------------------------------- PM timer

uint64_t AcpiPm::ticks_locked() const {
    const int64_t elapsed = int64_t(queue_.now_ns()) - origin_ns_;
    if (elapsed <= 0) return 0;
    return uint64_t((unsigned __int128)uint64_t(elapsed) * kTimerHz / kNsPerSecond);
}

uint32_t AcpiPm::pm_timer() const {
    std::lock_guard lock(mu_);
    return uint32_t(ticks_locked() & kTmrMask);
}

uint16_t AcpiPm::pm1_status_locked() const {
    uint16_t sts = pm1_sts_;
    if ((ticks_locked() >> kTmrStsBit) != (tmr_ref_tick_ >> kTmrStsBit)) sts |= kTmrSts;
    return sts;
}

bool AcpiPm::sci_level_locked() const {
    if (!(pm1_cnt_ & kSciEn)) return false;
    return (pm1_status_locked() & pm1_en_ & kSciSources) || (gpe_sts_ & gpe_en_);
}

// The timer runs only while TMR_EN is set and TMR_STS is not yet: it fires
// at the first tick where bit 23 differs from the reference tick's.
void AcpiPm::rearm_locked() {
    if (!(pm1_en_ & kTmrEn) || (pm1_status_locked() & kTmrSts)) {
        timer_.cancel();
        return;
    }
    const uint64_t tick = ((tmr_ref_tick_ >> kTmrStsBit) + 1) << kTmrStsBit;
    // The first instant at which floor(elapsed * f / 1e9) reaches `tick`.
    const unsigned __int128 ns = ((unsigned __int128)tick * kNsPerSecond + kTimerHz - 1) / kTimerHz;
    const __int128 deadline = (__int128)origin_ns_ + (__int128)ns;
    timer_.arm(deadline < 0 ? 0 : deadline >= (__int128)INT64_MAX ? uint64_t(INT64_MAX) : uint64_t(deadline));
}

void AcpiPm::on_timer() {
    modify([] { return true; });
}

// ------------------------------------------------------------ PM1 and TMR

uint8_t AcpiPm::read_byte_locked(unsigned offset) const {
    switch (offset) {
    case kPm1Sts:
    case kPm1Sts + 1: return uint8_t(pm1_status_locked() >> (8 * (offset - kPm1Sts)));
    case kPm1En:
    case kPm1En + 1: return uint8_t(pm1_en_ >> (8 * (offset - kPm1En)));
    case kPm1Cnt:
    case kPm1Cnt + 1: return uint8_t(pm1_cnt_ >> (8 * (offset - kPm1Cnt))); // SLP_EN, GBL_RLS read 0
    default: return 0xff; // unassigned: the bus floats (PM_TMR is read in io_read)
    }
}

uint64_t AcpiPm::io_read(uint64_t offset, unsigned size) {
    std::lock_guard lock(mu_);
    // One PM timer value for the whole access.
    const uint64_t ticks = ticks_locked();
    uint64_t v = 0;
    for (unsigned i = 0; i < size && i < 8; i++) {
        const uint64_t at = offset + i;
        uint8_t b;
        if (at >= kPortCount || (at >= kUnassignedFirst && at <= kUnassignedLast)) {
            log_guest_error("acpi-pm: read of unassigned port base+{:#x}", at);
            b = 0xff;
        } else if (at >= kPmTmr) {
            b = uint8_t((ticks & kTmrMask) >> (8 * (at - kPmTmr)));
        } else {
            b = read_byte_locked(unsigned(at));
        }
        v |= uint64_t(b) << (8 * i);
    }
    return v;
}

void AcpiPm::io_write(uint64_t offset, unsigned size, uint64_t value) {
    Write16 sts, en, cnt;
    for (unsigned i = 0; i < size && i < 8; i++) {
        const uint64_t at = offset + i;
        const uint8_t b = uint8_t(value >> (8 * i));
        if (at >= kPortCount || (at >= kUnassignedFirst && at <= kUnassignedLast))
            log_guest_error("acpi-pm: write of {:#04x} to unassigned port base+{:#x} dropped", b, at);
        else if (at >= kPmTmr)
            log_guest_error("acpi-pm: write of {:#04x} to the read-only PM timer dropped", b);
        else if (at < kPm1En)
            sts.add(unsigned(at - kPm1Sts), b);
        else if (at < kPm1Cnt)
            en.add(unsigned(at - kPm1En), b);
        else
            cnt.add(unsigned(at - kPm1Cnt), b);
    }
    const bool poweroff = modify([&] {
        bool off = false;
        if (sts.mask) {
            const uint16_t clear = sts.value & sts.mask & kStsWriteClear;
            // The TMR_STS reference moves to now: the bit reads 0 until bit
            // 23 changes again.
            if (clear & kTmrSts) tmr_ref_tick_ = ticks_locked();
            pm1_sts_ &= uint16_t(~clear);
        }
        if (en.mask) {
            if (en.value & en.mask & ~kEnWritable)
                log_guest_error("acpi-pm: reserved PM1_EN bits {:#06x} ignored",
                                en.value & en.mask & ~kEnWritable);
            pm1_en_ = uint16_t((pm1_en_ & ~en.mask) | (en.value & en.mask & kEnWritable));
        }
        if (cnt.mask) {
            const uint16_t v = cnt.value & cnt.mask;
            if ((cnt.mask & 0xff) && !(v & kSciEn))
                log_guest_error("acpi-pm: SCI_EN cleared, but this board has no SMM: it stays 1");
            if (v & kGblRls)
                log_warning(
                    "acpi-pm: GBL_RLS written (global lock release to the firmware): not implemented, "
                    "there is no SMM firmware");
            if (v & ~kCntDefined)
                log_guest_error("acpi-pm: reserved PM1_CNT bits {:#06x} ignored", v & ~kCntDefined);
            const uint16_t stored = uint16_t((kBmRld | kSlpTypMask) & cnt.mask);
            pm1_cnt_ = uint16_t(((pm1_cnt_ & ~stored) | (v & stored)) | kSciEn);
            if (v & kSlpEn) {
                const unsigned type = (pm1_cnt_ & kSlpTypMask) >> kSlpTypShift;
                if (type == kSlpTypS5)
                    off = true;
                else
                    log_warning(
                        "acpi-pm: sleep with SLP_TYP {} requested: only S5 (SLP_TYP {}) is implemented, "
                        "request ignored",
                        type, kSlpTypS5);
            }
        }
        return off;
    });
    if (poweroff && on_poweroff_) on_poweroff_();
}

// -------------------------------------------------------------------- GPE0

uint64_t AcpiPm::gpe_read(uint64_t offset, unsigned size) {
    std::lock_guard lock(mu_);
    uint64_t v = 0;
    for (unsigned i = 0; i < size && i < 8; i++) {
        const uint64_t at = offset + i;
        uint8_t b = 0xff;
        if (at < kGpeEn)
            b = uint8_t(gpe_sts_ >> (8 * (at - kGpeSts)));
        else if (at < kGpe0PortCount)
            b = uint8_t(gpe_en_ >> (8 * (at - kGpeEn)));
        else
            log_guest_error("acpi-pm: read of unassigned port gpe0+{:#x}", at);
        v |= uint64_t(b) << (8 * i);
    }
    return v;
}

void AcpiPm::gpe_write(uint64_t offset, unsigned size, uint64_t value) {
    Write16 sts, en;
    for (unsigned i = 0; i < size && i < 8; i++) {
        const uint64_t at = offset + i;
        const uint8_t b = uint8_t(value >> (8 * i));
        if (at < kGpeEn)
            sts.add(unsigned(at - kGpeSts), b);
        else if (at < kGpe0PortCount)
            en.add(unsigned(at - kGpeEn), b);
        else
            log_guest_error("acpi-pm: write of {:#04x} to unassigned port gpe0+{:#x} dropped", b, at);
    }
    modify([&] {
        gpe_sts_ &= uint16_t(~(sts.value & sts.mask));
        gpe_en_ = uint16_t((gpe_en_ & ~en.mask) | (en.value & en.mask));
        return true;
    });
}

// ------------------------------------------------------------- host events

void AcpiPm::press_power_button() {
    modify([this] {
        pm1_sts_ |= kPwrBtnSts;
        return true;
    });
}

void AcpiPm::rtc_alarm() {
    modify([this] {
        pm1_sts_ |= kRtcSts;
        return true;
    });
}

void AcpiPm::set_gpe_status(unsigned gpe_bit) {
    if (gpe_bit >= 16) throw std::invalid_argument("acpi-pm: GPE0 has events 0-15 only");
    modify([this, gpe_bit] {
        gpe_sts_ |= uint16_t(1u << gpe_bit);
        return true;
    });
}

// ------------------------------------------------------------------- state

void AcpiPm::save(StateWriter& out) const {
    std::lock_guard lock(mu_);
    out.put(kStateVersion);
    out.put(pm1_sts_);
    out.put(pm1_en_);
    out.put(pm1_cnt_);
    out.put(gpe_sts_);
    out.put(gpe_en_);
    // Time since tick 0, so a clock with another origin resumes at the same phase.
    out.put(int64_t(queue_.now_ns()) - origin_ns_);
    out.put(tmr_ref_tick_);
}

void AcpiPm::load(StateReader& in) {
    uint8_t version;
    uint16_t sts, en, cnt, gsts, gen;
    int64_t since_origin;
    uint64_t ref;
    in.get(version);
    if (version != kStateVersion) throw std::runtime_error("acpi-pm: unknown state version");
    in.get(sts);
    in.get(en);
    in.get(cnt);
    in.get(gsts);
    in.get(gen);
    in.get(since_origin);
    in.get(ref);
    if ((sts & ~(kStsWriteClear & ~kTmrSts)) || (en & ~kEnWritable) || (cnt & ~kCntStored) || !(cnt & kSciEn))
        throw std::runtime_error("acpi-pm: invalid state");
    modify([&] {
        pm1_sts_ = sts;
        pm1_en_ = en;
        pm1_cnt_ = cnt;
        gpe_sts_ = gsts;
        gpe_en_ = gen;
        origin_ns_ = int64_t(queue_.now_ns()) - since_origin;
        tmr_ref_tick_ = ref;
        return true;
    });
}

} // namespace hayate
