#include "machine/debug_regs.h"
#include "machine/log.h"

namespace hayate {

namespace {

// Breakpoint n as a byte range, or false if it is not an enabled data breakpoint.
bool data_range(const CpuState& s, unsigned n, uint64_t& lo, uint64_t& len, unsigned& rw) {
    const uint64_t dr7 = s.dr[7];
    if (!((dr7 >> (2 * n)) & 3)) return false;
    rw = unsigned(dr7 >> (16 + 4 * n)) & 3;
    if (rw == 0) return false; // instruction breakpoint
    if (rw == 2) {
        // I/O breakpoints (with CR4.DE) are not implemented: say so once.
        static bool logged = false;
        if (!logged)
            log_warning("DR7 enables an I/O breakpoint (R/W=10): not implemented, it never triggers");
        logged = true;
        return false;
    }
    static constexpr uint64_t kLen[4] = {1, 2, 8, 4}; // LEN encodings 00, 01, 10, 11
    len = kLen[(dr7 >> (18 + 4 * n)) & 3];
    lo = s.dr[n] & ~(len - 1); // the address is aligned down to the length
    return true;
}

} // namespace

uint32_t data_breakpoint_hits(const CpuState& s, uint64_t linear, unsigned size, bool write) {
    uint32_t hits = 0;
    for (unsigned n = 0; n < 4; n++) {
        uint64_t lo, len;
        unsigned rw;
        if (!data_range(s, n, lo, len, rw)) continue;
        if (rw == 1 && !write) continue;
        if (linear < lo + len && lo < linear + size) hits |= 1u << n;
    }
    return hits;
}

bool page_has_data_breakpoint(const CpuState& s, uint64_t linear) {
    const uint64_t page = linear & ~0xfffull;
    for (unsigned n = 0; n < 4; n++) {
        uint64_t lo, len;
        unsigned rw;
        if (data_range(s, n, lo, len, rw) && lo < page + 0x1000 && page < lo + len) return true;
    }
    return false;
}

} // namespace hayate
