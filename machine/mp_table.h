// The Intel MultiProcessor Specification 1.4 tables (chapter 4) for kernels
// that find their CPUs and IOAPIC there rather than in ACPI: the MP floating
// pointer structure and the MP configuration table. Pure functions over
// byte buffers; the board places them.
//
// Layout contract: `floating_pointer` (16 bytes) goes at a 16-byte aligned
// address in 0xF0000-0xFFFFF (or the last KiB of base memory, 0x9FC00-
// 0x9FFFF), which a kernel scans for "_MP_"; `config_table` goes at
// config_table_phys (any address below 4 GiB, by convention right after the
// floating pointer in the BIOS area). Neither may be usable RAM in E820.
#pragma once
#include "machine/acpi_tables.h"
#include <cstdint>
#include <vector>

namespace hayate {

namespace mp {
constexpr uint8_t kSpecRevision = 4; // MP 1.4
constexpr size_t kFloatingPointerLength = 16;
constexpr size_t kHeaderLength = 44;
constexpr uint8_t kPciBusId = 0, kIsaBusId = 1;
// Entry types, in the order the base table must list them.
constexpr uint8_t kProcessor = 0, kBus = 1, kIoApic = 2, kIoInterrupt = 3, kLocalInterrupt = 4;
constexpr size_t kProcessorEntryLength = 20, kOtherEntryLength = 8;
// Interrupt types of I/O and local interrupt assignment entries.
constexpr uint8_t kIntInt = 0, kIntNmi = 1, kIntSmi = 2, kIntExtInt = 3;
// A layout for the BIOS area next to the ACPI RSDP (acpi::kRsdpPhys, 36
// bytes), as machine/e820.h has it: the floating pointer, then the
// configuration table (at most 44 + 255 * 20 + 160 bytes, well inside
// 0xF0000-0xFFFFF).
constexpr uint32_t kDefaultFloatingPointerPhys = 0xF0100;
constexpr uint32_t kDefaultConfigTablePhys = kDefaultFloatingPointerPhys + kFloatingPointerLength;
static_assert(acpi::kRsdpPhys + acpi::kRsdpLength <= kDefaultFloatingPointerPhys);
} // namespace mp

struct MpBuild {
    std::vector<uint8_t> floating_pointer; // 16 bytes, pointing at config_table_phys
    uint32_t config_table_phys = 0;
    std::vector<uint8_t> config_table;
};

// Processor entries for CPUs 0..cpu_count-1 (APIC id = index, CPU 0 the
// bootstrap processor), a PCI bus 0 and an ISA bus 1, the IOAPIC, ISA IRQs
// 0-15 on the IOAPIC's pins (IRQ0 on pin 2; IRQ2, the 8259A cascade, never
// reaches the IOAPIC and gets no entry; the SCI level/active high as in the
// MADT), ExtINT on LINT0 and NMI on LINT1 of every local APIC. Throws
// std::invalid_argument on a description the table cannot express.
MpBuild build_mp_table(const PcBoardDescription& board, uint32_t config_table_phys);

} // namespace hayate
