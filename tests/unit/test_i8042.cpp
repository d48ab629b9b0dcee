// The 8042 keyboard controller and its PS/2 keyboard: controller commands,
// status bits, the command byte, keyboard commands, translation, IRQ1, the
// output port (A20, reset) and the absent aux device.
#include "devices/i8042.h"
#include <catch2/catch.hpp>
#include <vector>

using namespace hayate;

namespace {

struct Fixture {
    std::vector<bool> irq1_edges, irq12_edges;
    IrqLine irq1{[this](bool l) { irq1_edges.push_back(l); }};
    IrqLine irq12{[this](bool l) { irq12_edges.push_back(l); }};
    int resets = 0;
    std::vector<bool> a20;
    I8042 kbc{irq1, irq12, [this] { resets++; }, [this](bool on) { a20.push_back(on); }};

    uint8_t status() { return uint8_t(kbc.io_read(I8042::kCommandOffset, 1)); }
    uint8_t data() { return uint8_t(kbc.io_read(I8042::kDataOffset, 1)); }
    void command(uint8_t c) { kbc.io_write(I8042::kCommandOffset, 1, c); }
    void send(uint8_t d) { kbc.io_write(I8042::kDataOffset, 1, d); }
    // Every byte waiting in the output buffer, reading until OBF clears.
    std::vector<uint8_t> drain() {
        std::vector<uint8_t> out;
        while ((status() & I8042::kStatusOutputFull) && out.size() < 64) out.push_back(data());
        return out;
    }
    void set_command_byte(uint8_t v) {
        command(0x60);
        send(v);
    }
};

} // namespace

TEST_CASE("i8042: self-test, interface tests, status after reset", "[i8042]") {
    Fixture f;
    // After POST: nothing waiting, keyboard not inhibited, system flag set.
    uint8_t s = f.status();
    CHECK_FALSE(s & I8042::kStatusOutputFull);
    CHECK_FALSE(s & I8042::kStatusInputFull);
    CHECK(s & I8042::kStatusNotInhibited);
    CHECK(s & I8042::kStatusSystem);

    f.set_command_byte(0x00); // system flag off
    CHECK_FALSE(f.status() & I8042::kStatusSystem);
    CHECK_FALSE(f.status() & I8042::kStatusCommand); // the last write went to 0x60

    f.command(0xaa);
    s = f.status();
    CHECK(s & I8042::kStatusOutputFull);
    CHECK(s & I8042::kStatusCommand);
    CHECK(f.data() == 0x55);
    CHECK(f.status() & I8042::kStatusSystem); // a passed self-test sets the system flag
    CHECK_FALSE(f.status() & I8042::kStatusOutputFull);

    f.command(0xab);
    CHECK(f.drain() == std::vector<uint8_t>{0x00});
    f.command(0xa9);
    CHECK(f.drain() == std::vector<uint8_t>{0x00});
    f.command(0xc0);
    CHECK((f.data() & 0x80) == 0x80); // input port bit 7: keyboard not inhibited
}

TEST_CASE("i8042: command byte read/write and enable/disable commands", "[i8042]") {
    Fixture f;
    f.command(0x20);
    CHECK(f.data() == I8042::kPostCommandByte);
    f.set_command_byte(0x47);
    f.command(0x20);
    CHECK(f.data() == 0x47);
    CHECK(f.kbc.command_byte() == 0x47);

    f.command(0xad); // disable keyboard
    CHECK(f.kbc.command_byte() == (0x47 | I8042::kCmdKbdDisable));
    f.command(0xae);
    CHECK(f.kbc.command_byte() == 0x47);
    f.command(0xa7); // disable aux
    CHECK(f.kbc.command_byte() == (0x47 | I8042::kCmdAuxDisable));
    f.command(0xa8);
    CHECK(f.kbc.command_byte() == 0x47);

    // The rest of the controller RAM: 0x60+n writes byte n, 0x20+n reads it.
    f.command(0x65);
    f.send(0x5a);
    f.command(0x25);
    CHECK(f.data() == 0x5a);
    CHECK(f.kbc.command_byte() == 0x47);
}

TEST_CASE("i8042: keyboard reset and identify, raw and translated", "[i8042]") {
    Fixture f;
    f.set_command_byte(0x05); // IRQ1 on, no translation
    f.send(0xff);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa, 0xaa});
    f.send(0xf2);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa, 0xab, 0x83});
    f.send(0xee);
    CHECK(f.drain() == std::vector<uint8_t>{0xee});
    f.send(0xed); // LEDs, then their argument
    CHECK(f.drain() == std::vector<uint8_t>{0xfa});
    f.send(0x07);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa});
    f.send(0xf0); // get the scan code set
    f.send(0x00);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa, 0xfa, 0x02});
    f.send(0x12); // not a keyboard command
    CHECK(f.drain() == std::vector<uint8_t>{0xfe});

    // Translation maps the second ID byte 0x83 (set 2 code of F7) to 0x41
    // (F7 in set 1), and the set-2 answer 0x02 to 0x41 too (the table's
    // entry for the unused code 0x02); 0xFA and 0xAB pass unchanged.
    f.set_command_byte(0x45);
    f.send(0xf2);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa, 0xab, 0x41});
    f.send(0xf0);
    f.send(0x00);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa, 0xfa, 0x41});
}

TEST_CASE("i8042: scan codes raise IRQ1, reading lowers it; translation to set 1", "[i8042]") {
    Fixture f;
    f.set_command_byte(0x45); // IRQ1, system, translate
    f.irq1_edges.clear();
    f.kbc.key_scancode(0x1c); // 'A' make in set 2
    CHECK(f.irq1.level());
    CHECK(f.irq1_edges == std::vector<bool>{true});
    CHECK(f.data() == 0x1e); // 'A' make in set 1
    CHECK_FALSE(f.irq1.level());
    CHECK(f.irq1_edges == std::vector<bool>{true, false});

    f.kbc.key_scancode(0xf0); // 'A' break: F0 1C -> 9E
    f.kbc.key_scancode(0x1c);
    CHECK(f.drain() == std::vector<uint8_t>{0x9e});
    f.kbc.key_scancode(0xe0); // right Ctrl make (E0 14) -> E0 1D
    f.kbc.key_scancode(0x14);
    CHECK(f.irq1.level());
    CHECK(f.data() == 0xe0);
    CHECK(f.irq1.level()); // the next byte follows at once
    CHECK(f.data() == 0x1d);
    CHECK_FALSE(f.irq1.level());

    // Without translation the set 2 bytes arrive as sent.
    f.set_command_byte(0x05);
    f.kbc.key_scancode(0xf0);
    f.kbc.key_scancode(0x1c);
    CHECK(f.drain() == std::vector<uint8_t>{0xf0, 0x1c});

    // IRQ1 disabled in the command byte: data waits, no interrupt.
    f.set_command_byte(0x04);
    f.irq1_edges.clear();
    f.kbc.key_scancode(0x1c);
    CHECK(f.status() & I8042::kStatusOutputFull);
    CHECK(f.irq1_edges.empty());
    CHECK(f.data() == 0x1c);
    CHECK(f.irq12_edges.empty());
}

TEST_CASE("i8042: disabled keyboard interface, scanning off, overrun", "[i8042]") {
    Fixture f;
    f.set_command_byte(0x05);
    f.command(0xad);
    for (int i = 0; i < 20; i++) f.kbc.key_scancode(0x1c);
    CHECK_FALSE(f.status() & I8042::kStatusOutputFull); // held in the keyboard
    f.command(0xae);
    std::vector<uint8_t> expect(16, 0x1c);
    expect.push_back(0x00); // set 2 overrun code after the 16-byte buffer
    CHECK(f.drain() == expect);

    f.send(0xf5); // disable scanning
    CHECK(f.drain() == std::vector<uint8_t>{0xfa});
    f.kbc.key_scancode(0x1c);
    CHECK(f.drain().empty());
    f.send(0xf4);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa});
    f.kbc.key_scancode(0x1c);
    CHECK(f.drain() == std::vector<uint8_t>{0x1c});

    // Keyboard set 1 (no controller translation): the keyboard converts.
    f.send(0xf0);
    f.send(0x01);
    CHECK(f.drain() == std::vector<uint8_t>{0xfa, 0xfa});
    f.kbc.key_scancode(0xf0);
    f.kbc.key_scancode(0x1c);
    CHECK(f.drain() == std::vector<uint8_t>{0x9e});
}

TEST_CASE("i8042: output port A20 and reset, pulse commands", "[i8042]") {
    Fixture f;
    f.set_command_byte(0x04); // no IRQs, so the output port's IRQ bits stay clear
    f.command(0xd0);
    const uint8_t port = f.data();
    CHECK((port & 0x03) == 0x03); // reset line inactive, A20 on
    CHECK(f.kbc.a20());

    f.command(0xd1);
    f.send(0xdd); // A20 off, reset inactive
    CHECK(f.a20 == std::vector<bool>{false});
    CHECK(f.resets == 0);
    f.command(0xd0);
    CHECK(f.data() == 0xcd);
    f.command(0xd1);
    f.send(0xdf);
    CHECK(f.a20 == std::vector<bool>{false, true});
    f.command(0xdd);
    f.command(0xdf);
    CHECK(f.a20 == std::vector<bool>{false, true, false, true});
    CHECK(f.resets == 0);

    f.command(0xff); // pulses nothing
    CHECK(f.resets == 0);
    f.command(0xfe); // pulses bit 0: system reset
    CHECK(f.resets == 1);
    f.command(0xd1);
    f.send(0xde); // bit 0 written low: reset
    CHECK(f.resets == 2);
}

TEST_CASE("i8042: aux port without a device", "[i8042]") {
    Fixture f;
    f.set_command_byte(0x07); // both IRQs
    f.command(0xd4);
    f.send(0xff); // reset the (absent) mouse
    const uint8_t s = f.status();
    CHECK(s & I8042::kStatusOutputFull);
    CHECK(s & I8042::kStatusAuxData);
    CHECK(s & I8042::kStatusTimeout);
    CHECK(f.irq12.level());
    CHECK_FALSE(f.irq1.level());
    CHECK(f.data() == 0xfe);
    CHECK_FALSE(f.irq12.level());

    // The controller's own loopback into the aux output buffer works.
    f.command(0xd3);
    f.send(0x5a);
    CHECK((f.status() & (I8042::kStatusAuxData | I8042::kStatusTimeout)) == I8042::kStatusAuxData);
    CHECK(f.irq12.level());
    CHECK(f.data() == 0x5a);
    f.command(0xd2);
    f.send(0x33);
    CHECK(f.irq1.level());
    CHECK(f.data() == 0x33);
}

TEST_CASE("i8042: save/load round trip", "[i8042]") {
    Fixture f;
    f.set_command_byte(0x05);
    f.command(0xad);
    f.kbc.key_scancode(0x1c);
    f.kbc.key_scancode(0x32);
    f.command(0xd1);
    f.send(0xdd);
    f.command(0x60); // waiting for its data byte
    StateWriter w;
    f.kbc.save(w);

    Fixture g;
    StateReader r(w.bytes());
    g.kbc.load(r);
    CHECK(g.a20.back() == false);
    g.send(0x05 | I8042::kCmdKbdDisable); // completes the saved 0x60
    g.command(0xae);
    CHECK(g.drain() == std::vector<uint8_t>{0x1c, 0x32});

    g.kbc.reset();
    CHECK(g.kbc.command_byte() == I8042::kPostCommandByte);
    CHECK(g.a20.back() == true);
}
