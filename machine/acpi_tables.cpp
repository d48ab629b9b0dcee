// ACPI tables after the ACPI 6.x specification, chapter 5.2 (table layouts)
// and 5.2.12 (MADT), the IA-PC HPET specification 1.0a (HPET table) and a
// DSDT assembled with machine/aml.h.
#include "machine/acpi_tables.h"
#include "machine/le_bytes.h"
#include <cstring>
#include <fmt/core.h>
#include <stdexcept>

namespace hayate {

namespace {

using aml::append;
using aml::Bytes;

[[noreturn]] void invalid(const std::string& what) { throw std::invalid_argument("acpi: " + what); }

uint8_t checksum_of(const uint8_t* p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum = uint8_t(sum + p[i]);
    return sum;
}

// Sets the byte at `offset` so that the n bytes at p sum to zero.
void fix_checksum(uint8_t* p, size_t n, size_t offset) {
    p[offset] = 0;
    p[offset] = uint8_t(-checksum_of(p, n));
}

void put_chars(uint8_t* p, const char* text, size_t width) {
    // Fixed-width ASCII fields, space padded (OEM ids are not NUL terminated).
    size_t len = std::strlen(text);
    for (size_t i = 0; i < width; ++i) p[i] = i < len ? uint8_t(text[i]) : uint8_t(' ');
}

// System Description Table header (5.2.6) offsets.
constexpr size_t kHdrSignature = 0, kHdrLength = 4, kHdrRevision = 8, kHdrChecksum = 9, kHdrOemId = 10,
                 kHdrOemTableId = 16, kHdrOemRevision = 24, kHdrCreatorId = 28, kHdrCreatorRevision = 32;

// A table: header then body, length and checksum filled in.
Bytes make_table(const char* signature, uint8_t revision, const Bytes& body) {
    Bytes t(acpi::kHeaderLength, 0);
    append(t, body);
    std::memcpy(&t[kHdrSignature], signature, 4);
    le::put32(&t[kHdrLength], uint32_t(t.size()));
    t[kHdrRevision] = revision;
    put_chars(&t[kHdrOemId], acpi::kOemId, 6);
    put_chars(&t[kHdrOemTableId], acpi::kOemTableId, 8);
    le::put32(&t[kHdrOemRevision], 1);
    put_chars(&t[kHdrCreatorId], acpi::kCreatorId, 4);
    le::put32(&t[kHdrCreatorRevision], 1);
    fix_checksum(t.data(), t.size(), kHdrChecksum);
    return t;
}

// Generic Address Structure (5.2.3.2).
enum : uint8_t { kSpaceMemory = 0, kSpaceIo = 1 };
enum : uint8_t { kAccessUndefined = 0, kAccessByte = 1, kAccessWord = 2, kAccessDword = 3 };
void put_gas(uint8_t* p, uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t address) {
    p[0] = space;
    p[1] = bit_width;
    p[2] = 0; // bit offset
    p[3] = access_size;
    le::put64(p + 4, address);
}

void validate(const PcBoardDescription& b) {
    // APIC ids and processor UIDs are bytes and 0xFF means "all" in both.
    if (b.cpu_count == 0 || b.cpu_count > 255) invalid(fmt::format("{} CPUs (1-255 supported)", b.cpu_count));
    if (b.ioapic_pins < 16 || b.ioapic_pins > 240)
        invalid(fmt::format("IOAPIC with {} pins (the ISA IRQs need 16)", b.ioapic_pins));
    if (b.sci_irq >= 16 || b.sci_irq == 0 || b.sci_irq == 2)
        invalid(fmt::format("SCI on ISA IRQ {}", b.sci_irq));
    if (b.ram_below_4g < 0x100000 || b.ram_below_4g > 0xFEC00000ull)
        invalid(fmt::format("RAM below 4 GiB of {:#x} bytes", b.ram_below_4g));
    for (const auto& s : b.serial_ports)
        if (s.number < 1 || s.number > 4 || s.irq >= 16 || s.io_base > 0xFFF8)
            invalid(fmt::format("serial port COM{} at {:#x} IRQ {}", s.number, s.io_base, s.irq));
}

// --------------------------------------------------------------------- DSDT

Bytes name_hid(std::string_view eisa) { return aml::name("_HID", aml::eisa_id(eisa)); }
Bytes name_crs(const std::vector<Bytes>& descriptors) {
    return aml::name("_CRS", aml::resource_template(descriptors));
}

Bytes isa_devices(const PcBoardDescription& b) {
    namespace r = aml::res;
    Bytes list = aml::name("_ADR", aml::integer(b.isa_bridge_pci_address));
    append(list, aml::device("RTC", aml::concat({name_hid("PNP0B00"), name_crs({r::io(0x70, 0x70, 1, 2),
                                                                                r::irq_no_flags({8})})})));
    append(list, aml::device("KBD", aml::concat({name_hid("PNP0303"),
                                                 name_crs({r::io(0x60, 0x60, 1, 1), r::io(0x64, 0x64, 1, 1),
                                                           r::irq_no_flags({1})})})));
    append(list, aml::device("TIMR", aml::concat({name_hid("PNP0100"), name_crs({r::io(0x40, 0x40, 1, 4),
                                                                                 r::irq_no_flags({0})})})));
    // The 8259A pair and the PIIX ELCR (0x4D0/0x4D1) that sets their trigger modes.
    append(list,
           aml::device("PIC", aml::concat({name_hid("PNP0000"),
                                           name_crs({r::io(0x20, 0x20, 1, 2), r::io(0xA0, 0xA0, 1, 2),
                                                     r::io(0x4D0, 0x4D0, 1, 2), r::irq_no_flags({2})})})));
    if (b.hpet)
        append(list,
               aml::device("HPET", aml::concat({name_hid("PNP0103"), aml::name("_UID", aml::integer(0)),
                                                name_crs({r::memory32_fixed(true, b.hpet_base, 0x400)})})));
    for (const auto& s : b.serial_ports) {
        append(list,
               aml::device(
                   fmt::format("COM{}", s.number),
                   aml::concat({name_hid("PNP0501"), aml::name("_UID", aml::integer(s.number)),
                                name_crs({r::io(s.io_base, s.io_base, 1, 8), r::irq_no_flags({s.irq})})})));
    }
    return list;
}

Bytes pci_host_bridge(const PcBoardDescription& b) {
    namespace r = aml::res;
    using r::Usage;
    constexpr uint32_t kPciHoleEnd = 0xFEBFFFFF; // the IOAPIC's page starts at 0xFEC00000
    std::vector<Bytes> crs = {
        r::word_bus_number(Usage::producer, 0x00, 0xFF),
        r::io(0x0CF8, 0x0CF8, 1, 8), // the configuration mechanism #1 ports, the bridge's own
        r::dword_io(Usage::producer, 0x0000, 0x0CF7),
        r::dword_io(Usage::producer, 0x0D00, 0xFFFF),
        r::dword_memory(Usage::producer, r::Cacheability::cacheable, true, 0xA0000, 0xBFFFF),
    };
    if (b.ram_below_4g <= kPciHoleEnd)
        crs.push_back(r::dword_memory(Usage::producer, r::Cacheability::non_cacheable, true,
                                      uint32_t(b.ram_below_4g), kPciHoleEnd));
    // _HID and no _ADR: ACPI 6.x 6.1 allows one or the other, not both.
    return aml::device("PCI0", aml::concat({name_hid("PNP0A03"), aml::name("_UID", aml::integer(0)),
                                            name_crs(crs), aml::device("ISA", isa_devices(b))}));
}

Bytes processors(const PcBoardDescription& b) {
    // Processor devices (8.4): _UID matches the MADT's ACPI Processor UID.
    Bytes list;
    for (unsigned i = 0; i < b.cpu_count; ++i)
        append(list,
               aml::device(fmt::format("C{:03X}", i), aml::concat({aml::name("_HID", aml::string("ACPI0007")),
                                                                   aml::name("_UID", aml::integer(i))})));
    return list;
}

// ------------------------------------------------------------- other tables

// FADT field offsets (5.2.9, ACPI 5.1 layout).
namespace fadt {
constexpr size_t kFirmwareCtrl = 36, kDsdt = 40, kPreferredPmProfile = 45, kSciInt = 46, kSmiCmd = 48,
                 kPm1aEvtBlk = 56, kPm1aCntBlk = 64, kPmTmrBlk = 76, kGpe0Blk = 80, kPm1EvtLenField = 88,
                 kPm1CntLenField = 89, kPm2CntLenField = 90, kPmTmrLenField = 91, kGpe0BlkLenField = 92,
                 kPLvl2Lat = 96, kPLvl3Lat = 98, kCentury = 108, kIapcBootArch = 109, kFlags = 112,
                 kResetReg = 116, kResetValue = 128, kMinorVersion = 131, kXFirmwareCtrl = 132, kXDsdt = 140,
                 kXPm1aEvtBlk = 148, kXPm1aCntBlk = 172, kXPmTmrBlk = 208, kXGpe0Blk = 220;
// Fixed feature flags.
constexpr uint32_t kWbinvd = 1u << 0, kProcC1 = 1u << 2, kSlpButton = 1u << 5, kResetRegSup = 1u << 10;
// IA-PC boot architecture flags.
constexpr uint16_t kLegacyDevices = 1u << 0, k8042 = 1u << 1, kVgaNotPresent = 1u << 2;
// A worst-case latency above 100 us (C2) or 1000 us (C3) says the state is not supported.
constexpr uint16_t kC2NotSupported = 101, kC3NotSupported = 1001;
constexpr uint8_t kPm1EvtLen = 4, kPm1CntLen = 2, kPmTmrLen = 4, kGpe0Len = 4;
} // namespace fadt

Bytes make_fadt(const PcBoardDescription& b, uint32_t facs, uint32_t dsdt) {
    using namespace fadt;
    Bytes t(acpi::kFadtLength - acpi::kHeaderLength, 0);
    auto at = [&](size_t off) { return &t[off - acpi::kHeaderLength]; };
    le::put32(at(kFirmwareCtrl), facs);
    le::put32(at(kDsdt), dsdt);
    *at(kPreferredPmProfile) = 0; // unspecified
    le::put16(at(kSciInt), b.sci_irq);
    le::put32(at(kSmiCmd), 0); // no SMI command port: the hardware is always in ACPI mode
    le::put32(at(kPm1aEvtBlk), b.pm_base);
    le::put32(at(kPm1aCntBlk), b.pm_base + 4u);
    le::put32(at(kPmTmrBlk), b.pm_base + 8u);
    le::put32(at(kGpe0Blk), b.gpe0_base);
    *at(kPm1EvtLenField) = kPm1EvtLen;
    *at(kPm1CntLenField) = kPm1CntLen;
    *at(kPm2CntLenField) = 0;
    *at(kPmTmrLenField) = kPmTmrLen;
    *at(kGpe0BlkLenField) = kGpe0Len;
    le::put16(at(kPLvl2Lat), kC2NotSupported);
    le::put16(at(kPLvl3Lat), kC3NotSupported);
    *at(kCentury) = b.rtc_century_index;
    le::put16(at(kIapcBootArch), kLegacyDevices | k8042 | kVgaNotPresent);
    // TMR_VAL_EXT clear: the PM timer counts in 24 bits.
    le::put32(at(kFlags), kWbinvd | kProcC1 | kSlpButton | kResetRegSup);
    put_gas(at(kResetReg), kSpaceIo, 8, kAccessByte, b.reset_port);
    *at(kResetValue) = b.reset_value;
    *at(kMinorVersion) = acpi::kFadtMinorRevision;
    le::put64(at(kXFirmwareCtrl), facs);
    le::put64(at(kXDsdt), dsdt);
    // The X_ blocks repeat the 32-bit ones; widths agree with the length
    // fields. PM1 event and control registers are 16-bit, the timer 32-bit,
    // GPE registers bytes.
    put_gas(at(kXPm1aEvtBlk), kSpaceIo, kPm1EvtLen * 8, kAccessWord, b.pm_base);
    put_gas(at(kXPm1aCntBlk), kSpaceIo, kPm1CntLen * 8, kAccessWord, b.pm_base + 4u);
    put_gas(at(kXPmTmrBlk), kSpaceIo, kPmTmrLen * 8, kAccessDword, b.pm_base + 8u);
    put_gas(at(kXGpe0Blk), kSpaceIo, kGpe0Len * 8, kAccessByte, b.gpe0_base);
    return make_table("FACP", acpi::kFadtRevision, t);
}

Bytes make_facs() {
    // 5.2.10: no checksum; version 2; everything else zero (no waking vector,
    // the global lock free, no S4BIOS).
    Bytes t(acpi::kFacsLength, 0);
    std::memcpy(&t[0], "FACS", 4);
    le::put32(&t[4], uint32_t(acpi::kFacsLength));
    t[32] = 2; // version
    return t;
}

Bytes make_madt(const PcBoardDescription& b) {
    constexpr uint8_t kLocalApic = 0, kIoApic = 1, kInterruptSourceOverride = 2, kLocalApicNmi = 4;
    constexpr uint32_t kPcatCompat = 1, kLapicEnabled = 1;
    // MPS INTI flags: polarity bits 1:0 (01 high, 11 low), trigger bits 3:2 (01 edge, 11 level).
    constexpr uint16_t kConforms = 0, kActiveHighLevel = 0x1 | 0x3 << 2;
    Bytes t(8, 0);
    le::put32(&t[0], b.lapic_base);
    le::put32(&t[4], kPcatCompat);
    for (unsigned i = 0; i < b.cpu_count; ++i) {
        Bytes e{kLocalApic, 8, uint8_t(i) /* ACPI processor UID */, uint8_t(i) /* APIC id */, 0, 0, 0, 0};
        le::put32(&e[4], kLapicEnabled);
        append(t, e);
    }
    Bytes ioapic{kIoApic, 12, b.ioapic_id, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    le::put32(&ioapic[4], b.ioapic_base);
    le::put32(&ioapic[8], 0); // GSI base
    append(t, ioapic);
    auto override_entry = [&](uint8_t irq, uint32_t gsi, uint16_t flags) {
        Bytes e{kInterruptSourceOverride, 10, 0 /* ISA */, irq, 0, 0, 0, 0, 0, 0};
        le::put32(&e[4], gsi);
        le::put16(&e[8], flags);
        append(t, e);
    };
    override_entry(0, 2, kConforms); // the PIT reaches IOAPIC pin 2
    override_entry(b.sci_irq, b.sci_irq, kActiveHighLevel);
    Bytes nmi{kLocalApicNmi, 6, 0xFF /* all processors */, 0, 0, 1 /* LINT1 */};
    le::put16(&nmi[3], kConforms);
    append(t, nmi);
    return make_table("APIC", acpi::kMadtRevision, t);
}

Bytes make_hpet(const PcBoardDescription& b) {
    Bytes t(56 - acpi::kHeaderLength, 0);
    le::put32(&t[0], acpi::hpet_event_timer_block_id());
    put_gas(&t[4], kSpaceMemory, 64, kAccessUndefined, b.hpet_base);
    t[16] = 0; // HPET sequence number
    le::put16(&t[17], acpi::kHpetMinimumTick);
    t[19] = 0; // no page protection
    return make_table("HPET", 1, t);
}

void align_to(Bytes& out, size_t alignment) {
    out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
}

} // namespace

std::vector<uint8_t> build_dsdt(const PcBoardDescription& board) {
    validate(board);
    // \_S5: SLP_TYP 0 for PM1a and PM1b (PIIX4: soft off), two reserved.
    Bytes body =
        aml::name("_S5", aml::package({aml::integer(0), aml::integer(0), aml::integer(0), aml::integer(0)}));
    append(body, aml::scope("\\_SB", aml::concat({pci_host_bridge(board), processors(board)})));
    // DSDT revision 2: integers are 64 bits wide.
    return make_table("DSDT", 2, body);
}

AcpiBuild build_acpi_tables(const PcBoardDescription& board, uint32_t table_area_phys, uint32_t rsdp_phys) {
    validate(board);
    if (table_area_phys % 64)
        invalid(fmt::format("table area at {:#x} is not 64-byte aligned", table_area_phys));
    if (rsdp_phys % 16) invalid(fmt::format("RSDP at {:#x} is not 16-byte aligned", rsdp_phys));
    AcpiBuild out;
    out.tables_phys = table_area_phys;
    Bytes& area = out.tables;
    auto place = [&](const Bytes& table, size_t alignment) {
        align_to(area, alignment);
        uint64_t phys = uint64_t(table_area_phys) + area.size();
        if (phys + table.size() > 0x100000000ull) invalid("ACPI tables cross 4 GiB");
        append(area, table);
        return uint32_t(phys);
    };
    out.facs_phys = place(make_facs(), 64);
    out.nvs_bytes = uint32_t(acpi::kFacsLength);
    out.dsdt_phys = place(build_dsdt(board), 16);
    out.fadt_phys = place(make_fadt(board, out.facs_phys, out.dsdt_phys), 16);
    out.madt_phys = place(make_madt(board), 16);
    std::vector<uint32_t> listed = {out.fadt_phys, out.madt_phys};
    if (board.hpet) {
        out.hpet_phys = place(make_hpet(board), 16);
        listed.push_back(out.hpet_phys);
    }
    Bytes rsdt_entries, xsdt_entries;
    for (uint32_t p : listed) {
        for (int i = 0; i < 4; ++i) rsdt_entries.push_back(uint8_t(p >> (8 * i)));
        for (int i = 0; i < 8; ++i) xsdt_entries.push_back(uint8_t(uint64_t(p) >> (8 * i)));
    }
    out.rsdt_phys = place(make_table("RSDT", 1, rsdt_entries), 16);
    out.xsdt_phys = place(make_table("XSDT", 1, xsdt_entries), 16);
    align_to(area, 16);

    // RSDP (5.2.5.3): the first checksum covers the ACPI 1.0 part (20 bytes),
    // the extended one all 36.
    out.rsdp_phys = rsdp_phys;
    out.rsdp.assign(acpi::kRsdpLength, 0);
    uint8_t* r = out.rsdp.data();
    std::memcpy(r, "RSD PTR ", 8);
    put_chars(r + 9, acpi::kOemId, 6);
    r[15] = 2; // revision
    le::put32(r + 16, out.rsdt_phys);
    le::put32(r + 20, uint32_t(acpi::kRsdpLength));
    le::put64(r + 24, out.xsdt_phys);
    fix_checksum(r, 20, 8);
    fix_checksum(r, acpi::kRsdpLength, 32);
    return out;
}

// ---------------------------------------------------------------- read back

namespace {

constexpr uint32_t kMaxTableLength = 1u << 20; // far above anything built here

std::string read_table(const PhysReader& read, uint64_t phys, Bytes& table) {
    uint8_t hdr[acpi::kHeaderLength];
    if (!read(phys, hdr, sizeof hdr)) return fmt::format("table header at {:#x} unreadable", phys);
    std::string sig(reinterpret_cast<const char*>(hdr), 4);
    uint32_t len = le::get32(hdr + kHdrLength);
    if (len < acpi::kHeaderLength || len > kMaxTableLength)
        return fmt::format("{} at {:#x}: bad length {}", sig, phys, len);
    table.resize(len);
    if (!read(phys, table.data(), len)) return fmt::format("{} at {:#x}: body unreadable", sig, phys);
    if (checksum_of(table.data(), len) != 0) return fmt::format("{} at {:#x}: bad checksum", sig, phys);
    return "";
}

std::string signature_of(const Bytes& t) { return std::string(reinterpret_cast<const char*>(t.data()), 4); }

} // namespace

std::string verify_acpi_tables(const PhysReader& read, uint64_t rsdp_phys,
                               std::vector<std::string>* signatures) {
    uint8_t r[acpi::kRsdpLength];
    if (!read(rsdp_phys, r, sizeof r)) return "RSDP unreadable";
    if (std::memcmp(r, "RSD PTR ", 8) != 0) return "RSDP signature missing";
    if (checksum_of(r, 20) != 0) return "RSDP checksum (first 20 bytes) wrong";
    if (r[15] < 2) return fmt::format("RSDP revision {} has no XSDT", r[15]);
    if (le::get32(r + 20) != acpi::kRsdpLength) return "RSDP length is not 36";
    if (checksum_of(r, acpi::kRsdpLength) != 0) return "RSDP extended checksum wrong";

    Bytes rsdt, xsdt;
    if (auto e = read_table(read, le::get32(r + 16), rsdt); !e.empty()) return e;
    if (auto e = read_table(read, le::get64(r + 24), xsdt); !e.empty()) return e;
    if (signature_of(rsdt) != "RSDT") return "RSDP's RSDT address holds " + signature_of(rsdt);
    if (signature_of(xsdt) != "XSDT") return "RSDP's XSDT address holds " + signature_of(xsdt);
    size_t count = (xsdt.size() - acpi::kHeaderLength) / 8;
    if ((xsdt.size() - acpi::kHeaderLength) % 8 || (rsdt.size() - acpi::kHeaderLength) != count * 4)
        return "RSDT and XSDT list different numbers of tables";

    Bytes fadt;
    for (size_t i = 0; i < count; ++i) {
        uint64_t x = le::get64(&xsdt[acpi::kHeaderLength + 8 * i]);
        uint32_t p = le::get32(&rsdt[acpi::kHeaderLength + 4 * i]);
        if (x != p) return fmt::format("XSDT entry {} ({:#x}) differs from RSDT's ({:#x})", i, x, p);
        Bytes t;
        if (auto e = read_table(read, x, t); !e.empty()) return e;
        if (signatures) signatures->push_back(signature_of(t));
        if (signature_of(t) == "FACP") fadt = t;
    }
    if (fadt.empty()) return "no FADT in the XSDT";
    if (fadt.size() < fadt::kXDsdt + 8) return "FADT too short for X_DSDT";

    uint64_t facs = le::get64(&fadt[fadt::kXFirmwareCtrl]);
    if (uint32_t f32 = le::get32(&fadt[fadt::kFirmwareCtrl]); f32 != 0 && f32 != facs)
        return "FADT FIRMWARE_CTRL and X_FIRMWARE_CTRL differ";
    if (facs % 64) return "FACS not 64-byte aligned";
    uint8_t fh[8];
    if (!read(facs, fh, sizeof fh)) return "FACS unreadable";
    if (std::memcmp(fh, "FACS", 4) != 0 || le::get32(fh + 4) < acpi::kFacsLength) return "FACS header wrong";
    if (signatures) signatures->push_back("FACS");

    uint64_t dsdt_phys = le::get64(&fadt[fadt::kXDsdt]);
    if (uint32_t d32 = le::get32(&fadt[fadt::kDsdt]); d32 != 0 && d32 != dsdt_phys)
        return "FADT DSDT and X_DSDT differ";
    Bytes dsdt;
    if (auto e = read_table(read, dsdt_phys, dsdt); !e.empty()) return e;
    if (signature_of(dsdt) != "DSDT") return "FADT's DSDT address holds " + signature_of(dsdt);
    if (signatures) signatures->push_back("DSDT");
    return "";
}

} // namespace hayate
