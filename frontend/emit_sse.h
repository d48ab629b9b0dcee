// SSE/SSE2 emitters that share a Zydis mnemonic with another family: MOVSD
// and CMPSD are both string instructions and SSE2 scalar-double instructions.
// The string family registers those mnemonics and calls these when the
// operands are XMM registers (or an XMM register and memory).
#pragma once
#include "frontend/emit_context.h"
#include <functional>

namespace hayate {

// MOVSD xmm, xmm/m64 and MOVSD m64, xmm (F2 0F 10/11).
bool emit_sse_movsd(EmitContext& c);
// CMPSD xmm, xmm/m64, imm8 (F2 0F C2).
bool emit_sse_cmpsd(EmitContext& c);

// The shared tails of the legacy and VEX forms (emit_avx.cpp), after the
// caller's availability checks:
// LDMXCSR / VLDMXCSR m32 (#GP(0) for reserved bits, then the new MXCSR).
bool emit_mxcsr_load(EmitContext& c);
// MASKMOVQ / MASKMOVDQU / VMASKMOVDQU: a byte-masked store of `bytes` to the
// implicit DS:[rDI]; `store` emits the host instruction, which stores
// through RDI (swapped with the host pointer around it). False without the
// memory operand.
bool emit_masked_store_through_rdi(EmitContext& c, unsigned bytes, const std::function<void()>& store);

// True if the instruction's explicit operands make it the SSE form (an XMM
// register among them); the string family uses this to dispatch.
bool is_sse_form(const Insn& in);

} // namespace hayate
