// Register conventions of generated code (x86-64 host running an x86 guest).
//
// Guest GPRs live in host registers for the whole time generated code runs;
// RAX..RDI keep their own numbers so that instructions with implicit operands
// (MUL, DIV, shifts by CL, CMPXCHG, CPUID...) can run as they are. The guest
// stack pointer sits in R12 because the host needs RSP. Four guest registers
// (R12..R15) live in CpuState; emitters address them as memory operands.
// Guest XMM0..15 are host XMM0..15. The guest's arithmetic flags (OSZAPC) are
// in host RFLAGS at every block boundary.
#pragma once
#include "machine/cpu_state.h"
#include <asmjit/x86.h>
#include <cstddef>

namespace hayate::jit {

namespace x86 = asmjit::x86;

inline const x86::Gp kState = x86::r15; // CpuState*
inline const x86::Gp kT0 = x86::r14;    // scratch: linear/host address of the memory operand
inline const x86::Gp kT1 = x86::r13;    // scratch: TLB index, surrogate register

constexpr int kNoHostReg = -1;
// Host register id for a guest GPR, or kNoHostReg when it lives in CpuState.
constexpr int host_reg_of(int guest) {
    constexpr int map[16] = {0, 1, 2,  3,  12,         5,          6,          7,
                             8, 9, 10, 11, kNoHostReg, kNoHostReg, kNoHostReg, kNoHostReg};
    return map[guest];
}
constexpr bool guest_in_host_reg(int guest) { return host_reg_of(guest) != kNoHostReg; }

inline x86::Mem state_field(size_t offset, uint32_t size = 8) {
    return x86::Mem(kState, int32_t(offset), size);
}
#define HAYATE_STATE(field)                                                                                  \
    ::hayate::jit::state_field(offsetof(::hayate::CpuState, field),                                          \
                               sizeof(((::hayate::CpuState*)nullptr)->field))
inline x86::Mem guest_gpr_slot(int guest, uint32_t size = 8) {
    return state_field(offsetof(CpuState, gpr) + guest * 8, size);
}

} // namespace hayate::jit
