#include "devices/uart16550.h"
#include "machine/log.h"
#include <algorithm>
#include <stdexcept>

namespace hayate {

namespace {

// Register numbers (offset from the base port).
enum : unsigned { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

namespace ier {
constexpr uint8_t kRxData = 0x01, kThre = 0x02, kLineStatus = 0x04, kModemStatus = 0x08;
}
namespace iir {
constexpr unsigned kNone = 0x01, kLineStatus = 0x06, kRxData = 0x04, kTimeout = 0x0c, kThre = 0x02,
                   kModem = 0x00;
constexpr uint8_t kFifosEnabled = 0xc0;
} // namespace iir
namespace lcr {
constexpr uint8_t kStop2 = 0x04, kParity = 0x08, kBreak = 0x40, kDlab = 0x80;
}
namespace mcr {
constexpr uint8_t kDtr = 0x01, kRts = 0x02, kOut1 = 0x04, kOut2 = 0x08, kLoop = 0x10;
}
namespace lsr {
constexpr uint8_t kDataReady = 0x01, kOverrun = 0x02, kParity = 0x04, kFraming = 0x08, kBreak = 0x10,
                  kThre = 0x20, kTemt = 0x40, kFifoError = 0x80;
constexpr uint8_t kErrors = kOverrun | kParity | kFraming | kBreak;
constexpr uint8_t kCharErrors = kParity | kFraming | kBreak; // those that belong to one character
} // namespace lsr
namespace msr {
constexpr uint8_t kDcts = 0x01, kDdsr = 0x02, kTeri = 0x04, kDdcd = 0x08, kCts = 0x10, kDsr = 0x20,
                  kRi = 0x40, kDcd = 0x80;
}

constexpr uint8_t kStateVersion = 1;
constexpr uint64_t kInputClockHz = 1843200; // the PC's UART crystal; baud = clock / 16 / divisor

} // namespace

Uart16550::Uart16550(std::string name, CharBackend& backend, IrqLine& irq)
    : name_(std::move(name)), backend_(backend), irq_(irq) {
    {
        std::lock_guard lock(mutex_);
        reset_locked();
    }
    timer_ = std::thread([this] { timer_loop(); });
    backend_.attach(this);
}

Uart16550::~Uart16550() {
    backend_.attach(nullptr);
    {
        std::lock_guard lock(mutex_);
        timer_stop_ = true;
    }
    timer_cv_.notify_all();
    timer_.join();
}

void Uart16550::reset() {
    {
        std::lock_guard lock(mutex_);
        reset_locked();
    }
    backend_.notify_room();
}

void Uart16550::reset_locked() {
    // PC16550D master reset: everything but RBR/THR, SCR and the divisor latch.
    ier_ = 0;
    lcr_ = 0;
    mcr_ = 0;
    fcr_ = 0;
    lsr_errors_ = 0;
    clear_rx_fifo_locked();
    thre_pending_ = false;
    msr_inputs_ = modem_inputs();
    msr_deltas_ = 0;
    update_irq_locked();
}

// ------------------------------------------------------------------ receiver

unsigned Uart16550::trigger_level() const {
    static constexpr unsigned kLevels[4] = {1, 4, 8, 14};
    return kLevels[fcr_ >> 6];
}

void Uart16550::clear_rx_fifo_locked() {
    fifo_head_ = 0;
    fifo_count_ = 0;
    fifo_error_ = false;
    timeout_pending_ = false;
    timeout_armed_ = false;
}

void Uart16550::reveal_top_locked() {
    // PE/FE/BI show in LSR when their character reaches the top of the FIFO.
    lsr_errors_ |= uint8_t(fifo_[fifo_head_] >> 8) & lsr::kCharErrors;
}

void Uart16550::rx_push_locked(uint8_t data, uint8_t errors) {
    restart_timeout_locked();
    const uint16_t entry = uint16_t(data | (errors << 8));
    if (fifo_enabled()) {
        if (fifo_count_ == kFifoSize) {
            // The character in the shift register is overwritten, not queued.
            lsr_errors_ |= lsr::kOverrun;
            return;
        }
        fifo_[(fifo_head_ + fifo_count_) % kFifoSize] = entry;
        if (++fifo_count_ == 1) reveal_top_locked();
        if (errors) fifo_error_ = true;
    } else {
        // 16450 mode: one holding register; an unread character is destroyed.
        if (fifo_count_) lsr_errors_ |= lsr::kOverrun;
        fifo_[fifo_head_] = entry;
        fifo_count_ = 1;
        reveal_top_locked();
    }
}

uint8_t Uart16550::rx_pop_locked() {
    if (fifo_count_ == 0) return rbr_; // nothing new: the register still holds the last character
    rbr_ = uint8_t(fifo_[fifo_head_]);
    fifo_head_ = (fifo_head_ + 1) % kFifoSize;
    if (--fifo_count_) reveal_top_locked();
    // A read clears a timeout indication and restarts the timeout timer.
    timeout_pending_ = false;
    if (fifo_count_ && fifo_enabled())
        restart_timeout_locked();
    else
        timeout_armed_ = false;
    return rbr_;
}

size_t Uart16550::can_receive() {
    std::lock_guard lock(mutex_);
    if (mcr_ & mcr::kLoop) return 0; // the serial input is disconnected: input waits
    if (fifo_enabled()) return kFifoSize - fifo_count_;
    return fifo_count_ ? 0 : 1;
}

void Uart16550::receive(const uint8_t* data, size_t len) {
    std::lock_guard lock(mutex_);
    // Input racing with a switch to loopback arrives at a disconnected pin.
    if (mcr_ & mcr::kLoop) return;
    for (size_t i = 0; i < len; i++) rx_push_locked(data[i], 0);
    update_irq_locked();
}

void Uart16550::receive_break() {
    std::lock_guard lock(mutex_);
    if (mcr_ & mcr::kLoop) return;
    rx_push_locked(0, lsr::kBreak); // a break loads one zero character
    update_irq_locked();
}

// --------------------------------------------------------------- timeout

Uart16550::Clock::duration Uart16550::timeout_period() const {
    // Character time in half bits: start bit, data bits, parity, stop bits
    // (1.5 stop bits for 5-bit words with LCR bit 2).
    const unsigned data_bits = 5 + (lcr_ & 3);
    unsigned half_bits = 2 * (1 + data_bits + ((lcr_ & lcr::kParity) ? 1 : 0));
    half_bits += (lcr_ & lcr::kStop2) ? (data_bits == 5 ? 3 : 4) : 2;
    // A divisor of 0 lets the 16-bit baud counter wrap: 65536.
    const uint64_t divisor = divisor_ ? divisor_ : 65536;
    const uint64_t ns = 4 * half_bits * 16 * divisor * 1'000'000'000ull / (2 * kInputClockHz);
    return std::chrono::nanoseconds(ns);
}

void Uart16550::restart_timeout_locked() {
    if (!fifo_enabled()) {
        timeout_armed_ = false;
        return;
    }
    timeout_deadline_ = Clock::now() + timeout_period();
    if (!timeout_armed_) {
        timeout_armed_ = true;
        timer_cv_.notify_all();
    }
}

void Uart16550::check_timeout_locked(Clock::time_point now) {
    if (!timeout_armed_ || now < timeout_deadline_) return;
    timeout_armed_ = false;
    if (fifo_enabled() && fifo_count_) {
        timeout_pending_ = true;
        update_irq_locked();
    }
}

void Uart16550::timer_loop() {
    std::unique_lock lock(mutex_);
    while (!timer_stop_) {
        if (timeout_armed_) {
            // The deadline may move later meanwhile; check_ then just waits again.
            timer_cv_.wait_until(lock, timeout_deadline_);
            check_timeout_locked(Clock::now());
        } else {
            timer_cv_.wait(lock);
        }
    }
}

// ------------------------------------------------------------ interrupts

uint8_t Uart16550::modem_inputs() const {
    if (!(mcr_ & mcr::kLoop)) {
        // The console backend behaves as a connected, ready terminal: CTS,
        // DSR and DCD asserted, no ring.
        return msr::kCts | msr::kDsr | msr::kDcd;
    }
    uint8_t v = 0;
    if (mcr_ & mcr::kRts) v |= msr::kCts;
    if (mcr_ & mcr::kDtr) v |= msr::kDsr;
    if (mcr_ & mcr::kOut1) v |= msr::kRi;
    if (mcr_ & mcr::kOut2) v |= msr::kDcd;
    return v;
}

void Uart16550::update_modem_inputs_locked() {
    const uint8_t now = modem_inputs();
    const uint8_t changed = now ^ msr_inputs_;
    if (changed & msr::kCts) msr_deltas_ |= msr::kDcts;
    if (changed & msr::kDsr) msr_deltas_ |= msr::kDdsr;
    if ((msr_inputs_ & msr::kRi) && !(now & msr::kRi)) msr_deltas_ |= msr::kTeri; // trailing edge only
    if (changed & msr::kDcd) msr_deltas_ |= msr::kDdcd;
    msr_inputs_ = now;
}

unsigned Uart16550::interrupt_id_locked() const {
    // In priority order.
    if ((ier_ & ier::kLineStatus) && lsr_errors_) return iir::kLineStatus;
    if (ier_ & ier::kRxData) {
        if (timeout_pending_) return iir::kTimeout;
        if (fifo_enabled() ? fifo_count_ >= trigger_level() : fifo_count_ > 0) return iir::kRxData;
    }
    if ((ier_ & ier::kThre) && thre_pending_) return iir::kThre;
    if ((ier_ & ier::kModemStatus) && msr_deltas_) return iir::kModem;
    return iir::kNone;
}

void Uart16550::update_irq_locked() {
    // On a PC the INTR pin reaches the interrupt controller through a buffer
    // enabled by the OUT2 pin. Loopback forces the OUT2 pin inactive, so no
    // interrupt leaves the card then even though IIR reports it.
    const bool gate = (mcr_ & mcr::kOut2) && !(mcr_ & mcr::kLoop);
    irq_.set(gate && interrupt_id_locked() != iir::kNone);
}

// --------------------------------------------------------------- transmit

void Uart16550::transmit_locked(uint8_t data) {
    if (mcr_ & mcr::kLoop)
        rx_push_locked(data, 0);
    else
        backend_.write_byte(data);
}

// -------------------------------------------------------------- registers

uint8_t Uart16550::read_reg(unsigned reg) {
    switch (reg) {
    case kRbrThr: {
        if (lcr_ & lcr::kDlab) return uint8_t(divisor_);
        uint8_t v = rx_pop_locked();
        update_irq_locked();
        backend_.notify_room();
        return v;
    }
    case kIer: return (lcr_ & lcr::kDlab) ? uint8_t(divisor_ >> 8) : ier_;
    case kIirFcr: {
        const unsigned id = interrupt_id_locked();
        // Reading IIR while it reports THRE is what acknowledges THRE.
        if (id == iir::kThre) {
            thre_pending_ = false;
            update_irq_locked();
        }
        return uint8_t(id | (fifo_enabled() ? iir::kFifosEnabled : 0));
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: {
        uint8_t v = lsr_errors_ | lsr::kThre | lsr::kTemt;
        if (fifo_count_) v |= lsr::kDataReady;
        if (fifo_enabled() && fifo_error_) v |= lsr::kFifoError;
        lsr_errors_ = 0;
        // Bit 7 stays set only while characters behind the one just reported carry errors.
        fifo_error_ = false;
        for (unsigned i = 1; i < fifo_count_; i++)
            if (fifo_[(fifo_head_ + i) % kFifoSize] >> 8) fifo_error_ = true;
        update_irq_locked();
        return v;
    }
    case kMsr: {
        uint8_t v = msr_inputs_ | msr_deltas_;
        msr_deltas_ = 0;
        update_irq_locked();
        return v;
    }
    case kScr: return scr_;
    }
    return 0xff;
}

void Uart16550::write_reg(unsigned reg, uint8_t value) {
    switch (reg) {
    case kRbrThr:
        if (lcr_ & lcr::kDlab) {
            divisor_ = uint16_t((divisor_ & 0xff00) | value);
            return;
        }
        // Writing THR clears THRE; it is empty again at once since the
        // character leaves immediately, so the line pulses (an edge for the PIC).
        thre_pending_ = false;
        update_irq_locked();
        transmit_locked(value);
        thre_pending_ = true;
        update_irq_locked();
        return;
    case kIer:
        if (lcr_ & lcr::kDlab) {
            divisor_ = uint16_t((divisor_ & 0x00ff) | (value << 8));
            return;
        }
        // Enabling ETBEI while THR is empty raises THRE at once (Linux and
        // Windows probe for this).
        if ((value & ier::kThre) && !(ier_ & ier::kThre)) thre_pending_ = true;
        ier_ = value & 0x0f;
        update_irq_locked();
        return;
    case kIirFcr: {
        const bool enable = value & 0x01;
        // Switching between 16450 and FIFO mode empties the FIFOs.
        if (enable != fifo_enabled()) clear_rx_fifo_locked();
        if (enable) {
            // The other bits are only programmed together with FCR0 = 1.
            fcr_ = value & 0xc9;
            if (value & 0x02) clear_rx_fifo_locked();
            // FCR1 (reset TX FIFO): the transmitter never holds data.
        } else {
            fcr_ &= uint8_t(~0x01);
        }
        update_irq_locked();
        backend_.notify_room();
        return;
    }
    case kLcr:
        if ((value & lcr::kBreak) && !(lcr_ & lcr::kBreak) && !break_logged_) {
            break_logged_ = true;
            log_cat(logcat::kUnimp, "{}: transmitting a break is not forwarded to the backend", name_);
        }
        lcr_ = value;
        return;
    case kMcr: {
        const bool was_loop = mcr_ & mcr::kLoop;
        mcr_ = value & 0x1f;
        update_modem_inputs_locked();
        update_irq_locked();
        if (was_loop && !(mcr_ & mcr::kLoop)) backend_.notify_room();
        return;
    }
    case kLsr:
        log_guest_error("{}: write {:#04x} to the read-only line status register ignored", name_, value);
        return;
    case kMsr:
        log_guest_error("{}: write {:#04x} to the read-only modem status register ignored", name_, value);
        return;
    case kScr: scr_ = value; return;
    }
}

uint64_t Uart16550::io_read(uint64_t offset, unsigned size) {
    if (size != 1)
        log_guest_error("{}: {}-byte read at offset {} split into byte reads", name_, size, offset);
    std::lock_guard lock(mutex_);
    check_timeout_locked(Clock::now());
    uint64_t result = 0;
    for (unsigned i = 0; i < size; i++) {
        const uint64_t reg = offset + i;
        const uint64_t byte = reg < kPortCount ? read_reg(unsigned(reg)) : 0xff;
        result |= byte << (8 * i);
    }
    return result;
}

void Uart16550::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if (size != 1)
        log_guest_error("{}: {}-byte write of {:#x} at offset {} split into byte writes", name_, size, value,
                        offset);
    std::lock_guard lock(mutex_);
    check_timeout_locked(Clock::now());
    for (unsigned i = 0; i < size; i++) {
        const uint64_t reg = offset + i;
        if (reg < kPortCount) write_reg(unsigned(reg), uint8_t(value >> (8 * i)));
    }
}

// ------------------------------------------------------------------ state

void Uart16550::save(StateWriter& out) const {
    std::lock_guard lock(mutex_);
    out.put(kStateVersion);
    out.put(rbr_);
    out.put(ier_);
    out.put(lcr_);
    out.put(mcr_);
    out.put(scr_);
    out.put(fcr_);
    out.put(lsr_errors_);
    out.put(uint8_t(fifo_error_));
    out.put(msr_inputs_);
    out.put(msr_deltas_);
    out.put(divisor_);
    out.put(uint8_t(thre_pending_));
    out.put(uint8_t(timeout_pending_));
    out.put(uint8_t(timeout_armed_));
    // The timeout deadline travels as the time left, since clocks differ.
    int64_t remaining = 0;
    if (timeout_armed_)
        remaining = std::max<int64_t>(
            0,
            std::chrono::duration_cast<std::chrono::nanoseconds>(timeout_deadline_ - Clock::now()).count());
    out.put(remaining);
    out.put(uint8_t(fifo_count_));
    for (unsigned i = 0; i < fifo_count_; i++) out.put(fifo_[(fifo_head_ + i) % kFifoSize]);
}

void Uart16550::load(StateReader& in) {
    uint8_t version = 0;
    in.get(version);
    if (version != kStateVersion)
        throw std::runtime_error(fmt::format("{}: unsupported state version {}", name_, version));
    uint8_t rbr, ier, lcr, mcr, scr, fcr, lsr_errors, fifo_error, msr_inputs, msr_deltas;
    uint16_t divisor;
    uint8_t thre_pending, timeout_pending, timeout_armed, count;
    int64_t remaining;
    in.get(rbr);
    in.get(ier);
    in.get(lcr);
    in.get(mcr);
    in.get(scr);
    in.get(fcr);
    in.get(lsr_errors);
    in.get(fifo_error);
    in.get(msr_inputs);
    in.get(msr_deltas);
    in.get(divisor);
    in.get(thre_pending);
    in.get(timeout_pending);
    in.get(timeout_armed);
    in.get(remaining);
    in.get(count);
    if (count > kFifoSize)
        throw std::runtime_error(fmt::format("{}: bad state (FIFO count {})", name_, count));
    std::array<uint16_t, kFifoSize> fifo{};
    for (unsigned i = 0; i < count; i++) in.get(fifo[i]);
    {
        std::lock_guard lock(mutex_);
        rbr_ = rbr;
        ier_ = ier & 0x0f;
        lcr_ = lcr;
        mcr_ = mcr & 0x1f;
        scr_ = scr;
        fcr_ = fcr & 0xc9;
        lsr_errors_ = lsr_errors & lsr::kErrors;
        fifo_error_ = fifo_error;
        msr_inputs_ = msr_inputs & 0xf0;
        msr_deltas_ = msr_deltas & 0x0f;
        divisor_ = divisor;
        thre_pending_ = thre_pending;
        timeout_pending_ = timeout_pending;
        timeout_armed_ = timeout_armed;
        timeout_deadline_ = Clock::now() + std::chrono::nanoseconds(remaining);
        fifo_ = fifo;
        fifo_head_ = 0;
        fifo_count_ = count;
        update_irq_locked();
    }
    timer_cv_.notify_all();
    backend_.notify_room();
}

} // namespace hayate
