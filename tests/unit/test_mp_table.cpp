// The MP configuration table against the Intel MultiProcessor Specification
// 1.4, chapter 4: the floating pointer, the header and each entry type, in
// the order the specification requires, with both checksums.
#include "machine/le_bytes.h"
#include "machine/mp_table.h"
#include <catch2/catch.hpp>
#include <cstring>

using namespace hayate;
using Bytes = std::vector<uint8_t>;

namespace {

uint8_t sum(const Bytes& b) {
    uint8_t s = 0;
    for (uint8_t x : b) s = uint8_t(s + x);
    return s;
}

PcBoardDescription board(unsigned cpus) {
    PcBoardDescription b;
    b.cpu_count = cpus;
    b.ram_below_4g = 128u << 20;
    b.ioapic_id = uint8_t(cpus);
    b.cpu_signature = 0x000306A9; // family 6 model 3Ah stepping 9
    b.cpu_features = 0xBFEBFBFF;
    return b;
}

// Entries by their type byte: processors are 20 bytes, the rest 8.
std::vector<Bytes> entries(const Bytes& table) {
    std::vector<Bytes> out;
    size_t p = mp::kHeaderLength;
    while (p < table.size()) {
        size_t len = table[p] == mp::kProcessor ? 20 : 8;
        REQUIRE(p + len <= table.size());
        out.emplace_back(table.begin() + long(p), table.begin() + long(p + len));
        p += len;
    }
    return out;
}

} // namespace

TEST_CASE("mp: floating pointer structure", "[mp]") {
    auto m = build_mp_table(board(2), 0xF0040);
    const Bytes& fp = m.floating_pointer;
    REQUIRE(fp.size() == 16);
    CHECK(std::memcmp(fp.data(), "_MP_", 4) == 0);
    CHECK(le::get32(&fp[4]) == 0xF0040);
    CHECK(fp[8] == 1); // one 16-byte paragraph
    CHECK(fp[9] == 4); // MP 1.4
    CHECK(sum(fp) == 0);
    // Feature byte 1 = 0: a configuration table exists; IMCRP (byte 2 bit 7) clear: virtual wire.
    for (int i = 11; i < 16; ++i) CHECK(fp[i] == 0);
    CHECK(m.config_table_phys == 0xF0040);
}

TEST_CASE("mp: configuration table header and entries", "[mp]") {
    auto m = build_mp_table(board(4), 0xF0040);
    const Bytes& t = m.config_table;
    CHECK(std::memcmp(t.data(), "PCMP", 4) == 0);
    CHECK(le::get16(&t[4]) == t.size());
    CHECK(t[6] == 4);
    CHECK(sum(t) == 0);
    CHECK(std::memcmp(&t[8], "HAYATE  ", 8) == 0);
    CHECK(std::memcmp(&t[16], "HAYATEPC    ", 12) == 0);
    CHECK(le::get32(&t[28]) == 0); // no OEM table
    CHECK(le::get16(&t[32]) == 0);
    CHECK(le::get32(&t[36]) == 0xFEE00000);
    CHECK(le::get16(&t[40]) == 0); // no extended entries
    CHECK(t[42] == 0);

    auto e = entries(t);
    // 4 processors, 2 buses, 1 IOAPIC, 15 ISA interrupts (not IRQ2), 2 local interrupts.
    REQUIRE(e.size() == 4 + 2 + 1 + 15 + 2);
    CHECK(le::get16(&t[34]) == e.size());
    // Entry types never decrease (section 4.3: processor, bus, I/O APIC, I/O interrupt, local interrupt).
    for (size_t i = 1; i < e.size(); ++i) CHECK(e[i][0] >= e[i - 1][0]);

    for (unsigned i = 0; i < 4; ++i) {
        const Bytes& p = e[i];
        CHECK(p[0] == 0);
        CHECK(p[1] == i);                      // local APIC id
        CHECK(p[2] == 0x14);                   // local APIC version
        CHECK(p[3] == (i == 0 ? 0x03 : 0x01)); // EN, BP on the first
        CHECK(le::get32(&p[4]) == 0x000306A9);
        CHECK(le::get32(&p[8]) == 0xBFEBFBFF);
        for (int k = 12; k < 20; ++k) CHECK(p[k] == 0);
    }
    CHECK(e[4] == Bytes{1, 0, 'P', 'C', 'I', ' ', ' ', ' '});
    CHECK(e[5] == Bytes{1, 1, 'I', 'S', 'A', ' ', ' ', ' '});
    CHECK(e[6] == Bytes{2, 4, 0x20, 0x01, 0x00, 0x00, 0xC0, 0xFE});

    // I/O interrupts: type 3, INT, flags, ISA bus 1, IRQ, IOAPIC 4, pin.
    unsigned irq_seen = 0;
    for (size_t i = 7; i < 7 + 15; ++i) {
        const Bytes& x = e[i];
        CHECK(x[0] == 3);
        CHECK(x[1] == 0);
        CHECK(x[4] == 1);
        uint8_t irq = x[5];
        irq_seen |= 1u << irq;
        CHECK(x[6] == 4);
        CHECK(x[7] == (irq == 0 ? 2 : irq));
        // The SCI: active high (01), level (11 << 2); ISA lines conform to the bus.
        CHECK(le::get16(&x[2]) == (irq == 9 ? 0x000D : 0x0000));
    }
    CHECK(irq_seen == 0xFFFBu);
    // ExtINT on LINT0 and NMI on LINT1 of every local APIC.
    CHECK(e[22] == Bytes{4, 3, 0, 0, 1, 0, 0xFF, 0});
    CHECK(e[23] == Bytes{4, 1, 0, 0, 1, 0, 0xFF, 1});
}

TEST_CASE("mp: sizes and refusals", "[mp]") {
    auto m = build_mp_table(board(1), 0x9FC10);
    CHECK(m.config_table.size() == 44 + 20 + 2 * 8 + 8 + 15 * 8 + 2 * 8);
    auto big = build_mp_table(board(255), 0xF0040);
    CHECK(big.config_table.size() == 44 + 255 * 20 + 2 * 8 + 8 + 15 * 8 + 2 * 8);
    CHECK(sum(big.config_table) == 0);
    auto b = board(2);
    b.cpu_count = 0;
    CHECK_THROWS(build_mp_table(b, 0xF0040));
    b.cpu_count = 256;
    CHECK_THROWS(build_mp_table(b, 0xF0040));
    b = board(2);
    b.sci_irq = 16;
    CHECK_THROWS(build_mp_table(b, 0xF0040));
}
