// Emitters: near jumps, conditional branches, loops, calls and returns.
// Conditions are tested on the host flags, which are the guest's.
#include "frontend/emit_stack.h"
#include "frontend/emit_table.h"
#include "frontend/helpers.h"

namespace hayate {

using namespace asmjit;

namespace {

uint64_t branch_target(const EmitContext& c) {
    const Insn& in = *c.insn;
    uint64_t t = in.next_pc + uint64_t(in.ops[0].imm.value.s);
    if (in.operand_width() == 16) t = uint16_t(t);
    return c.wrap_pc(t);
}

bool is_canonical(uint64_t v) { return int64_t(v << 16) >> 16 == int64_t(v); }

// #GP(0) at this instruction, which ends the block.
void raise_gp0(EmitContext& c) {
    c.raise_exception(13, 0, true);
    c.a.ud2(); // the helper always leaves generated code
    c.block_ended = true;
}

// A near branch in 64-bit mode whose target is not canonical faults on the
// branch itself: #GP(0) with RIP at the JMP/CALL/RET/Jcc and nothing changed
// (SDM Vol. 2: "IF tempRIP is not canonical THEN #GP(0)"); the fetch at the
// target never happens. For a 64-bit target in `target` (not T1): the guest
// flags are live in host RFLAGS, so the test is flag-free: target + 2^47 has
// its top 16 bits clear exactly when the target is canonical; BSWAP and MOVZX
// bring them to the low word of RCX (the guest's RCX waits in T1) for JRCXZ.
// Clobbers T1.
void check_canonical_target(EmitContext& c, x86::Gp target) {
    if (!c.is64()) return;
    auto& a = c.a;
    Label ok = a.newLabel(), fault = a.newLabel();
    a.mov(kT1, x86::rcx);
    a.mov(x86::rcx, Imm(uint64_t(1) << 47));
    a.lea(x86::rcx, x86::ptr(target, x86::rcx));
    a.bswap(x86::rcx);
    a.movzx(x86::ecx, x86::cx);
    a.jecxz(x86::rcx, ok); // JRCXZ
    a.mov(x86::rcx, kT1);
    a.jmp(fault);
    a.bind(ok);
    a.mov(x86::rcx, kT1);
    c.defer([&c, fault]() {
        c.a.bind(fault);
        raise_gp0(c);
    });
}

// A direct branch's exit: the target is known, so is whether it faults.
void exit_branch(EmitContext& c, uint64_t target) {
    if (c.is64() && !is_canonical(target))
        raise_gp0(c);
    else
        c.exit_direct(target);
}

// Loads an indirect target (register or memory operand 0) into T0, truncated
// to the operand size.
void load_indirect_target(EmitContext& c, bool keep_in_scratch) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand& src = in.ops[0];
    const unsigned size = in.operand_width() / 8;
    if (src.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        GuestOperand g = c.gpr(src.reg.value);
        c.load_gpr(kT0, g.guest, size);
    } else {
        c.access_memory(src, MemAccess::Read, [&c, size](const x86::Mem& m) {
            x86::Mem mm = m;
            mm.setSize(size);
            if (size == 8)
                c.a.mov(kT0, mm);
            else if (size == 4)
                c.a.mov(kT0.r32(), mm);
            else
                c.a.movzx(kT0.r32(), mm);
        });
    }
    if (keep_in_scratch) c.a.mov(jit::state_field(offsetof(CpuState, scratch) + 16), kT0);
}

bool emit_jmp(EmitContext& c) {
    const Insn& in = *c.insn;
    if (in.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        exit_branch(c, branch_target(c));
        return true;
    }
    if (in.ops[0].type == ZYDIS_OPERAND_TYPE_POINTER ||
        (in.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && in.zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR))
        return emit_far_transfer(c);
    load_indirect_target(c, false);
    if (in.operand_width() == 64) check_canonical_target(c, kT0);
    c.exit_indirect();
    return true;
}

bool emit_jcc(EmitContext& c) {
    const Insn& in = *c.insn;
    Label taken = c.a.newLabel();
    InstId id = emit_table().host_inst(in.mnemonic());
    c.a.emit(id, taken);
    c.exit_direct(c.wrap_pc(in.next_pc));
    c.a.bind(taken);
    exit_branch(c, branch_target(c));
    return true;
}

// JCXZ/JECXZ/JRCXZ and LOOP*: test and count the counter without touching flags.
bool emit_counter_branch(EmitContext& c) {
    const Insn& in = *c.insn;
    auto& a = c.a;
    const unsigned aw = in.address_width();
    const ZydisMnemonic m = in.mnemonic();
    const bool is_loop = m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE || m == ZYDIS_MNEMONIC_LOOPNE;
    // A taken LOOP to a non-canonical target faults with the counter as it was.
    const bool target_faults = c.is64() && !is_canonical(branch_target(c));
    if (is_loop && target_faults) a.mov(kT0, x86::rcx);
    if (is_loop) {
        if (aw == 64)
            a.lea(x86::rcx, x86::ptr(x86::rcx, -1));
        else if (aw == 32)
            a.lea(x86::ecx, x86::ptr(x86::rcx, -1));
        else
            a.lea(x86::cx, x86::ptr(x86::rcx, -1));
    }
    // Counter (at address width) into host RCX's place via T1 swap so JRCXZ can test it.
    Label zero = a.newLabel(), nonzero = a.newLabel(), taken = a.newLabel(), not_taken = a.newLabel();
    if (aw == 64)
        a.mov(kT1, x86::rcx);
    else if (aw == 32)
        a.mov(kT1.r32(), x86::ecx);
    else
        a.movzx(kT1.r32(), x86::cx);
    a.xchg(kT1, x86::rcx);
    a.jecxz(x86::rcx, zero);
    a.xchg(kT1, x86::rcx);
    a.jmp(nonzero);
    a.bind(zero);
    a.xchg(kT1, x86::rcx);
    // counter == 0
    if (is_loop)
        a.jmp(not_taken);
    else
        a.jmp(taken);
    a.bind(nonzero);
    if (!is_loop)
        a.jmp(not_taken);
    else if (m == ZYDIS_MNEMONIC_LOOP)
        a.jmp(taken);
    else if (m == ZYDIS_MNEMONIC_LOOPE)
        a.jz(taken);
    else
        a.jnz(taken);
    a.bind(not_taken);
    c.exit_direct(c.wrap_pc(in.next_pc));
    a.bind(taken);
    if (is_loop && target_faults) a.mov(x86::rcx, kT0);
    exit_branch(c, branch_target(c));
    return true;
}

bool emit_call(EmitContext& c) {
    const Insn& in = *c.insn;
    const unsigned size = in.operand_width() / 8;
    const uint64_t ret = c.wrap_pc(in.next_pc);
    if (in.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        const uint64_t target = branch_target(c);
        if (c.is64() && !is_canonical(target)) {
            raise_gp0(c); // before the push
            return true;
        }
        emit_push_imm(c, size, ret);
        c.exit_direct(target);
        return true;
    }
    if (in.ops[0].type == ZYDIS_OPERAND_TYPE_POINTER ||
        (in.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && in.zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR))
        return emit_far_transfer(c);
    load_indirect_target(c, true);
    if (size == 8) check_canonical_target(c, kT0); // before the push
    emit_push_imm(c, size, ret);
    c.a.mov(kT0, jit::state_field(offsetof(CpuState, scratch) + 16));
    c.exit_indirect();
    return true;
}

bool emit_ret(EmitContext& c) {
    const Insn& in = *c.insn;
    if (in.zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return emit_far_transfer(c);
    const unsigned size = in.operand_width() / 8;
    const int32_t extra = in.visible_operands() > 0 && in.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                              ? int32_t(in.ops[0].imm.value.u)
                              : 0;
    stack_slot_address(c, 0, size, MemAccess::Read);
    c.access_linear(size, MemAccess::Read, SS, [&c, size, extra](const x86::Mem& m) {
        if (size == 8)
            c.a.mov(kT1, m);
        else if (size == 4)
            c.a.mov(kT1.r32(), m);
        else
            c.a.movzx(kT1.r32(), m);
        c.a.mov(kT0, kT1);
        if (size == 8) check_canonical_target(c, kT0); // before RSP moves
        adjust_stack_pointer(c, int32_t(size) + extra);
    });
    c.exit_indirect();
    return true;
}

} // namespace

void register_control(EmitTable& t) {
    t.set(ZYDIS_MNEMONIC_JMP, &emit_jmp, true);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JLE,
                            ZYDIS_MNEMONIC_JNB, ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JNLE,
                            ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JNP, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JNZ,
                            ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JZ})
        t.set(m, &emit_jcc, true);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_JCXZ, ZYDIS_MNEMONIC_JECXZ, ZYDIS_MNEMONIC_JRCXZ,
                            ZYDIS_MNEMONIC_LOOP, ZYDIS_MNEMONIC_LOOPE, ZYDIS_MNEMONIC_LOOPNE})
        t.set(m, &emit_counter_branch, true);
    t.set(ZYDIS_MNEMONIC_CALL, &emit_call, true);
    t.set(ZYDIS_MNEMONIC_RET, &emit_ret, true);
}

} // namespace hayate
