// SSE/SSE2 emitters that share a Zydis mnemonic with another family: MOVSD
// and CMPSD are both string instructions and SSE2 scalar-double instructions.
// The string family registers those mnemonics and calls these when the
// operands are XMM registers (or an XMM register and memory).
#pragma once
#include "frontend/emit_context.h"

namespace hayate {

// MOVSD xmm, xmm/m64 and MOVSD m64, xmm (F2 0F 10/11).
bool emit_sse_movsd(EmitContext& c);
// CMPSD xmm, xmm/m64, imm8 (F2 0F C2).
bool emit_sse_cmpsd(EmitContext& c);

// True if the instruction's explicit operands make it the SSE form (an XMM
// register among them); the string family uses this to dispatch.
bool is_sse_form(const Insn& in);

} // namespace hayate
