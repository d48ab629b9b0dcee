// The ACPI tables (ACPI 6.x chapter 5) the kernel loader writes into guest
// memory for -kernel boots, where no BIOS builds them: RSDP, RSDT, XSDT,
// FADT (ACPI 5.1 form), FACS, MADT, HPET and a DSDT describing the PCI host
// bridge and the legacy ISA devices. Pure functions over byte buffers; the
// board places the bytes in guest memory.
//
// Layout contract (see AcpiBuild):
//   tables    -> guest physical table_area_phys (64-byte aligned), in RAM the
//                E820 map does not give to the OS as usable (the firmware tail
//                below the PCI hole). The first nvs_bytes hold the FACS, which
//                ACPI wants in NVS memory (E820 type 4); the rest may be type 3
//                (ACPI reclaim) or reserved.
//   rsdp      -> guest physical rsdp_phys (16-byte aligned, in the BIOS area
//                0xE0000-0xFFFFF where a kernel scans for "RSD PTR "), which
//                must not be usable RAM either. Pass rsdp_phys as
//                boot_params.acpi_rsdp_addr to Linux as well.
#pragma once
#include "machine/aml.h"
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hayate {

// A 16550 serial port the DSDT lists (COM1..COM4).
struct IsaSerialPort {
    unsigned number; // 1..4: COM<number>, _UID <number>
    uint16_t io_base;
    uint8_t irq;
};

// What the firmware tables describe. Defaults are the PC's (QEMU pc/PIIX4).
struct PcBoardDescription {
    unsigned cpu_count = 1; // CPUs with APIC ids and ACPI processor UIDs 0..cpu_count-1
    uint32_t lapic_base = 0xFEE00000;
    uint8_t lapic_version = 0x14; // the local APIC version register (integrated xAPIC)
    uint32_t cpu_signature = 0;   // CPUID.1:EAX (MP processor entries)
    uint32_t cpu_features = 0;    // CPUID.1:EDX (MP processor entries)
    uint8_t ioapic_id = 0;
    uint8_t ioapic_version = 0x20; // the IOAPIC version register (devices/io_apic.h, as ICH parts)
    uint32_t ioapic_base = 0xFEC00000;
    unsigned ioapic_pins = 24;
    bool hpet = true;
    uint32_t hpet_base = 0xFED00000;
    uint16_t pm_base = 0x600;    // PM1a_EVT at +0 (4 bytes), PM1a_CNT at +4 (2), PM_TMR at +8 (4)
    uint16_t gpe0_base = 0xAFE0; // GPE0 block, 4 bytes (STS 2, EN 2)
    uint8_t sci_irq = 9;         // ISA IRQ (= GSI) of the SCI, level, active high
    uint16_t reset_port = 0xCF9; // FADT RESET_REG (byte, system I/O)
    uint8_t reset_value = 0x06;
    uint8_t rtc_century_index = 0x32;
    uint32_t isa_bridge_pci_address = 0x00010000; // _ADR of the PIIX ISA bridge: device 1, function 0
    uint64_t ram_below_4g = 0;                    // the PCI hole starts here
    std::vector<IsaSerialPort> serial_ports;
};

// Constants of the tables (ACPI 6.x), shared with the tests.
namespace acpi {
constexpr uint32_t kRsdpPhys = 0xF0000; // default RSDP home in the BIOS area
constexpr size_t kRsdpLength = 36;      // revision 2 RSDP
constexpr size_t kHeaderLength = 36;    // System Description Table header
constexpr size_t kFadtLength = 268;     // FADT revision 5 (ACPI 5.0/5.1)
constexpr uint8_t kFadtRevision = 5;
constexpr uint8_t kFadtMinorRevision = 1;
constexpr size_t kFacsLength = 64;
constexpr uint8_t kMadtRevision = 3;
constexpr const char* kOemId = "HAYATE";
constexpr const char* kOemTableId = "HAYATEPC";
constexpr const char* kCreatorId = "HYTE";
// HPET capabilities (IA-PC HPET 1.0a, General Capabilities register bits
// 31:0): vendor, legacy replacement route capable, 64-bit counter, index of
// the last comparator, revision.
constexpr uint16_t kHpetVendorId = 0x8086;
constexpr unsigned kHpetComparators = 3;
constexpr uint8_t kHpetRevision = 1;
constexpr uint16_t kHpetMinimumTick = 0x80;
constexpr uint32_t hpet_event_timer_block_id() {
    return uint32_t(kHpetVendorId) << 16 | 1u << 15 /* LEG_RT_CAP */ | 1u << 13 /* COUNT_SIZE_CAP */ |
           (kHpetComparators - 1) << 8 | kHpetRevision;
}
} // namespace acpi

struct AcpiBuild {
    uint32_t tables_phys = 0;    // where `tables` goes (= table_area_phys)
    std::vector<uint8_t> tables; // FACS first, then DSDT, FADT, MADT, HPET, RSDT, XSDT
    uint32_t nvs_bytes = 0;      // leading bytes of `tables` that must stay NVS (the FACS)
    uint32_t rsdp_phys = 0;      // where `rsdp` goes
    std::vector<uint8_t> rsdp;   // 36 bytes
    // Physical addresses of the individual tables (tests, logging).
    uint32_t facs_phys = 0, dsdt_phys = 0, fadt_phys = 0, madt_phys = 0, hpet_phys = 0, rsdt_phys = 0,
             xsdt_phys = 0;
};

// Builds every table for placement at table_area_phys (64-byte aligned, the
// whole area below 4 GiB). Throws std::invalid_argument on a description the
// tables cannot express (no CPUs, more than 255, misaligned area, ...).
AcpiBuild build_acpi_tables(const PcBoardDescription& board, uint32_t table_area_phys,
                            uint32_t rsdp_phys = acpi::kRsdpPhys);

// The DSDT alone (header included), for tests and tools.
std::vector<uint8_t> build_dsdt(const PcBoardDescription& board);

// Reads back tables from a physical address space: read(phys, dst, len)
// returns false outside it. Checks every checksum and length and follows
// RSDP -> RSDT/XSDT -> FADT -> FACS/DSDT. Returns "" when all is well,
// otherwise what is wrong; `signatures` gets the tables found (in XSDT order,
// then FACS and DSDT).
using PhysReader = std::function<bool(uint64_t phys, void* dst, size_t len)>;
std::string verify_acpi_tables(const PhysReader& read, uint64_t rsdp_phys,
                               std::vector<std::string>* signatures = nullptr);

} // namespace hayate
