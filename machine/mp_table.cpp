// Intel MultiProcessor Specification 1.4, chapter 4 (MP configuration
// information).
#include "machine/mp_table.h"
#include "machine/le_bytes.h"
#include <cstring>
#include <fmt/core.h>
#include <stdexcept>

namespace hayate {

namespace {

using Bytes = std::vector<uint8_t>;

uint8_t checksum_of(const uint8_t* p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum = uint8_t(sum + p[i]);
    return sum;
}

void put_chars(uint8_t* p, const char* text, size_t width) {
    size_t len = std::strlen(text);
    for (size_t i = 0; i < width; ++i) p[i] = i < len ? uint8_t(text[i]) : uint8_t(' ');
}

// I/O interrupt flags: polarity bits 1:0 (00 conforms, 01 high, 11 low),
// trigger mode bits 3:2 (00 conforms, 01 edge, 11 level).
constexpr uint16_t kConforms = 0, kActiveHighLevel = 0x1 | 0x3 << 2;
constexpr uint8_t kCpuEnabled = 1u << 0, kCpuBootstrap = 1u << 1, kIoApicEnabled = 1u << 0;
constexpr uint8_t kAllLocalApics = 0xFF;

Bytes interrupt_entry(uint8_t entry_type, uint8_t int_type, uint16_t flags, uint8_t bus, uint8_t bus_irq,
                      uint8_t dest_apic, uint8_t dest_pin) {
    Bytes e{entry_type, int_type, 0, 0, bus, bus_irq, dest_apic, dest_pin};
    le::put16(&e[2], flags);
    return e;
}

} // namespace

MpBuild build_mp_table(const PcBoardDescription& board, uint32_t config_table_phys) {
    if (board.cpu_count == 0 || board.cpu_count > 255)
        throw std::invalid_argument(fmt::format("mp: {} CPUs (1-255 supported)", board.cpu_count));
    if (board.ioapic_pins < 16)
        throw std::invalid_argument(
            fmt::format("mp: IOAPIC with {} pins (the ISA IRQs need 16)", board.ioapic_pins));
    if (board.sci_irq >= 16 || board.sci_irq == 0 || board.sci_irq == 2)
        throw std::invalid_argument(fmt::format("mp: SCI on ISA IRQ {}", board.sci_irq));

    Bytes t(mp::kHeaderLength, 0);
    uint16_t entries = 0;
    auto add = [&](const Bytes& e) {
        t.insert(t.end(), e.begin(), e.end());
        ++entries;
    };
    for (unsigned i = 0; i < board.cpu_count; ++i) {
        Bytes e(mp::kProcessorEntryLength, 0);
        e[0] = mp::kProcessor;
        e[1] = uint8_t(i); // local APIC id
        e[2] = board.lapic_version;
        e[3] = uint8_t(kCpuEnabled | (i == 0 ? kCpuBootstrap : 0));
        le::put32(&e[4], board.cpu_signature);
        le::put32(&e[8], board.cpu_features);
        add(e);
    }
    auto bus = [&](uint8_t id, const char* type) {
        Bytes e(mp::kOtherEntryLength, 0);
        e[0] = mp::kBus;
        e[1] = id;
        put_chars(&e[2], type, 6);
        add(e);
    };
    bus(mp::kPciBusId, "PCI");
    bus(mp::kIsaBusId, "ISA");
    Bytes ioapic{mp::kIoApic, board.ioapic_id, board.ioapic_version, kIoApicEnabled, 0, 0, 0, 0};
    le::put32(&ioapic[4], board.ioapic_base);
    add(ioapic);
    for (uint8_t irq = 0; irq < 16; ++irq) {
        if (irq == 2) continue; // the cascade input: the slave PIC's output, not an ISA line
        uint8_t pin = irq == 0 ? 2 : irq;
        uint16_t flags = irq == board.sci_irq ? kActiveHighLevel : kConforms;
        add(interrupt_entry(mp::kIoInterrupt, mp::kIntInt, flags, mp::kIsaBusId, irq, board.ioapic_id, pin));
    }
    add(interrupt_entry(mp::kLocalInterrupt, mp::kIntExtInt, kConforms, mp::kIsaBusId, 0, kAllLocalApics, 0));
    add(interrupt_entry(mp::kLocalInterrupt, mp::kIntNmi, kConforms, mp::kIsaBusId, 0, kAllLocalApics, 1));

    // Header (table 4-2). No OEM table, no extended entries.
    std::memcpy(&t[0], "PCMP", 4);
    le::put16(&t[4], uint16_t(t.size()));
    t[6] = mp::kSpecRevision;
    put_chars(&t[8], "HAYATE", 8);
    put_chars(&t[16], "HAYATEPC", 12);
    le::put32(&t[28], 0); // OEM table pointer
    le::put16(&t[32], 0); // OEM table size
    le::put16(&t[34], entries);
    le::put32(&t[36], board.lapic_base);
    le::put16(&t[40], 0); // extended table length
    t[42] = 0;            // extended table checksum
    t[7] = uint8_t(-checksum_of(t.data(), t.size()));

    // Floating pointer (table 4-1): feature byte 1 = 0 (a configuration
    // table is present), byte 2 bit 7 IMCRP = 0 (virtual wire mode: there is
    // no IMCR).
    Bytes fp(mp::kFloatingPointerLength, 0);
    std::memcpy(&fp[0], "_MP_", 4);
    le::put32(&fp[4], config_table_phys);
    fp[8] = 1; // length in 16-byte paragraphs
    fp[9] = mp::kSpecRevision;
    fp[10] = uint8_t(-checksum_of(fp.data(), fp.size()));

    MpBuild out;
    out.floating_pointer = std::move(fp);
    out.config_table_phys = config_table_phys;
    out.config_table = std::move(t);
    return out;
}

} // namespace hayate
