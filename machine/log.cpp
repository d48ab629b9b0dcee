#include "machine/log.h"
#include <sstream>

namespace hayate {

LogConfig& log_config() {
    static LogConfig config;
    return config;
}

namespace {
struct Category {
    const char* name;
    unsigned bit;
    const char* help;
};
constexpr Category kCategories[] = {
    {"guest_errors", logcat::kGuestErrors, "guest did something invalid to a device or the CPU"},
    {"unimp", logcat::kUnimp, "features the guest used that are not implemented"},
    {"int", logcat::kInt, "interrupts and exceptions"},
    {"in_asm", logcat::kInAsm, "guest code as it is translated"},
    {"exec", logcat::kExec, "each translated block as it runs"},
    {"cpu", logcat::kCpu, "CPU state before each block (with exec)"},
    {"out_asm", logcat::kOutAsm, "generated host code"},
    {"mmu", logcat::kMmu, "page walks and TLB flushes"},
};
} // namespace

std::string parse_log_mask(const std::string& spec, unsigned& mask) {
    std::stringstream ss(spec);
    std::string item;
    while (std::getline(ss, item, ',')) {
        bool found = false;
        for (const auto& c : kCategories)
            if (item == c.name) {
                mask |= c.bit;
                found = true;
            }
        if (!found) return fmt::format("-d: unknown log category '{}' (try -d help)", item);
    }
    return {};
}

std::string log_mask_help() {
    std::string s = "Log categories for -d (comma separated):\n";
    for (const auto& c : kCategories) s += fmt::format("  {:14s} {}\n", c.name, c.help);
    return s;
}

} // namespace hayate
