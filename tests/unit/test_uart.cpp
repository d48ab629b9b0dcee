// 16550A behaviour against the PC16550D datasheet.
#include "devices/uart16550.h"
#include "machine/chardev.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace hayate;

namespace {

enum : unsigned {
    RBR = 0,
    THR = 0,
    DLL = 0,
    IER = 1,
    DLM = 1,
    IIR = 2,
    FCR = 2,
    LCR = 3,
    MCR = 4,
    LSR = 5,
    MSR = 6,
    SCR = 7
};

// A backend the test drives by hand: captures output, injects input the way
// an input thread would.
class TestBackend final : public CharBackend {
  public:
    void write(const uint8_t* data, size_t len) override {
        out.append(reinterpret_cast<const char*>(data), len);
    }
    void notify_room() override { room_notifications++; }
    size_t room() { return receiver_room(); }
    void type(const std::string& s) { deliver(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
    void send_break() { deliver_break(); }
    std::string out;
    int room_notifications = 0;
};

struct Board {
    TestBackend backend;
    IrqLine irq;
    int rising_edges = 0;
    Uart16550 uart{"com1", backend, irq};
    Board() {
        irq.connect([this](bool level) {
            if (level) rising_edges++;
        });
    }
    uint8_t in(unsigned reg) { return uint8_t(uart.io_read(reg, 1)); }
    void out(unsigned reg, uint8_t v) { uart.io_write(reg, 1, v); }
    void set_divisor(uint16_t d) {
        uint8_t lcr = in(LCR);
        out(LCR, lcr | 0x80);
        out(DLL, uint8_t(d));
        out(DLM, uint8_t(d >> 8));
        out(LCR, lcr);
    }
    // Slowest baud rate: the FIFO timeout (4 characters) is ~23 s away, so a
    // test can look at trigger levels without the timeout interfering.
    void no_timeout() { set_divisor(0xffff); }
};

template <typename F> bool wait_for(F cond) {
    for (int i = 0; i < 2000; i++) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
}

} // namespace

TEST_CASE("uart: register values after reset", "[uart]") {
    Board b;
    CHECK(b.in(IER) == 0x00);
    CHECK(b.in(IIR) == 0x01);
    CHECK(b.in(LCR) == 0x00);
    CHECK(b.in(MCR) == 0x00);
    CHECK(b.in(LSR) == 0x60);
    // A connected console: CTS, DSR, DCD active, no ring, no deltas.
    CHECK(b.in(MSR) == 0xb0);
    CHECK_FALSE(b.irq.level());

    b.out(SCR, 0x5a);
    CHECK(b.in(SCR) == 0x5a);
    b.out(IER, 0x0f);
    b.out(LCR, 0x1b);
    b.out(MCR, 0x0b);
    b.out(FCR, 0xc7);
    b.uart.reset();
    CHECK(b.in(IER) == 0x00);
    CHECK(b.in(IIR) == 0x01);
    CHECK(b.in(LCR) == 0x00);
    CHECK(b.in(MCR) == 0x00);
    CHECK(b.in(LSR) == 0x60);
    CHECK(b.in(MSR) == 0xb0);
    CHECK(b.in(SCR) == 0x5a); // not touched by master reset
    CHECK_FALSE(b.irq.level());
}

TEST_CASE("uart: IER keeps only bits 0-3", "[uart]") {
    Board b;
    b.out(IER, 0xff);
    CHECK(b.in(IER) == 0x0f);
}

TEST_CASE("uart: DLAB switches offsets 0 and 1 to the divisor latch", "[uart]") {
    Board b;
    b.out(IER, 0x05);
    b.out(LCR, 0x83);
    CHECK(b.in(LCR) == 0x83);
    b.out(DLL, 0x34);
    b.out(DLM, 0x12);
    CHECK(b.in(DLL) == 0x34);
    CHECK(b.in(DLM) == 0x12);
    CHECK(b.backend.out.empty()); // the DLL write was not a transmission
    b.out(LCR, 0x03);
    CHECK(b.in(IER) == 0x05);
    b.out(THR, 'x');
    CHECK(b.backend.out == "x");
    // The divisor latch survives a master reset.
    b.uart.reset();
    b.out(LCR, 0x80);
    CHECK(b.in(DLL) == 0x34);
    CHECK(b.in(DLM) == 0x12);
}

TEST_CASE("uart: transmission goes to the backend at once", "[uart]") {
    Board b;
    b.out(LCR, 0x03);
    for (char c : std::string("hello\n")) b.out(THR, uint8_t(c));
    CHECK(b.backend.out == "hello\n");
    CHECK(b.in(LSR) == 0x60); // THRE and TEMT
    // Bytes go out whole whatever the word length (the backend has no framing).
    b.out(LCR, 0x00);
    b.out(THR, 0xc1);
    CHECK(uint8_t(b.backend.out.back()) == 0xc1);
}

TEST_CASE("uart: THRE interrupt set and clear rules", "[uart]") {
    Board b;
    b.out(MCR, 0x08); // OUT2: the PC's interrupt enable
    CHECK_FALSE(b.irq.level());

    // Enabling ETBEI with THR empty raises THRE at once.
    b.out(IER, 0x02);
    CHECK(b.irq.level());
    // Reading IIR while it reports THRE acknowledges it.
    CHECK(b.in(IIR) == 0x02);
    CHECK_FALSE(b.irq.level());
    CHECK(b.in(IIR) == 0x01);

    // Writing THR: THR empties again immediately: THRE comes back, as an edge.
    int edges = b.rising_edges;
    b.out(THR, 'a');
    CHECK(b.irq.level());
    CHECK(b.rising_edges == edges + 1);
    CHECK(b.in(IIR) == 0x02);

    // Rewriting IER with ETBEI already set does not raise it again...
    b.out(IER, 0x02);
    CHECK(b.in(IIR) == 0x01);
    // ...but a 0 -> 1 transition does.
    b.out(IER, 0x00);
    b.out(IER, 0x02);
    CHECK(b.in(IIR) == 0x02);

    // Without OUT2 the line stays low though IIR reports the interrupt.
    b.out(IER, 0x00);
    b.out(MCR, 0x00);
    b.out(IER, 0x02);
    CHECK_FALSE(b.irq.level());
    b.out(MCR, 0x08);
    CHECK(b.irq.level());
    // Disabling ETBEI drops the line.
    b.out(IER, 0x00);
    CHECK_FALSE(b.irq.level());
}

TEST_CASE("uart: reading IIR does not acknowledge THRE when it reports something else", "[uart]") {
    Board b;
    b.no_timeout();
    b.out(MCR, 0x08);
    b.out(IER, 0x03);
    b.backend.type("z"); // 16450 mode: RDA outranks THRE
    CHECK(b.in(IIR) == 0x04);
    CHECK(b.in(IIR) == 0x04);
    CHECK(b.in(RBR) == 'z');
    CHECK(b.in(IIR) == 0x02); // THRE was still pending
    CHECK(b.in(IIR) == 0x01);
}

TEST_CASE("uart: FCR enables FIFOs (IIR bits 6-7) and clears them", "[uart]") {
    Board b;
    b.no_timeout();
    b.out(FCR, 0x01);
    CHECK(b.in(IIR) == 0xc1);
    b.backend.type("abc");
    CHECK(b.in(LSR) == 0x61);
    b.out(FCR, 0x03); // clear RX FIFO
    CHECK(b.in(LSR) == 0x60);
    b.backend.type("abc");
    b.out(FCR, 0x00); // leaving FIFO mode empties the FIFOs
    CHECK(b.in(IIR) == 0x01);
    CHECK(b.in(LSR) == 0x60);
    // Trigger bits are not programmed while FCR0 is 0.
    b.out(FCR, 0xc0);
    CHECK(b.in(IIR) == 0x01);
}

TEST_CASE("uart: receive trigger levels", "[uart]") {
    const auto [fcr, level] =
        GENERATE(table<uint8_t, unsigned>({{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}}));
    Board b;
    b.no_timeout();
    b.out(FCR, fcr);
    b.out(IER, 0x01);
    b.out(MCR, 0x08);
    for (unsigned i = 1; i < level; i++) b.backend.type(std::string(1, char('a' + i)));
    CHECK(b.in(IIR) == 0xc1);
    CHECK_FALSE(b.irq.level());
    CHECK(b.in(LSR) == (level > 1 ? 0x61 : 0x60));
    b.backend.type("!");
    CHECK(b.in(IIR) == 0xc4);
    CHECK(b.irq.level());
    // Falls below the trigger level again: the interrupt goes away.
    b.in(RBR);
    CHECK(b.in(IIR) == 0xc1);
    CHECK_FALSE(b.irq.level());
}

TEST_CASE("uart: FIFO character timeout", "[uart]") {
    Board b;
    b.set_divisor(48); // 2400 baud: 4 characters take ~17 ms
    b.out(LCR, 0x03);
    b.out(FCR, 0xc1); // trigger at 14
    b.out(IER, 0x01);
    b.out(MCR, 0x08);
    b.backend.type("ab");
    // The timer thread raises the line with nobody touching a register.
    REQUIRE(wait_for([&] { return b.irq.level(); }));
    CHECK(b.in(IIR) == 0xcc);
    // Reading one character clears the indication and restarts the timer.
    CHECK(b.in(RBR) == 'a');
    CHECK_FALSE(b.irq.level());
    REQUIRE(wait_for([&] { return b.irq.level(); }));
    CHECK(b.in(IIR) == 0xcc);
    CHECK(b.in(RBR) == 'b');
    CHECK(b.in(IIR) == 0xc1);
    // An empty FIFO never times out.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(b.in(IIR) == 0xc1);
    CHECK_FALSE(b.irq.level());
}

TEST_CASE("uart: no character timeout before 4 character times or in 16450 mode", "[uart]") {
    Board b;
    b.no_timeout();
    b.out(FCR, 0xc1);
    b.out(IER, 0x01);
    b.backend.type("a");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(b.in(IIR) == 0xc1);

    Board c;
    c.set_divisor(1);
    c.out(IER, 0x01);
    c.out(MCR, 0x08);
    c.backend.type("a");
    CHECK(c.in(IIR) == 0x04); // 16450 mode: data available at once
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(c.in(IIR) == 0x04);
}

TEST_CASE("uart: interrupt priorities", "[uart]") {
    Board b;
    b.no_timeout();
    b.out(FCR, 0x01); // trigger 1
    b.out(MCR, 0x10); // loopback: modem inputs now follow MCR -> delta bits
    b.out(IER, 0x0f); // THRE pending from the ETBEI rising edge
    for (int i = 0; i < 17; i++) b.out(THR, uint8_t('A' + i)); // one too many: overrun
    CHECK(b.in(IIR) == 0xc6);                                  // receiver line status first
    CHECK(b.in(LSR) == 0x63);                                  // DR, OE, THRE, TEMT
    CHECK(b.in(IIR) == 0xc4);                                  // then received data
    for (int i = 0; i < 16; i++) CHECK(b.in(RBR) == 'A' + i);
    CHECK(b.in(IIR) == 0xc2); // then THRE (acknowledged by this read)
    CHECK(b.in(IIR) == 0xc0); // then modem status
    CHECK(b.in(MSR) == 0x0b); // CTS, DSR, DCD fell
    CHECK(b.in(IIR) == 0xc1);
}

TEST_CASE("uart: loopback", "[uart]") {
    Board b;
    b.no_timeout();
    b.out(MCR, 0x10);
    CHECK(b.backend.room() == 0); // external input waits while the input pin is disconnected
    b.out(THR, 'q');
    CHECK(b.backend.out.empty());
    CHECK(b.in(LSR) == 0x61);
    CHECK(b.in(RBR) == 'q');

    // Entering loopback: CTS, DSR, DCD (from the console) fall to the MCR bits (0).
    CHECK(b.in(MSR) == 0x0b);
    CHECK(b.in(MSR) == 0x00);
    b.out(MCR, 0x11); // DTR -> DSR
    CHECK(b.in(MSR) == (0x20 | 0x02));
    b.out(MCR, 0x12); // RTS -> CTS
    CHECK(b.in(MSR) == (0x10 | 0x03));
    b.out(MCR, 0x14); // OUT1 -> RI: rising edge of RI sets no delta
    CHECK(b.in(MSR) == (0x40 | 0x01));
    b.out(MCR, 0x18); // OUT2 -> DCD; RI trailing edge -> TERI
    CHECK(b.in(MSR) == (0x80 | 0x08 | 0x04));
    b.out(MCR, 0x1f);
    CHECK(b.in(MSR) == (0xf0 | 0x03));
    CHECK(b.in(MCR) == 0x1f);

    // Interrupts are reported in IIR but the OUT2 pin is forced inactive, so
    // none reaches the PIC.
    b.out(IER, 0x0f);
    CHECK(b.irq.level() == false);
    CHECK(b.in(IIR) == 0x02); // (acknowledges THRE)
    b.out(IER, 0x00);
    b.out(IER, 0x02); // THRE again
    CHECK_FALSE(b.irq.level());
    b.out(MCR, 0x08); // loopback off: OUT2 lets the pending THRE through
    CHECK(b.irq.level());
    CHECK(b.backend.room() == 1);
    CHECK(b.in(MSR) == (0xb0 | 0x04)); // the console's lines again; RI fell: TERI
}

TEST_CASE("uart: overrun", "[uart]") {
    SECTION("FIFO mode: the 17th character is lost") {
        Board b;
        b.no_timeout();
        b.out(FCR, 0x01);
        CHECK(b.backend.room() == 16);
        b.backend.type("0123456789abcdef");
        CHECK(b.backend.room() == 0);
        b.backend.type("X");
        CHECK(b.in(LSR) == 0x63);
        CHECK(b.in(LSR) == 0x61); // OE cleared by the read
        std::string got;
        while (b.in(LSR)&1) got.push_back(char(b.in(RBR)));
        CHECK(got == "0123456789abcdef");
    }
    SECTION("16450 mode: the unread character is overwritten") {
        Board b;
        CHECK(b.backend.room() == 1);
        b.backend.type("a");
        CHECK(b.backend.room() == 0);
        b.backend.type("b");
        CHECK(b.in(LSR) == 0x63);
        CHECK(b.in(RBR) == 'b');
        CHECK(b.in(LSR) == 0x60);
        CHECK(b.in(RBR) == 'b'); // empty: the holding register keeps its value
    }
    SECTION("line status interrupt") {
        Board b;
        b.out(IER, 0x04);
        b.out(MCR, 0x08);
        b.backend.type("ab");
        CHECK(b.irq.level());
        CHECK(b.in(IIR) == 0x06);
        b.in(LSR);
        CHECK_FALSE(b.irq.level());
        CHECK(b.in(IIR) == 0x01);
    }
}

TEST_CASE("uart: break and the FIFO error bit", "[uart]") {
    Board b;
    b.no_timeout();
    b.out(FCR, 0x01);
    b.backend.type("a");
    b.backend.send_break();
    b.backend.type("b");
    CHECK(b.in(LSR) == 0xe1); // error in the FIFO, not at the top yet
    CHECK(b.in(LSR) == 0xe1);
    CHECK(b.in(RBR) == 'a');
    CHECK(b.in(LSR) == 0xf1); // BI for the character now at the top
    CHECK(b.in(LSR) == 0x61); // no further errors behind it
    CHECK(b.in(RBR) == 0x00);
    CHECK(b.in(RBR) == 'b');
    CHECK(b.in(LSR) == 0x60);
}

TEST_CASE("uart: received bytes pass whole at the reset word length", "[uart]") {
    Board b;
    b.backend.type("\xe1");
    CHECK(b.in(RBR) == 0xe1);
}

TEST_CASE("uart: reading RBR tells the backend there is room", "[uart]") {
    Board b;
    b.backend.type("a");
    int before = b.backend.room_notifications;
    b.in(RBR);
    CHECK(b.backend.room_notifications > before);
}

TEST_CASE("uart: wider accesses are split into byte accesses", "[uart]") {
    Board b;
    b.uart.io_write(LCR, 2, 0x0b83); // LCR = 0x83, MCR = 0x0b
    CHECK(b.in(LCR) == 0x83);
    CHECK(b.in(MCR) == 0x0b);
    b.uart.io_write(DLL, 2, 0x0180);
    CHECK(b.uart.io_read(DLL, 2) == 0x0180);
    b.out(SCR, 0x42);
    CHECK(b.uart.io_read(SCR, 2) == 0xff42); // past the last register: floats
    CHECK(b.uart.io_read(SCR, 4) == 0xffffff42);
}

TEST_CASE("uart: save and load round trip", "[uart]") {
    Board a;
    a.set_divisor(0x1234); // timeout ~1.8 s away: not reached during the test
    a.out(LCR, 0x1b);
    a.out(FCR, 0x81); // trigger 8
    a.out(SCR, 0x77);
    a.out(MCR, 0x10); // loopback: sets MSR deltas
    a.out(MCR, 0x1b);
    a.out(IER, 0x0f); // THRE pending
    a.out(THR, 'x');
    a.out(THR, 'y');
    a.out(MCR, 0x0b);
    a.backend.type("zw");
    a.backend.send_break();
    StateWriter w;
    a.uart.save(w);

    Board b;
    StateReader r(w.bytes());
    b.uart.load(r);
    CHECK(a.irq.level());
    CHECK(b.irq.level());
    for (Board* x : {&a, &b}) {
        INFO((x == &a ? "original" : "restored"));
        CHECK(x->in(IER) == 0x0f);
        CHECK(x->in(LCR) == 0x1b);
        CHECK(x->in(MCR) == 0x0b);
        CHECK(x->in(SCR) == 0x77);
        CHECK(x->in(IIR) == 0xc2); // 5 characters are below the trigger: THRE
        CHECK(x->in(IIR) == 0xc0); // modem status deltas
        CHECK(x->in(MSR) == 0xbb);
        CHECK(x->in(IIR) == 0xc1);
        CHECK(x->in(LSR) == 0xe1);
        std::string got;
        for (int i = 0; i < 4; i++) got.push_back(char(x->in(RBR)));
        CHECK(got == "xyzw");
        CHECK(x->in(LSR) == 0xf1);
        CHECK(x->in(RBR) == 0);
        x->out(LCR, 0x9b);
        CHECK(x->in(DLL) == 0x34);
        CHECK(x->in(DLM) == 0x12);
    }

    std::vector<uint8_t> truncated(w.bytes().begin(), w.bytes().begin() + 5);
    StateReader tr(truncated);
    CHECK_THROWS(b.uart.load(tr));
}

TEST_CASE("uart: console input is paced by the FIFO, never overrun", "[uart][chardev]") {
    int in[2], out[2];
    REQUIRE(pipe(in) == 0);
    REQUIRE(pipe(out) == 0);
    std::string text;
    for (int i = 0; i < 300; i++) text.push_back(char('a' + i % 26));
    {
        StdioBackend::Options o;
        o.in_fd = in[0];
        o.out_fd = out[1];
        StdioBackend backend(std::move(o));
        IrqLine irq;
        Uart16550 uart("com1", backend, irq);
        uart.io_write(FCR, 1, 0x01);
        // Typed only now: switching to FIFO mode would discard what arrived before.
        REQUIRE(write(in[1], text.data(), text.size()) == ssize_t(text.size()));
        std::string got;
        bool overrun = false;
        for (int spins = 0; got.size() < text.size() && spins < 200000; spins++) {
            const uint8_t lsr = uint8_t(uart.io_read(LSR, 1));
            overrun |= (lsr & 0x02) != 0;
            if (lsr & 1)
                got.push_back(char(uart.io_read(RBR, 1)));
            else
                std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
        CHECK_FALSE(overrun);
        CHECK(got == text);
    }
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
}
