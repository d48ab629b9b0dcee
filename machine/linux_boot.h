// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst) for -kernel
// bzImage boots: the loader does what a boot loader using the 32-bit entry
// does - protected-mode kernel at 1 MiB, a zero page (struct boot_params)
// with the setup header, E820 map, command line and initrd - and the kernel
// starts in flat 32-bit protected mode. Works for 32- and 64-bit kernels.
#pragma once
#include "machine/e820.h"
#include "machine/memory.h"
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hayate {

class FileImage;

// "HdrS" at 0x202 after the boot sector signature.
bool is_linux_bzimage(std::span<const uint8_t> image);

struct LinuxBootInputs {
    std::string cmdline;
    std::vector<std::string>
        initrd_paths; // concatenated into one initramfs (the kernel unpacks each in turn)
    std::vector<E820Entry> e820;
    uint64_t rsdp_addr = 0;     // boot_params.acpi_rsdp_addr (0: the kernel scans for it)
    uint64_t low_ram_limit = 0; // end of usable RAM below 4 GiB (initrd goes below it)
};

// Where the kernel starts: flat 32-bit protected mode, paging off, IF=0,
// CS = 0x10 and DS/ES/SS = 0x18 in the loader's GDT, ESI = zero page.
struct LinuxBoot {
    uint32_t entry = 0;
    uint32_t zero_page = 0;
    uint32_t gdt_base = 0;
    uint16_t gdt_limit = 0;
    uint32_t initrd_addr = 0, initrd_size = 0;
};
constexpr uint16_t kLinuxBootCodeSelector = 0x10; // __BOOT_CS
constexpr uint16_t kLinuxBootDataSelector = 0x18; // __BOOT_DS

// Throws std::runtime_error with "<file>: <reason>" for a truncated or
// malformed bzImage or initrd, and for guest RAM too small for either.
LinuxBoot load_linux(PhysicalMemory& memory, const FileImage& kernel, const LinuxBootInputs& in);

} // namespace hayate
