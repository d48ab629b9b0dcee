// The one table that drives translation: Zydis mnemonic -> emitter, plus the
// asmjit instruction id used by the generic native path.
#pragma once
#include "frontend/emit_context.h"
#include <array>

namespace hayate {

// Returns false if the instruction form is not implemented (the translator
// then raises #UD and logs it once).
using EmitFn = bool (*)(EmitContext&);

struct EmitEntry {
    EmitFn fn = nullptr;
    bool ends_block = false; // the block ends after this instruction
};

class EmitTable {
  public:
    EmitTable();
    const EmitEntry& operator[](ZydisMnemonic m) const { return entries_[m]; }
    void set(ZydisMnemonic m, EmitFn fn, bool ends_block = false) { entries_[m] = {fn, ends_block}; }
    // Same host instruction as the guest's (see EmitContext::emit_native).
    void set_native(std::initializer_list<ZydisMnemonic> ms);
    asmjit::InstId host_inst(ZydisMnemonic m) const { return host_ids_[m]; }

  private:
    std::array<EmitEntry, ZYDIS_MNEMONIC_MAX_VALUE + 1> entries_{};
    std::array<asmjit::InstId, ZYDIS_MNEMONIC_MAX_VALUE + 1> host_ids_{};
};

const EmitTable& emit_table();

// The native emitter: looks up the host instruction for the current mnemonic.
bool emit_native_same(EmitContext& c);

// MOV to/from segment registers (system family).
bool emit_mov_special(EmitContext& c);
bool emit_pop_segment(EmitContext& c);
// Far JMP/CALL (system family).
bool emit_far_transfer(EmitContext& c);

// Instruction families register their emitters (one file each).
void register_alu(EmitTable& t);
void register_shift(EmitTable& t);
void register_muldiv(EmitTable& t);
void register_bit(EmitTable& t);
void register_control(EmitTable& t);
void register_stack(EmitTable& t);
void register_string(EmitTable& t);
void register_system(EmitTable& t);
void register_sse(EmitTable& t);
void register_x87(EmitTable& t);
void register_xsave(EmitTable& t);
void register_avx(EmitTable& t);
void register_misc(EmitTable& t);

} // namespace hayate
