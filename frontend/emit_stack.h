// Stack helpers shared by the stack and control-flow emitters.
#pragma once
#include "frontend/emit_context.h"

namespace hayate {

// Linear address of the stack slot `delta` bytes from the guest stack pointer
// (SS base added, wrapped to the stack width) into T0. Flag-free.
void stack_slot_address(EmitContext& c, int32_t delta, unsigned size, MemAccess acc);
// Adds `delta` to the guest stack pointer with stack-width semantics (flag-free).
void adjust_stack_pointer(EmitContext& c, int32_t delta);
// Pushes the value produced by `load_value(dst)` (called inside the store
// body: write the value into `dst`, a host register of `size` bytes).
void emit_push(EmitContext& c, unsigned size, const std::function<void(x86::Gp)>& load_value);
// Pushes an immediate value of `size` bytes.
void emit_push_imm(EmitContext& c, unsigned size, uint64_t value);

} // namespace hayate
