// Logging: -d categories (QEMU's names where they exist) to stderr or -D file.
#pragma once
#include <cstdio>
#include <fmt/core.h>
#include <string>

namespace hayate {

namespace logcat {
constexpr unsigned kGuestErrors = 1u << 0; // guest programmed a device or the CPU with nonsense
constexpr unsigned kUnimp = 1u << 1;       // unimplemented features the guest used
constexpr unsigned kInt = 1u << 2;         // interrupts and exceptions
constexpr unsigned kInAsm = 1u << 3;       // guest code as it is translated
constexpr unsigned kExec = 1u << 4;        // each translated block as it runs
constexpr unsigned kCpu = 1u << 5;         // CPU state at each block entry (with exec)
constexpr unsigned kOutAsm = 1u << 6;      // generated host code
constexpr unsigned kMmu = 1u << 7;         // page walks and TLB flushes
} // namespace logcat

struct LogConfig {
    unsigned mask = 0;
    std::FILE* out = stderr;
};
LogConfig& log_config();

// Parses "-d" arguments ("guest_errors,int"); returns an empty string or an error.
std::string parse_log_mask(const std::string& spec, unsigned& mask);
std::string log_mask_help();

inline bool log_enabled(unsigned cat) { return log_config().mask & cat; }

template <typename... Args> void log_write(fmt::format_string<Args...> f, Args&&... args) {
    auto s = fmt::format(f, std::forward<Args>(args)...);
    s.push_back('\n');
    std::fputs(s.c_str(), log_config().out);
}

template <typename... Args> void log_cat(unsigned cat, fmt::format_string<Args...> f, Args&&... args) {
    if (log_enabled(cat)) log_write(f, std::forward<Args>(args)...);
}

template <typename... Args> void log_guest_error(fmt::format_string<Args...> f, Args&&... args) {
    log_cat(logcat::kGuestErrors, f, std::forward<Args>(args)...);
}

// Always printed (stderr): things a user must see, e.g. unimplemented instructions.
template <typename... Args> void log_warning(fmt::format_string<Args...> f, Args&&... args) {
    auto s = fmt::format(f, std::forward<Args>(args)...);
    std::fprintf(stderr, "hayate: %s\n", s.c_str());
    if (log_config().out != stderr) log_write("hayate: {}", s);
}

} // namespace hayate
