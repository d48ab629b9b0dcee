// Emitters: PUSH/POP, PUSHF, LEAVE and the shared stack-slot mechanics.
#include "frontend/emit_stack.h"
#include "frontend/emit_table.h"
#include "frontend/helpers.h"

namespace hayate {

using namespace asmjit;

static const x86::Gp kGuestSp = x86::r12;

void stack_slot_address(EmitContext& c, int32_t delta, unsigned size, MemAccess acc) {
    switch (c.stack_bytes()) {
    case 8: c.a.lea(kT0, x86::ptr(kGuestSp, delta)); break;
    case 4: c.a.lea(kT0.r32(), x86::ptr(kGuestSp, delta)); break;
    default:
        c.a.lea(kT0.r32(), x86::ptr(kGuestSp, delta));
        c.a.movzx(kT0.r32(), kT0.r16());
        break;
    }
    if (!c.is64()) c.add_segment_base(kT0, SS, size, acc);
}

void adjust_stack_pointer(EmitContext& c, int32_t delta) {
    switch (c.stack_bytes()) {
    case 8: c.a.lea(kGuestSp, x86::ptr(kGuestSp, delta)); break;
    case 4: c.a.lea(kGuestSp.r32(), x86::ptr(kGuestSp, delta)); break;
    default: c.a.lea(kGuestSp.r16(), x86::ptr(kGuestSp, delta)); break;
    }
}

static x86::Gp sized(x86::Gp r, unsigned bytes) {
    switch (bytes) {
    case 1: return r.r8();
    case 2: return r.r16();
    case 4: return r.r32();
    default: return r.r64();
    }
}

void emit_push(EmitContext& c, unsigned size, const std::function<void(x86::Gp)>& load_value) {
    stack_slot_address(c, -int32_t(size), size, MemAccess::Write);
    c.access_linear(size, MemAccess::Write, SS, [&c, size, load_value](const x86::Mem& m) {
        load_value(kT1);
        c.a.mov(m, sized(kT1, size));
        adjust_stack_pointer(c, -int32_t(size));
    });
}

void emit_push_imm(EmitContext& c, unsigned size, uint64_t value) {
    emit_push(c, size, [&c, size, value](x86::Gp dst) {
        if (size == 8)
            c.a.mov(dst, Imm(value));
        else
            c.a.mov(dst.r32(), Imm(uint32_t(value)));
    });
}

namespace {

bool emit_push_insn(EmitContext& c) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand& src = in.ops[0];
    const unsigned size = in.operand_width() / 8;
    switch (src.type) {
    case ZYDIS_OPERAND_TYPE_IMMEDIATE: emit_push_imm(c, size, uint64_t(src.imm.value.s)); return true;
    case ZYDIS_OPERAND_TYPE_REGISTER: {
        int seg = zydis_seg_index(src.reg.value);
        if (seg >= 0) {
            // PUSH Sreg: a 32-bit push writes only the low 16 bits on current CPUs.
            emit_push(c, size, [&c, seg](x86::Gp dst) {
                c.a.movzx(dst.r32(), jit::state_field(offsetof(CpuState, seg) + seg * sizeof(SegmentCache) +
                                                          offsetof(SegmentCache, selector),
                                                      2));
            });
            return true;
        }
        GuestOperand g = c.gpr(src.reg.value);
        if (g.guest < 0) return false;
        int guest = g.guest;
        emit_push(c, size, [&c, guest, size](x86::Gp dst) { c.load_gpr(dst, guest, size); });
        return true;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: {
        // Read the operand into scratch, then push it.
        c.access_memory(src, MemAccess::Read, [&c, size](const x86::Mem& m) {
            x86::Mem mm = m;
            mm.setSize(size);
            if (size >= 4)
                c.a.mov(sized(kT1, size), mm);
            else
                c.a.movzx(kT1.r32(), mm);
            c.a.mov(jit::state_field(offsetof(CpuState, scratch) + 16), kT1);
        });
        emit_push(c, size,
                  [&c](x86::Gp dst) { c.a.mov(dst, jit::state_field(offsetof(CpuState, scratch) + 16)); });
        return true;
    }
    default: return false;
    }
}

bool emit_pop_insn(EmitContext& c) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand& dst = in.ops[0];
    const unsigned size = in.operand_width() / 8;
    if (dst.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (zydis_seg_index(dst.reg.value) >= 0) return emit_pop_segment(c);
        GuestOperand g = c.gpr(dst.reg.value);
        if (g.guest < 0) return false;
        int guest = g.guest;
        stack_slot_address(c, 0, size, MemAccess::Read);
        c.access_linear(size, MemAccess::Read, SS, [&c, guest, size](const x86::Mem& m) {
            if (size >= 4)
                c.a.mov(sized(kT1, size), m);
            else
                c.a.movzx(kT1.r32(), m);
            adjust_stack_pointer(c, int32_t(size));
            c.store_gpr(guest, kT1, size); // POP RSP: the popped value wins
        });
        return true;
    }
    if (dst.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        stack_slot_address(c, 0, size, MemAccess::Read);
        c.access_linear(size, MemAccess::Read, SS, [&c, size](const x86::Mem& m) {
            if (size >= 4)
                c.a.mov(sized(kT1, size), m);
            else
                c.a.movzx(kT1.r32(), m);
            c.a.mov(jit::state_field(offsetof(CpuState, scratch) + 16), kT1);
        });
        // The destination address uses the incremented stack pointer (SDM).
        adjust_stack_pointer(c, int32_t(size));
        c.linear_address(dst, kT0, MemAccess::Write);
        adjust_stack_pointer(c, -int32_t(size));
        int seg = zydis_seg_index(dst.mem.segment);
        c.access_linear(size, MemAccess::Write, seg < 0 ? DS : seg, [&c, size](const x86::Mem& m) {
            c.a.mov(kT1, jit::state_field(offsetof(CpuState, scratch) + 16));
            c.a.mov(m, sized(kT1, size));
            adjust_stack_pointer(c, int32_t(size));
        });
        return true;
    }
    return false;
}

bool emit_pushf(EmitContext& c) {
    const unsigned size = c.insn->operand_width() / 8;
    if (c.mode & mode::kVm86) {
        // Virtual-8086 mode: IOPL-sensitive, in the interpreter (Interp::pushf).
        c.call_interpreter(false);
        return true;
    }
    emit_push(c, size, [&c](x86::Gp dst) {
        auto& a = c.a;
        // Arithmetic flags from the host, the rest from CpuState; VM and RF read as 0.
        a.pushfq();
        a.pop(dst);
        a.push(dst);
        a.and_(dst.r32(), Imm(0x8d5));
        a.mov(jit::state_field(offsetof(CpuState, scratch) + 24), dst);
        a.mov(dst, jit::state_field(offsetof(CpuState, eflags)));
        a.and_(dst.r32(), Imm(~uint32_t(0x8d5 | flag::VM | flag::RF)));
        a.or_(dst, jit::state_field(offsetof(CpuState, scratch) + 24));
        a.popfq(); // guest arithmetic flags back
    });
    return true;
}

bool emit_leave(EmitContext& c) {
    const unsigned size = c.insn->operand_width() / 8;
    auto& a = c.a;
    // RSP <- RBP (stack width), then POP RBP; nothing changes before the load succeeds.
    switch (c.stack_bytes()) {
    case 8: a.mov(kT0, x86::rbp); break;
    case 4: a.mov(kT0.r32(), x86::ebp); break;
    default: a.movzx(kT0.r32(), x86::bp); break;
    }
    if (!c.is64()) c.add_segment_base(kT0, SS, size, MemAccess::Read);
    c.access_linear(size, MemAccess::Read, SS, [&c, size](const x86::Mem& m) {
        auto& as = c.a;
        if (size >= 4)
            as.mov(sized(kT1, size), m);
        else
            as.movzx(kT1.r32(), m);
        switch (c.stack_bytes()) {
        case 8: as.lea(kGuestSp, x86::ptr(x86::rbp, int32_t(size))); break;
        case 4: as.lea(kGuestSp.r32(), x86::ptr(x86::rbp, int32_t(size))); break;
        default: as.lea(kGuestSp.r16(), x86::ptr(x86::rbp, int32_t(size))); break;
        }
        c.store_gpr(RBP, kT1, size);
    });
    return true;
}

// ENTER is rare in compiled code (compilers emit PUSH/MOV/SUB); its nesting
// copies run in the interpreter.
bool emit_enter(EmitContext& c) {
    c.call_interpreter(false);
    return true;
}

} // namespace

void register_stack(EmitTable& t) {
    t.set(ZYDIS_MNEMONIC_PUSH, &emit_push_insn);
    t.set(ZYDIS_MNEMONIC_POP, &emit_pop_insn);
    t.set(ZYDIS_MNEMONIC_PUSHF, &emit_pushf);
    t.set(ZYDIS_MNEMONIC_PUSHFD, &emit_pushf);
    t.set(ZYDIS_MNEMONIC_PUSHFQ, &emit_pushf);
    t.set(ZYDIS_MNEMONIC_LEAVE, &emit_leave);
    t.set(ZYDIS_MNEMONIC_ENTER, &emit_enter);
}

} // namespace hayate
