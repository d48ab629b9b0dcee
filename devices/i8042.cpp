#include "devices/i8042.h"
#include "machine/log.h"
#include <stdexcept>

namespace hayate {

namespace {

// The 8042's set 2 -> set 1 translation table for codes 0x00-0x84 (the
// keys of an enhanced keyboard; 0x00 and the unused slots hold what the
// controller ROM has there). Codes from 0x85 up pass unchanged.
constexpr uint8_t kSet2ToSet1[0x85] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59, // 00
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b, // 10
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d, // 20
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f, // 30
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61, // 40
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76, // 50
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f, // 60
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54, // 70
    0x80, 0x81, 0x82, 0x41, 0x54,                                                                   // 80
};

uint8_t set2_to_set1(uint8_t code) { return code < sizeof(kSet2ToSet1) ? kSet2ToSet1[code] : code; }

// Keyboard replies.
constexpr uint8_t kAck = 0xfa;
constexpr uint8_t kResend = 0xfe;
constexpr uint8_t kBatPassed = 0xaa;
constexpr uint8_t kEcho = 0xee;
constexpr uint8_t kIdFirst = 0xab, kIdSecond = 0x83; // MF2 keyboard
constexpr uint8_t kSet2Break = 0xf0;
constexpr uint8_t kOverrunSet2 = 0x00, kOverrunSet1 = 0xff;
// 10.9 characters per second after a 500 ms delay.
constexpr uint8_t kDefaultTypematic = 0x2b;

// Input port: keyboard not inhibited (7), colour display (6 = 0), no
// manufacturing jumper (5), the pulled-up unused pins 4-2, and the idle
// (high) keyboard and aux data lines (0, 1).
constexpr uint8_t kInputPort = 0xbf;
// Output port after reset: reset line inactive, A20 enabled (the board
// starts kernels with A20 on), the keyboard and aux clock/data lines idle.
constexpr uint8_t kOutputPortReset = 0xcf;

// Controller commands taking a data byte through port 0x60.
bool takes_data(uint8_t cmd) { return (cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4); }

} // namespace

I8042::I8042(IrqLine& irq1, IrqLine& irq12, std::function<void()> on_reset, std::function<void(bool)> on_a20,
             uint8_t initial_command_byte)
    : irq1_(irq1), irq12_(irq12), on_reset_(std::move(on_reset)), on_a20_(std::move(on_a20)),
      initial_command_byte_(initial_command_byte) {
    if (!on_reset_ || !on_a20_) throw std::invalid_argument("i8042: needs reset and A20 callbacks");
    std::unique_lock<std::mutex> lock(mu_);
    ram_.fill(0);
    ram_[0] = initial_command_byte_;
    output_port_ = kOutputPortReset;
    keyboard_power_on_locked();
}

void I8042::finish(std::unique_lock<std::mutex>& lock, const Effects& fx) {
    const bool full_kbd = output_full_ && !output_aux_;
    const bool full_aux = output_full_ && output_aux_;
    const bool level1 = full_kbd && (ram_[0] & kCmdKbdIrq);
    const bool level12 = full_aux && (ram_[0] & kCmdAuxIrq);
    // Taking irq_mu_ before dropping mu_ keeps the line updates in the
    // order the levels were computed, whichever thread computed them.
    std::unique_lock<std::mutex> irq_lock(irq_mu_);
    lock.unlock();
    irq1_.set(level1);
    irq12_.set(level12);
    irq_lock.unlock();
    if (fx.a20_pulse) {
        on_a20_(false);
        on_a20_(true);
    }
    if (fx.a20_changed) on_a20_(fx.a20);
    if (fx.reset) on_reset_(); // last: the board may reset this device from here
}

void I8042::reset() {
    std::unique_lock<std::mutex> lock(mu_);
    ram_.fill(0);
    ram_[0] = initial_command_byte_;
    output_port_ = kOutputPortReset;
    output_buffer_ = 0;
    output_full_ = output_aux_ = false;
    output_errors_ = 0;
    last_write_command_ = true;
    pending_command_ = 0;
    translate_break_ = false;
    keyboard_power_on_locked();
    Effects fx;
    fx.a20_changed = true;
    fx.a20 = output_port_ & kOutA20;
    finish(lock, fx);
}

void I8042::save(StateWriter& out) const {
    std::lock_guard<std::mutex> lock(mu_);
    out.put_bytes(ram_.data(), ram_.size());
    for (uint8_t v : {output_port_, output_buffer_, output_errors_, pending_command_}) out.put(v);
    for (bool b : {output_full_, output_aux_, last_write_command_, translate_break_}) out.put(b);
    out.put(uint32_t(kbd_queue_.size()));
    for (uint8_t v : kbd_queue_) out.put(v);
    for (uint8_t v : {kbd_pending_command_, kbd_last_sent_, kbd_scan_set_, kbd_leds_, kbd_typematic_})
        out.put(v);
    for (bool b : {kbd_scanning_, kbd_set1_break_}) out.put(b);
}

void I8042::load(StateReader& in) {
    std::unique_lock<std::mutex> lock(mu_);
    in.get_bytes(ram_.data(), ram_.size());
    for (uint8_t* v : {&output_port_, &output_buffer_, &output_errors_, &pending_command_}) in.get(*v);
    for (bool* b : {&output_full_, &output_aux_, &last_write_command_, &translate_break_}) in.get(*b);
    uint32_t count;
    in.get(count);
    if (count > kKeyboardBufferSize + 1) throw std::runtime_error("i8042: keyboard buffer state too long");
    kbd_queue_.clear();
    for (uint32_t i = 0; i < count; i++) {
        uint8_t v;
        in.get(v);
        kbd_queue_.push_back(v);
    }
    for (uint8_t* v : {&kbd_pending_command_, &kbd_last_sent_, &kbd_scan_set_, &kbd_leds_, &kbd_typematic_})
        in.get(*v);
    for (bool* b : {&kbd_scanning_, &kbd_set1_break_}) in.get(*b);
    output_port_ &= uint8_t(~(kOutKbdFull | kOutAuxFull));
    output_errors_ &= kStatusTimeout | kStatusParity;
    if (!takes_data(pending_command_)) pending_command_ = 0;
    if (kbd_scan_set_ != 1 && kbd_scan_set_ != 2) kbd_scan_set_ = 2;
    Effects fx;
    fx.a20_changed = true;
    fx.a20 = output_port_ & kOutA20;
    finish(lock, fx);
}

uint8_t I8042::command_byte() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ram_[0];
}

bool I8042::a20() const {
    std::lock_guard<std::mutex> lock(mu_);
    return output_port_ & kOutA20;
}

uint8_t I8042::status_locked() const {
    uint8_t s = kStatusNotInhibited | output_errors_;
    if (output_full_) s |= kStatusOutputFull;
    if (output_full_ && output_aux_) s |= kStatusAuxData;
    if (ram_[0] & kCmdSystem) s |= kStatusSystem;
    if (last_write_command_) s |= kStatusCommand;
    return s;
}

uint64_t I8042::io_read(uint64_t offset, unsigned size) {
    uint64_t v = 0xff;
    if (offset == kDataOffset || offset == kCommandOffset) {
        std::unique_lock<std::mutex> lock(mu_);
        v = offset == kDataOffset ? read_data_locked() : status_locked();
        finish(lock, Effects{});
    }
    if (size > 1) log_guest_error("i8042: {}-byte read at offset {}: upper bytes float", size, offset);
    for (unsigned i = 1; i < size; i++) v |= 0xffull << (8 * i);
    return v;
}

void I8042::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if (size > 1) log_guest_error("i8042: {}-byte write of {:#x} at offset {}", size, value, offset);
    if (offset != kDataOffset && offset != kCommandOffset) return;
    std::unique_lock<std::mutex> lock(mu_);
    Effects fx;
    if (offset == kDataOffset)
        write_data_locked(uint8_t(value), fx);
    else
        write_command_locked(uint8_t(value), fx);
    refill_locked();
    finish(lock, fx);
}

uint8_t I8042::read_data_locked() {
    // Reading an empty buffer returns the previous byte again.
    const uint8_t v = output_buffer_;
    output_full_ = false;
    refill_locked();
    return v;
}

// The controller puts a byte of its own (a command reply, a D2/D3 byte, a
// transmit time-out) straight into the output buffer, over whatever is there.
void I8042::controller_output_locked(uint8_t value, bool aux, uint8_t errors) {
    output_buffer_ = value;
    output_full_ = true;
    output_aux_ = aux;
    output_errors_ = errors;
}

// Moves the keyboard's next byte into an empty output buffer while the
// keyboard interface is enabled, translating it if command-byte bit 6 is set.
void I8042::refill_locked() {
    while (!output_full_ && !(ram_[0] & kCmdKbdDisable) && !kbd_queue_.empty()) {
        uint8_t b = kbd_queue_.front();
        kbd_queue_.pop_front();
        kbd_last_sent_ = b;
        if (ram_[0] & kCmdTranslate) {
            if (b == kSet2Break) {
                translate_break_ = true; // not passed on: it sets bit 7 of the next code
                continue;
            }
            b = uint8_t(set2_to_set1(b) | (translate_break_ ? 0x80 : 0));
            translate_break_ = false;
        }
        controller_output_locked(b, false);
    }
}

void I8042::write_output_port_locked(uint8_t value, Effects& fx) {
    const uint8_t old = output_port_;
    output_port_ = uint8_t(value & ~(kOutKbdFull | kOutAuxFull));
    if ((old ^ output_port_) & kOutA20) {
        fx.a20_changed = true;
        fx.a20 = output_port_ & kOutA20;
    }
    if (!(output_port_ & kOutResetInactive)) fx.reset = true; // the reset line is active low
}

void I8042::write_command_locked(uint8_t cmd, Effects& fx) {
    last_write_command_ = true;
    pending_command_ = 0; // a new command abandons one still waiting for data
    if (takes_data(cmd)) {
        pending_command_ = cmd;
        return;
    }
    if (cmd >= 0x20 && cmd <= 0x3f) {
        controller_output_locked(ram_[cmd & 0x1f], false);
        return;
    }
    if (cmd >= 0xf0) {
        // Pulse output-port bits 0-3 low for about 6 us where the command's
        // low nibble has a 0. Bit 0 low is the system reset.
        const uint8_t pulsed = uint8_t(~cmd & 0x0f);
        if ((pulsed & kOutA20) && (output_port_ & kOutA20)) fx.a20_pulse = true;
        if (pulsed & kOutResetInactive) fx.reset = true;
        return;
    }
    switch (cmd) {
    case 0xa7: ram_[0] |= kCmdAuxDisable; break;
    case 0xa8: ram_[0] &= uint8_t(~kCmdAuxDisable); break;
    case 0xa9: controller_output_locked(0x00, false); break; // aux interface test: lines not stuck
    case 0xaa:
        // Self-test passed: 0x55, and the system flag says so.
        ram_[0] |= kCmdSystem;
        controller_output_locked(0x55, false);
        break;
    case 0xab: controller_output_locked(0x00, false); break; // keyboard interface test: no error
    case 0xad: ram_[0] |= kCmdKbdDisable; break;
    case 0xae: ram_[0] &= uint8_t(~kCmdKbdDisable); break;
    case 0xc0: controller_output_locked(kInputPort, false); break;
    case 0xd0: {
        uint8_t v = output_port_;
        if (output_full_) v |= output_aux_ ? kOutAuxFull : kOutKbdFull;
        controller_output_locked(v, false);
        break;
    }
    case 0xdd: write_output_port_locked(uint8_t(output_port_ & ~kOutA20), fx); break;
    case 0xdf: write_output_port_locked(uint8_t(output_port_ | kOutA20), fx); break;
    case 0xac: // diagnostic dump
    case 0xc1: // poll input port low nibble into status bits 4-7
    case 0xc2: // poll input port high nibble into status bits 4-7
    case 0xe0: // read test inputs
        log_warning("i8042: controller command {:#04x} is not implemented (no reply)", cmd);
        break;
    default: log_guest_error("i8042: unknown controller command {:#04x} ignored", cmd); break;
    }
}

void I8042::write_data_locked(uint8_t value, Effects& fx) {
    last_write_command_ = false;
    const uint8_t cmd = pending_command_;
    pending_command_ = 0;
    if (cmd >= 0x60 && cmd <= 0x7f) {
        ram_[cmd & 0x1f] = value;
        return;
    }
    switch (cmd) {
    case 0xd1: write_output_port_locked(value, fx); return;
    case 0xd2: controller_output_locked(value, false); return;
    case 0xd3: controller_output_locked(value, true); return;
    case 0xd4:
        // Nothing on the aux port clocks the byte out: transmit time-out.
        controller_output_locked(kResend, true, kStatusTimeout);
        return;
    default: break;
    }
    // A byte for the keyboard. Sending to the keyboard re-enables its
    // interface (clears command-byte bit 4), as AT controllers do.
    ram_[0] &= uint8_t(~kCmdKbdDisable);
    keyboard_receive_locked(value);
}

void I8042::keyboard_send_locked(uint8_t value) {
    if (kbd_queue_.size() < kKeyboardBufferSize)
        kbd_queue_.push_back(value);
    else if (kbd_queue_.size() == kKeyboardBufferSize)
        kbd_queue_.push_back(kbd_scan_set_ == 1 ? kOverrunSet1 : kOverrunSet2);
    // Beyond the overrun code, bytes are lost.
}

void I8042::keyboard_defaults_locked() { kbd_typematic_ = kDefaultTypematic; }

void I8042::keyboard_power_on_locked() {
    kbd_queue_.clear();
    kbd_pending_command_ = 0;
    kbd_last_sent_ = 0;
    kbd_scan_set_ = 2;
    kbd_leds_ = 0;
    kbd_scanning_ = true;
    kbd_set1_break_ = false;
    keyboard_defaults_locked();
}

void I8042::keyboard_receive_locked(uint8_t value) {
    if (const uint8_t cmd = kbd_pending_command_) {
        kbd_pending_command_ = 0;
        switch (cmd) {
        case 0xed:
            kbd_leds_ = value & 0x07;
            keyboard_send_locked(kAck);
            return;
        case 0xf3:
            kbd_typematic_ = value & 0x7f;
            keyboard_send_locked(kAck);
            return;
        case 0xf0:
            if (value == 0) {
                keyboard_send_locked(kAck);
                keyboard_send_locked(kbd_scan_set_);
            } else if (value == 1 || value == 2) {
                keyboard_send_locked(kAck);
                kbd_scan_set_ = value;
                kbd_set1_break_ = false;
            } else {
                if (value == 3)
                    log_warning("i8042: keyboard scan code set 3 is not implemented (answered with resend)");
                else
                    log_guest_error("i8042: keyboard scan code set {:#04x} does not exist", value);
                keyboard_send_locked(kResend);
            }
            return;
        default: break;
        }
    }
    switch (value) {
    case 0xff:
        keyboard_power_on_locked();
        keyboard_send_locked(kAck);
        keyboard_send_locked(kBatPassed);
        break;
    case 0xfe: keyboard_send_locked(kbd_last_sent_); break;
    case 0xf6: // set defaults, keep scanning as it was
        kbd_queue_.clear();
        keyboard_defaults_locked();
        keyboard_send_locked(kAck);
        break;
    case 0xf5: // defaults, stop scanning
        kbd_queue_.clear();
        keyboard_defaults_locked();
        kbd_scanning_ = false;
        keyboard_send_locked(kAck);
        break;
    case 0xf4:
        kbd_queue_.clear();
        kbd_scanning_ = true;
        keyboard_send_locked(kAck);
        break;
    case 0xf3:
    case 0xf0:
    case 0xed:
        kbd_pending_command_ = value;
        keyboard_send_locked(kAck);
        break;
    case 0xf2:
        keyboard_send_locked(kAck);
        keyboard_send_locked(kIdFirst);
        keyboard_send_locked(kIdSecond);
        break;
    case 0xee: keyboard_send_locked(kEcho); break;
    default:
        log_guest_error("i8042: unknown keyboard command {:#04x} (answered with resend)", value);
        keyboard_send_locked(kResend);
        break;
    }
}

void I8042::key_scancode(uint8_t set2_byte) {
    std::unique_lock<std::mutex> lock(mu_);
    if (kbd_scanning_) {
        if (kbd_scan_set_ == 2) {
            keyboard_send_locked(set2_byte);
        } else if (set2_byte == kSet2Break) {
            kbd_set1_break_ = true;
        } else {
            keyboard_send_locked(uint8_t(set2_to_set1(set2_byte) | (kbd_set1_break_ ? 0x80 : 0)));
            kbd_set1_break_ = false;
        }
        refill_locked();
    }
    finish(lock, Effects{});
}

} // namespace hayate
