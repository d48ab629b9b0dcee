// The 8259A against its datasheet: initialisation words, priorities, EOI
// forms, masking, edge and level inputs, AEOI, rotation, poll mode, cascade
// and the spurious IR7 answer.
#include "devices/pic8259.h"
#include <catch2/catch.hpp>
#include <vector>

using hayate::Pic8259;

namespace {

struct Fixture {
    std::vector<bool> edges;
    Pic8259 pic{"pic", [this](bool level) { edges.push_back(level); }};
    void init(uint8_t base, uint8_t icw3, uint8_t icw4 = 0x01) {
        pic.io_write(0, 1, 0x11); // ICW1: edge, cascade, ICW4 needed
        pic.io_write(1, 1, base); // ICW2
        pic.io_write(1, 1, icw3); // ICW3
        pic.io_write(1, 1, icw4); // ICW4: 8086 mode
    }
    uint8_t irr() {
        pic.io_write(0, 1, 0x0a);
        return uint8_t(pic.io_read(0, 1));
    }
    uint8_t isr() {
        pic.io_write(0, 1, 0x0b);
        return uint8_t(pic.io_read(0, 1));
    }
};

} // namespace

TEST_CASE("pic: initialisation, request, acknowledge, non-specific EOI", "[pic]") {
    Fixture f;
    f.init(0x20, 0x04);
    CHECK(f.pic.io_read(1, 1) == 0); // ICW1 cleared the mask
    f.pic.set_input(0, true);
    CHECK(f.pic.output());
    CHECK(f.pic.acknowledge() == 0x20);
    CHECK(f.isr() == 0x01);
    CHECK_FALSE(f.pic.output());
    f.pic.set_input(1, true); // lower priority than IR0 in service
    CHECK_FALSE(f.pic.output());
    CHECK(f.irr() == 0x02);
    f.pic.io_write(0, 1, 0x20); // non-specific EOI
    CHECK(f.isr() == 0x00);
    CHECK(f.pic.output());
    CHECK(f.pic.acknowledge() == 0x21);
    CHECK(f.edges == std::vector<bool>{true, false, true, false});
}

TEST_CASE("pic: a higher-priority request interrupts a lower one in service", "[pic]") {
    Fixture f;
    f.init(0x08, 0x04);
    f.pic.set_input(5, true);
    CHECK(f.pic.acknowledge() == 0x0d);
    f.pic.set_input(3, true);
    CHECK(f.pic.output());
    CHECK(f.pic.acknowledge() == 0x0b);
    CHECK(f.isr() == 0x28);
    f.pic.io_write(0, 1, 0x20); // EOI ends the highest in service: IR3
    CHECK(f.isr() == 0x20);
    f.pic.io_write(0, 1, 0x65); // specific EOI for IR5
    CHECK(f.isr() == 0x00);
}

TEST_CASE("pic: masking, edge and level inputs, spurious IR7", "[pic]") {
    Fixture f;
    f.init(0x20, 0x04);
    f.pic.io_write(1, 1, 0x10); // OCW1: mask IR4
    CHECK(f.pic.io_read(1, 1) == 0x10);
    f.pic.set_input(4, true);
    CHECK_FALSE(f.pic.output());
    CHECK(f.irr() == 0x10);
    f.pic.io_write(1, 1, 0x00);
    CHECK(f.pic.output());
    // Edge-triggered: the request stays latched after the input falls.
    f.pic.set_input(4, false);
    CHECK(f.irr() == 0x10);
    CHECK(f.pic.acknowledge() == 0x24);
    f.pic.io_write(0, 1, 0x20);
    // A held edge input does not request again without a new rising edge.
    f.pic.set_input(6, true);
    CHECK(f.pic.acknowledge() == 0x26);
    f.pic.io_write(0, 1, 0x20);
    CHECK_FALSE(f.pic.output());
    // Level-triggered: the request follows the input; gone before INTA, the
    // acknowledge is spurious (IR7's vector, nothing in service).
    f.pic.set_level_triggered(0x08);
    f.pic.set_input(3, true);
    CHECK(f.pic.output());
    f.pic.set_input(3, false);
    CHECK_FALSE(f.pic.output());
    CHECK(f.pic.acknowledge() == 0x27);
    CHECK(f.isr() == 0x00);
    // Still high after the EOI: requested again.
    f.pic.set_input(3, true);
    CHECK(f.pic.acknowledge() == 0x23);
    f.pic.io_write(0, 1, 0x20);
    CHECK(f.pic.output());
}

TEST_CASE("pic: automatic EOI, rotation, poll mode, special mask", "[pic]") {
    Fixture f;
    f.init(0x40, 0x04, 0x03); // AEOI
    f.pic.set_input(2, true);
    CHECK(f.pic.acknowledge() == 0x42);
    CHECK(f.isr() == 0x00);
    // Set priority: IR3 lowest, so IR4 is highest, IR2 below IR5.
    f.pic.io_write(0, 1, 0xc3);
    f.pic.set_input(5, true);
    f.pic.set_input(1, true);
    CHECK(f.pic.acknowledge() == 0x45);
    CHECK(f.pic.acknowledge() == 0x41);
    // Poll: a read of port 0 acknowledges and returns 0x80 | line.
    Fixture g;
    g.init(0x08, 0x04);
    g.pic.set_input(6, true);
    g.pic.io_write(0, 1, 0x0c);
    CHECK(g.pic.io_read(0, 1) == 0x86);
    CHECK(g.isr() == 0x40);
    g.pic.io_write(0, 1, 0x0c);
    CHECK(g.pic.io_read(0, 1) == 0x00);
    // Special mask mode: a masked in-service level no longer blocks lower ones.
    g.pic.set_input(7, true);
    CHECK_FALSE(g.pic.output()); // IR6 in service
    g.pic.io_write(1, 1, 0x40);  // mask IR6
    g.pic.io_write(0, 1, 0x68);  // OCW3: set special mask
    CHECK(g.pic.output());
    CHECK(g.pic.acknowledge() == 0x0f);
}

TEST_CASE("pic: a master reports its cascade line", "[pic]") {
    Fixture f;
    f.init(0x08, 0x04); // slave on IR2
    f.pic.set_input(2, true);
    int cascade = -1;
    f.pic.acknowledge(&cascade);
    CHECK(cascade == 2);
    f.pic.io_write(0, 1, 0x20);
    f.pic.set_input(3, true);
    f.pic.acknowledge(&cascade);
    CHECK(cascade == -1);
}

#include "devices/elcr.h"

TEST_CASE("elcr: level-triggered inputs of both 8259As, fixed edge bits", "[pic]") {
    Pic8259 master("m", nullptr), slave("s", nullptr);
    hayate::Elcr elcr(master, slave);
    elcr.io_write(0, 1, 0xff); // IRQ0-2 stay edge-triggered
    elcr.io_write(1, 1, 0xff); // IRQ8 and IRQ13 too
    CHECK(elcr.io_read(0, 1) == 0xf8);
    CHECK(elcr.io_read(1, 1) == 0xde);
    CHECK(master.level_triggered() == 0xf8);
    CHECK(slave.level_triggered() == 0xde);
    CHECK(elcr.io_read(0, 2) == 0xdef8);
    elcr.io_write(0, 2, 0x0820); // IRQ5 and IRQ11
    CHECK(master.level_triggered() == 0x20);
    CHECK(slave.level_triggered() == 0x08);
    elcr.reset();
    CHECK(elcr.io_read(0, 2) == 0);
}
