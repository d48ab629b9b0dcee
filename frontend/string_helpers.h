// String instructions (MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE): the
// helper called from generated code, and the host-memory routines it runs
// page chunks with. The routines are inline so unit tests can use them
// without the CPU core.
#pragma once
#include "machine/cpu_state.h"
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hayate {

namespace strop {
enum Op : unsigned { kMovs, kStos, kLods, kCmps, kScas };
enum Rep : unsigned { kNone, kRep, kRepe, kRepne };

// The helper's arg1: operation, element size, address size, source segment
// and repeat prefix.
constexpr uint64_t pack(Op op, unsigned elem_bytes, unsigned addr_bytes, int src_seg, Rep rep) {
    return uint64_t(op) | uint64_t(elem_bytes) << 8 | uint64_t(addr_bytes) << 16 | uint64_t(src_seg) << 24 |
           uint64_t(rep) << 32;
}
constexpr Op op_of(uint64_t a) { return Op(a & 0xff); }
constexpr unsigned elem_of(uint64_t a) { return unsigned(a >> 8) & 0xff; }
constexpr unsigned addr_of(uint64_t a) { return unsigned(a >> 16) & 0xff; }
constexpr int seg_of(uint64_t a) { return int(a >> 24) & 0xff; }
constexpr Rep rep_of(uint64_t a) { return Rep((a >> 32) & 0xff); }
} // namespace strop

// Runs one string instruction (all its iterations for REP forms) on the state
// in CpuState. Returns kHelperContinue, kHelperExitNext after writing pages
// that hold translated code, or kHelperExitHere after a guest exception (RCX,
// RSI and RDI then reflect the completed iterations) or when a long REP
// yields to pending events (RIP still at the instruction, so it resumes).
uint64_t helper_string(CpuState* s, uint64_t arg1, uint64_t arg2);

// ------------------------------------------------- host-memory routines

namespace strmem {

// Copies `bytes` (a multiple of `n`) from `src` to `dst` exactly as x86 MOVS
// with elements of `n` bytes does, one element after the other, going up
// (`backward` false: elements at dst, dst+n, ...) or down (elements at the
// top first). Both pointers address the lowest byte of their range. The
// regions may overlap in any way; the result is the one the element-by-element
// copy produces (e.g. `rep movsb` with dst = src + 1 replicates the first byte).
inline void move_elements(uint8_t* dst, const uint8_t* src, size_t bytes, unsigned n, bool backward) {
    if (bytes == 0 || dst == src) return;
    const uintptr_t du = uintptr_t(dst), su = uintptr_t(src);
    const bool dst_above = du > su;
    const size_t dist = dst_above ? du - su : su - du;
    // Disjoint, or reads always ahead of the writes: the originals are copied.
    if (dist >= bytes || dst_above == backward) {
        std::memmove(dst, src, bytes);
        return;
    }
    if (dist < n) {
        // Each element overlaps its own source: do it literally.
        uint64_t t;
        const size_t count = bytes / n;
        for (size_t i = 0; i < count; i++) {
            size_t off = backward ? bytes - (i + 1) * n : i * n;
            std::memcpy(&t, src + off, n);
            std::memcpy(dst + off, &t, n);
        }
        return;
    }
    // Reads catch up with the writes: the result repeats the first `dist`
    // source bytes met (the same as a byte-wise copy, as every element read
    // finds its bytes already final). Grow the repeated block by doubling.
    if (!backward) {
        std::memcpy(dst, src, dist);
        size_t filled = dist;
        while (filled < bytes) {
            size_t period = filled - filled % dist;
            size_t len = period < bytes - filled ? period : bytes - filled;
            std::memcpy(dst + filled, dst + filled - period, len);
            filled += len;
        }
    } else {
        std::memcpy(dst + bytes - dist, src + bytes - dist, dist);
        size_t filled = dist;
        while (filled < bytes) {
            size_t period = filled - filled % dist;
            size_t len = period < bytes - filled ? period : bytes - filled;
            std::memcpy(dst + bytes - filled - len, dst + bytes - filled - len + period, len);
            filled += len;
        }
    }
}

// Fills `bytes` (a multiple of `n`) at `dst` with the low `n` bytes of `value`.
inline void fill_elements(uint8_t* dst, size_t bytes, uint64_t value, unsigned n) {
    if (bytes == 0) return;
    if (n == 1) {
        std::memset(dst, int(value & 0xff), bytes);
        return;
    }
    uint8_t block[64];
    for (unsigned i = 0; i < sizeof block; i += n) std::memcpy(block + i, &value, n);
    size_t first = bytes < sizeof block ? bytes : sizeof block;
    std::memcpy(dst, block, first);
    size_t filled = first;
    while (filled < bytes) {
        size_t len = filled < bytes - filled ? filled : bytes - filled;
        std::memcpy(dst + filled, dst, len);
        filled += len;
    }
}

// OSZAPC (as EFLAGS bits) of `a - b` on `n`-byte operands, as SUB/CMP set them.
inline uint64_t sub_flags(uint64_t a, uint64_t b, unsigned n) {
    const unsigned bits = n * 8;
    const uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
    const uint64_t sign = 1ull << (bits - 1);
    a &= mask;
    b &= mask;
    const uint64_t r = (a - b) & mask;
    uint64_t f = 0;
    if (a < b) f |= flag::CF;
    if (!__builtin_parity(unsigned(r & 0xff))) f |= flag::PF;
    if ((a ^ b ^ r) & 0x10) f |= flag::AF;
    if (r == 0) f |= flag::ZF;
    if (r & sign) f |= flag::SF;
    if ((a ^ b) & (a ^ r) & sign) f |= flag::OF;
    return f;
}

} // namespace strmem

} // namespace hayate
