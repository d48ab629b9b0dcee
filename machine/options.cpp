#include "machine/options.h"
#include "machine/log.h"
#include <fmt/core.h>
#include <map>
#include <string_view>

namespace hayate {

// Kept equal to project() in meson.build; tests/cli checks that it is.
constexpr const char* kVersion = "0.1.0";

namespace {

constexpr uint64_t kMaxRam = 1ull << 40; // beyond this no host maps it and the guest could not use it anyway
constexpr size_t kMaxSerial = 4;         // COM1-COM4: the ISA ports a PC has

const char* const kHelp = R"(Usage: hayate [options]
Hayate: a pure-software x86 PC emulator with a dynamic binary translator.
Options follow QEMU's; each may also be written with two dashes (--m 64).

  -m [size=]N[K|M|G|T]   guest RAM (default 128M; a plain number is MiB)
  -kernel FILE           boot FILE: a multiboot v1 kernel (ELF32, ELF64 or a.out kludge)
  -append STRING         kernel command line
  -initrd "F1 args,F2"   multiboot modules, comma separated (",," is a literal comma);
                         text after a space is part of the module's string
  -nographic             no display: COM1 on stdio (the default anyway)
  -display none          accepted: hayate has no display
  -serial DEV            next serial port (COM1..COM4): stdio, file:PATH, null, none
  -nodefaults            no default devices (no COM1 unless -serial is given)
  -no-reboot             a guest reset ends hayate with status 0 (a triple fault: 2)
  -device isa-debug-exit[,iobase=N][,iosize=N]
                         writing V to the port ends hayate with status (V << 1) | 1
  -device help           list the devices -device can add
  -accel tcg             the translating accelerator (the only one so far)
  -d CAT[,CAT...]        log categories (-d help lists them)
  -D FILE                write the log to FILE instead of stderr
  -h, --help             this text
  --version              hayate's version

On the serial console on stdio, Ctrl-A x ends hayate.
)";

struct Parser {
    Parser(int c, char** v) : argc(c), argv(v) {}
    int argc;
    char** argv;
    int i = 1;
    MachineOptions opts;
    bool serial_given = false;

    // The value of the option at argv[i]; empty optional if it is missing.
    std::optional<std::string> value() {
        if (i + 1 >= argc) return std::nullopt;
        return std::string(argv[++i]);
    }
};

ParseResult error(std::string message) {
    ParseResult r;
    r.message = "hayate: " + std::move(message);
    r.status = 1;
    return r;
}

ParseResult done(std::string message) {
    ParseResult r;
    r.message = std::move(message);
    r.status = 0;
    return r;
}

// Splits "a,b=c" QEMU style into key/value pairs; the first item may be a
// bare word (the driver or backend name). Empty string on success.
std::string split_props(const std::string& s, std::vector<std::pair<std::string, std::string>>& out) {
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t comma = s.find(',', pos);
        if (comma == std::string::npos) comma = s.size();
        std::string item = s.substr(pos, comma - pos);
        if (item.empty()) return "empty item";
        size_t eq = item.find('=');
        if (eq == std::string::npos)
            out.emplace_back(item, "");
        else
            out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
        pos = comma + 1;
    }
    return {};
}

// Unsigned integer in decimal, or hex with 0x; nullopt on junk or overflow.
std::optional<uint64_t> parse_uint(const std::string& s) {
    if (s.empty()) return std::nullopt;
    unsigned base = 10;
    size_t i = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    uint64_t v = 0;
    for (; i < s.size(); i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return std::nullopt;
        if (v > (UINT64_MAX - d) / base) return std::nullopt;
        v = v * base + d;
    }
    return v;
}

// QEMU's size syntax: a number with an optional fraction and a K/M/G/T
// suffix (binary units); without a suffix, `default_shift` applies.
std::optional<uint64_t> parse_size(const std::string& s, unsigned default_shift) {
    size_t i = 0;
    uint64_t whole = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (whole > (UINT64_MAX - 9) / 10) return std::nullopt;
        whole = whole * 10 + (s[i++] - '0');
        digits = true;
    }
    // The fraction is kept as a numerator over 10^n, at most 9 digits.
    uint64_t frac = 0, frac_div = 1;
    if (i < s.size() && s[i] == '.') {
        i++;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (frac_div < 1000000000) {
                frac = frac * 10 + (s[i] - '0');
                frac_div *= 10;
            }
            i++;
            digits = true;
        }
    }
    if (!digits) return std::nullopt;
    unsigned shift = default_shift;
    if (i < s.size()) {
        switch (s[i]) {
        case 'b':
        case 'B': shift = 0; break;
        case 'k':
        case 'K': shift = 10; break;
        case 'm':
        case 'M': shift = 20; break;
        case 'g':
        case 'G': shift = 30; break;
        case 't':
        case 'T': shift = 40; break;
        default: return std::nullopt;
        }
        i++;
    }
    if (i != s.size()) return std::nullopt;
    // Anything at or above 2^24 T is rejected here; the caller's limit is far lower.
    if (shift && whole >> (64 - shift)) return std::nullopt;
    if (!shift && frac) return std::nullopt; // a fraction of a byte
    uint64_t bytes = whole << shift;
    uint64_t extra = (frac << shift) / frac_div; // frac < 10^9 < 2^30, shift <= 40: fits
    if (bytes + extra < bytes) return std::nullopt;
    return bytes + extra;
}

std::string parse_memory(Parser& p, const std::string& arg) {
    std::vector<std::pair<std::string, std::string>> props;
    if (auto e = split_props(arg, props); !e.empty()) return fmt::format("-m {}: {}", arg, e);
    std::optional<std::string> size;
    for (size_t k = 0; k < props.size(); k++) {
        const auto& [key, val] = props[k];
        // The size may stand alone as the first item ("-m 512M,slots=2" in QEMU).
        if (key == "size" || (k == 0 && val.empty())) {
            if (size) return fmt::format("-m {}: size given twice", arg);
            size = key == "size" ? val : key;
        } else {
            return fmt::format("-m {}: '{}' is not supported (only the RAM size is)", arg, key);
        }
    }
    if (!size) return fmt::format("-m {}: no size given", arg);
    auto bytes = parse_size(*size, 20);
    if (!bytes) return fmt::format("-m {}: '{}' is not a size (examples: 256, 256M, 1.5G)", arg, *size);
    if (*bytes == 0) return fmt::format("-m {}: guest RAM size must not be zero", arg);
    if (*bytes > kMaxRam)
        return fmt::format("-m {}: {} MiB of guest RAM is more than hayate supports (at most 1 TiB)", arg,
                           *bytes >> 20);
    // Guest RAM is mapped in whole pages.
    p.opts.ram_bytes = (*bytes + 4095) & ~uint64_t(4095);
    return {};
}

// -initrd for multiboot: "file args,file2" with ",," escaping a comma.
std::string parse_initrd(Parser& p, const std::string& arg) {
    std::string cur;
    for (size_t i = 0; i <= arg.size(); i++) {
        if (i < arg.size() && arg[i] == ',' && i + 1 < arg.size() && arg[i + 1] == ',') {
            cur += ',';
            i++;
        } else if (i == arg.size() || arg[i] == ',') {
            if (cur.empty() || cur[0] == ' ') return fmt::format("-initrd {}: empty module file name", arg);
            p.opts.initrd.push_back(cur);
            cur.clear();
        } else {
            cur += arg[i];
        }
    }
    return {};
}

std::string parse_serial(Parser& p, const std::string& arg) {
    SerialOption s;
    if (arg == "stdio")
        s.kind = SerialOption::Kind::Stdio;
    else if (arg == "null")
        s.kind = SerialOption::Kind::Null;
    else if (arg == "none")
        s.kind = SerialOption::Kind::None;
    else if (arg.starts_with("file:") && arg.size() > 5) {
        s.kind = SerialOption::Kind::File;
        s.path = arg.substr(5);
    } else if (arg == "file:") {
        return "-serial file:: no file name given";
    } else {
        return fmt::format("-serial {}: unsupported serial backend (supported: stdio, file:PATH, null, none)",
                           arg);
    }
    p.serial_given = true;
    // QEMU skips "none" without using up a port, so "-serial none -serial stdio" is COM1 on stdio.
    if (s.kind == SerialOption::Kind::None) return {};
    size_t used = 0;
    for (const auto& x : p.opts.serial) used += x.kind != SerialOption::Kind::None;
    if (used >= kMaxSerial)
        return fmt::format("-serial {}: at most {} serial ports (COM1-COM4)", arg, kMaxSerial);
    p.opts.serial.push_back(s);
    return {};
}

std::string parse_device(Parser& p, const std::string& arg) {
    std::vector<std::pair<std::string, std::string>> props;
    if (auto e = split_props(arg, props); !e.empty()) return fmt::format("-device {}: {}", arg, e);
    const std::string& driver = props.front().first;
    if (driver != "isa-debug-exit" || !props.front().second.empty())
        return fmt::format("-device {}: unknown device (-device help lists the supported ones)", driver);
    DebugExitOption d;
    uint64_t iobase = d.iobase, iosize = d.iosize;
    for (size_t k = 1; k < props.size(); k++) {
        const auto& [key, val] = props[k];
        uint64_t* target = key == "iobase" ? &iobase : key == "iosize" ? &iosize : nullptr;
        if (!target)
            return fmt::format("-device {}: isa-debug-exit has no property '{}' (it has iobase, iosize)", arg,
                               key);
        auto v = parse_uint(val);
        if (!v) return fmt::format("-device {}: {}='{}' is not a number", arg, key, val);
        *target = *v;
    }
    if (iosize == 0 || iosize > 4) return fmt::format("-device {}: iosize must be 1 to 4 ports", arg);
    if (iobase >= 0x10000 || iobase + iosize > 0x10000)
        return fmt::format("-device {}: ports {:#x}+{:#x} are outside the 64 KiB I/O space", arg, iobase,
                           iosize);
    d.iobase = uint16_t(iobase);
    d.iosize = uint16_t(iosize);
    p.opts.debug_exit.push_back(d);
    return {};
}

std::string parse_accel(Parser& p, const std::string& arg) {
    std::vector<std::pair<std::string, std::string>> props;
    if (auto e = split_props(arg, props); !e.empty()) return fmt::format("-accel {}: {}", arg, e);
    const std::string& name = props.front().first;
    if (name == "kvm") return "-accel kvm: not supported yet";
    if (name != "tcg" || !props.front().second.empty())
        return fmt::format("-accel {}: unknown accelerator (supported: tcg)", name);
    if (props.size() > 1)
        return fmt::format("-accel {}: tcg options are not supported ('{}')", arg, props[1].first);
    p.opts.accel = name;
    return {};
}

} // namespace

ParseResult parse_command_line(int argc, char** argv) {
    Parser p(argc, argv);
    for (; p.i < argc; p.i++) {
        std::string raw = argv[p.i];
        if (raw.size() < 2 || raw[0] != '-')
            return error(
                fmt::format("'{}': disk images are not supported yet (no disk boot); use -kernel", raw));
        // QEMU accepts --opt for every -opt.
        std::string opt = raw.starts_with("--") ? raw.substr(1) : raw;

        if (opt == "-h" || opt == "-help") return done(kHelp);
        if (opt == "-version") return done(fmt::format("hayate {}\n", kVersion));
        if (opt == "-nographic") {
            p.opts.nographic = true;
            continue;
        }
        if (opt == "-no-reboot") {
            p.opts.no_reboot = true;
            continue;
        }
        if (opt == "-nodefaults") {
            p.opts.nodefaults = true;
            continue;
        }
        if (opt == "-enable-kvm") return error("-enable-kvm: -accel kvm: not supported yet");

        static const char* const kWithValue[] = {"-m",      "-kernel", "-append", "-initrd", "-serial",
                                                 "-device", "-accel",  "-d",      "-D",      "-display"};
        bool takes_value = false;
        for (const char* o : kWithValue) takes_value |= opt == o;
        if (!takes_value) return error(fmt::format("{}: unknown option (see --help)", raw));
        auto v = p.value();
        if (!v) return error(fmt::format("{}: requires an argument", raw));
        const std::string& arg = *v;

        std::string err;
        if (opt == "-m")
            err = parse_memory(p, arg);
        else if (opt == "-kernel") {
            if (arg.empty()) err = "-kernel: empty file name";
            p.opts.kernel = arg;
        } else if (opt == "-append")
            p.opts.append = arg;
        else if (opt == "-initrd")
            err = parse_initrd(p, arg);
        else if (opt == "-serial")
            err = parse_serial(p, arg);
        else if (opt == "-device") {
            if (arg == "help" || arg == "?")
                return done("Devices -device can add:\n  isa-debug-exit  iobase=PORT (0x501), iosize=N (2): "
                            "writing V ends hayate with status (V << 1) | 1\n");
            err = parse_device(p, arg);
        } else if (opt == "-accel")
            err = parse_accel(p, arg);
        else if (opt == "-d") {
            if (arg == "help" || arg == "?") return done(log_mask_help());
            err = parse_log_mask(arg, p.opts.log_mask);
        } else if (opt == "-D") {
            if (arg.empty()) err = "-D: empty file name";
            p.opts.log_file = arg;
        } else if (opt == "-display") {
            if (arg != "none")
                err =
                    fmt::format("-display {}: not supported (hayate has no display; use -display none)", arg);
        }
        if (!err.empty()) return error(err);
    }
    if (p.opts.kernel.empty()) return error("no -kernel given (booting from disk is not supported yet)");
    // QEMU gives COM1 on stdio unless -serial or -nodefaults says otherwise;
    // "none" entries were dropped, so an explicit empty list means no serial port.
    if (!p.serial_given && !p.opts.nodefaults) p.opts.serial.push_back({SerialOption::Kind::Stdio, {}});
    if (p.opts.serial.empty()) p.opts.serial.push_back({SerialOption::Kind::None, {}});

    ParseResult r;
    r.options = std::move(p.opts);
    return r;
}

} // namespace hayate
