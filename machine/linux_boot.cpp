#include "machine/linux_boot.h"
#include "machine/le_bytes.h"
#include "machine/multiboot.h"
#include <algorithm>
#include <cstring>
#include <fmt/core.h>
#include <stdexcept>

namespace hayate {

namespace {

// Loader memory below 640 KiB (the kernel reserves the first MiB for itself
// and copies the zero page and command line before it touches them).
constexpr uint32_t kZeroPage = 0x10000;
constexpr uint32_t kCmdline = 0x20000;
constexpr uint32_t kGdt = 0x1f000;
constexpr uint32_t kKernelLoad = 0x100000; // code32_start of every bzImage

// Setup header offsets (in the image and in the zero page alike).
constexpr size_t kSetupSects = 0x1f1, kSysSize = 0x1f4, kBootFlag = 0x1fe, kHeaderMagic = 0x202,
                 kVersion = 0x206, kTypeOfLoader = 0x210, kLoadFlags = 0x211, kCode32Start = 0x214,
                 kRamdiskImage = 0x218, kRamdiskSize = 0x21c, kHeapEndPtr = 0x224, kCmdLinePtr = 0x228,
                 kInitrdAddrMax = 0x22c, kRelocatable = 0x234, kCmdlineSize = 0x238, kPrefAddress = 0x258,
                 kInitSize = 0x260;
// boot_params fields outside the setup header.
constexpr size_t kAcpiRsdpAddr = 0x070, kExtRamdiskImage = 0x0c0, kExtRamdiskSize = 0x0c4,
                 kExtCmdLinePtr = 0x0c8, kAltMemK = 0x1e0, kE820Entries = 0x1e8, kSentinel = 0x1ef,
                 kE820Table = 0x2d0;
constexpr size_t kZeroPageSize = 4096, kE820Max = 128;
constexpr uint8_t kLoadedHigh = 0x01, kCanUseHeap = 0x80;

[[noreturn]] void fail(const std::string& file, const std::string& why) {
    throw std::runtime_error(fmt::format("{}: {}", file, why));
}

} // namespace

bool is_linux_bzimage(std::span<const uint8_t> b) {
    return b.size() >= 0x206 && b[kBootFlag] == 0x55 && b[kBootFlag + 1] == 0xaa &&
           std::memcmp(b.data() + kHeaderMagic, "HdrS", 4) == 0;
}

LinuxBoot load_linux(PhysicalMemory& memory, const FileImage& kernel, const LinuxBootInputs& in) {
    const std::string& path = kernel.path();
    auto img = kernel.bytes();
    if (!is_linux_bzimage(img)) fail(path, "not a Linux bzImage (no HdrS setup header)");
    const uint16_t version = le::get16(img.data() + kVersion);
    if (version < 0x0204)
        fail(path, fmt::format("boot protocol {}.{:02} is too old (hayate needs 2.04 or later: a bzImage)",
                               version >> 8, version & 0xff));
    if (!(img[kLoadFlags] & kLoadedHigh))
        fail(path, "a zImage (loaded low) is not supported; build a bzImage");
    const size_t header_end = 0x202 + img[0x201]; // the jump at 0x200 skips the header
    unsigned setup_sects = img[kSetupSects];
    if (setup_sects == 0) setup_sects = 4;
    const size_t setup_bytes = size_t(setup_sects + 1) * 512;
    const uint64_t payload = uint64_t(le::get32(img.data() + kSysSize)) * 16;
    if (header_end > setup_bytes || header_end > img.size() || kInitSize + 4 > setup_bytes)
        fail(path, "corrupt setup header (header longer than the setup code)");
    // syssize counts 16-byte paragraphs, rounded up: the file may end up to
    // 15 bytes before the last one (memtest86+ images do).
    if (setup_bytes >= img.size() || img.size() - setup_bytes + 15 < payload)
        fail(path, fmt::format("truncated: {} bytes, the setup header promises {}", img.size(),
                               setup_bytes + payload));
    const uint64_t kernel_bytes = img.size() - setup_bytes;
    const uint32_t init_size = le::get32(img.data() + kInitSize);
    const bool relocatable = img[kRelocatable] != 0;
    const uint64_t pref = relocatable ? le::get64(img.data() + kPrefAddress) : kKernelLoad;
    // The decompressor runs in place from init_size bytes at the load
    // address, or moves itself to the preferred (link) address first.
    const uint64_t kernel_needs =
        std::max<uint64_t>(kKernelLoad, pref) + std::max<uint64_t>(init_size, kernel_bytes);
    if (kernel_needs > in.low_ram_limit)
        fail(path, fmt::format("needs {} MiB of RAM below 4 GiB to decompress (init_size {:#x} at {:#x}); "
                               "give more memory with -m",
                               (kernel_needs + (1 << 20) - 1) >> 20, init_size, pref));

    LinuxBoot boot;
    if (!memory.write_bytes(kKernelLoad, img.data() + setup_bytes, kernel_bytes))
        fail(path, "kernel does not fit in guest RAM");

    // The initramfs: every -initrd file in turn, each starting 4-byte aligned.
    std::vector<uint8_t> initrd;
    for (const auto& f : in.initrd_paths) {
        FileImage part(f);
        if (part.bytes().empty()) fail(f, "the initrd file is empty");
        initrd.resize((initrd.size() + 3) & ~size_t(3));
        initrd.insert(initrd.end(), part.bytes().begin(), part.bytes().end());
    }
    const uint64_t initrd_max =
        version >= 0x0203 ? uint64_t(le::get32(img.data() + kInitrdAddrMax)) : 0x37ffffffull;
    if (!initrd.empty()) {
        const std::string& name = in.initrd_paths.front();
        // Highest page-aligned spot below both the kernel's limit and the end of usable low RAM.
        const uint64_t top = std::min<uint64_t>(initrd_max + 1, in.low_ram_limit);
        if (initrd.size() > top || ((top - initrd.size()) & ~uint64_t(0xfff)) < kernel_needs)
            fail(name,
                 fmt::format("initrd of {} MiB does not fit in guest RAM below {:#x} beside the kernel; "
                             "give more memory with -m",
                             (initrd.size() + (1 << 20) - 1) >> 20, top));
        boot.initrd_addr = uint32_t((top - initrd.size()) & ~uint64_t(0xfff));
        boot.initrd_size = uint32_t(initrd.size());
        memory.write_bytes(boot.initrd_addr, initrd.data(), initrd.size());
    }

    // The zero page: zeroed, the setup header copied in, then our fields.
    std::vector<uint8_t> zp(kZeroPageSize, 0);
    std::memcpy(zp.data() + kSetupSects, img.data() + kSetupSects, header_end - kSetupSects);
    zp[kSentinel] = 0;
    zp[kTypeOfLoader] = 0xff; // no registered boot loader id
    zp[kLoadFlags] =
        uint8_t((zp[kLoadFlags] | kCanUseHeap) & ~0x20); // not quiet; heap (unused by the 32-bit entry)
    le::put16(zp.data() + kHeapEndPtr, 0xfe00);
    le::put32(zp.data() + kCode32Start, kKernelLoad);
    le::put32(zp.data() + kRamdiskImage, boot.initrd_addr);
    le::put32(zp.data() + kRamdiskSize, boot.initrd_size);
    le::put32(zp.data() + kExtRamdiskImage, 0);
    le::put32(zp.data() + kExtRamdiskSize, 0);

    const uint32_t cmdline_max = version >= 0x0206 ? le::get32(img.data() + kCmdlineSize) : 255;
    if (in.cmdline.size() > cmdline_max)
        fail(path, fmt::format("command line of {} bytes is longer than the kernel's limit of {}",
                               in.cmdline.size(), cmdline_max));
    memory.write_bytes(kCmdline, in.cmdline.c_str(), in.cmdline.size() + 1);
    le::put32(zp.data() + kCmdLinePtr, kCmdline);
    le::put32(zp.data() + kExtCmdLinePtr, 0);
    if (version >= 0x020e) le::put64(zp.data() + kAcpiRsdpAddr, in.rsdp_addr);

    const size_t n = std::min(in.e820.size(), kE820Max);
    uint64_t ext_kib = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t* e = zp.data() + kE820Table + i * 20;
        le::put64(e, in.e820[i].addr);
        le::put64(e + 8, in.e820[i].size);
        le::put32(e + 16, uint32_t(in.e820[i].type));
        if (in.e820[i].type == E820Type::Usable && in.e820[i].addr == kHighMemoryBase)
            ext_kib = in.e820[i].size >> 10;
    }
    zp[kE820Entries] = uint8_t(n);
    le::put32(zp.data() + kAltMemK, uint32_t(ext_kib));
    memory.write_bytes(kZeroPage, zp.data(), zp.size());

    // GDT: null, null, __BOOT_CS (flat 32-bit code), __BOOT_DS (flat data).
    const uint64_t gdt[4] = {0, 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
    memory.write_bytes(kGdt, gdt, sizeof gdt);
    boot.gdt_base = kGdt;
    boot.gdt_limit = sizeof gdt - 1;
    boot.entry = kKernelLoad;
    boot.zero_page = kZeroPage;
    return boot;
}

} // namespace hayate
