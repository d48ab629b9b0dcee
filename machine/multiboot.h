// Multiboot v1 kernel loading (ELF32, ELF64 and the a.out kludge), the way
// GRUB and QEMU's -kernel hand a kernel its modules and boot information.
#pragma once
#include "machine/memory.h"
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hayate {

// A whole file, read-only and mapped rather than copied, so a kernel with
// large debug sections costs nothing. Throws std::runtime_error
// "<path>: <reason>" if it cannot be opened or is not a regular file.
class FileImage {
  public:
    explicit FileImage(const std::string& path);
    ~FileImage();
    FileImage(const FileImage&) = delete;
    FileImage& operator=(const FileImage&) = delete;

    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
constexpr uint32_t kMultibootBootMagic = 0x2BADB002; // EAX at the kernel's entry

struct MultibootHeaderSearch {
    std::optional<size_t> offset; // of a header whose checksum is right
    std::string note;             // why a near miss did not count (bad checksum), for error messages
};
// Looks for the header in the first 8 KiB, 4-byte aligned, as the spec says.
MultibootHeaderSearch find_multiboot_header(std::span<const uint8_t> image);

// The selectors of the flat segments the kernel starts with; the loader's GDT
// (MultibootBoot::gdt_base) holds their descriptors.
constexpr uint16_t kMultibootCodeSelector = 0x08; // 32-bit code, base 0, limit 4 GiB
constexpr uint16_t kMultibootDataSelector = 0x10; // writable data, base 0, limit 4 GiB (DS, ES, FS, GS, SS)

// Where the loaded kernel starts and what it finds in its registers.
struct MultibootBoot {
    uint32_t entry = 0;                                 // EIP, flat 32-bit protected mode, paging off
    uint32_t info_addr = 0;                             // EBX: the multiboot information structure
    uint32_t kernel_start = 0, kernel_end = 0;          // physical extent of the image (with bss)
    std::vector<std::pair<uint32_t, uint32_t>> modules; // [start, end) of each module
    uint32_t gdt_base = 0;                              // GDTR: the loader's GDT (null, code, data)
    uint16_t gdt_limit = 0;                             // GDTR limit (3 descriptors: 23)
};

// Loads the kernel and each module into guest RAM and writes the multiboot
// information structure. `modules` holds -initrd entries, "file args": the
// whole string becomes the module's string, as in QEMU and GRUB. The kernel's
// command line is its file name followed by `append`. Throws
// std::runtime_error with a one-line message naming the offending file for
// any malformed, truncated or unloadable image.
MultibootBoot load_multiboot(PhysicalMemory& memory, const FileImage& kernel, const std::string& append,
                             const std::vector<std::string>& modules);

} // namespace hayate
