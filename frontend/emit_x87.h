// What other families need from the x87 one: MMX registers alias the x87
// registers, so MMX forms (frontend/emit_sse.cpp) run on the host's x87 unit
// holding the guest's x87 state, exactly as x87 instructions do.
#pragma once
#include "frontend/emit_context.h"

namespace hayate {

// The guest's x87 state into the host unit, once per block (CpuState.x87_ensure).
void x87_make_live(EmitContext& c);
// FWAIT as a host trap site: an unmasked x87 exception pending in the guest's
// state raises #MF here (for instructions that check for one before they run).
void x87_wait_pending(EmitContext& c);

} // namespace hayate
