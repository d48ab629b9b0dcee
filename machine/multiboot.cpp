#include "machine/multiboot.h"
#include "machine/e820.h"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hayate {

FileImage::FileImage(const std::string& path) : path_(path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot open: {}", path, strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        throw std::runtime_error(fmt::format("{}: cannot read: {}", path, strerror(e)));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        throw std::runtime_error(
            fmt::format("{}: not a regular file{}", path, S_ISDIR(st.st_mode) ? " (it is a directory)" : ""));
    }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
        void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            throw std::runtime_error(fmt::format("{}: cannot read: {}", path, strerror(e)));
        }
        data_ = static_cast<const uint8_t*>(p);
    }
    close(fd); // the mapping stays valid without the descriptor
}

FileImage::~FileImage() {
    if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {

constexpr size_t kHeaderSearchLimit = 8192;
constexpr uint32_t kFlagPageAlignModules = 1u << 0;
constexpr uint32_t kFlagMemoryInfo = 1u << 1;
constexpr uint32_t kFlagVideoMode = 1u << 2;
constexpr uint32_t kFlagAddressFields = 1u << 16;

// Multiboot information structure flags and layout (spec section 3.3).
constexpr uint32_t kInfoMemory = 1u << 0, kInfoCmdline = 1u << 2, kInfoModules = 1u << 3, kInfoMmap = 1u << 6,
                   kInfoLoaderName = 1u << 9;
constexpr uint32_t kInfoSize = 116; // up to and including the framebuffer fields
constexpr uint32_t kMmapEntrySize = 24;
constexpr uint32_t kModuleEntrySize = 16;

// Low-memory layout of a PC (what a BIOS E820 map reports).
constexpr uint64_t kLowRamEnd = 0x9fc00; // conventional memory minus the EBDA
constexpr uint64_t kEbdaEnd = 0xa0000;
constexpr uint64_t kHighRamStart = 0x100000;
constexpr uint64_t kLowInfoAddr = 0x9000; // preferred home of the info structure
constexpr uint64_t k4G = 1ull << 32;

// The GDT describing the segments the kernel gets (QEMU's loader leaves one too):
// null, flat 32-bit code (0x08), flat writable data (0x10), with the accessed
// bits set as loading CS and DS..SS would have set them.
constexpr uint64_t kGdt[] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
constexpr uint32_t kGdtSize = sizeof kGdt;
static_assert(kMultibootCodeSelector == 1 * 8 && kMultibootDataSelector == 2 * 8);
// Its preferred home: the EBDA, which the memory map reports as reserved, so
// a kernel does not reuse it as free memory; after the EBDA's size byte.
constexpr uint64_t kGdtAddr = kLowRamEnd + 16;
// The BIOS data area (0x400-0x4ff): firmware fills it, kernels read it.
constexpr uint64_t kBdaStart = 0x400, kBdaSize = 0x100;

uint32_t rd32(std::span<const uint8_t> b, size_t off) {
    uint32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
}

void wr32(std::vector<uint8_t>& b, size_t off, uint32_t v) { std::memcpy(b.data() + off, &v, 4); }
void wr64(std::vector<uint8_t>& b, size_t off, uint64_t v) { std::memcpy(b.data() + off, &v, 8); }

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

[[noreturn]] void fail(const std::string& file, const std::string& what) {
    throw std::runtime_error(fmt::format("{}: {}", file, what));
}

struct Range {
    uint64_t start, end;
};

// Everything the loader places, so nothing it places later lands on it.
struct Placement {
    PhysicalMemory& memory;
    std::vector<Range> used;

    bool overlaps(uint64_t start, uint64_t end) const {
        for (const auto& r : used)
            if (start < r.end && r.start < end) return true;
        return false;
    }
    uint64_t top() const {
        uint64_t t = 0;
        for (const auto& r : used) t = std::max(t, r.end);
        return t;
    }
    // Copies `data` to guest-physical `addr` and zeroes up to `addr + memsz`.
    void load(const std::string& file, const std::string& what, uint64_t addr, std::span<const uint8_t> data,
              uint64_t memsz) {
        uint64_t ram = memory.layout().below_4g;
        if (addr >= k4G || memsz > k4G - addr)
            fail(file,
                 fmt::format("{} at {:#x} (size {:#x}) reaches above 4 GiB, where multiboot cannot load",
                             what, addr, memsz));
        if (addr >= ram || memsz > ram - addr)
            fail(file, fmt::format("{} at {:#x}-{:#x} does not fit in guest RAM ({} MiB; try a larger -m)",
                                   what, addr, addr + memsz, ram >> 20));
        if (overlaps(addr, addr + memsz))
            fail(file, fmt::format("{} at {:#x}-{:#x} overlaps something already loaded", what, addr,
                                   addr + memsz));
        if (!memory.write_bytes(addr, data.data(), data.size()))
            fail(file, fmt::format("{} at {:#x} is not plain RAM", what, addr));
        std::vector<uint8_t> zeros(std::min<uint64_t>(memsz - data.size(), 1 << 20));
        for (uint64_t a = addr + data.size(); a < addr + memsz;) {
            uint64_t n = std::min<uint64_t>(zeros.size(), addr + memsz - a);
            if (!memory.write_bytes(a, zeros.data(), n))
                fail(file, fmt::format("{} at {:#x} is not plain RAM", what, a));
            a += n;
        }
        if (memsz) used.push_back({addr, addr + memsz});
    }
};

struct Kernel {
    uint64_t entry;
};

// The a.out kludge: the header's address fields say where the file goes.
Kernel load_kludge(Placement& pl, const FileImage& f, size_t hdr) {
    auto b = f.bytes();
    const std::string& name = f.path();
    if (hdr + 32 > b.size()) fail(name, "multiboot header with address fields (flag 16) is truncated");
    uint32_t header_addr = rd32(b, hdr + 12), load_addr = rd32(b, hdr + 16), load_end = rd32(b, hdr + 20),
             bss_end = rd32(b, hdr + 24), entry = rd32(b, hdr + 28);
    if (load_addr > header_addr)
        fail(name,
             fmt::format("multiboot load_addr {:#x} is above header_addr {:#x}", load_addr, header_addr));
    // The file offset that load_addr corresponds to.
    uint64_t before_header = header_addr - load_addr;
    if (before_header > hdr)
        fail(name,
             fmt::format("multiboot header_addr {:#x} - load_addr {:#x} points before the start of the file",
                         header_addr, load_addr));
    uint64_t file_off = hdr - before_header;
    uint64_t size;
    if (load_end == 0) {
        size = b.size() - file_off;
    } else {
        if (load_end < load_addr)
            fail(name,
                 fmt::format("multiboot load_end_addr {:#x} is below load_addr {:#x}", load_end, load_addr));
        size = load_end - load_addr;
        if (size > b.size() - file_off)
            fail(name, fmt::format("multiboot load_end_addr {:#x} is past the end of the file ({} bytes)",
                                   load_end, b.size()));
    }
    uint64_t memsz = size;
    if (bss_end != 0) {
        if (bss_end < load_addr + size)
            fail(name, fmt::format("multiboot bss_end_addr {:#x} is below the end of the loaded image {:#x}",
                                   bss_end, load_addr + size));
        memsz = bss_end - load_addr;
    }
    pl.load(name, "kernel image", load_addr, b.subspan(file_off, size), memsz);
    return {entry};
}

// ELF32 and ELF64 alike: both program header layouts are read into one form.
struct Segment {
    uint32_t type;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

template <typename Ehdr, typename Phdr>
Kernel load_elf_class(Placement& pl, const FileImage& f, uint16_t machine) {
    auto b = f.bytes();
    const std::string& name = f.path();
    if (b.size() < sizeof(Ehdr)) fail(name, "ELF header is truncated");
    Ehdr eh;
    std::memcpy(&eh, b.data(), sizeof eh);
    if (eh.e_ident[EI_DATA] != ELFDATA2LSB) fail(name, "ELF file is not little-endian");
    if (eh.e_machine != machine)
        fail(name, fmt::format("ELF machine {} is not x86 ({} expected for this ELF class)", eh.e_machine,
                               machine));
    if (eh.e_type != ET_EXEC)
        fail(name, fmt::format("ELF type {} is not an executable (ET_EXEC)", eh.e_type));
    if (eh.e_phnum == 0) fail(name, "ELF file has no program headers");
    if (eh.e_phnum == PN_XNUM) fail(name, "ELF file has too many program headers");
    if (eh.e_phentsize < sizeof(Phdr))
        fail(name, fmt::format("ELF program header size {} is too small", eh.e_phentsize));
    uint64_t ph_end = uint64_t(eh.e_phoff) + uint64_t(eh.e_phnum) * eh.e_phentsize;
    if (eh.e_phoff > b.size() || ph_end > b.size())
        fail(name,
             fmt::format(
                 "ELF program headers (offset {:#x}, {} entries) run past the end of the file ({} bytes)",
                 uint64_t(eh.e_phoff), eh.e_phnum, b.size()));

    std::vector<Segment> segs;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Phdr ph;
        std::memcpy(&ph, b.data() + eh.e_phoff + uint64_t(i) * eh.e_phentsize, sizeof ph);
        Segment s{ph.p_type, ph.p_offset, ph.p_vaddr, ph.p_paddr, ph.p_filesz, ph.p_memsz};
        if (s.type != PT_LOAD || s.memsz == 0) continue;
        if (s.filesz > s.memsz)
            fail(name, fmt::format("ELF segment {} has file size {:#x} larger than its memory size {:#x}", i,
                                   s.filesz, s.memsz));
        if (s.offset > b.size() || s.filesz > b.size() - s.offset)
            fail(name,
                 fmt::format(
                     "ELF segment {} (offset {:#x}, size {:#x}) runs past the end of the file ({} bytes)", i,
                     s.offset, s.filesz, b.size()));
        pl.load(name, fmt::format("ELF segment {}", i), s.paddr, b.subspan(s.offset, s.filesz), s.memsz);
        segs.push_back(s);
    }
    if (segs.empty()) fail(name, "ELF file has no loadable segment");
    // A kernel linked to run at a virtual address (higher half) gives a
    // virtual e_entry; paging is off at entry, so translate it through the
    // segment that holds it, as GRUB does.
    uint64_t entry = eh.e_entry;
    for (const auto& s : segs)
        if (entry >= s.vaddr && entry - s.vaddr < s.memsz) {
            entry = entry - s.vaddr + s.paddr;
            break;
        }
    return {entry};
}

Kernel load_elf(Placement& pl, const FileImage& f) {
    auto b = f.bytes();
    if (b.size() < EI_NIDENT || std::memcmp(b.data(), ELFMAG, SELFMAG) != 0)
        fail(f.path(), "multiboot header without address fields (flag 16), but the file is not ELF");
    switch (b[EI_CLASS]) {
    case ELFCLASS32: return load_elf_class<Elf32_Ehdr, Elf32_Phdr>(pl, f, EM_386);
    case ELFCLASS64: return load_elf_class<Elf64_Ehdr, Elf64_Phdr>(pl, f, EM_X86_64);
    default: fail(f.path(), fmt::format("unknown ELF class {}", b[EI_CLASS]));
    }
}

} // namespace

MultibootHeaderSearch find_multiboot_header(std::span<const uint8_t> image) {
    MultibootHeaderSearch r;
    size_t limit = std::min(image.size(), kHeaderSearchLimit);
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        if (rd32(image, off) != kMultibootHeaderMagic) continue;
        uint32_t flags = rd32(image, off + 4), checksum = rd32(image, off + 8);
        if (uint32_t(kMultibootHeaderMagic + flags + checksum) == 0) {
            r.offset = off;
            return r;
        }
        if (r.note.empty())
            r.note = fmt::format("multiboot magic at offset {:#x} has a bad checksum {:#x}", off, checksum);
    }
    return r;
}

MultibootBoot load_multiboot(PhysicalMemory& memory, const FileImage& kernel, const std::string& append,
                             const std::vector<std::string>& modules) {
    auto found = find_multiboot_header(kernel.bytes());
    if (!found.offset) fail(kernel.path(), "no multiboot header in the first 8 KiB");
    size_t hdr = *found.offset;
    uint32_t flags = rd32(kernel.bytes(), hdr + 4);
    // Bits 0-15 are requirements: a loader must refuse what it cannot honour.
    // Bits 16-31 are optional features and may be ignored.
    if (flags & kFlagVideoMode)
        fail(kernel.path(),
             "kernel requires video mode information (multiboot flag 2); hayate has no display");
    uint32_t unknown = flags & 0xffff & ~(kFlagPageAlignModules | kFlagMemoryInfo | kFlagVideoMode);
    if (unknown)
        fail(kernel.path(), fmt::format("kernel requires unknown multiboot features (flags {:#x})", unknown));

    Placement pl{memory, {}};
    Kernel k = (flags & kFlagAddressFields) ? load_kludge(pl, kernel, hdr) : load_elf(pl, kernel);
    if (k.entry >= k4G) fail(kernel.path(), fmt::format("entry point {:#x} is above 4 GiB", k.entry));

    MultibootBoot boot;
    boot.entry = uint32_t(k.entry);
    boot.kernel_start = uint32_t(pl.used.front().start);
    for (const auto& r : pl.used)
        boot.kernel_start = std::min<uint32_t>(boot.kernel_start, uint32_t(r.start));
    boot.kernel_end = uint32_t(pl.top());

    // Modules go page-aligned above the kernel; that satisfies flag 0 always.
    std::vector<std::string> module_strings;
    for (const auto& spec : modules) {
        std::string path = spec.substr(0, spec.find(' '));
        FileImage m(path);
        uint64_t start = align_up(pl.top(), kPageSize);
        pl.load(path, "module", start, m.bytes(), m.bytes().size());
        boot.modules.push_back({uint32_t(start), uint32_t(start + m.bytes().size())});
        module_strings.push_back(spec);
    }

    // The information structure, with everything it points to in one block.
    // The board's E820 map, cut to the RAM there is (a machine with less
    // than 1 MiB has no BIOS area).
    std::vector<E820Entry> map;
    const uint64_t ram = memory.layout().below_4g;
    for (E820Entry e : pc_e820_map(memory.layout(), 0)) {
        if (e.addr < k4G) e.size = std::min(e.addr + e.size, ram) - std::min(e.addr, ram);
        if (e.size) map.push_back(e);
    }

    std::string cmdline = kernel.path();
    if (!append.empty()) cmdline += " " + append;
    const std::string loader_name = "hayate";

    // Block layout: the information structure, the GDT if it travels here
    // (see below), the memory map, the module list, the strings.
    uint32_t gdt_off = uint32_t(align_up(kInfoSize, 8));
    uint64_t tail = uint64_t(map.size()) * kMmapEntrySize + modules.size() * kModuleEntrySize +
                    cmdline.size() + 1 + loader_name.size() + 1;
    for (const auto& s : module_strings) tail += s.size() + 1;
    if (tail > (64u << 20)) fail(kernel.path(), "kernel command line and module strings are too long");
    auto block_size = [&](bool with_gdt) { return (with_gdt ? gdt_off + kGdtSize : kInfoSize) + tail; };

    // Low memory if it is free (kernels rarely reuse it early), else above the
    // modules. Placed for the larger layout, so either fits.
    uint64_t size = block_size(true);
    uint64_t base = kLowInfoAddr;
    if (base + size > std::min(kLowRamEnd, ram) || pl.overlaps(base, base + size))
        base = align_up(pl.top(), kPageSize);
    if (base + size > ram || base + size > k4G)
        fail(kernel.path(),
             fmt::format("no room for the multiboot information in guest RAM ({} MiB; try a larger -m)",
                         ram >> 20));

    // The GDT goes in the EBDA, reserved in the map, when RAM reaches it and
    // nothing placed covers it; otherwise it travels in the block, in memory
    // the map reports as available, like the information structure itself.
    // That still meets the spec: a kernel must not load a segment register
    // before it has its own GDT, so it needs the loader's only until then.
    uint64_t gdt_end = kGdtAddr + kGdtSize;
    bool gdt_in_block =
        gdt_end > ram || pl.overlaps(kGdtAddr, gdt_end) || (base < gdt_end && kGdtAddr < base + size);
    size = block_size(gdt_in_block);
    uint32_t mmap_off = gdt_in_block ? gdt_off + kGdtSize : kInfoSize;
    uint32_t mods_off = mmap_off + uint32_t(map.size()) * kMmapEntrySize;
    uint32_t strings_off = mods_off + uint32_t(modules.size()) * kModuleEntrySize;

    std::vector<uint8_t> blob(size, 0);
    uint32_t str = uint32_t(base) + strings_off;
    auto put_string = [&](const std::string& s) {
        uint32_t addr = str;
        std::memcpy(blob.data() + (addr - base), s.data(), s.size());
        str += uint32_t(s.size()) + 1;
        return addr;
    };
    uint32_t info_flags = kInfoMemory | kInfoCmdline | kInfoModules | kInfoMmap | kInfoLoaderName;
    wr32(blob, 0, info_flags);
    wr32(blob, 4, uint32_t(std::min(ram, kLowRamEnd) / 1024));
    wr32(blob, 8, uint32_t(ram > kHighRamStart ? (std::min(ram, k4G) - kHighRamStart) / 1024 : 0));
    wr32(blob, 16, put_string(cmdline));
    wr32(blob, 20, uint32_t(modules.size()));
    wr32(blob, 24, uint32_t(base) + mods_off);
    wr32(blob, 44, uint32_t(map.size()) * kMmapEntrySize);
    wr32(blob, 48, uint32_t(base) + mmap_off);
    wr32(blob, 64, put_string(loader_name));
    for (size_t i = 0; i < map.size(); i++) {
        size_t o = mmap_off + i * kMmapEntrySize;
        wr32(blob, o, kMmapEntrySize - 4); // the size field does not count itself
        wr64(blob, o + 4, map[i].addr);
        wr64(blob, o + 12, map[i].size);
        wr32(blob, o + 20, uint32_t(map[i].type));
    }
    for (size_t i = 0; i < modules.size(); i++) {
        size_t o = mods_off + i * kModuleEntrySize;
        wr32(blob, o, boot.modules[i].first);
        wr32(blob, o + 4, boot.modules[i].second);
        wr32(blob, o + 8, put_string(module_strings[i]));
    }
    std::span<const uint8_t> gdt(reinterpret_cast<const uint8_t*>(kGdt), kGdtSize);
    if (gdt_in_block) {
        std::memcpy(blob.data() + gdt_off, gdt.data(), kGdtSize);
        boot.gdt_base = uint32_t(base) + gdt_off;
    } else {
        pl.load(kernel.path(), "loader GDT", kGdtAddr, gdt, kGdtSize);
        boot.gdt_base = uint32_t(kGdtAddr);
    }
    boot.gdt_limit = uint16_t(kGdtSize - 1);
    // What a PC's firmware leaves in low memory (SeaBIOS does under QEMU):
    // the BDA's base memory size and EBDA segment, and the EBDA's size byte.
    // Kernels that size low memory read them before the multiboot map (Xen
    // places its trampoline by them).
    const bool bda_free = ram >= kEbdaEnd && !pl.overlaps(kBdaStart, kBdaStart + kBdaSize) &&
                          !pl.overlaps(kLowRamEnd, kLowRamEnd + 16) &&
                          !(base < kBdaStart + kBdaSize && kBdaStart < base + blob.size());
    if (bda_free) {
        std::vector<uint8_t> bda(kBdaSize), ebda(16);
        const uint16_t ebda_segment = uint16_t(kLowRamEnd >> 4), base_kib = uint16_t(kLowRamEnd / 1024);
        std::memcpy(bda.data() + 0x0e, &ebda_segment, 2);
        std::memcpy(bda.data() + 0x13, &base_kib, 2);
        ebda[0] = uint8_t((kEbdaEnd - kLowRamEnd) / 1024);
        pl.load(kernel.path(), "BIOS data area", kBdaStart, bda, bda.size());
        pl.load(kernel.path(), "EBDA header", kLowRamEnd, ebda, ebda.size());
    }
    pl.load(kernel.path(), "multiboot information", base, blob, blob.size());
    boot.info_addr = uint32_t(base);
    return boot;
}

} // namespace hayate
