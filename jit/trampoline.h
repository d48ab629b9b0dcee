// Shared pieces of generated code: entering and leaving translated code, and
// the thunks that move guest state between host registers and CpuState around
// helper calls. Built once per code buffer, at its start.
#pragma once
#include "jit/code_buffer.h"
#include "machine/cpu_state.h"

namespace hayate::jit {

struct Thunks {
    // void enter(CpuState*, const void* block_code): runs guest code until an exit.
    void (*enter)(CpuState*, const void*) = nullptr;
    // Called (not jumped to) by generated code: store/load every guest register,
    // XMM and MXCSR and the arithmetic flags to/from CpuState. Clobber T1 only.
    const uint8_t* save_state = nullptr;
    const uint8_t* load_state = nullptr;
    // Jumped to: leave generated code. exit_save stores guest state first;
    // exit_nosave expects it stored (after save_state).
    const uint8_t* exit_save = nullptr;
    const uint8_t* exit_nosave = nullptr;
};

// Emits the thunks into `buffer`; returns their addresses.
Thunks build_thunks(CodeBuffer& buffer);

} // namespace hayate::jit
