// Unit tests of the command-line parser and the multiboot loader: no CPU
// needed, the loader's results are read back from guest RAM.
#define CATCH_CONFIG_MAIN
#include "machine/multiboot.h"
#include "machine/options.h"
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace hayate;

namespace {

ParseResult parse(std::vector<std::string> args) {
    args.insert(args.begin(), "hayate");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return parse_command_line(int(args.size()), argv.data());
}

MachineOptions parse_ok(std::vector<std::string> args) {
    auto r = parse(std::move(args));
    INFO(r.message);
    REQUIRE(r.options);
    return *r.options;
}

std::string parse_error(std::vector<std::string> args) {
    auto r = parse(std::move(args));
    REQUIRE_FALSE(r.options);
    REQUIRE(r.status == 1);
    return r.message;
}

// A file in a per-process temporary directory, removed with it.
struct TempDir {
    std::filesystem::path dir;
    TempDir() {
        dir = std::filesystem::temp_directory_path() / ("hayate-loader-test-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
    }
    ~TempDir() { std::filesystem::remove_all(dir); }
    std::string write(const std::string& name, const std::vector<uint8_t>& data) {
        auto p = dir / name;
        std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), data.size());
        return p.string();
    }
};

void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
    if (b.size() < off + 4) b.resize(off + 4);
    std::memcpy(b.data() + off, &v, 4);
}
void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) {
    if (b.size() < off + 8) b.resize(off + 8);
    std::memcpy(b.data() + off, &v, 8);
}
void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
    if (b.size() < off + 2) b.resize(off + 2);
    std::memcpy(b.data() + off, &v, 2);
}

void mb_header(std::vector<uint8_t>& b, size_t off, uint32_t flags) {
    put32(b, off, kMultibootHeaderMagic);
    put32(b, off + 4, flags);
    put32(b, off + 8, uint32_t(-(kMultibootHeaderMagic + flags)));
}

// ELF32 with one PT_LOAD at file offset 0x1000: 16 bytes of 0xAA, bss to 0x40.
std::vector<uint8_t> elf32(uint32_t paddr, uint32_t vaddr, uint32_t entry) {
    std::vector<uint8_t> b(0x1000 + 28, 0);
    std::memcpy(b.data(),
                "\x7f"
                "ELF\x01\x01\x01",
                7);
    put16(b, 16, 2); // ET_EXEC
    put16(b, 18, 3); // EM_386
    put32(b, 20, 1);
    put32(b, 24, entry);
    put32(b, 28, 52); // e_phoff
    put16(b, 40, 52);
    put16(b, 42, 32);
    put16(b, 44, 1);
    put32(b, 52, 1); // PT_LOAD
    put32(b, 56, 0x1000);
    put32(b, 60, vaddr);
    put32(b, 64, paddr);
    put32(b, 68, 28);
    put32(b, 72, 0x40);
    mb_header(b, 0x1000, 0);
    std::memset(b.data() + 0x1000 + 12, 0xaa, 16);
    return b;
}

uint32_t rd32(PhysicalMemory& m, uint64_t a) { return uint32_t(m.read(a, 4)); }
uint64_t rd64(PhysicalMemory& m, uint64_t a) { return m.read(a, 8); }
std::string rdstr(PhysicalMemory& m, uint64_t a) {
    std::string s;
    for (char c; (c = char(m.read(a++, 1))) != 0;) s += c;
    return s;
}

} // namespace

TEST_CASE("options: defaults and QEMU forms", "[cli]") {
    auto o = parse_ok({"-kernel", "k"});
    CHECK(o.ram_bytes == 128ull << 20);
    REQUIRE(o.serial.size() == 1);
    CHECK(o.serial[0].kind == SerialOption::Kind::Stdio);

    CHECK(parse_ok({"-m", "64", "-kernel", "k"}).ram_bytes == 64ull << 20);
    CHECK(parse_ok({"--m", "size=1G", "--kernel", "k"}).ram_bytes == 1ull << 30);
    CHECK(parse_ok({"-m", "1.5G", "-kernel", "k"}).ram_bytes == 3ull << 29);
    CHECK(parse_ok({"-m", "512k", "-kernel", "k"}).ram_bytes == 512ull << 10);
    CHECK(parse_ok({"-m", "1T", "-kernel", "k"}).ram_bytes == 1ull << 40);
    CHECK(parse_ok({"-m", "1000B", "-kernel", "k"}).ram_bytes == 4096); // whole pages
}

TEST_CASE("options: serial ports", "[cli]") {
    auto o = parse_ok({"-kernel", "k", "-serial", "none", "-serial", "file:/tmp/x", "-serial", "null"});
    REQUIRE(o.serial.size() == 2); // "none" uses up no COM port
    CHECK(o.serial[0].kind == SerialOption::Kind::File);
    CHECK(o.serial[0].path == "/tmp/x");
    CHECK(o.serial[1].kind == SerialOption::Kind::Null);

    auto nd = parse_ok({"-kernel", "k", "-nodefaults"});
    REQUIRE(nd.serial.size() == 1);
    CHECK(nd.serial[0].kind == SerialOption::Kind::None);
}

TEST_CASE("options: devices, modules, logging", "[cli]") {
    auto o = parse_ok({"-kernel",    "k",
                       "-device",    "isa-debug-exit,iobase=0xf4,iosize=0x04",
                       "-device",    "isa-debug-exit",
                       "-initrd",    "a x y,b,,c",
                       "-d",         "int,guest_errors",
                       "-D",         "log",
                       "-no-reboot", "-nographic",
                       "-display",   "none",
                       "-accel",     "tcg",
                       "-append",    "a b"});
    REQUIRE(o.debug_exit.size() == 2);
    CHECK(o.debug_exit[0].iobase == 0xf4);
    CHECK(o.debug_exit[0].iosize == 4);
    CHECK(o.debug_exit[1].iobase == 0x501);
    CHECK(o.debug_exit[1].iosize == 2);
    CHECK(o.initrd == std::vector<std::string>{"a x y", "b,c"});
    CHECK(o.log_mask != 0);
    CHECK(o.log_file == "log");
    CHECK(o.no_reboot);
    CHECK(o.nographic);
    CHECK(o.append == "a b");
}

TEST_CASE("options: errors name what is wrong", "[cli]") {
    CHECK_THAT(parse_error({"-kernel", "k", "-foo"}), Catch::Contains("-foo: unknown option"));
    CHECK_THAT(parse_error({"-m", "64"}), Catch::Contains("no -kernel given"));
    CHECK_THAT(parse_error({"-kernel", "k", "-m", "0"}), Catch::Contains("must not be zero"));
    CHECK_THAT(parse_error({"-kernel", "k", "-m", "1025G"}), Catch::Contains("at most 1 TiB"));
    CHECK_THAT(parse_error({"-kernel", "k", "-m", "99999999999999999999"}), Catch::Contains("not a size"));
    CHECK_THAT(parse_error({"-kernel", "k", "-accel", "kvm"}),
               Catch::Contains("-accel kvm: not supported yet"));
    CHECK_THAT(parse_error({"-kernel", "k", "-accel", "hax"}),
               Catch::Contains("-accel hax: unknown accelerator"));
    CHECK_THAT(parse_error({"-kernel", "k", "-serial", "pty"}), Catch::Contains("-serial pty"));
    CHECK_THAT(parse_error({"-kernel", "k", "-device", "e1000"}),
               Catch::Contains("-device e1000: unknown device"));
    CHECK_THAT(parse_error({"-kernel", "k", "-device", "isa-debug-exit,iobase=zz"}),
               Catch::Contains("not a number"));
    CHECK_THAT(parse_error({"-kernel", "k", "-initrd", "a,"}), Catch::Contains("empty module file name"));
    CHECK_THAT(parse_error({"-kernel", "k", "-initrd", ",a"}), Catch::Contains("empty module file name"));
    CHECK_THAT(parse_error({"-kernel"}), Catch::Contains("-kernel: requires an argument"));

    auto help = parse({"--help"});
    CHECK_FALSE(help.options);
    CHECK(help.status == 0);
    CHECK_THAT(help.message, Catch::Contains("Usage"));
}

TEST_CASE("multiboot: ELF32 kernel, info structure, modules", "[multiboot]") {
    TempDir tmp;
    auto kpath = tmp.write("kernel", elf32(0x200000, 0xc0200000, 0xc020000c));
    auto m1 = tmp.write("mod1", std::vector<uint8_t>(5000, 0x11));
    auto m2 = tmp.write("mod2", {0x22, 0x23});
    PhysicalMemory mem(32ull << 20);
    std::memset(mem.ram() + 0x200000, 0x55, 0x100); // the loader must zero the bss
    FileImage k(kpath);
    auto boot = load_multiboot(mem, k, "console=ttyS0", {m1 + " arg", m2});

    CHECK(boot.entry == 0x20000c); // the virtual entry translated to its physical address
    CHECK(mem.read(0x20000c, 1) == 0xaa);
    CHECK(mem.read(0x20001b, 1) == 0xaa);
    CHECK(mem.read(0x20001c, 1) == 0); // bss
    CHECK(mem.read(0x20003f, 1) == 0);
    CHECK(mem.read(0x200040, 1) == 0x55); // past the segment: untouched

    uint32_t info = boot.info_addr;
    CHECK(info == 0x9000);
    uint32_t flags = rd32(mem, info);
    CHECK(flags == ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9)));
    CHECK(rd32(mem, info + 4) == 639);
    CHECK(rd32(mem, info + 8) == 31 * 1024);
    CHECK(rdstr(mem, rd32(mem, info + 16)) == kpath + " console=ttyS0");
    CHECK(rdstr(mem, rd32(mem, info + 64)) == "hayate");

    REQUIRE(rd32(mem, info + 20) == 2);
    uint32_t mods = rd32(mem, info + 24);
    uint32_t s1 = rd32(mem, mods), e1 = rd32(mem, mods + 4);
    CHECK(s1 == 0x201000); // page-aligned above the kernel's bss
    CHECK(e1 == s1 + 5000);
    CHECK(mem.read(s1, 1) == 0x11);
    CHECK(rdstr(mem, rd32(mem, mods + 8)) == m1 + " arg");
    uint32_t s2 = rd32(mem, mods + 16);
    CHECK(s2 == 0x203000);
    CHECK(rd32(mem, mods + 20) == s2 + 2);
    CHECK(mem.read(s2 + 1, 1) == 0x23);
    CHECK(rdstr(mem, rd32(mem, mods + 24)) == m2);

    // The loader's GDT in the EBDA (reserved below), after its size byte:
    // null, flat 32-bit code 0x08, flat data 0x10, matching the segments the
    // kernel starts with.
    CHECK(boot.gdt_base == 0x9fc10);
    CHECK(boot.gdt_limit == 23);
    CHECK(rd64(mem, 0x9fc10) == 0);
    CHECK(rd64(mem, 0x9fc18) == 0x00CF9B000000FFFFull);
    CHECK(rd64(mem, 0x9fc20) == 0x00CF93000000FFFFull);

    // The BIOS data area and EBDA header a PC's firmware leaves: base memory
    // 639 KiB at 0x413, EBDA segment 0x9fc0 at 0x40e, EBDA size 1 KiB.
    CHECK(mem.read(0x413, 2) == 639);
    CHECK(mem.read(0x40e, 2) == 0x9fc0);
    CHECK(mem.read(0x9fc00, 1) == 1);

    // Memory map: usable, EBDA reserved, BIOS reserved, usable above 1 MiB.
    uint32_t len = rd32(mem, info + 44), map = rd32(mem, info + 48);
    CHECK(map == info + 116); // right after the information structure
    REQUIRE(len == 4 * 24);
    struct E {
        uint64_t base, length;
        uint32_t type;
    };
    E want[] = {
        {0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, (32u << 20) - 0x100000, 1}};
    for (int i = 0; i < 4; i++) {
        uint32_t e = map + i * 24;
        CHECK(rd32(mem, e) == 20);
        CHECK(rd64(mem, e + 4) == want[i].base);
        CHECK(rd64(mem, e + 12) == want[i].length);
        CHECK(rd32(mem, e + 20) == want[i].type);
    }
}

TEST_CASE("multiboot: a.out kludge, info placed clear of a low kernel", "[multiboot]") {
    TempDir tmp;
    // Loaded at 0x8000 with bss to 0x20000: it covers 0x9000, so the info goes above.
    std::vector<uint8_t> b(64, 0x90);
    mb_header(b, 0, 1u << 16);
    put32(b, 12, 0x8000);  // header_addr
    put32(b, 16, 0x8000);  // load_addr
    put32(b, 20, 0x8040);  // load_end_addr
    put32(b, 24, 0x20000); // bss_end_addr
    put32(b, 28, 0x8020);  // entry_addr
    PhysicalMemory mem(4ull << 20);
    FileImage k(tmp.write("kludge", b));
    auto boot = load_multiboot(mem, k, "", {});
    CHECK(boot.entry == 0x8020);
    CHECK(boot.kernel_start == 0x8000);
    CHECK(boot.kernel_end == 0x20000);
    CHECK(boot.info_addr == 0x20000);
    CHECK(rdstr(mem, rd32(mem, boot.info_addr + 16)) == k.path());
    CHECK(rd32(mem, boot.info_addr + 20) == 0);
    CHECK(boot.gdt_base == 0x9fc10);
}

TEST_CASE("multiboot: the GDT travels with the information when the EBDA is not free", "[multiboot]") {
    TempDir tmp;
    // 512 KiB of RAM: no EBDA, so the GDT goes right after the information
    // structure (8-byte aligned), and the memory map follows it.
    std::vector<uint8_t> b(64, 0x90);
    mb_header(b, 0, 1u << 16);
    put32(b, 12, 0x10000);
    put32(b, 16, 0x10000);
    put32(b, 20, 0x10040);
    put32(b, 24, 0);
    put32(b, 28, 0x10020);
    PhysicalMemory mem(512ull << 10);
    FileImage k(tmp.write("small", b));
    auto boot = load_multiboot(mem, k, "", {});
    uint32_t info = boot.info_addr;
    CHECK(info == 0x9000);
    CHECK(boot.gdt_base == info + 120);
    CHECK(boot.gdt_limit == 23);
    CHECK(rd64(mem, boot.gdt_base) == 0);
    CHECK(rd64(mem, boot.gdt_base + 8) == 0x00CF9B000000FFFFull);
    CHECK(rd64(mem, boot.gdt_base + 16) == 0x00CF93000000FFFFull);
    uint32_t map = rd32(mem, info + 48);
    CHECK(map == info + 144);
    REQUIRE(rd32(mem, info + 44) == 24);
    CHECK(rd64(mem, map + 4) == 0);
    CHECK(rd64(mem, map + 12) == (512u << 10));
    CHECK(rd32(mem, map + 20) == 1);
    CHECK(rdstr(mem, rd32(mem, info + 16)) == k.path());

    // A kernel image over the EBDA keeps it from the GDT as well.
    put32(b, 12, 0x9f000);
    put32(b, 16, 0x9f000);
    put32(b, 20, 0x9f040);
    put32(b, 24, 0xa0000);
    put32(b, 28, 0x9f020);
    PhysicalMemory mem2(4ull << 20);
    FileImage k2(tmp.write("over-ebda", b));
    auto boot2 = load_multiboot(mem2, k2, "", {});
    CHECK(boot2.info_addr == 0x9000);
    CHECK(boot2.gdt_base == 0x9000 + 120);
    CHECK(rd64(mem2, boot2.gdt_base + 8) == 0x00CF9B000000FFFFull);
}

TEST_CASE("multiboot: ELF64 accepted", "[multiboot]") {
    TempDir tmp;
    std::vector<uint8_t> b(0x1000 + 16, 0);
    std::memcpy(b.data(),
                "\x7f"
                "ELF\x02\x01\x01",
                7);
    put16(b, 16, 2);
    put16(b, 18, 62); // EM_X86_64
    put32(b, 20, 1);
    put64(b, 24, 0x10000c);
    put64(b, 32, 64);
    put16(b, 52, 64);
    put16(b, 54, 56);
    put16(b, 56, 1);
    put32(b, 64, 1);
    put64(b, 72, 0x1000);
    put64(b, 80, 0x100000);
    put64(b, 88, 0x100000);
    put64(b, 96, 16);
    put64(b, 104, 16);
    mb_header(b, 0x1000, 0);
    PhysicalMemory mem(4ull << 20);
    FileImage k(tmp.write("k64", b));
    CHECK(load_multiboot(mem, k, "", {}).entry == 0x10000c);
}

TEST_CASE("multiboot: hostile images are refused with a message", "[multiboot]") {
    TempDir tmp;
    PhysicalMemory mem(4ull << 20);
    auto refuse = [&](const std::vector<uint8_t>& img, const char* text) {
        FileImage k(tmp.write("bad", img));
        CHECK_THROWS_WITH(load_multiboot(mem, k, "", {}), Catch::Contains(text));
    };

    auto e = elf32(0x100000, 0x100000, 0x10000c);
    auto past_end = e;
    put32(past_end, 52 + 4, 0xfffffff0); // p_offset
    refuse(past_end, "runs past the end of the file");
    auto huge = e;
    put32(huge, 52 + 16, 0xffffffff); // p_filesz
    put32(huge, 52 + 20, 0xffffffff);
    refuse(huge, "runs past the end of the file");
    auto bad_mem = e;
    put32(bad_mem, 52 + 12, 0xffffffe0); // p_paddr: memsz reaches past 4 GiB
    refuse(bad_mem, "above 4 GiB");
    auto outside = e;
    put32(outside, 52 + 12, 0x800000);
    refuse(outside, "does not fit in guest RAM");
    auto phnum = e;
    put16(phnum, 44, 5000);
    refuse(phnum, "program headers");
    auto machine = e;
    put16(machine, 18, 40); // ARM
    refuse(machine, "not x86");
    auto video = e;
    mb_header(video, 0x1000, 4);
    refuse(video, "video mode");
    auto unknown = e;
    mb_header(unknown, 0x1000, 0x80);
    refuse(unknown, "unknown multiboot features");

    std::vector<uint8_t> k(64, 0);
    mb_header(k, 0, 1u << 16);
    put32(k, 12, 0x100000);
    put32(k, 16, 0x100100); // load_addr above header_addr
    refuse(k, "load_addr");
    put32(k, 16, 0x0ff000); // header 4 KiB into a 64-byte file
    refuse(k, "before the start of the file");
    put32(k, 16, 0x100000);
    put32(k, 20, 0x100000 + 65);
    refuse(k, "past the end of the file");
    put32(k, 20, 0);
    put32(k, 24, 0x100010);
    refuse(k, "bss_end_addr");
    std::vector<uint8_t> short_hdr(20, 0);
    mb_header(short_hdr, 0, 1u << 16);
    refuse(short_hdr, "truncated");

    FileImage ok(tmp.write("ok", e));
    CHECK_THROWS_WITH(load_multiboot(mem, ok, "", {"/nonexistent/module"}),
                      Catch::Contains("/nonexistent/module: cannot open"));
}

TEST_CASE("multiboot: header search", "[multiboot]") {
    std::vector<uint8_t> b(9000, 0);
    mb_header(b, 8192, 0); // too far in
    CHECK_FALSE(find_multiboot_header(b).offset);
    mb_header(b, 8176, 0);
    CHECK(find_multiboot_header(b).offset == 8176u);
    std::vector<uint8_t> c(64, 0);
    mb_header(c, 2, 0); // not 4-byte aligned
    CHECK_FALSE(find_multiboot_header(c).offset);
    put32(c, 8, kMultibootHeaderMagic);
    CHECK_THAT(find_multiboot_header(c).note, Catch::Contains("bad checksum"));
}
