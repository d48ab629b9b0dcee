// The guest x87 FPU state as C++ code sees it (CpuState::x87_image plus the
// pointer fields): accessors, tag computation and the init states. Valid
// whenever generated code is not running (the trampolines save the host x87
// unit into the image before any C++ code runs; see jit/trampoline.cpp).
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>
#include <cstring>

namespace hayate::x87 {

// Offsets in the image (FNSAVE, 32-bit protected-mode layout).
constexpr size_t kImageFcw = 0, kImageFsw = 4, kImageFtw = 8, kImageRegs = 28;
constexpr uint16_t kFswEs = 0x80;     // error summary: an unmasked exception is pending
constexpr uint16_t kFcwInit = 0x037f; // FNINIT
constexpr uint16_t kFcwMasks = 0x3f;

inline uint16_t get16(const CpuState& s, size_t off) {
    uint16_t v;
    std::memcpy(&v, s.x87_image + off, 2);
    return v;
}
inline void put16(CpuState& s, size_t off, uint16_t v) { std::memcpy(s.x87_image + off, &v, 2); }

inline uint16_t fcw(const CpuState& s) { return get16(s, kImageFcw); }
inline uint16_t fsw(const CpuState& s) { return get16(s, kImageFsw); }
inline uint16_t ftw(const CpuState& s) { return get16(s, kImageFtw); } // full tag word, physical order
inline void set_fcw(CpuState& s, uint16_t v) { put16(s, kImageFcw, v); }
inline void set_fsw(CpuState& s, uint16_t v) { put16(s, kImageFsw, v); }
inline unsigned top(const CpuState& s) { return (fsw(s) >> 11) & 7; }
// After FLDENV/FRSTOR/FXRSTOR: an exception is pending exactly when the new
// status word has an exception flag the new control word unmasks (SDM on
// FLDENV), so ES and B follow that. (Loaded as they came, ES without an
// unmasked flag would make the host trap at the next x87 instruction and
// Linux retry that "spurious" trap for ever.)
inline void sync_error_summary(CpuState& s) {
    const bool pending = (fsw(s) & ~fcw(s) & 0x3f) != 0;
    set_fsw(s, uint16_t(pending ? (fsw(s) | 0x8080) : (fsw(s) & ~0x8080)));
}
// ST(i), 10 bytes (the image holds the registers in stack order).
inline uint8_t* st(CpuState& s, unsigned i) { return s.x87_image + kImageRegs + 10 * (i & 7); }
inline const uint8_t* st(const CpuState& s, unsigned i) { return s.x87_image + kImageRegs + 10 * (i & 7); }

// The two-bit tag the hardware reports for a non-empty register with these
// contents: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unnormal,
// pseudo-denormal).
unsigned tag_of(const uint8_t reg[10]);
// The full tag word for the registers in the image, keeping only which
// physical registers are empty from `empty_mask` (bit n: Rn empty).
uint16_t full_tag_word(const CpuState& s, uint8_t empty_mask);
// FXSAVE's abridged tag (bit n: Rn not empty) from a full tag word.
uint8_t abridged_tag(uint16_t full);
// Sets the image's tag word from an empty mask (FLDENV, FRSTOR, FXRSTOR).
void set_tags(CpuState& s, uint8_t empty_mask);

// FNINIT: FCW 037FH, FSW 0, all registers empty, pointers and opcode 0.
void init(CpuState& s);
// Power-on and RESET (SDM vol. 3, table 9-1): FCW 0040H, FSW 0, FTW 5555H,
// registers +0.0, pointers 0.
void reset(CpuState& s);

} // namespace hayate::x87
