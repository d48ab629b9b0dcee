// The I/O APIC against the 82093AA datasheet (and the version-0x20 EOI
// register): register reset values, edge and level pins with remote IRR and
// EOI from both paths, polarity, masking, routing to local APICs, save/load.
#include "devices/io_apic.h"
#include "devices/local_apic.h"
#include "machine/apic_bus.h"
#include "machine/clock.h"
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

using namespace hayate;

namespace {

struct Fixture {
    VirtualClock clock{VirtualClock::Mode::Manual};
    TimerQueue timers{clock};
    ApicBus bus;
    std::vector<std::unique_ptr<LocalApic>> apics;
    IoApic ioapic{bus};
    int nmis = 0;

    explicit Fixture(unsigned cpus = 1) {
        for (unsigned i = 0; i < cpus; i++) {
            LocalApic::Callbacks cb;
            cb.on_nmi = [this] { nmis++; };
            cb.pic_acknowledge = [] { return uint8_t(0x20); };
            apics.push_back(std::make_unique<LocalApic>(
                i, i == 0, timers, bus, [] { return uint64_t(0); }, 1'000'000'000, 44, cb));
            apics.back()->io_write(0xf0, 4, 0x1ff);
        }
    }
    LocalApic& apic(unsigned i = 0) { return *apics.at(i); }
    uint32_t reg(uint8_t index) {
        ioapic.io_write(0x00, 4, index);
        return uint32_t(ioapic.io_read(0x10, 4));
    }
    void set_reg(uint8_t index, uint32_t v) {
        ioapic.io_write(0x00, 4, index);
        ioapic.io_write(0x10, 4, v);
    }
    void route(unsigned pin, uint32_t low, uint8_t dest = 0) {
        set_reg(uint8_t(0x11 + 2 * pin), uint32_t(dest) << 24);
        set_reg(uint8_t(0x10 + 2 * pin), low);
    }
    bool irr(uint8_t v, unsigned i = 0) {
        return (apic(i).io_read(0x200 + (v >> 5) * 0x10, 4) >> (v & 31)) & 1;
    }
    bool tmr(uint8_t v, unsigned i = 0) {
        return (apic(i).io_read(0x180 + (v >> 5) * 0x10, 4) >> (v & 31)) & 1;
    }
    void eoi(unsigned i = 0) { apic(i).io_write(0xb0, 4, 0); }
};

constexpr uint32_t kMask = 1u << 16, kLevel = 1u << 15, kRemoteIrr = 1u << 14, kActiveLow = 1u << 13;
constexpr uint32_t kLogical = 1u << 11;

} // namespace

TEST_CASE("ioapic: reset values and writable bits", "[ioapic]") {
    Fixture f;
    CHECK(f.reg(0x00) == 0);
    CHECK(f.reg(0x01) == 0x00170020); // 24 entries (max index 0x17), version 0x20
    CHECK(f.reg(0x02) == 0);
    for (unsigned pin = 0; pin < 24; pin++) {
        CHECK(f.reg(uint8_t(0x10 + 2 * pin)) == kMask);
        CHECK(f.reg(uint8_t(0x11 + 2 * pin)) == 0);
    }
    f.set_reg(0x00, 0xffffffff);
    CHECK(f.reg(0x00) == 0x0f000000); // ID bits 27:24
    CHECK(f.reg(0x02) == 0x0f000000); // arbitration ID loaded from the ID
    f.set_reg(0x01, 0);
    CHECK(f.reg(0x01) == 0x00170020);
    f.set_reg(0x10, 0xffffffff); // delivery status and remote IRR are read-only
    CHECK(f.reg(0x10) == 0x0001afff);
    f.set_reg(0x11, 0xffffffff);
    CHECK(f.reg(0x11) == 0xff000000);
    CHECK(f.reg(0x40) == 0xffffffff); // past the table: floats
    f.ioapic.io_write(0x00, 4, 0x1234);
    CHECK(f.ioapic.io_read(0x00, 4) == 0x34); // IOREGSEL is 8 bits
    f.ioapic.reset();
    CHECK(f.reg(0x00) == 0);
    CHECK(f.reg(0x10) == kMask);
}

TEST_CASE("ioapic: edge-triggered pin", "[ioapic]") {
    Fixture f;
    f.route(4, 0x34);
    f.ioapic.set_input(4, true);
    CHECK(f.irr(0x34));
    CHECK_FALSE(f.tmr(0x34));
    CHECK(f.apic().acknowledge() == 0x34);
    f.ioapic.set_input(4, true); // no new edge
    CHECK_FALSE(f.irr(0x34));
    f.ioapic.set_input(4, false);
    CHECK_FALSE(f.irr(0x34));
    f.ioapic.set_input(4, true);
    CHECK(f.irr(0x34));
    CHECK((f.ioapic.redirection_entry(4) & kRemoteIrr) == 0);
}

TEST_CASE("ioapic: level-triggered pin, remote IRR and the local APIC's EOI", "[ioapic]") {
    Fixture f;
    f.route(10, kLevel | 0x3a);
    f.ioapic.set_input(10, true);
    CHECK(f.irr(0x3a));
    CHECK(f.tmr(0x3a));
    CHECK((f.ioapic.redirection_entry(10) & kRemoteIrr) != 0);
    CHECK(f.apic().acknowledge() == 0x3a);
    f.ioapic.set_input(10, true); // remote IRR holds it back
    CHECK_FALSE(f.irr(0x3a));
    f.eoi(); // broadcast over the bus; the pin is still asserted: sent again
    CHECK(f.irr(0x3a));
    CHECK((f.ioapic.redirection_entry(10) & kRemoteIrr) != 0);
    CHECK(f.apic().acknowledge() == 0x3a);
    f.ioapic.set_input(10, false);
    f.eoi();
    CHECK_FALSE(f.irr(0x3a));
    CHECK((f.ioapic.redirection_entry(10) & kRemoteIrr) == 0);
}

TEST_CASE("ioapic: the EOI register", "[ioapic]") {
    Fixture f;
    f.route(3, kLevel | 0x43);
    f.ioapic.set_input(3, true);
    CHECK(f.apic().acknowledge() == 0x43);
    f.ioapic.io_write(0x40, 4, 0x44); // another vector: no effect
    CHECK((f.ioapic.redirection_entry(3) & kRemoteIrr) != 0);
    f.ioapic.io_write(0x40, 4, 0x43);
    CHECK(f.irr(0x43)); // still asserted: sent again
    f.ioapic.set_input(3, false);
    f.ioapic.io_write(0x40, 4, 0x43);
    CHECK((f.ioapic.redirection_entry(3) & kRemoteIrr) == 0);
}

TEST_CASE("ioapic: active-low polarity", "[ioapic]") {
    Fixture f;
    f.ioapic.set_input(5, true); // the line idles high
    f.route(5, kActiveLow | 0x35);
    f.ioapic.set_input(5, false); // falling edge: asserted
    CHECK(f.irr(0x35));
    CHECK(f.apic().acknowledge() == 0x35);
    f.ioapic.set_input(5, true);
    CHECK_FALSE(f.irr(0x35));
    // Level, active low: a low pin is asserted as soon as the entry is unmasked.
    f.ioapic.set_input(6, false);
    f.route(6, kLevel | kActiveLow | 0x36);
    CHECK(f.irr(0x36));
}

TEST_CASE("ioapic: masking", "[ioapic]") {
    Fixture f;
    f.route(7, kMask | 0x37);
    f.ioapic.set_input(7, true); // an edge on a masked pin is lost
    f.route(7, 0x37);
    CHECK_FALSE(f.irr(0x37));
    f.route(8, kMask | kLevel | 0x38);
    f.ioapic.set_input(8, true);
    CHECK_FALSE(f.irr(0x38));
    f.route(8, kLevel | 0x38); // unmasking an asserted level pin delivers
    CHECK(f.irr(0x38));
    // Illegal vector: nothing delivered, no remote IRR left behind.
    f.route(9, kLevel | 0x05);
    f.ioapic.set_input(9, true);
    CHECK((f.ioapic.redirection_entry(9) & kRemoteIrr) == 0);
    CHECK(f.apic().io_read(0x200, 4) == 0);
    // A software-disabled local APIC does not take it: no remote IRR either.
    f.apic().io_write(0xf0, 4, 0xff);
    f.route(13, kLevel | 0x3d);
    f.ioapic.set_input(13, true);
    CHECK((f.ioapic.redirection_entry(13) & kRemoteIrr) == 0);
    f.apic().io_write(0xf0, 4, 0x1ff);
    f.route(13, kLevel | 0x3d); // rewriting the entry samples the level again
    CHECK(f.irr(0x3d));
    CHECK((f.ioapic.redirection_entry(13) & kRemoteIrr) != 0);
}

TEST_CASE("ioapic: logical destinations, NMI and broadcast", "[ioapic]") {
    Fixture f(2);
    f.apic(0).io_write(0xd0, 4, 0x01000000);
    f.apic(1).io_write(0xd0, 4, 0x02000000);
    f.route(1, kLogical | 0x41, 0x02);
    f.ioapic.set_input(1, true);
    CHECK_FALSE(f.irr(0x41, 0));
    CHECK(f.irr(0x41, 1));
    f.route(2, 0x42, 0xff); // physical broadcast
    f.ioapic.set_input(2, true);
    CHECK(f.irr(0x42, 0));
    CHECK(f.irr(0x42, 1));
    f.route(11, 0x400, 0x01); // NMI to APIC 1
    f.ioapic.set_input(11, true);
    CHECK(f.nmis == 1);
    // Lowest priority, logical to both: APIC 0 has the lower TPR.
    f.apic(1).io_write(0x80, 4, 0x30);
    f.route(12, kLogical | 0x100 | 0x52, 0x03);
    f.ioapic.set_input(12, true);
    CHECK(f.irr(0x52, 0));
    CHECK_FALSE(f.irr(0x52, 1));
}

TEST_CASE("ioapic: inputs from another thread", "[ioapic]") {
    Fixture f;
    f.route(4, 0x34);
    std::thread t([&] {
        for (int i = 0; i < 1000; i++) {
            f.ioapic.set_input(4, true);
            f.ioapic.set_input(4, false);
        }
    });
    int taken = 0;
    for (int i = 0; i < 1000; i++)
        if (f.apic().interrupt_pending() && f.apic().acknowledge() == 0x34) {
            taken++;
            f.eoi();
        }
    t.join();
    if (f.apic().interrupt_pending()) taken++;
    CHECK(taken >= 1);
}

TEST_CASE("ioapic: save and load", "[ioapic]") {
    Fixture f;
    f.set_reg(0x00, 0x05000000);
    f.route(10, kLevel | 0x3a, 0x00);
    f.route(3, kActiveLow | 0x33, 0x00);
    f.ioapic.set_input(10, true);
    f.ioapic.io_write(0x00, 4, 0x11);
    StateWriter w;
    f.ioapic.save(w);

    Fixture g;
    StateReader r(w.bytes());
    g.ioapic.load(r);
    CHECK(g.ioapic.io_read(0x00, 4) == 0x11);
    for (uint8_t index : {uint8_t(0x00), uint8_t(0x01), uint8_t(0x02)}) CHECK(g.reg(index) == f.reg(index));
    for (unsigned pin = 0; pin < 24; pin++)
        CHECK(g.ioapic.redirection_entry(pin) == f.ioapic.redirection_entry(pin));
    // The loaded remote IRR and input level behave: an EOI resends.
    g.ioapic.io_write(0x40, 4, 0x3a);
    CHECK(g.irr(0x3a));
}
