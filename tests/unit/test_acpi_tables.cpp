// The AML builder against the encodings of ACPI 6.x chapter 20 and the
// resource descriptors of 6.4, and the ACPI tables read back the way an OS
// finds them (RSDP -> XSDT -> FADT -> DSDT), field by field against chapter
// 5.2. When iasl/acpiexec (Debian acpica-tools) are installed, ACPICA itself
// disassembles and loads the tables and must report no error or warning.
#include "machine/acpi_tables.h"
#include "machine/le_bytes.h"
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace hayate;
using aml::Bytes;

namespace {

uint8_t sum(const uint8_t* p, size_t n) {
    uint8_t s = 0;
    for (size_t i = 0; i < n; ++i) s = uint8_t(s + p[i]);
    return s;
}

PcBoardDescription pc_board(unsigned cpus = 2) {
    PcBoardDescription b;
    b.cpu_count = cpus;
    b.ram_below_4g = 128u << 20;
    b.serial_ports = {{1, 0x3F8, 4}, {2, 0x2F8, 3}};
    return b;
}

// A sparse physical address space: the ACPI area and the BIOS area.
struct PhysSpace {
    std::map<uint64_t, Bytes> regions;
    void put(uint64_t phys, const Bytes& b) { regions[phys] = b; }
    bool read(uint64_t phys, void* dst, size_t len) const {
        for (const auto& [base, b] : regions)
            if (phys >= base && phys - base <= b.size() && len <= b.size() - (phys - base)) {
                std::memcpy(dst, b.data() + (phys - base), len);
                return true;
            }
        return false;
    }
    PhysReader reader() const {
        return [this](uint64_t p, void* d, size_t n) { return read(p, d, n); };
    }
};

constexpr uint32_t kArea = 0x07FE0000;

PhysSpace place(const AcpiBuild& a) {
    PhysSpace s;
    s.put(a.tables_phys, a.tables);
    s.put(a.rsdp_phys, a.rsdp);
    return s;
}

Bytes table_at(const AcpiBuild& a, uint32_t phys) {
    size_t off = phys - a.tables_phys;
    uint32_t len = le::get32(&a.tables[off + 4]);
    return Bytes(a.tables.begin() + long(off), a.tables.begin() + long(off + len));
}

// ---- a reader for the AML subset the builder emits, to check that every
// PkgLength nests exactly and to find objects by path.
struct AmlObject {
    std::string kind; // "Name", "Device", "Scope", "Method"
    Bytes value;      // Name: the encoded data object
};

struct AmlReader {
    const Bytes& code;
    std::map<std::string, AmlObject> objects;
    std::string error;

    explicit AmlReader(const Bytes& c) : code(c) {}

    size_t pkg_length(size_t& pos) {
        uint8_t lead = code.at(pos);
        unsigned extra = lead >> 6;
        size_t len = extra ? lead & 0x0F : lead & 0x3F;
        for (unsigned i = 0; i < extra; ++i) len |= size_t(code.at(pos + 1 + i)) << (4 + 8 * i);
        size_t end = pos + len;
        pos += 1 + extra;
        return end;
    }
    std::string name_string(size_t& pos, const std::string& scope) {
        std::string base = scope;
        if (code.at(pos) == '\\') {
            base = "\\";
            ++pos;
        }
        while (code.at(pos) == '^') {
            base = base.substr(0, base.rfind('.'));
            ++pos;
        }
        unsigned segs = 1;
        if (code.at(pos) == 0x2E) {
            segs = 2;
            ++pos;
        } else if (code.at(pos) == 0x2F) {
            segs = code.at(pos + 1);
            pos += 2;
        } else if (code.at(pos) == 0x00) {
            ++pos;
            return base;
        }
        std::string path = base;
        for (unsigned i = 0; i < segs; ++i) {
            std::string seg(reinterpret_cast<const char*>(&code.at(pos)), 4);
            pos += 4;
            if (path != "\\") path += ".";
            path += seg;
        }
        return path;
    }
    // DataRefObject: returns the position after it.
    size_t data_object(size_t pos) {
        switch (code.at(pos)) {
        case 0x00:
        case 0x01: return pos + 1;
        case 0x0A: return pos + 2;
        case 0x0B: return pos + 3;
        case 0x0C: return pos + 5;
        case 0x0E: return pos + 9;
        case 0x0D: {
            size_t p = pos + 1;
            while (code.at(p) != 0) ++p;
            return p + 1;
        }
        case 0x11: {
            size_t p = pos + 1;
            size_t end = pkg_length(p);
            size_t after_size = data_object(p);
            uint64_t declared = 0;
            if (code[p] == 0x0A)
                declared = code[p + 1];
            else if (code[p] == 0x0B)
                declared = le::get16(&code[p + 1]);
            else if (code[p] == 0x01)
                declared = 1;
            if (declared != end - after_size) error = "buffer size does not match its PkgLength";
            return end;
        }
        case 0x12: {
            size_t p = pos + 1;
            size_t end = pkg_length(p);
            unsigned n = code.at(p++);
            for (unsigned i = 0; i < n; ++i) p = data_object(p);
            if (p != end) error = "package elements do not fill its PkgLength";
            return end;
        }
        default: error = "unexpected data opcode"; return code.size();
        }
    }
    void term_list(size_t pos, size_t end, const std::string& scope) {
        while (pos < end && error.empty()) {
            uint8_t op = code.at(pos++);
            if (op == 0x08) {
                std::string path = name_string(pos, scope);
                size_t next = data_object(pos);
                objects[path] = {"Name", Bytes(code.begin() + long(pos), code.begin() + long(next))};
                pos = next;
            } else if (op == 0x10 || (op == 0x5B && code.at(pos) == 0x82) || op == 0x14) {
                if (op == 0x5B) ++pos;
                size_t body_end = pkg_length(pos);
                if (body_end > end) {
                    error = "PkgLength runs past its parent";
                    return;
                }
                std::string path = name_string(pos, scope);
                const char* kind = op == 0x10 ? "Scope" : op == 0x14 ? "Method" : "Device";
                objects[path] = {kind, {}};
                if (op == 0x14) {
                    objects[path].value = Bytes(code.begin() + long(pos), code.begin() + long(body_end));
                } else {
                    term_list(pos, body_end, path);
                }
                pos = body_end;
            } else {
                error = "unexpected opcode";
            }
        }
        if (pos != end && error.empty()) error = "term list overruns its PkgLength";
    }
};

// Resource descriptors of a _CRS buffer: (tag, bytes) in order, stopping at the End Tag.
std::vector<Bytes> descriptors(const Bytes& buffer_object) {
    size_t p = 1;
    AmlReader r(buffer_object);
    r.pkg_length(p);
    p = r.data_object(p); // BufferSize
    std::vector<Bytes> out;
    while (p < buffer_object.size()) {
        uint8_t tag = buffer_object[p];
        size_t len = (tag & 0x80) ? 3 + le::get16(&buffer_object[p + 1]) : 1 + (tag & 7);
        out.emplace_back(buffer_object.begin() + long(p), buffer_object.begin() + long(p + len));
        if (tag == 0x79) break;
        p += len;
    }
    return out;
}

} // namespace

// ------------------------------------------------------------------ AML

TEST_CASE("aml: PkgLength encodings", "[acpi]") {
    // One byte while the whole length (itself included) is below 64.
    CHECK(aml::pkg_length(0) == Bytes{0x01});
    CHECK(aml::pkg_length(62) == Bytes{63});
    // 63 body bytes + 1 = 64 no longer fits: two bytes, total 65 = 0x41:
    // lead byte 01b in bits 7:6, low nibble 1; next byte bits 11:4 = 0x04.
    CHECK(aml::pkg_length(63) == Bytes{0x41, 0x04});
    // The largest two-byte length is 0xFFF: body 4093 + 2.
    CHECK(aml::pkg_length(4093) == Bytes{0x4F, 0xFF});
    // Three bytes: total 4094 + 3 = 0x1001.
    CHECK(aml::pkg_length(4094) == Bytes{0x81, 0x00, 0x01});
    // Four bytes from 2^20: total 0x100000 - 3 + 4 = 0x100001.
    CHECK(aml::pkg_length(0x100000 - 3) == Bytes{0xC1, 0x00, 0x00, 0x01});
    CHECK_THROWS(aml::pkg_length(size_t(1) << 28));
}

TEST_CASE("aml: name strings, integers, strings, EISAID", "[acpi]") {
    CHECK(aml::name_string("_HID") == Bytes{'_', 'H', 'I', 'D'});
    CHECK(aml::name_string("ISA") == Bytes{'I', 'S', 'A', '_'});
    CHECK(aml::name_string("\\_SB.PCI0") == Bytes{'\\', 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'});
    CHECK(aml::name_string("\\_SB.PCI0.ISA") ==
          Bytes{'\\', 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_'});
    CHECK(aml::name_string("^^COM1") == Bytes{'^', '^', 'C', 'O', 'M', '1'});
    CHECK(aml::name_string("\\") == Bytes{'\\', 0x00});
    CHECK_THROWS(aml::name_string("1ABC"));
    CHECK_THROWS(aml::name_string("ABCDE"));
    CHECK_THROWS(aml::name_string("AB..CD"));
    CHECK_THROWS(aml::name_string("ab"));

    CHECK(aml::integer(0) == Bytes{0x00});
    CHECK(aml::integer(1) == Bytes{0x01});
    CHECK(aml::integer(2) == Bytes{0x0A, 0x02});
    CHECK(aml::integer(0xFF) == Bytes{0x0A, 0xFF});
    CHECK(aml::integer(0x100) == Bytes{0x0B, 0x00, 0x01});
    CHECK(aml::integer(0x10000) == Bytes{0x0C, 0x00, 0x00, 0x01, 0x00});
    CHECK(aml::integer(0x100000000ull) == Bytes{0x0E, 0, 0, 0, 0, 1, 0, 0, 0});

    CHECK(aml::string("AB") == Bytes{0x0D, 'A', 'B', 0x00});
    CHECK_THROWS(aml::string("\x80"));

    // PNP0A03: 'P' = 16, 'N' = 14 in five bits each: 10000 01110 10000 with a
    // leading 0 is 0x41D0; product 0x0A03; stored most significant byte first.
    CHECK(aml::eisa_id_value("PNP0A03") == 0x030AD041);
    CHECK(aml::eisa_id("PNP0A03") == Bytes{0x0C, 0x41, 0xD0, 0x0A, 0x03});
    // PNP0501: product 0x0501.
    CHECK(aml::eisa_id_value("PNP0501") == 0x0105D041);
    CHECK_THROWS(aml::eisa_id("PNP0a03"));
    CHECK_THROWS(aml::eisa_id("PN10A03"));
}

TEST_CASE("aml: Name, Package, Scope, Device, Method, Buffer", "[acpi]") {
    CHECK(aml::name("_UID", aml::integer(0)) == Bytes{0x08, '_', 'U', 'I', 'D', 0x00});
    // Package(2){1, 2}: PackageOp, PkgLength (1 + 1 + 1 + 2 = 5), NumElements.
    CHECK(aml::package({aml::integer(1), aml::integer(2)}) == Bytes{0x12, 0x05, 0x02, 0x01, 0x0A, 0x02});
    // Device(FOO) {}: ExtOpPrefix DeviceOp PkgLength(5) name.
    CHECK(aml::device("FOO", {}) == Bytes{0x5B, 0x82, 0x05, 'F', 'O', 'O', '_'});
    CHECK(aml::scope("\\", {}) == Bytes{0x10, 0x03, '\\', 0x00});
    // Method(_STA, 0, Serialized) { Return (0x0F) }: flags bit 3 = serialized.
    CHECK(aml::method("_STA", 0, true, aml::return_value(aml::integer(0x0F))) ==
          Bytes{0x14, 0x09, '_', 'S', 'T', 'A', 0x08, 0xA4, 0x0A, 0x0F});
    CHECK(aml::method("FOO", 2, false, {}, 3)[6] == 0x32);
    CHECK_THROWS(aml::method("FOO", 8, false, {}));
    // Buffer: BufferOp PkgLength BufferSize bytes.
    CHECK(aml::buffer({0xAA, 0xBB}) == Bytes{0x11, 0x05, 0x0A, 0x02, 0xAA, 0xBB});
    // A big device body takes a two-byte PkgLength that still nests.
    Bytes big = aml::device("BIG", aml::name("DATA", aml::buffer(Bytes(100, 0x55))));
    AmlReader r(big);
    r.term_list(0, big.size(), "\\");
    CHECK(r.error.empty());
    CHECK(r.objects.count("\\BIG_.DATA") == 1);
}

TEST_CASE("aml: resource descriptors", "[acpi]") {
    namespace res = aml::res;
    // IO: small item 08h length 7 -> tag 0x47; Decode16 flag, min, max, align, length.
    CHECK(res::io(0x3F8, 0x3F8, 1, 8) == Bytes{0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08});
    CHECK(res::io(0x60, 0x60, 1, 1, false)[1] == 0x00);
    // IRQNoFlags: small item 04h length 2 -> 0x22 and the 16-bit mask.
    CHECK(res::irq_no_flags({4}) == Bytes{0x22, 0x10, 0x00});
    CHECK(res::irq_no_flags({1, 12}) == Bytes{0x22, 0x02, 0x10});
    CHECK_THROWS(res::irq_no_flags({16}));
    // Memory32Fixed: large 86h, length 9, RW flag, base, length.
    CHECK(res::memory32_fixed(false, 0xFED00000, 0x400) ==
          Bytes{0x86, 0x09, 0x00, 0x00, 0x00, 0x00, 0xD0, 0xFE, 0x00, 0x04, 0x00, 0x00});
    // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100):
    // large 88h, length 13, type 2, flags MAF|MIF = 0x0C, specific 0.
    CHECK(res::word_bus_number(res::Usage::producer, 0, 0xFF) ==
          Bytes{0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0x00, 0x01});
    // DWordIO: large 87h, length 23, type 1, flags 0x0C, _RNG = 3 (entire range).
    Bytes dio = res::dword_io(res::Usage::producer, 0xD00, 0xFFFF);
    REQUIRE(dio.size() == 26);
    CHECK(Bytes(dio.begin(), dio.begin() + 6) == Bytes{0x87, 0x17, 0x00, 0x01, 0x0C, 0x03});
    CHECK(le::get32(&dio[10]) == 0xD00);
    CHECK(le::get32(&dio[14]) == 0xFFFF);
    CHECK(le::get32(&dio[22]) == 0xFFFF - 0xD00 + 1);
    // DWordMemory: type 0; consumer sets flag bit 0; cacheable RW = _MEM 01, _RW 1 -> 0x03.
    Bytes dmem =
        res::dword_memory(res::Usage::consumer, res::Cacheability::cacheable, true, 0xA0000, 0xBFFFF);
    CHECK(Bytes(dmem.begin(), dmem.begin() + 6) == Bytes{0x87, 0x17, 0x00, 0x00, 0x0D, 0x03});
    CHECK(le::get32(&dmem[22]) == 0x20000);
    CHECK_THROWS(res::dword_io(res::Usage::producer, 0x100, 0xFF));
    // ResourceTemplate: the descriptors then End Tag 79h with checksum 0, in a Buffer.
    CHECK(aml::resource_template({res::irq_no_flags({8})}) ==
          Bytes{0x11, 0x08, 0x0A, 0x05, 0x22, 0x00, 0x01, 0x79, 0x00});
}

// --------------------------------------------------------------- tables

TEST_CASE("acpi: tables read back from RSDP with every checksum right", "[acpi]") {
    auto a = build_acpi_tables(pc_board(), kArea);
    CHECK(a.tables_phys == kArea);
    CHECK(a.rsdp_phys == acpi::kRsdpPhys);
    REQUIRE(a.rsdp.size() == 36);
    PhysSpace s = place(a);
    std::vector<std::string> sigs;
    CHECK(verify_acpi_tables(s.reader(), a.rsdp_phys, &sigs) == "");
    CHECK(sigs == std::vector<std::string>{"FACP", "APIC", "HPET", "FACS", "DSDT"});

    // RSDP fields (5.2.5.3).
    const uint8_t* r = a.rsdp.data();
    CHECK(std::memcmp(r, "RSD PTR ", 8) == 0);
    CHECK(sum(r, 20) == 0);
    CHECK(sum(r, 36) == 0);
    CHECK(std::memcmp(r + 9, "HAYATE", 6) == 0);
    CHECK(r[15] == 2);
    CHECK(le::get32(r + 16) == a.rsdt_phys);
    CHECK(le::get64(r + 24) == a.xsdt_phys);

    // Table headers: OEM ids.
    for (uint32_t p : {a.dsdt_phys, a.fadt_phys, a.madt_phys, a.hpet_phys, a.rsdt_phys, a.xsdt_phys}) {
        Bytes t = table_at(a, p);
        CHECK(std::memcmp(&t[10], "HAYATE", 6) == 0);
        CHECK(std::memcmp(&t[16], "HAYATEPC", 8) == 0);
        CHECK(sum(t.data(), t.size()) == 0);
        CHECK(p % 16 == 0);
    }
    CHECK(a.facs_phys % 64 == 0);
    CHECK(a.facs_phys == a.tables_phys);
    CHECK(a.nvs_bytes == 64);
    CHECK(a.tables.size() % 16 == 0);

    // Any corrupted byte is caught.
    for (uint32_t p : {a.fadt_phys + 50, a.dsdt_phys + 100, a.xsdt_phys + 40, a.madt_phys + 44}) {
        AcpiBuild bad = a;
        bad.tables[p - a.tables_phys] ^= 0x01;
        CHECK(verify_acpi_tables(place(bad).reader(), a.rsdp_phys) != "");
    }
    AcpiBuild bad = a;
    bad.rsdp[30] ^= 1; // only the extended checksum covers the XSDT address
    CHECK(verify_acpi_tables(place(bad).reader(), a.rsdp_phys) == "RSDP extended checksum wrong");
}

TEST_CASE("acpi: FADT fields", "[acpi]") {
    auto a = build_acpi_tables(pc_board(), kArea);
    Bytes f = table_at(a, a.fadt_phys);
    REQUIRE(f.size() == 268);
    CHECK(std::memcmp(&f[0], "FACP", 4) == 0);
    CHECK(f[8] == 5);   // revision (ACPI 5.x layout)
    CHECK(f[131] == 1); // minor version: 5.1
    CHECK(le::get32(&f[36]) == a.facs_phys);
    CHECK(le::get32(&f[40]) == a.dsdt_phys);
    CHECK(le::get64(&f[132]) == a.facs_phys);
    CHECK(le::get64(&f[140]) == a.dsdt_phys);
    CHECK(le::get16(&f[46]) == 9);            // SCI_INT
    CHECK(le::get32(&f[48]) == 0);            // SMI_CMD: no SMM, ACPI always on
    CHECK(f[52] == 0);                        // ACPI_ENABLE
    CHECK(f[53] == 0);                        // ACPI_DISABLE
    CHECK(le::get32(&f[56]) == 0x600);        // PM1a_EVT_BLK
    CHECK(le::get32(&f[60]) == 0);            // PM1b_EVT_BLK
    CHECK(le::get32(&f[64]) == 0x604);        // PM1a_CNT_BLK
    CHECK(le::get32(&f[76]) == 0x608);        // PM_TMR_BLK
    CHECK(le::get32(&f[80]) == 0xAFE0);       // GPE0_BLK
    CHECK(le::get32(&f[84]) == 0);            // GPE1_BLK
    CHECK(f[88] == 4);                        // PM1_EVT_LEN
    CHECK(f[89] == 2);                        // PM1_CNT_LEN
    CHECK(f[90] == 0);                        // PM2_CNT_LEN
    CHECK(f[91] == 4);                        // PM_TMR_LEN
    CHECK(f[92] == 4);                        // GPE0_BLK_LEN
    CHECK(f[93] == 0);                        // GPE1_BLK_LEN
    CHECK(le::get16(&f[96]) > 100);           // P_LVL2_LAT: no C2
    CHECK(le::get16(&f[98]) > 1000);          // P_LVL3_LAT: no C3
    CHECK(f[108] == 0x32);                    // CENTURY
    CHECK(le::get16(&f[109]) == (1 | 2 | 4)); // LEGACY_DEVICES, 8042, VGA Not Present
    uint32_t flags = le::get32(&f[112]);
    CHECK(flags == (1u << 0 | 1u << 2 | 1u << 5 | 1u << 10)); // WBINVD, PROC_C1, SLP_BUTTON, RESET_REG_SUP
    CHECK((flags & (1u << 8)) == 0);                          // TMR_VAL_EXT: 24-bit timer
    // RESET_REG: system I/O, 8 bits, byte access, 0xCF9; value 6.
    CHECK(Bytes(f.begin() + 116, f.begin() + 128) == Bytes{1, 8, 0, 1, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0});
    CHECK(f[128] == 6);
    // X_ blocks agree with the 32-bit ones in address and (bits = 8 * length).
    auto gas = [&](size_t off, uint8_t space, uint8_t bits, uint64_t addr) {
        CHECK(f[off] == space);
        CHECK(f[off + 1] == bits);
        CHECK(f[off + 2] == 0);
        CHECK(f[off + 3] != 0);
        CHECK(le::get64(&f[off + 4]) == addr);
    };
    gas(148, 1, 32, 0x600);  // X_PM1a_EVT_BLK
    gas(172, 1, 16, 0x604);  // X_PM1a_CNT_BLK
    gas(208, 1, 32, 0x608);  // X_PM_TMR_BLK
    gas(220, 1, 32, 0xAFE0); // X_GPE0_BLK
    for (size_t off : {160, 184, 196, 232, 244, 256}) CHECK(le::get64(&f[off + 4]) == 0);

    Bytes facs(a.tables.begin(), a.tables.begin() + 64);
    CHECK(std::memcmp(&facs[0], "FACS", 4) == 0);
    CHECK(le::get32(&facs[4]) == 64);
    CHECK(facs[32] == 2);
}

TEST_CASE("acpi: MADT entries", "[acpi]") {
    auto b = pc_board(4);
    b.ioapic_id = 4;
    auto a = build_acpi_tables(b, kArea);
    Bytes m = table_at(a, a.madt_phys);
    CHECK(std::memcmp(&m[0], "APIC", 4) == 0);
    CHECK(le::get32(&m[36]) == 0xFEE00000);
    CHECK(le::get32(&m[40]) == 1); // PCAT_COMPAT
    std::vector<Bytes> entries;
    for (size_t p = 44; p < m.size();) {
        REQUIRE(m[p + 1] >= 2);
        REQUIRE(p + m[p + 1] <= m.size());
        entries.emplace_back(m.begin() + long(p), m.begin() + long(p + m[p + 1]));
        p += m[p + 1];
    }
    REQUIRE(entries.size() == 4 + 1 + 2 + 1);
    for (unsigned i = 0; i < 4; ++i) CHECK(entries[i] == Bytes{0, 8, uint8_t(i), uint8_t(i), 1, 0, 0, 0});
    CHECK(entries[4] == Bytes{1, 12, 4, 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0});
    // IRQ0 -> GSI 2, flags conform; IRQ9 -> GSI 9, active high (01) level (11 << 2).
    CHECK(entries[5] == Bytes{2, 10, 0, 0, 2, 0, 0, 0, 0x00, 0x00});
    CHECK(entries[6] == Bytes{2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0x00});
    // Local APIC NMI: all processors (0xFF), LINT1.
    CHECK(entries[7] == Bytes{4, 6, 0xFF, 0, 0, 1});
}

TEST_CASE("acpi: HPET table", "[acpi]") {
    auto a = build_acpi_tables(pc_board(), kArea);
    Bytes h = table_at(a, a.hpet_phys);
    REQUIRE(h.size() == 56);
    CHECK(h[8] == 1);
    // Capabilities low dword: vendor 8086h (31:16), LEG_RT_CAP (15),
    // COUNT_SIZE_CAP (13), NUM_TIM_CAP = 3 - 1 (12:8), REV_ID 1.
    CHECK(le::get32(&h[36]) == 0x8086A201);
    CHECK(Bytes(h.begin() + 40, h.begin() + 44) == Bytes{0, 64, 0, 0}); // system memory, 64 bits
    CHECK(le::get64(&h[44]) == 0xFED00000);
    CHECK(h[52] == 0);
    CHECK(le::get16(&h[53]) == 0x80);
    CHECK(h[55] == 0);

    auto b = pc_board();
    b.hpet = false;
    auto no_hpet = build_acpi_tables(b, kArea);
    std::vector<std::string> sigs;
    CHECK(verify_acpi_tables(place(no_hpet).reader(), no_hpet.rsdp_phys, &sigs) == "");
    CHECK(sigs == std::vector<std::string>{"FACP", "APIC", "FACS", "DSDT"});
}

TEST_CASE("acpi: DSDT objects", "[acpi]") {
    auto b = pc_board(3);
    b.ram_below_4g = 0x40000000;
    Bytes d = build_dsdt(b);
    CHECK(std::memcmp(&d[0], "DSDT", 4) == 0);
    CHECK(d[8] == 2);
    CHECK(le::get32(&d[4]) == d.size());
    CHECK(sum(d.data(), d.size()) == 0);
    AmlReader r(d);
    r.term_list(36, d.size(), "\\");
    REQUIRE(r.error == "");
    auto& o = r.objects;

    CHECK(o.at("\\_S5_").value ==
          aml::package({aml::integer(0), aml::integer(0), aml::integer(0), aml::integer(0)}));
    CHECK(o.at("\\_SB_.PCI0").kind == "Device");
    CHECK(o.at("\\_SB_.PCI0._HID").value == aml::eisa_id("PNP0A03"));
    CHECK(o.at("\\_SB_.PCI0._UID").value == aml::integer(0));
    CHECK(o.count("\\_SB_.PCI0._ADR") == 0);
    auto crs = descriptors(o.at("\\_SB_.PCI0._CRS").value);
    REQUIRE(crs.size() == 7);
    CHECK(crs[0][0] == 0x88);
    CHECK(le::get16(&crs[0][10]) == 0xFF);
    CHECK(crs[1] == Bytes{0x47, 1, 0xF8, 0x0C, 0xF8, 0x0C, 1, 8});
    CHECK(le::get32(&crs[2][10]) == 0);
    CHECK(le::get32(&crs[2][14]) == 0xCF7);
    CHECK(le::get32(&crs[3][10]) == 0xD00);
    CHECK(le::get32(&crs[3][14]) == 0xFFFF);
    CHECK(le::get32(&crs[4][10]) == 0xA0000);
    CHECK(le::get32(&crs[4][14]) == 0xBFFFF);
    CHECK(le::get32(&crs[5][10]) == 0x40000000); // the PCI hole starts where low RAM ends
    CHECK(le::get32(&crs[5][14]) == 0xFEBFFFFF);
    CHECK(crs[6] == Bytes{0x79, 0x00});

    CHECK(o.at("\\_SB_.PCI0.ISA_._ADR").value == aml::integer(0x00010000));
    CHECK(o.at("\\_SB_.PCI0.ISA_.RTC_._HID").value == aml::eisa_id("PNP0B00"));
    CHECK(descriptors(o.at("\\_SB_.PCI0.ISA_.RTC_._CRS").value) ==
          std::vector<Bytes>{{0x47, 1, 0x70, 0, 0x70, 0, 1, 2}, {0x22, 0x00, 0x01}, {0x79, 0}});
    CHECK(o.at("\\_SB_.PCI0.ISA_.KBD_._HID").value == aml::eisa_id("PNP0303"));
    CHECK(descriptors(o.at("\\_SB_.PCI0.ISA_.KBD_._CRS").value) ==
          std::vector<Bytes>{{0x47, 1, 0x60, 0, 0x60, 0, 1, 1},
                             {0x47, 1, 0x64, 0, 0x64, 0, 1, 1},
                             {0x22, 0x02, 0x00},
                             {0x79, 0}});
    CHECK(o.at("\\_SB_.PCI0.ISA_.TIMR._HID").value == aml::eisa_id("PNP0100"));
    CHECK(descriptors(o.at("\\_SB_.PCI0.ISA_.TIMR._CRS").value) ==
          std::vector<Bytes>{{0x47, 1, 0x40, 0, 0x40, 0, 1, 4}, {0x22, 0x01, 0x00}, {0x79, 0}});
    CHECK(o.at("\\_SB_.PCI0.ISA_.PIC_._HID").value == aml::eisa_id("PNP0000"));
    CHECK(o.at("\\_SB_.PCI0.ISA_.HPET._HID").value == aml::eisa_id("PNP0103"));
    CHECK(descriptors(o.at("\\_SB_.PCI0.ISA_.HPET._CRS").value) ==
          std::vector<Bytes>{{0x86, 9, 0, 1, 0, 0, 0xD0, 0xFE, 0, 4, 0, 0}, {0x79, 0}});
    CHECK(o.at("\\_SB_.PCI0.ISA_.COM1._HID").value == aml::eisa_id("PNP0501"));
    CHECK(o.at("\\_SB_.PCI0.ISA_.COM1._UID").value == aml::integer(1));
    CHECK(descriptors(o.at("\\_SB_.PCI0.ISA_.COM1._CRS").value) ==
          std::vector<Bytes>{{0x47, 1, 0xF8, 3, 0xF8, 3, 1, 8}, {0x22, 0x10, 0x00}, {0x79, 0}});
    CHECK(descriptors(o.at("\\_SB_.PCI0.ISA_.COM2._CRS").value) ==
          std::vector<Bytes>{{0x47, 1, 0xF8, 2, 0xF8, 2, 1, 8}, {0x22, 0x08, 0x00}, {0x79, 0}});
    CHECK(o.count("\\_SB_.PCI0.ISA_.COM3") == 0);
    for (unsigned i = 0; i < 3; ++i) {
        std::string cpu = "\\_SB_.C00" + std::to_string(i);
        CHECK(o.at(cpu + "._HID").value == aml::string("ACPI0007"));
        CHECK(o.at(cpu + "._UID").value == aml::integer(i));
    }
    CHECK(o.count("\\_SB_.C003") == 0);
}

TEST_CASE("acpi: descriptions the tables cannot express are refused", "[acpi]") {
    auto b = pc_board();
    CHECK_THROWS(build_acpi_tables(b, kArea + 16)); // FACS needs 64-byte alignment
    CHECK_THROWS(build_acpi_tables(b, kArea, 0xF0008));
    b.cpu_count = 0;
    CHECK_THROWS(build_acpi_tables(b, kArea));
    b.cpu_count = 256;
    CHECK_THROWS(build_acpi_tables(b, kArea));
    b = pc_board();
    b.ram_below_4g = 0;
    CHECK_THROWS(build_acpi_tables(b, kArea));
    b = pc_board();
    b.serial_ports.push_back({5, 0x3E8, 4});
    CHECK_THROWS(build_acpi_tables(b, kArea));
    b = pc_board(255);
    auto a = build_acpi_tables(b, kArea);
    CHECK(verify_acpi_tables(place(a).reader(), a.rsdp_phys) == "");
}

// ------------------------------------------------------- ACPICA's opinion

namespace {

// Runs a shell command, returns its exit status and combined output.
int run(const std::string& cmd, std::string& output) {
    output.clear();
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    return pclose(p);
}

bool tool_installed(const std::string& name) {
    std::string out;
    return run("command -v " + name, out) == 0;
}

// Lines of `text` holding any of `words` (case-sensitive), except those
// holding `allowed`.
std::vector<std::string> lines_with(const std::string& text, std::initializer_list<const char*> words,
                                    const char* allowed = nullptr) {
    std::vector<std::string> hits;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (allowed && line.find(allowed) != std::string::npos) continue;
        for (const char* w : words)
            if (line.find(w) != std::string::npos) {
                hits.push_back(line);
                break;
            }
    }
    return hits;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST_CASE("acpi: ACPICA disassembles, recompiles and loads the tables cleanly", "[acpi][acpica]") {
    if (!tool_installed("iasl") || !tool_installed("acpiexec")) {
        WARN("iasl/acpiexec not installed (Debian package acpica-tools): ACPICA check skipped");
        return;
    }
    auto b = pc_board(4);
    b.serial_ports = {{1, 0x3F8, 4}, {2, 0x2F8, 3}, {3, 0x3E8, 4}, {4, 0x2E8, 3}};
    auto a = build_acpi_tables(b, kArea);
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("hayate-acpi-test-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto write = [&](const char* file, const Bytes& bytes) {
        std::ofstream(dir / file, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    };
    write("dsdt.aml", table_at(a, a.dsdt_phys));
    write("facp.dat", table_at(a, a.fadt_phys));
    write("apic.dat", table_at(a, a.madt_phys));
    write("hpet.dat", table_at(a, a.hpet_phys));
    write("rsdt.dat", table_at(a, a.rsdt_phys));
    write("xsdt.dat", table_at(a, a.xsdt_phys));
    write("facs.dat", Bytes(a.tables.begin(), a.tables.begin() + 64));
    std::string out;
    const std::string cd = "cd '" + dir.string() + "' && ";

    // The disassembler checks checksums and lengths ("Incorrect checksum",
    // "FADT revision N does not match length") and runs ACPICA's FADT
    // conversion with its firmware warnings. iasl 20200925 dumps the ACPI 6.0
    // Hypervisor ID of any FADT longer than ACPI 3.0's, so a revision-5 FADT
    // ends with a "terminates in the middle of a data structure" note that
    // says nothing about the table.
    for (const char* f :
         {"dsdt.aml", "facp.dat", "apic.dat", "hpet.dat", "rsdt.dat", "xsdt.dat", "facs.dat"}) {
        INFO(f);
        REQUIRE(run(cd + "iasl -d " + f, out) == 0);
        CHECK(lines_with(out, {"Error", "Warning", "Invalid", "Incorrect"}).empty());
        std::string dsl = slurp(dir / (std::string(f).substr(0, 4) + ".dsl"));
        CHECK(!dsl.empty());
        CHECK(lines_with(dsl, {"Error", "Warning", "Invalid", "Incorrect", "terminates"},
                         std::string(f) == "facp.dat" ? "terminates in the middle" : nullptr)
                  .empty());
    }
    // The disassembled DSDT compiles back without errors, warnings or remarks.
    REQUIRE(run(cd + "iasl -p recompiled dsdt.dsl", out) == 0);
    CHECK(out.find("0 Errors, 0 Warnings, 0 Remarks") != std::string::npos);
    // ACPICA's table manager and namespace loader (as in the Linux kernel):
    // no firmware warnings or errors.
    REQUIRE(run(cd + "acpiexec -l dsdt.aml facp.dat apic.dat hpet.dat", out) == 0);
    CHECK(out.find("successfully acquired and loaded") != std::string::npos);
    CHECK(lines_with(out, {"Error", "Warning", "Exception", "Firmware"}).empty());
    // Every device's _CRS through ACPICA's resource manager. (acpiexec's
    // built-in interface tests expect its own FADT, with a PM2 block and a
    // second GPE block, and report their absence as "Unexpected ...".)
    REQUIRE(run(cd + "acpiexec -b resources dsdt.aml facp.dat apic.dat hpet.dat", out) == 0);
    CHECK(lines_with(out, {"Error", "Warning", "Exception", "Firmware"}, "Unexpected AE_").empty());
    CHECK(out.find("Address : FED00000") != std::string::npos);
    CHECK(out.find("Address Minimum : 02E8") != std::string::npos);
    fs::remove_all(dir);
}
