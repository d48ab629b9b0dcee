// C++ helpers of the x87 family (frontend/emit_x87.cpp): the state-image
// instructions (FNSTENV/FLDENV, FNSAVE/FRSTOR in their 16/32-bit real- and
// protected-mode layouts, FXSAVE/FXRSTOR) and the exception paths.
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>

namespace hayate {

enum class X87Image : uint8_t { Fnstenv, Fldenv, Fnsave, Frstor, Fxsave, Fxrstor };

// arg1 of helper_x87_image.
inline uint64_t x87_image_arg(X87Image kind, bool operand16, bool rex_w) {
    return uint64_t(kind) | (operand16 ? 0x100u : 0u) | (rex_w ? 0x200u : 0u);
}
// The instruction `arg1` names, on the guest memory at linear address `linear`.
uint64_t helper_x87_image(CpuState* s, uint64_t arg1, uint64_t linear);
// An unmasked x87 exception is pending at a waiting x87 instruction (the
// host unit trapped on it, or a helper found FSW.ES): #MF. Without CR0.NE
// the PC reports it as IRQ 13 through FERR#; with no interrupt controller
// modelled that is logged loudly and delivered as #MF as well.
uint64_t helper_x87_pending(CpuState* s, uint64_t, uint64_t);
// WAIT/FWAIT with CR0.TS=1: #NM if CR0.MP=1, else nothing.
uint64_t helper_x87_wait_ts(CpuState* s, uint64_t, uint64_t);

// The legacy region shared with the XSAVE family (frontend/emit_xsave.cpp):
// FXSAVE's image of the x87 and SSE state (bytes 0-159, then XMM0-7 or
// XMM0-15; returns the bytes written) and the loading of its x87 part (bytes
// 0-23 and 32-159). REX.W selects the 64-bit FIP/FDP layout.
unsigned fxsave_image(const CpuState& s, uint8_t* out, bool rex_w, bool mode64);
void fxrstor_x87(CpuState& s, const uint8_t* in, bool rex_w);

} // namespace hayate
