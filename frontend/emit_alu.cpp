// Emitters: integer ALU, moves, conversions, exchange and compare-exchange.
// Almost all run as the same host instruction (exact flags for free).
#include "frontend/emit_table.h"

namespace hayate {

namespace {

bool emit_lea(EmitContext& c) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand& dst = in.ops[0];
    const ZydisDecodedOperand& src = in.ops[1];
    GuestOperand d = c.gpr(dst.reg.value);
    if (d.guest < 0) return false;
    c.effective_address(src, kT0);
    c.store_gpr(d.guest, kT0, d.size);
    return true;
}

bool emit_nop(EmitContext&) { return true; } // multi-byte NOPs never access their memory operand

bool emit_cmpxchg16b(EmitContext& c) {
    // Requires a 16-byte aligned operand (#GP otherwise).
    return c.emit_native(emit_table().host_inst(c.insn->mnemonic()),
                         c.insn->mnemonic() == ZYDIS_MNEMONIC_CMPXCHG16B);
}

bool emit_mov(EmitContext& c) {
    const Insn& in = *c.insn;
    for (unsigned i = 0; i < 2; i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER) {
            ZydisRegisterClass cls = ZydisRegisterGetClass(in.ops[i].reg.value);
            if (cls != ZYDIS_REGCLASS_GPR8 && cls != ZYDIS_REGCLASS_GPR16 && cls != ZYDIS_REGCLASS_GPR32 &&
                cls != ZYDIS_REGCLASS_GPR64)
                return emit_mov_special(c); // segment registers (system family)
        }
    return c.emit_native(asmjit::x86::Inst::kIdMov);
}

} // namespace

void register_alu(EmitTable& t) {
    t.set_native({ZYDIS_MNEMONIC_ADD,     ZYDIS_MNEMONIC_OR,    ZYDIS_MNEMONIC_ADC,   ZYDIS_MNEMONIC_SBB,
                  ZYDIS_MNEMONIC_AND,     ZYDIS_MNEMONIC_SUB,   ZYDIS_MNEMONIC_XOR,   ZYDIS_MNEMONIC_CMP,
                  ZYDIS_MNEMONIC_TEST,    ZYDIS_MNEMONIC_INC,   ZYDIS_MNEMONIC_DEC,   ZYDIS_MNEMONIC_NEG,
                  ZYDIS_MNEMONIC_NOT,     ZYDIS_MNEMONIC_MOVZX, ZYDIS_MNEMONIC_MOVSX, ZYDIS_MNEMONIC_MOVSXD,
                  ZYDIS_MNEMONIC_CBW,     ZYDIS_MNEMONIC_CWDE,  ZYDIS_MNEMONIC_CDQE,  ZYDIS_MNEMONIC_CWD,
                  ZYDIS_MNEMONIC_CDQ,     ZYDIS_MNEMONIC_CQO,   ZYDIS_MNEMONIC_CLC,   ZYDIS_MNEMONIC_STC,
                  ZYDIS_MNEMONIC_CMC,     ZYDIS_MNEMONIC_BSWAP, ZYDIS_MNEMONIC_MOVBE, ZYDIS_MNEMONIC_XADD,
                  ZYDIS_MNEMONIC_CMPXCHG, ZYDIS_MNEMONIC_XCHG,  ZYDIS_MNEMONIC_LAHF,  ZYDIS_MNEMONIC_SAHF});
    t.set_native({ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVLE,
                  ZYDIS_MNEMONIC_CMOVNB, ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVNL,
                  ZYDIS_MNEMONIC_CMOVNLE, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVNP, ZYDIS_MNEMONIC_CMOVNS,
                  ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVS,
                  ZYDIS_MNEMONIC_CMOVZ});
    t.set_native({ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETLE,
                  ZYDIS_MNEMONIC_SETNB, ZYDIS_MNEMONIC_SETNBE, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETNLE,
                  ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETNP, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETNZ,
                  ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETZ});
    t.set(ZYDIS_MNEMONIC_MOV, &emit_mov);
    t.set(ZYDIS_MNEMONIC_LEA, &emit_lea);
    t.set(ZYDIS_MNEMONIC_NOP, &emit_nop);
    t.set(ZYDIS_MNEMONIC_PAUSE, &emit_nop);
    t.set(ZYDIS_MNEMONIC_ENDBR32, &emit_nop);
    t.set(ZYDIS_MNEMONIC_ENDBR64, &emit_nop);
    t.set(ZYDIS_MNEMONIC_CMPXCHG8B, &emit_cmpxchg16b);
    t.set(ZYDIS_MNEMONIC_CMPXCHG16B, &emit_cmpxchg16b);
}

} // namespace hayate
