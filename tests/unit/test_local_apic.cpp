// The local APIC against the Intel SDM vol. 3 ch. 11 (APIC): reset values
// and writable bits, IPIs, priorities, the timer's three modes on a manual
// clock, LINT pins and the 8259 pass-through, the disabled states, x2APIC
// MSR access with its #GP cases, and routing on the APIC bus.
#include "devices/local_apic.h"
#include "machine/apic_bus.h"
#include "machine/clock.h"
#include <catch2/catch.hpp>
#include <memory>
#include <vector>

using namespace hayate;

namespace {

constexpr uint64_t kTscHz = 2'000'000'000; // the fake guest TSC: 2 cycles per ns

struct Cpu {
    std::vector<bool> outputs;
    int nmis = 0, inits = 0, pic_acks = 0;
    std::vector<uint8_t> startups;
    std::vector<uint64_t> bases;
};

struct Fixture {
    VirtualClock clock{VirtualClock::Mode::Manual};
    TimerQueue timers{clock};
    ApicBus bus;
    std::vector<std::unique_ptr<Cpu>> cpus;
    std::vector<std::unique_ptr<LocalApic>> apics;
    uint8_t pic_vector = 0x28;

    explicit Fixture(unsigned count = 1) {
        for (unsigned i = 0; i < count; i++) add(i, i == 0);
    }
    LocalApic& add(uint32_t id, bool bsp) {
        auto cpu = std::make_unique<Cpu>();
        Cpu* c = cpu.get();
        LocalApic::Callbacks cb;
        cb.on_output = [c](bool level) { c->outputs.push_back(level); };
        cb.on_nmi = [c] { c->nmis++; };
        cb.on_init = [c] { c->inits++; };
        cb.on_startup = [c](uint8_t v) { c->startups.push_back(v); };
        cb.pic_acknowledge = [this, c] {
            c->pic_acks++;
            return pic_vector;
        };
        cb.on_base_changed = [c](uint64_t base) { c->bases.push_back(base); };
        cpus.push_back(std::move(cpu));
        apics.push_back(std::make_unique<LocalApic>(
            id, bsp, timers, bus, [this] { return clock.now_ns() * 2; }, kTscHz, 44, cb));
        return *apics.back();
    }
    LocalApic& apic(unsigned i = 0) { return *apics.at(i); }
    Cpu& cpu(unsigned i = 0) { return *cpus.at(i); }
    uint32_t rd(uint32_t off, unsigned i = 0) { return uint32_t(apic(i).io_read(off, 4)); }
    void wr(uint32_t off, uint32_t v, unsigned i = 0) { apic(i).io_write(off, 4, v); }
    bool irr(uint8_t v, unsigned i = 0) { return (rd(0x200 + (v >> 5) * 0x10, i) >> (v & 31)) & 1; }
    bool isr(uint8_t v, unsigned i = 0) { return (rd(0x100 + (v >> 5) * 0x10, i) >> (v & 31)) & 1; }
    bool tmr(uint8_t v, unsigned i = 0) { return (rd(0x180 + (v >> 5) * 0x10, i) >> (v & 31)) & 1; }
    void enable(unsigned i = 0) { wr(0xf0, 0x1ff, i); }
    void self_ipi(uint8_t v, unsigned i = 0) { wr(0x300, 0x40000 | v, i); } // shorthand self, fixed
    uint32_t esr(unsigned i = 0) {
        wr(0x280, 0, i);
        return rd(0x280, i);
    }
    void advance_to(uint64_t ns) {
        clock.advance_to(ns);
        timers.run_expired();
    }
};

} // namespace

TEST_CASE("lapic: power-up values", "[lapic]") {
    Fixture f(1);
    f.add(5, false);
    uint64_t v;
    REQUIRE(f.apic(0).read_msr(0x1b, v));
    CHECK(v == 0xfee00900); // base 0xFEE00000, EN, BSP
    REQUIRE(f.apic(1).read_msr(0x1b, v));
    CHECK(v == 0xfee00800); // an AP: no BSP flag
    CHECK(f.rd(0x20, 1) == 5u << 24);
    CHECK(f.rd(0x30) == 0x00050014); // max LVT entry 5 (six LVTs), version 0x14
    for (uint32_t off : {0x80u, 0x90u, 0xa0u, 0xd0u, 0x280u, 0x300u, 0x310u, 0x380u, 0x390u, 0x3e0u})
        CHECK(f.rd(off) == 0);
    CHECK(f.rd(0xe0) == 0xffffffff);
    CHECK(f.rd(0xf0) == 0xff);
    for (uint32_t off = 0x100; off < 0x280; off += 0x10) CHECK(f.rd(off) == 0);
    for (uint32_t off = 0x320; off <= 0x370; off += 0x10) CHECK(f.rd(off) == 0x10000);
    CHECK_FALSE(f.apic(0).interrupt_pending());
}

TEST_CASE("lapic: writable bits of each register", "[lapic]") {
    Fixture f;
    f.enable();
    f.wr(0x20, 0xffffffff);
    CHECK(f.rd(0x20) == 0xff000000);
    f.wr(0x20, 0);
    f.wr(0x80, 0xffffffff);
    CHECK(f.rd(0x80) == 0xff);
    f.wr(0x80, 0);
    f.wr(0xd0, 0xffffffff);
    CHECK(f.rd(0xd0) == 0xff000000);
    f.wr(0xe0, 0);
    CHECK(f.rd(0xe0) == 0x0fffffff); // model bits 31:28, the rest reads 1
    f.wr(0xf0, 0xffffffff);
    CHECK(f.rd(0xf0) == 0x3ff); // vector, enable, focus disable; no EOI suppression
    f.wr(0x310, 0xffffffff);
    CHECK(f.rd(0x310) == 0xff000000);
    f.wr(0x300, 0xffffffff); // reserved delivery mode 111: nothing sent
    CHECK(f.rd(0x300) == 0x000ccfff);
    f.wr(0x320, 0xffffffff);
    CHECK(f.rd(0x320) == 0x000700ff);
    f.wr(0x330, 0xffffffff);
    CHECK(f.rd(0x330) == 0x000107ff);
    f.wr(0x340, 0xffffffff);
    CHECK(f.rd(0x340) == 0x000107ff);
    f.wr(0x350, 0xffffffff);
    CHECK(f.rd(0x350) == 0x0001a7ff);
    f.wr(0x360, 0xffffffff);
    CHECK(f.rd(0x360) == 0x0001a7ff);
    f.wr(0x370, 0xffffffff);
    CHECK(f.rd(0x370) == 0x000100ff);
    f.wr(0x3e0, 0xffffffff);
    CHECK(f.rd(0x3e0) == 0x0b);
    // Read-only registers ignore writes.
    f.wr(0x30, 0);
    CHECK(f.rd(0x30) == 0x00050014);
    f.wr(0xa0, 0xff);
    CHECK(f.rd(0xa0) == 0); // PPR = TPR = 0
}

TEST_CASE("lapic: software disable forces the LVT masks", "[lapic]") {
    Fixture f;
    f.wr(0x350, 0x700);
    CHECK(f.rd(0x350) == 0x10700); // disabled after reset: mask stays set
    f.enable();
    f.wr(0x350, 0x700);
    CHECK(f.rd(0x350) == 0x700);
    f.wr(0xf0, 0xff);
    for (uint32_t off = 0x320; off <= 0x370; off += 0x10) CHECK((f.rd(off) & 0x10000) != 0);
    // Fixed IPIs are not accepted while software-disabled.
    f.self_ipi(0x40);
    CHECK_FALSE(f.irr(0x40));
}

TEST_CASE("lapic: self IPI, acknowledge and EOI", "[lapic]") {
    Fixture f;
    f.enable();
    f.self_ipi(0x41);
    CHECK(f.irr(0x41));
    CHECK_FALSE(f.tmr(0x41));
    CHECK(f.apic().interrupt_pending());
    CHECK(f.cpu().outputs.back());
    CHECK(f.apic().acknowledge() == 0x41);
    CHECK_FALSE(f.irr(0x41));
    CHECK(f.isr(0x41));
    CHECK_FALSE(f.apic().interrupt_pending());
    CHECK_FALSE(f.cpu().outputs.back());
    f.wr(0xb0, 0);
    CHECK_FALSE(f.isr(0x41));
    // Physical destination naming this APIC (ID 0), and delivery status idle.
    f.wr(0x310, 0);
    f.wr(0x300, 0x42);
    CHECK(f.irr(0x42));
    CHECK((f.rd(0x300) & 0x1000) == 0);
}

TEST_CASE("lapic: TPR, PPR and nested in-service vectors", "[lapic]") {
    Fixture f;
    f.enable();
    f.wr(0x80, 0x50);
    f.self_ipi(0x45);
    CHECK_FALSE(f.apic().interrupt_pending()); // class 4 <= TPR class 5
    // APR: TPR class 5 >= IRRV class 4 and > ISRV class 0: APR = TPR.
    CHECK(f.rd(0x90) == 0x50);
    f.self_ipi(0x61);
    CHECK(f.apic().interrupt_pending());
    // IRRV class 6 > TPR class 5: APR = max(TPR & ISRV, IRRV) << 4 = 0x60.
    CHECK(f.rd(0x90) == 0x60);
    CHECK(f.rd(0xa0) == 0x50);
    CHECK(f.apic().acknowledge() == 0x61);
    CHECK(f.rd(0xa0) == 0x60); // PPR follows the in-service class
    f.self_ipi(0x62);
    CHECK_FALSE(f.apic().interrupt_pending()); // same class as in service
    f.self_ipi(0x71);
    CHECK(f.apic().interrupt_pending());
    CHECK(f.apic().acknowledge() == 0x71);
    CHECK(f.isr(0x61));
    CHECK(f.isr(0x71));
    CHECK(f.rd(0xa0) == 0x70);
    f.wr(0xb0, 0); // EOI ends the highest in service
    CHECK_FALSE(f.isr(0x71));
    CHECK(f.isr(0x61));
    CHECK_FALSE(f.apic().interrupt_pending()); // 0x62 waits for 0x61
    f.wr(0xb0, 0);
    CHECK(f.rd(0xa0) == 0x50);
    CHECK(f.apic().interrupt_pending());
    // CR8 is TPR[7:4].
    f.apic().set_tpr(7);
    CHECK(f.rd(0x80) == 0x70);
    CHECK(f.apic().tpr() == 7);
    CHECK_FALSE(f.apic().interrupt_pending());
    // A request masked between INTR and INTA: the spurious vector, nothing in service.
    CHECK(f.apic().acknowledge() == 0xff);
    CHECK_FALSE(f.isr(0x62));
    f.apic().set_tpr(0);
    CHECK(f.apic().acknowledge() == 0x62);
}

TEST_CASE("lapic: one-shot timer", "[lapic][timer]") {
    Fixture f;
    f.enable();
    f.wr(0x320, 0x30); // one-shot, vector 0x30
    f.wr(0x3e0, 0x0);  // divide by 2
    f.wr(0x380, 1000); // 1000 ticks of 2 ns
    CHECK(f.rd(0x380) == 1000);
    CHECK(f.rd(0x390) == 1000);
    f.advance_to(500);
    CHECK(f.rd(0x390) == 750);
    f.advance_to(1999);
    CHECK(f.rd(0x390) == 1);
    CHECK_FALSE(f.irr(0x30));
    f.advance_to(2000);
    CHECK(f.irr(0x30));
    CHECK(f.rd(0x390) == 0);
    CHECK(f.timers.next_deadline() == TimerQueue::kNever);
    // Initial count 0 stops a running timer.
    f.wr(0x380, 100);
    f.wr(0x380, 0);
    CHECK(f.timers.next_deadline() == TimerQueue::kNever);
    CHECK(f.rd(0x390) == 0);
}

TEST_CASE("lapic: divide configuration", "[lapic][timer]") {
    // Bits 3,1,0: 000 /2, 001 /4, 010 /8, 011 /16, 100 /32, 101 /64, 110 /128, 111 /1.
    const std::pair<uint32_t, uint64_t> cases[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                                   {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
    for (auto [config, divisor] : cases) {
        Fixture f;
        f.enable();
        f.wr(0x320, 0x30);
        f.wr(0x3e0, config);
        f.wr(0x380, 100);
        f.advance_to(10 * divisor);
        CHECK(f.rd(0x390) == 90);
        f.advance_to(100 * divisor - 1);
        CHECK_FALSE(f.irr(0x30));
        f.advance_to(100 * divisor);
        CHECK(f.irr(0x30));
    }
    // Changing the divider mid-count: the count goes on at the new rate.
    Fixture f;
    f.enable();
    f.wr(0x320, 0x30);
    f.wr(0x3e0, 0xb); // /1
    f.wr(0x380, 100);
    f.advance_to(40);
    f.wr(0x3e0, 0x1); // /4: 60 ticks left, 240 ns
    CHECK(f.rd(0x390) == 60);
    f.advance_to(279);
    CHECK_FALSE(f.irr(0x30));
    f.advance_to(280);
    CHECK(f.irr(0x30));
}

TEST_CASE("lapic: periodic timer without drift", "[lapic][timer]") {
    Fixture f;
    f.enable();
    f.wr(0x320, 0x20031); // periodic, vector 0x31
    f.wr(0x3e0, 0xb);     // /1
    f.wr(0x380, 100);
    f.advance_to(100);
    CHECK(f.irr(0x31));
    CHECK(f.apic().acknowledge() == 0x31);
    f.wr(0xb0, 0);
    f.advance_to(150);
    CHECK(f.rd(0x390) == 50);
    CHECK_FALSE(f.irr(0x31));
    // A late run (the vCPU was busy): one interrupt, the schedule stays.
    f.advance_to(350);
    CHECK(f.irr(0x31));
    CHECK(f.timers.next_deadline() == 400);
    CHECK(f.rd(0x390) == 50);
    // Masked: still counts, no interrupt.
    CHECK(f.apic().acknowledge() == 0x31);
    f.wr(0xb0, 0);
    f.wr(0x320, 0x30031);
    f.advance_to(400);
    CHECK_FALSE(f.irr(0x31));
    CHECK(f.timers.next_deadline() == 500);
    // Back to one-shot: the current count runs out, then it stops.
    f.advance_to(430);
    f.wr(0x320, 0x31);
    CHECK(f.rd(0x390) == 70);
    f.advance_to(500);
    CHECK(f.irr(0x31));
    CHECK(f.timers.next_deadline() == TimerQueue::kNever);
}

TEST_CASE("lapic: TSC-deadline timer", "[lapic][timer]") {
    Fixture f;
    f.enable();
    uint64_t v = 1;
    // Not in TSC-deadline mode: the MSR reads 0 and ignores writes.
    REQUIRE(f.apic().write_msr(0x6e0, 5000));
    REQUIRE(f.apic().read_msr(0x6e0, v));
    CHECK(v == 0);
    f.wr(0x320, 0x40032); // TSC-deadline, vector 0x32
    f.wr(0x380, 1234);    // ignored in this mode
    CHECK(f.rd(0x380) == 0);
    f.advance_to(100);
    REQUIRE(f.apic().write_msr(0x6e0, 2200)); // TSC = 2 x ns: due at 1100 ns
    REQUIRE(f.apic().read_msr(0x6e0, v));
    CHECK(v == 2200);
    CHECK(f.rd(0x390) == 0);
    f.advance_to(1099);
    CHECK_FALSE(f.irr(0x32));
    f.advance_to(1100);
    CHECK(f.irr(0x32));
    REQUIRE(f.apic().read_msr(0x6e0, v));
    CHECK(v == 0); // cleared when it fired
    // A deadline already passed fires at once; 0 disarms.
    f.apic().acknowledge();
    f.wr(0xb0, 0);
    REQUIRE(f.apic().write_msr(0x6e0, 10));
    f.timers.run_expired();
    CHECK(f.irr(0x32));
    REQUIRE(f.apic().write_msr(0x6e0, 5000));
    REQUIRE(f.apic().write_msr(0x6e0, 0));
    CHECK(f.timers.next_deadline() == TimerQueue::kNever);
    // Leaving TSC-deadline mode disarms the timer.
    REQUIRE(f.apic().write_msr(0x6e0, 5000));
    f.wr(0x320, 0x32);
    CHECK(f.timers.next_deadline() == TimerQueue::kNever);
    f.wr(0x320, 0x40032);
    REQUIRE(f.apic().read_msr(0x6e0, v));
    CHECK(v == 0);
}

TEST_CASE("lapic: LINT0 ExtINT passes the 8259 through; LINT1 NMI", "[lapic]") {
    Fixture f;
    f.apic().set_lint(0, true); // reset: LINT0 masked, the 8259 is cut off
    CHECK_FALSE(f.apic().interrupt_pending());
    f.apic().setup_virtual_wire();
    CHECK(f.rd(0xf0) == 0x1ff);
    CHECK(f.rd(0x350) == 0x8700);
    CHECK(f.rd(0x360) == 0x8400);
    CHECK(f.apic().interrupt_pending()); // INTR was already high
    CHECK(f.cpu().outputs.back());
    CHECK(f.apic().acknowledge() == 0x28);
    CHECK(f.cpu().pic_acks == 1);
    f.apic().set_lint(0, false);
    CHECK_FALSE(f.apic().interrupt_pending());
    CHECK_FALSE(f.cpu().outputs.back());
    // ExtINT ignores the TPR.
    f.wr(0x80, 0xf0);
    f.apic().set_lint(0, true);
    CHECK(f.apic().interrupt_pending());
    f.apic().set_lint(0, false);
    // LINT1: NMI on each rising edge.
    f.apic().set_lint(1, true);
    f.apic().set_lint(1, true);
    f.apic().set_lint(1, false);
    f.apic().set_lint(1, true);
    CHECK(f.cpu().nmis == 2);
}

TEST_CASE("lapic: level-triggered LINT0 with remote IRR", "[lapic]") {
    Fixture f;
    f.enable();
    f.wr(0x350, 0x8033); // fixed, level, vector 0x33
    f.apic().set_lint(0, true);
    CHECK(f.irr(0x33));
    CHECK(f.tmr(0x33));
    CHECK((f.rd(0x350) & 0x4000) != 0); // remote IRR
    CHECK(f.apic().acknowledge() == 0x33);
    f.wr(0xb0, 0); // EOI while still asserted: delivered again
    CHECK(f.irr(0x33));
    CHECK(f.apic().acknowledge() == 0x33);
    f.apic().set_lint(0, false);
    f.wr(0xb0, 0);
    CHECK((f.rd(0x350) & 0x4000) == 0);
    CHECK_FALSE(f.irr(0x33));
    // Active low, edge-triggered: the falling edge of the pin delivers.
    f.wr(0x350, 0x2034);
    f.apic().set_lint(0, true);
    CHECK_FALSE(f.irr(0x34));
    f.apic().set_lint(0, false);
    CHECK(f.irr(0x34));
}

TEST_CASE("lapic: hardware-disabled APIC passes INTR and NMI straight through", "[lapic]") {
    Fixture f;
    f.enable();
    f.self_ipi(0x50);
    REQUIRE(f.apic().write_msr(0x1b, 0xfee00000)); // EN = 0
    uint64_t v;
    REQUIRE(f.apic().read_msr(0x1b, v));
    CHECK(v == 0xfee00100); // BSP is read-only
    CHECK(f.apic().io_read(0x30, 4) == 0xffffffff);
    f.apic().io_write(0xf0, 4, 0x1ff); // dropped
    f.apic().set_lint(0, true);
    CHECK(f.apic().interrupt_pending());
    CHECK(f.apic().acknowledge() == 0x28);
    CHECK(f.cpu().pic_acks == 1);
    f.apic().set_lint(0, false);
    CHECK_FALSE(f.apic().interrupt_pending());
    f.apic().set_lint(1, true);
    CHECK(f.cpu().nmis == 1);
    // No APIC on the bus: messages do not reach it.
    ApicMessage m;
    m.vector = 0x51;
    CHECK(f.bus.send(m) == 0);
    // Disabled to x2APIC directly is refused; enabling again gives the reset state.
    CHECK_FALSE(f.apic().write_msr(0x1b, 0xfee00c00));
    REQUIRE(f.apic().write_msr(0x1b, 0xfee00800));
    CHECK(f.rd(0xf0) == 0xff);
    CHECK_FALSE(f.irr(0x50));
}

TEST_CASE("lapic: IA32_APIC_BASE relocation and reserved bits", "[lapic]") {
    Fixture f;
    CHECK_FALSE(f.apic().write_msr(0x1b, 0xfee00a00));           // bit 9 reserved
    CHECK_FALSE(f.apic().write_msr(0x1b, (1ull << 44) | 0x800)); // above MAXPHYADDR
    CHECK_FALSE(f.apic().write_msr(0x1b, 0xfee00400));           // EXTD without EN
    REQUIRE(f.apic().write_msr(0x1b, 0xfed00800));
    CHECK(f.cpu().bases == std::vector<uint64_t>{0xfed00000});
    CHECK(f.apic().base_address() == 0xfed00000);
    f.apic().reset();
    CHECK(f.cpu().bases.back() == 0xfee00000);
}

TEST_CASE("lapic: ESR write-to-update and the error LVT", "[lapic]") {
    Fixture f;
    f.enable();
    f.wr(0x370, 0xfe); // error LVT, vector 0xFE
    f.self_ipi(0x05);  // illegal vector: send error, nothing delivered
    CHECK_FALSE(f.irr(0x05));
    CHECK(f.rd(0x280) == 0); // not visible until the next write
    CHECK(f.esr() == 0x20);  // send illegal vector
    CHECK(f.irr(0xfe));
    CHECK(f.esr() == 0); // cleared by the write
    ApicMessage m;
    m.vector = 3;
    f.bus.send(m);
    CHECK(f.esr() == 0x40); // receive illegal vector
    f.rd(0x2f0);            // CMCI LVT: not implemented here, a reserved register
    CHECK(f.esr() == 0x80); // illegal register address
}

TEST_CASE("lapic: x2APIC MSRs and #GP cases", "[lapic][x2apic]") {
    Fixture f(0);
    f.add(0x23, true);
    LocalApic& a = f.apic();
    uint64_t v;
    CHECK_FALSE(a.read_msr(0x802, v)); // xAPIC mode: the MSRs do not exist
    REQUIRE(a.write_msr(0x1b, 0xfee00d00));
    CHECK(a.io_read(0x20, 4) == 0xffffffff); // MMIO is off in x2APIC mode
    REQUIRE(a.read_msr(0x802, v));
    CHECK(v == 0x23);
    REQUIRE(a.read_msr(0x803, v));
    CHECK(v == 0x00050014);
    REQUIRE(a.read_msr(0x80d, v));
    CHECK(v == ((0x23u >> 4) << 16 | 1u << (0x23 & 15))); // cluster 2, member bit 3
    // Absent, write-only and read-only registers.
    for (uint32_t msr : {0x809u, 0x80bu, 0x80cu, 0x80eu, 0x831u, 0x83fu, 0x82fu, 0x801u, 0x8ffu})
        CHECK_FALSE(a.read_msr(msr, v));
    for (uint32_t msr : {0x802u, 0x803u, 0x80au, 0x80du, 0x80eu, 0x810u, 0x820u, 0x839u, 0x809u, 0x831u})
        CHECK_FALSE(a.write_msr(msr, 0));
    CHECK_FALSE(a.write_msr(0x828, 1));          // ESR: only 0
    CHECK_FALSE(a.write_msr(0x80b, 1));          // EOI: only 0
    CHECK_FALSE(a.write_msr(0x808, 1ull << 32)); // bits 63:32 reserved
    CHECK_FALSE(a.write_msr(0x83f, 0x100));      // SELF IPI: vector only
    REQUIRE(a.write_msr(0x80f, 0x1ff));
    REQUIRE(a.write_msr(0x83f, 0x55));
    REQUIRE(a.read_msr(0x822, v));
    CHECK(((v >> (0x55 - 64)) & 1) == 1);
    // The ICR is one 64-bit register with a 32-bit destination.
    REQUIRE(a.write_msr(0x830, (0x23ull << 32) | 0x66));
    REQUIRE(a.read_msr(0x830, v));
    CHECK(v == ((0x23ull << 32) | 0x66));
    REQUIRE(a.read_msr(0x823, v));
    CHECK(((v >> (0x66 - 96)) & 1) == 1);
    CHECK(a.acknowledge() == 0x66);
    REQUIRE(a.write_msr(0x80b, 0));
    REQUIRE(a.write_msr(0x808, 0x20));
    REQUIRE(a.read_msr(0x808, v));
    CHECK(v == 0x20);
    // x2APIC goes back to xAPIC only through the disabled state.
    CHECK_FALSE(a.write_msr(0x1b, 0xfee00900));
    REQUIRE(a.write_msr(0x1b, 0xfee00100));
    REQUIRE(a.write_msr(0x1b, 0xfee00900));
    CHECK(a.io_read(0x20, 4) == 0x23u << 24);
    CHECK(a.io_read(0xf0, 4) == 0xff); // state reset by the disable
}

TEST_CASE("lapic: MMIO access sizes", "[lapic]") {
    Fixture f;
    f.wr(0x80, 0x5a);
    CHECK(f.apic().io_read(0x80, 1) == 0x5a);       // a byte of a register (model-specific)
    CHECK(f.apic().io_read(0x84, 4) == 0xffffffff); // the rest of a 16-byte slot floats
    f.apic().io_write(0x80, 1, 0x11);               // only 32-bit writes count
    CHECK(f.rd(0x80) == 0x5a);
    f.apic().io_write(0x84, 4, 0x11);
    CHECK(f.rd(0x80) == 0x5a);
}

TEST_CASE("apic bus: physical, logical flat and cluster destinations, shorthands", "[lapic][apicbus]") {
    Fixture f(3);
    for (unsigned i = 0; i < 3; i++) f.enable(i);
    // Flat model: one LDR bit per APIC.
    for (unsigned i = 0; i < 3; i++) f.wr(0xd0, (1u << i) << 24, i);
    f.wr(0x310, 0x06u << 24);
    f.wr(0x300, 0x800 | 0x50); // logical, fixed, vector 0x50
    CHECK_FALSE(f.irr(0x50, 0));
    CHECK(f.irr(0x50, 1));
    CHECK(f.irr(0x50, 2));
    // Cluster model: cluster in LDR[31:28], members in LDR[27:24].
    for (unsigned i = 0; i < 3; i++) f.wr(0xe0, 0x0fffffff, i);
    f.wr(0xd0, 0x11u << 24, 0);
    f.wr(0xd0, 0x12u << 24, 1);
    f.wr(0xd0, 0x21u << 24, 2);
    f.wr(0x310, 0x13u << 24);
    f.wr(0x300, 0x800 | 0x51);
    CHECK(f.irr(0x51, 0));
    CHECK(f.irr(0x51, 1));
    CHECK_FALSE(f.irr(0x51, 2));
    f.wr(0x310, 0x21u << 24);
    f.wr(0x300, 0x800 | 0x52);
    CHECK_FALSE(f.irr(0x52, 0));
    CHECK_FALSE(f.irr(0x52, 1));
    CHECK(f.irr(0x52, 2));
    // Physical: one ID; 0xFF broadcasts.
    f.wr(0x310, 0x01u << 24);
    f.wr(0x300, 0x53);
    CHECK(f.irr(0x53, 1));
    CHECK_FALSE(f.irr(0x53, 0));
    f.wr(0x310, 0xffu << 24);
    f.wr(0x300, 0x54);
    for (unsigned i = 0; i < 3; i++) CHECK(f.irr(0x54, i));
    // Shorthands: all excluding self, all including self.
    f.wr(0x300, 0xc0000 | 0x55, 1);
    CHECK(f.irr(0x55, 0));
    CHECK_FALSE(f.irr(0x55, 1));
    CHECK(f.irr(0x55, 2));
    f.wr(0x300, 0x80000 | 0x56, 1);
    for (unsigned i = 0; i < 3; i++) CHECK(f.irr(0x56, i));
}

TEST_CASE("apic bus: lowest priority and focus processor", "[lapic][apicbus]") {
    Fixture f(3);
    for (unsigned i = 0; i < 3; i++) {
        f.enable(i);
        f.wr(0xd0, 0x01u << 24, i); // flat, all in the same logical group
    }
    f.wr(0x80, 0x20, 0);
    f.wr(0x80, 0x10, 1);
    f.wr(0x80, 0x30, 2);
    f.wr(0x310, 0x01u << 24);
    f.wr(0x300, 0x800 | 0x100 | 0x60); // logical, lowest priority
    CHECK_FALSE(f.irr(0x60, 0));
    CHECK(f.irr(0x60, 1)); // lowest arbitration priority (TPR 0x10)
    CHECK_FALSE(f.irr(0x60, 2));
    // APIC 2 already has 0x61 pending: it is the focus.
    f.self_ipi(0x61, 2);
    f.wr(0x300, 0x800 | 0x100 | 0x61);
    CHECK_FALSE(f.irr(0x61, 1));
    CHECK(f.irr(0x61, 2));
    // Focus checking disabled (SVR bit 9): arbitration decides again. APRs:
    // APIC 0 TPR 0x20 (nothing pending); APICs 1 and 2 have IRR class 6
    // above their TPR, so APR = 0x60.
    f.wr(0xf0, 0x3ff, 2);
    f.wr(0x300, 0x800 | 0x100 | 0x61);
    CHECK(f.irr(0x61, 0));
    CHECK_FALSE(f.irr(0x61, 1));
}

TEST_CASE("apic bus: x2APIC destinations", "[apicbus]") {
    ApicAddressing a;
    a.hardware_enabled = true;
    a.x2apic = true;
    a.id = 0x23;
    a.ldr = (2u << 16) | (1u << 3);
    ApicMessage m;
    m.x2apic_destination = true;
    m.destination = 0x23;
    CHECK(ApicBus::matches(m, a));
    m.destination = 0x24;
    CHECK_FALSE(ApicBus::matches(m, a));
    m.destination = 0xffffffff;
    CHECK(ApicBus::matches(m, a));
    m.destination = 0xff; // an x2APIC sender's 0xFF is an ID, not a broadcast
    CHECK_FALSE(ApicBus::matches(m, a));
    m.x2apic_destination = false; // the I/O APIC's 8-bit broadcast
    CHECK(ApicBus::matches(m, a));
    m.x2apic_destination = true;
    m.destination_mode = ApicDestinationMode::Logical;
    m.destination = (2u << 16) | 0x0c;
    CHECK(ApicBus::matches(m, a));
    m.destination = (3u << 16) | 0x08;
    CHECK_FALSE(ApicBus::matches(m, a));
    m.destination = (2u << 16) | 0x04;
    CHECK_FALSE(ApicBus::matches(m, a));
}

TEST_CASE("lapic: INIT and start-up IPIs", "[lapic][apicbus]") {
    Fixture f(2);
    f.enable(0);
    f.enable(1);
    f.wr(0x80, 0x30, 1);
    f.wr(0x310, 0x01u << 24);
    f.wr(0x300, 0xc500); // INIT, level assert
    CHECK(f.cpu(1).inits == 1);
    CHECK(f.rd(0xf0, 1) == 0xff); // registers back to reset
    CHECK(f.rd(0x80, 1) == 0);
    CHECK(f.rd(0x20, 1) == 1u << 24); // except the ID
    f.wr(0x300, 0x8500);              // INIT level de-assert: no reset
    CHECK(f.cpu(1).inits == 1);
    f.wr(0x300, 0x4608); // start-up, vector 8 (software-disabled APICs take it)
    CHECK(f.cpu(1).startups == std::vector<uint8_t>{0x08});
    f.wr(0x300, 0x400); // NMI
    CHECK(f.cpu(1).nmis == 1);
    CHECK(f.cpu(0).inits == 0);
    // Self shorthand with INIT is invalid: nothing sent.
    f.wr(0x300, 0x44500);
    CHECK(f.cpu(0).inits == 0);
}

TEST_CASE("lapic: save and load", "[lapic]") {
    Fixture f;
    f.enable();
    f.wr(0x80, 0x20);
    f.wr(0xd0, 0x04000000);
    f.wr(0x320, 0x20031);
    f.wr(0x3e0, 0xb);
    f.wr(0x380, 100);
    f.self_ipi(0x70);
    f.self_ipi(0x45);
    CHECK(f.apic().acknowledge() == 0x70);
    f.advance_to(30);
    StateWriter w;
    f.apic().save(w);

    Fixture g;
    g.clock.advance_to(30);
    StateReader r(w.bytes());
    g.apic().load(r);
    for (uint32_t off = 0x20; off < 0x400; off += 0x10)
        if (off != 0x2f0 && off != 0xb0 && off != 0xc0) CHECK(g.rd(off) == f.rd(off));
    CHECK(g.timers.next_deadline() == 100);
    CHECK(g.apic().interrupt_pending() == f.apic().interrupt_pending());
    g.advance_to(100);
    CHECK(g.irr(0x31));
}
