// The 8042 keyboard controller of a PS/2-style PC (ports 0x60 data and 0x64
// status/command) with a PS/2 keyboard attached and nothing on the auxiliary
// (mouse) port.
//
// Controller: command byte and the rest of its 32-byte RAM (0x20-0x3F read,
// 0x60-0x7F write), aux disable/enable/interface test, self-test, keyboard
// interface test and disable/enable, input port, output port read/write (bit
// 0 = system reset, active low; bit 1 = A20 gate), writes into the keyboard
// or aux output buffer, write to aux, A20 off/on (0xDD/0xDF), and the pulse
// commands 0xF0-0xFF. The controller works instantly, so the input buffer
// is never full (IBF reads 0).
//
// Keyboard: reset, identify, LEDs, echo, scan code set 1 or 2 (set 3 is not
// implemented and is refused with a resend), typematic, enable/disable
// scanning, defaults, resend; a 16-byte output buffer with the overrun code.
// A backend feeds make/break codes of scan code set 2 through key_scancode();
// the keyboard converts them to set 1 if the guest selected it, and the
// controller translates them to set 1 while command-byte bit 6 is set.
//
// Absent aux device: a byte sent to it (0xD4) is not clocked out - the
// controller reports a transmit time-out: 0xFE in the output buffer,
// marked as aux data, with the time-out status bit set (IBM PS/2 keyboard/
// auxiliary device controller behaviour, which Linux's i8042 driver reads as
// SERIO_TIMEOUT). The aux interface test passes (0x00): the lines of an
// empty port are not stuck.
//
// IRQ1 follows "output buffer full with keyboard/controller data and
// command-byte bit 0", IRQ12 "output buffer full with aux data and bit 1"
// (the 8042's output-port bits 4 and 5 wired to the PIC).
//
// The port handlers run on the vCPU thread; key_scancode() may come from a
// backend thread: one mutex covers the state, and IRQ lines and the board
// callbacks are driven with it released.
#pragma once
#include "machine/io.h"
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

namespace hayate {

class I8042 final : public Device {
  public:
    static constexpr uint16_t kDataPort = 0x60;
    static constexpr uint16_t kCommandPort = 0x64;
    // io_read/io_write offsets when the device is addressed as one window
    // (tests); the board maps data_port() and command_port() instead,
    // because 0x61-0x63 belong to other devices.
    static constexpr uint64_t kDataOffset = 0;
    static constexpr uint64_t kCommandOffset = 4;

    // Status register.
    static constexpr uint8_t kStatusOutputFull = 0x01;
    static constexpr uint8_t kStatusInputFull = 0x02;
    static constexpr uint8_t kStatusSystem = 0x04;
    static constexpr uint8_t kStatusCommand = 0x08; // last write went to 0x64
    static constexpr uint8_t kStatusNotInhibited = 0x10;
    static constexpr uint8_t kStatusAuxData = 0x20;
    static constexpr uint8_t kStatusTimeout = 0x40;
    static constexpr uint8_t kStatusParity = 0x80;
    // Command byte (controller RAM byte 0).
    static constexpr uint8_t kCmdKbdIrq = 0x01;
    static constexpr uint8_t kCmdAuxIrq = 0x02;
    static constexpr uint8_t kCmdSystem = 0x04;
    static constexpr uint8_t kCmdKbdDisable = 0x10;
    static constexpr uint8_t kCmdAuxDisable = 0x20;
    static constexpr uint8_t kCmdTranslate = 0x40;
    // The command byte a PC BIOS leaves behind after POST (the board boots
    // without firmware): keyboard IRQ on, system flag set, aux port
    // disabled (no mouse), translation on.
    static constexpr uint8_t kPostCommandByte = kCmdKbdIrq | kCmdSystem | kCmdAuxDisable | kCmdTranslate;
    // Output port.
    static constexpr uint8_t kOutResetInactive = 0x01; // 0 asserts the system reset
    static constexpr uint8_t kOutA20 = 0x02;
    static constexpr uint8_t kOutKbdFull = 0x10; // IRQ1
    static constexpr uint8_t kOutAuxFull = 0x20; // IRQ12
    static constexpr unsigned kKeyboardBufferSize = 16;

    // `on_reset` is called when the guest resets the system through the
    // output port (bit 0 written or pulsed low); `on_a20` with the A20 gate
    // (output-port bit 1) after each change, and from reset()/load() so the
    // board can re-sync. Both are called with the lock released.
    I8042(IrqLine& irq1, IrqLine& irq12, std::function<void()> on_reset, std::function<void(bool)> on_a20,
          uint8_t initial_command_byte = kPostCommandByte);

    const char* name() const override { return "i8042"; }
    void reset() override;
    void save(StateWriter& out) const override;
    void load(StateReader& in) override;
    // Offset kDataOffset is port 0x60, kCommandOffset port 0x64; one byte each.
    uint64_t io_read(uint64_t offset, unsigned size) override;
    void io_write(uint64_t offset, unsigned size, uint64_t value) override;

    IoHandler& data_port() { return data_port_; }
    IoHandler& command_port() { return command_port_; }

    // Keyboard input from a backend (any thread): one byte of a scan code
    // set 2 make/break sequence (e.g. 0x1c, or 0xf0 0x1c for its release).
    // Dropped while the keyboard is not scanning (0xF5, or reset pending).
    void key_scancode(uint8_t set2_byte);

    uint8_t command_byte() const;
    bool a20() const;

  private:
    class Port final : public IoHandler {
      public:
        Port(I8042& dev, uint64_t offset) : dev_(dev), offset_(offset) {}
        uint64_t io_read(uint64_t, unsigned size) override { return dev_.io_read(offset_, size); }
        void io_write(uint64_t, unsigned size, uint64_t value) override {
            dev_.io_write(offset_, size, value);
        }

      private:
        I8042& dev_;
        uint64_t offset_;
    };

    // Actions to run once the lock is released.
    struct Effects {
        bool reset = false;
        bool a20_changed = false;
        bool a20_pulse = false;
        bool a20 = false;
    };

    uint8_t read_data_locked();
    uint8_t status_locked() const;
    void write_command_locked(uint8_t cmd, Effects& fx);
    void write_data_locked(uint8_t value, Effects& fx);
    void write_output_port_locked(uint8_t value, Effects& fx);
    void controller_output_locked(uint8_t value, bool aux, uint8_t errors = 0);
    void keyboard_receive_locked(uint8_t value);
    void keyboard_send_locked(uint8_t value);
    void keyboard_defaults_locked();
    void keyboard_power_on_locked();
    void refill_locked();
    void finish(std::unique_lock<std::mutex>& lock, const Effects& fx);

    IrqLine& irq1_;
    IrqLine& irq12_;
    std::function<void()> on_reset_;
    std::function<void(bool)> on_a20_;
    const uint8_t initial_command_byte_;
    Port data_port_{*this, kDataOffset};
    Port command_port_{*this, kCommandOffset};
    mutable std::mutex mu_;
    // Serialises the IRQ-line updates made after the lock is dropped.
    std::mutex irq_mu_;

    // --- controller (saved) ---
    std::array<uint8_t, 32> ram_{}; // byte 0: command byte
    uint8_t output_port_ = 0;       // bits 4-5 are computed from the output buffer
    uint8_t output_buffer_ = 0;
    bool output_full_ = false;
    bool output_aux_ = false;
    uint8_t output_errors_ = 0; // time-out/parity status bits of the byte in the buffer
    bool last_write_command_ = true;
    uint8_t pending_command_ = 0;  // controller command waiting for its data byte, or 0
    bool translate_break_ = false; // the controller saw a set-2 0xF0 prefix

    // --- keyboard (saved) ---
    std::deque<uint8_t> kbd_queue_;   // bytes waiting in the keyboard (at most 16 + overrun)
    uint8_t kbd_pending_command_ = 0; // keyboard command waiting for its argument, or 0
    uint8_t kbd_last_sent_ = 0;       // for 0xFE (resend)
    uint8_t kbd_scan_set_ = 2;
    uint8_t kbd_leds_ = 0;
    uint8_t kbd_typematic_ = 0;
    bool kbd_scanning_ = true;
    bool kbd_set1_break_ = false; // set 1 output: a set-2 0xF0 seen from the backend
};

} // namespace hayate
