// National Semiconductor PC16550D-compatible UART (the "16550A" of PC serial
// ports), connected to a character backend. Eight byte-wide registers; the
// board maps it at e.g. 0x3f8 (COM1, IRQ 4) with size kPortCount.
//
// Transmission is instantaneous: a THR write goes straight to the backend
// (or, in loopback, into the receiver), so THRE and TEMT read as 1.
// Reception is paced by the backend through CharReceiver::can_receive().
// Backends carry whole bytes with no framing, so the word length, parity and
// stop bits in LCR only set the timing; bytes pass unmasked in both
// directions (like QEMU), which keeps guests that never program LCR (reset
// value: 5-bit words) readable.
// The FIFO character timeout runs on host monotonic time (4 character times
// at the programmed baud rate and frame format) on a small timer thread.
#pragma once
#include "machine/chardev.h"
#include "machine/io.h"
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace hayate {

class Uart16550 final : public Device, private CharReceiver {
  public:
    static constexpr unsigned kPortCount = 8;
    static constexpr unsigned kFifoSize = 16;

    // Attaches itself to `backend` as its receiver; both references must
    // outlive the UART. `irq` may be driven from the backend's input thread
    // and the UART's timer thread as well as the thread doing port I/O.
    Uart16550(std::string name, CharBackend& backend, IrqLine& irq);
    ~Uart16550() override;

    const char* name() const override { return name_.c_str(); }
    void reset() override; // the chip's master reset (divisor and SCR survive)
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;

    // An access wider than a byte is split into byte accesses at consecutive
    // registers, as the ISA bus does for an 8-bit device (and QEMU does);
    // bytes past the last register read as all ones and writes to them are
    // dropped, as on an unmapped port. Logged as a guest error.
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

  private:
    using Clock = std::chrono::steady_clock;

    // CharReceiver (backend input thread).
    size_t can_receive() override;
    void receive(const uint8_t* data, size_t len) override;
    void receive_break() override;

    uint8_t read_reg(unsigned reg);
    void write_reg(unsigned reg, uint8_t value);

    // All *_locked functions expect mutex_ held.
    bool fifo_enabled() const { return fcr_ & 0x01; }
    unsigned trigger_level() const;
    void rx_push_locked(uint8_t data, uint8_t errors);
    uint8_t rx_pop_locked();
    void reveal_top_locked();
    void clear_rx_fifo_locked();
    void transmit_locked(uint8_t data);
    uint8_t modem_inputs() const;
    void update_modem_inputs_locked();
    unsigned interrupt_id_locked() const;
    void update_irq_locked();
    Clock::duration timeout_period() const;
    void restart_timeout_locked();
    void check_timeout_locked(Clock::time_point now);
    void timer_loop();
    void reset_locked();

    std::string name_;
    CharBackend& backend_;
    IrqLine& irq_;

    mutable std::mutex mutex_;
    std::condition_variable timer_cv_;
    bool timer_stop_ = false;
    std::thread timer_;

    // --- guest-visible state (saved) ---
    uint8_t rbr_ = 0; // last character read from the receiver
    uint8_t ier_ = 0; // bits 0-3
    uint8_t lcr_ = 0;
    uint8_t mcr_ = 0; // bits 0-4
    uint8_t scr_ = 0;
    uint8_t fcr_ = 0;         // the programmed bits: 0 (enable), 3 (DMA mode), 6-7 (trigger)
    uint8_t lsr_errors_ = 0;  // latched OE, PE, FE, BI (LSR bits 1-4), cleared by reading LSR
    bool fifo_error_ = false; // LSR bit 7
    uint8_t msr_inputs_ = 0;  // MSR bits 4-7: CTS, DSR, RI, DCD as the chip sees them
    uint8_t msr_deltas_ = 0;  // MSR bits 0-3, cleared by reading MSR
    uint16_t divisor_ = 12;   // 9600 baud, what a PC BIOS programs; unaffected by reset
    bool thre_pending_ = false;
    bool timeout_pending_ = false;
    bool timeout_armed_ = false;
    Clock::time_point timeout_deadline_{};
    // Receiver FIFO (one entry in 16450 mode): data in bits 0-7, that
    // character's PE/FE/BI in bits 8-15 at their LSR positions.
    std::array<uint16_t, kFifoSize> fifo_{};
    unsigned fifo_head_ = 0, fifo_count_ = 0;

    bool break_logged_ = false;
};

} // namespace hayate
