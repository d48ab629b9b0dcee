// C++ helpers called from generated code for the rare and complex cases.
// Signature: uint64_t (CpuState*, uint64_t arg1, uint64_t arg2); they see the
// guest state in CpuState (synced by the caller) and return a HelperStatus,
// except the memory slow path which returns a host pointer.
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>

namespace hayate {

class Vcpu;
// The vCPU whose state generated code passed to a helper (CpuState::vcpu).
inline Vcpu& vcpu_of(CpuState* s) { return *static_cast<Vcpu*>(s->vcpu); }

// Memory slow path: translates, checks and either returns a host pointer into
// RAM (TLB filled, caller retries its fast path), the bounce buffer (filled for
// reads), or nullptr after raising a guest exception.
uint8_t* helper_mem_slow(CpuState* s, uint64_t linear, uint64_t info);
// Writes the bounce buffer back; returns a HelperStatus (ExitNext when the
// store modified translated code of the running block).
uint64_t helper_mem_writeback(CpuState* s, uint64_t, uint64_t);
// Raises exception (arg1 = vector | has_error << 8 | error_code << 32).
uint64_t helper_raise_exception(CpuState* s, uint64_t arg1, uint64_t);
// #UD for an instruction that is not implemented (logged once per mnemonic).
uint64_t helper_unimplemented(CpuState* s, uint64_t arg1, uint64_t);
// A SIMD floating-point exception the host raised for the guest instruction
// (unmasked in the guest MXCSR): #XM with CR4.OSXMMEXCPT, else #UD.
uint64_t helper_simd_exception(CpuState* s, uint64_t, uint64_t);
// IDIV whose dividend is not a sign-extended single-width value (arg2 = divisor).
uint64_t helper_divide(CpuState* s, uint64_t arg1, uint64_t divisor);
// System and other rare instructions, interpreted in C++ (arg1 = the kept Insn*, arg2 = T0).
uint64_t helper_interpret(CpuState* s, uint64_t insn, uint64_t t0);

} // namespace hayate
