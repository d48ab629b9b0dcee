// The BIOS memory map (INT 15h E820) of the PC board, as the Linux boot
// protocol's zero page and the multiboot memory map carry it.
#pragma once
#include "machine/memory.h"
#include <cstdint>
#include <vector>

namespace hayate {

enum class E820Type : uint32_t { Usable = 1, Reserved = 2, Acpi = 3, Nvs = 4 };

struct E820Entry {
    uint64_t addr, size;
    E820Type type;
};

// Fixed pieces of the PC's low memory.
constexpr uint64_t kEbdaBase = 0x9fc00;     // 1 KiB extended BIOS data area below 640 KiB
constexpr uint64_t kBiosAreaBase = 0xf0000; // system BIOS area: MP and ACPI RSDP pointers live here
constexpr uint64_t kBiosAreaEnd = 0x100000;
constexpr uint64_t kHighMemoryBase = 0x100000;
// The top of RAM below 4 GiB that holds the firmware tables (reserved in E820).
constexpr uint64_t kFirmwareTailBytes = 128 << 10;
// Where the loader puts the RSDP and the MP floating pointer (BIOS area).
constexpr uint64_t kRsdpAddress = 0xf0000, kMpFloatingAddress = 0xf0100;

// The map: low RAM (minus the EBDA), the BIOS area reserved, RAM from 1 MiB
// up to `firmware_top` bytes below the end of low RAM (that tail holds the
// ACPI tables and is reserved, as SeaBIOS leaves it), and RAM above 4 GiB.
std::vector<E820Entry> pc_e820_map(const RamLayout& ram, uint64_t firmware_tail_bytes);

} // namespace hayate
