// Hayate's command line: a subset of QEMU's, parsed into MachineOptions.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hayate {

struct SerialOption {
    enum class Kind { Stdio, File, Null, None } kind = Kind::Stdio;
    std::string path; // for File
};

struct DebugExitOption {
    uint16_t iobase = 0x501;
    uint16_t iosize = 2;
};

struct MachineOptions {
    uint64_t ram_bytes = 128ull << 20;
    std::string kernel;
    std::string append;
    std::vector<std::string> initrd;  // multiboot: each becomes a module
    std::vector<SerialOption> serial; // COM1, COM2, ... in order given; empty: COM1 on stdio
    bool nographic = false;
    bool no_reboot = false;
    bool nodefaults = false;
    std::vector<DebugExitOption> debug_exit;
    std::string accel = "tcg";
    unsigned log_mask = 0;
    std::string log_file;
};

// Result of parsing: either options to run, or text to print and an exit status
// (--help/--version: stdout, status 0; errors: stderr, status 1).
struct ParseResult {
    std::optional<MachineOptions> options;
    std::string message;
    int status = 0;
};

ParseResult parse_command_line(int argc, char** argv);

} // namespace hayate
