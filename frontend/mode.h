// The translation mode: everything about the CPU state that changes how a
// block of guest code translates. Part of the block cache key.
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>

namespace hayate {

namespace mode {
constexpr uint32_t kCode16 = 0, kCode32 = 1, kCode64 = 2, kCodeMask = 3;
constexpr uint32_t kStack32 = 1u << 2; // SS.B (ignored in 64-bit mode)
constexpr uint32_t kCplShift = 3, kCplMask = 3u << 3;
constexpr uint32_t kProtected = 1u << 5;
constexpr uint32_t kVm86 = 1u << 6;
constexpr uint32_t kFlat = 1u << 7;        // CS/DS/ES/SS bases are all 0
constexpr uint32_t kSseOk = 1u << 8;       // CR4.OSFXSR && !CR0.EM && !CR0.TS
constexpr uint32_t kLongMode = 1u << 9;    // EFER.LMA
constexpr uint32_t kFpuTs = 1u << 10;      // CR0.TS: FP/SSE instructions raise #NM
constexpr uint32_t kFpuEm = 1u << 11;      // CR0.EM
constexpr uint32_t kSingleStep = 1u << 12; // EFLAGS.TF: one instruction per block, then #DB
constexpr uint32_t kDebugRegs =
    1u << 14; // DR7 enables a breakpoint: one instruction per block, checked by the dispatcher
// Set by the dispatcher, not by compute_mode(): the one instruction an STI or
// MOV SS shadow covers while an interrupt waits.
constexpr uint32_t kShadowStep = 1u << 15;
// One instruction per block, run from the dispatcher (no chaining, no jump cache).
constexpr uint32_t kStepwise = kSingleStep | kDebugRegs | kShadowStep;
static_assert((kStepwise & (1u << 13 | 1u << 16)) == 0, "mode bits must not overlap");
constexpr uint32_t kSmap = 1u << 13;  // CPL < 3, CR4.SMAP and !EFLAGS.AC: user pages are off limits
constexpr uint32_t kAvxOk = 1u << 16; // CR4.OSXSAVE and XCR0 enables SSE and AVX state: VEX instructions run

inline uint32_t code_size(uint32_t m) { return m & kCodeMask; }
inline unsigned cpl(uint32_t m) { return (m & kCplMask) >> kCplShift; }
inline bool is64(uint32_t m) { return code_size(m) == kCode64; }
// Stack-pointer width in bytes.
inline unsigned stack_bytes(uint32_t m) { return is64(m) ? 8 : (m & kStack32) ? 4 : 2; }
inline int mmu_index(uint32_t m) { return cpl(m) == 3 ? 1 : (m & kSmap) ? 2 : 0; }
} // namespace mode

// Protected mode whose CS, DS, ES and SS all start at 0 and span 4 GiB, DS,
// ES and SS being usable, writable and expand-up: then no access through
// them can fail a segment check and generated code skips the checks.
inline bool is_flat_protected(const CpuState& s) {
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) return false;
    if ((s.seg[CS].base | s.seg[DS].base | s.seg[ES].base | s.seg[SS].base) != 0) return false;
    for (int i : {CS, DS, ES, SS})
        if (s.seg[i].limit != 0xffffffffu) return false;
    for (int i : {DS, ES, SS}) {
        const uint16_t attr = s.seg[i].attr;
        // present, S=1, data (not code), writable, not expand-down
        if ((attr & (segattr::kPresent | segattr::kS | segattr::kCode | 0x6)) !=
            (segattr::kPresent | segattr::kS | 0x2))
            return false;
    }
    return true;
}

inline uint32_t compute_mode(const CpuState& s) {
    uint32_t m = 0;
    bool lma = s.efer & efer::LMA;
    const SegmentCache& cs = s.seg[CS];
    if (lma && cs.is_long())
        m |= mode::kCode64;
    else if (cs.big() && (s.cr0 & cr0::PE) && !(s.eflags & flag::VM))
        m |= mode::kCode32;
    // SS.B means nothing in 64-bit code: keeping it out of the key spares a
    // second translation (and jump-cache thrash) of kernel code entered with
    // a null SS after an interrupt and with __KERNEL_DS otherwise.
    if ((m & mode::kCodeMask) != mode::kCode64 && s.seg[SS].big() && (s.cr0 & cr0::PE) &&
        !(s.eflags & flag::VM))
        m |= mode::kStack32;
    if (s.cr0 & cr0::PE) {
        m |= mode::kProtected;
        if (s.eflags & flag::VM)
            m |= mode::kVm86 | (3u << mode::kCplShift);
        else
            m |= uint32_t(cs.dpl()) << mode::kCplShift;
    }
    if (lma) m |= mode::kLongMode;
    if ((m & mode::kCodeMask) == mode::kCode64 || is_flat_protected(s)) m |= mode::kFlat;
    if ((s.cr4 & cr4::OSFXSR) && !(s.cr0 & (cr0::EM | cr0::TS))) m |= mode::kSseOk;
    if ((s.cr4 & cr4::OSXSAVE) && (s.xcr0 & 6) == 6) m |= mode::kAvxOk;
    if (s.cr0 & cr0::TS) m |= mode::kFpuTs;
    if (s.cr0 & cr0::EM) m |= mode::kFpuEm;
    if (s.eflags & flag::TF) m |= mode::kSingleStep;
    if (s.dr[7] & 0xff) m |= mode::kDebugRegs;
    if ((s.cr4 & cr4::SMAP) && !(s.eflags & flag::AC) && mode::cpl(m) < 3) m |= mode::kSmap;
    return m;
}

} // namespace hayate
