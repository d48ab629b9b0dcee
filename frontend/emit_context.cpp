#include "frontend/emit_context.h"
#include "frontend/helpers.h"
#include "jit/block_cache.h"
#include <cassert>
#include <cstring>

namespace hayate {

using namespace asmjit;

EmitContext::EmitContext(x86::Assembler& as, const jit::Thunks& t, jit::Block* b, uint32_t m)
    : a(as), thunks(t), block(b), mode(m) {}

// ---------------------------------------------------------------- registers

bool lower_gpr(ZydisRegister reg, GuestOperand& out) {
    int guest = -1;
    unsigned size = 0;
    bool high = false;
    if (reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_R15B) {
        int i = reg - ZYDIS_REGISTER_AL;
        size = 1;
        if (i < 4)
            guest = i;
        else if (i < 8)
            guest = i - 4, high = true;
        else
            guest = i - 4; // SPL, BPL, SIL, DIL, R8B..R15B
    } else if (reg >= ZYDIS_REGISTER_AX && reg <= ZYDIS_REGISTER_R15W) {
        guest = reg - ZYDIS_REGISTER_AX, size = 2;
    } else if (reg >= ZYDIS_REGISTER_EAX && reg <= ZYDIS_REGISTER_R15D) {
        guest = reg - ZYDIS_REGISTER_EAX, size = 4;
    } else if (reg >= ZYDIS_REGISTER_RAX && reg <= ZYDIS_REGISTER_R15) {
        guest = reg - ZYDIS_REGISTER_RAX, size = 8;
    } else {
        return false;
    }
    out.guest = guest;
    out.size = size;
    out.high_byte = high;
    int h = jit::host_reg_of(guest);
    if (h == jit::kNoHostReg) {
        out.in_state = true;
        out.op = jit::guest_gpr_slot(guest, size);
    } else if (high) {
        out.op = x86::gpb_hi(uint32_t(h));
    } else {
        switch (size) {
        case 1: out.op = x86::gpb(uint32_t(h)); break;
        case 2: out.op = x86::gpw(uint32_t(h)); break;
        case 4: out.op = x86::gpd(uint32_t(h)); break;
        default: out.op = x86::gpq(uint32_t(h)); break;
        }
    }
    return true;
}

int zydis_seg_index(ZydisRegister seg) {
    switch (seg) {
    case ZYDIS_REGISTER_ES: return ES;
    case ZYDIS_REGISTER_CS: return CS;
    case ZYDIS_REGISTER_SS: return SS;
    case ZYDIS_REGISTER_DS: return DS;
    case ZYDIS_REGISTER_FS: return FS;
    case ZYDIS_REGISTER_GS: return GS;
    default: return -1;
    }
}

GuestOperand EmitContext::gpr(ZydisRegister reg) const {
    GuestOperand g;
    lower_gpr(reg, g);
    return g;
}

x86::Gp EmitContext::host_gpr(int guest, unsigned size) const {
    uint32_t h = uint32_t(jit::host_reg_of(guest));
    switch (size) {
    case 1: return x86::gpb(h);
    case 2: return x86::gpw(h);
    case 4: return x86::gpd(h);
    default: return x86::gpq(h);
    }
}

void EmitContext::load_gpr(x86::Gp dst, int guest, unsigned size) {
    if (jit::guest_in_host_reg(guest)) {
        x86::Gp src = host_gpr(guest, size);
        if (size == 8)
            a.mov(dst.r64(), src);
        else if (size == 4)
            a.mov(dst.r32(), src);
        else
            a.movzx(dst.r32(), src);
    } else {
        if (size == 8)
            a.mov(dst.r64(), jit::guest_gpr_slot(guest, 8));
        else if (size == 4)
            a.mov(dst.r32(), jit::guest_gpr_slot(guest, 4));
        else
            a.movzx(dst.r32(), jit::guest_gpr_slot(guest, size));
    }
}

void EmitContext::store_gpr(int guest, x86::Gp src, unsigned size) {
    if (jit::guest_in_host_reg(guest)) {
        x86::Gp dst = host_gpr(guest, size);
        if (size == 8)
            a.mov(dst, src.r64());
        else if (size == 4)
            a.mov(dst, src.r32());
        else if (size == 2)
            a.mov(dst, src.r16());
        else
            a.mov(dst, src.r8());
    } else {
        if (size == 4) {
            // 32-bit writes zero-extend: store all 64 bits.
            a.mov(src.r32(), src.r32());
            a.mov(jit::guest_gpr_slot(guest, 8), src.r64());
        } else if (size == 8)
            a.mov(jit::guest_gpr_slot(guest, 8), src.r64());
        else if (size == 2)
            a.mov(jit::guest_gpr_slot(guest, 2), src.r16());
        else
            a.mov(jit::guest_gpr_slot(guest, 1), src.r8());
    }
}

// -------------------------------------------------------------------- flags

bool EmitContext::flags_live_before() const {
    return (insn->flags_read | (insn->flags_live_after & ~insn->flags_written)) != 0;
}
bool EmitContext::flags_live_after() const { return insn->flags_live_after != 0; }

// LAHF/SETO keep OSZAPC in AX; RAX is a guest register, so it is parked in T1.
void EmitContext::save_flags() {
    flags_in_scratch = true;
    a.mov(kT1, x86::rax);
    a.lahf();
    a.seto(x86::al);
    a.mov(jit::state_field(offsetof(CpuState, scratch), 2), x86::ax);
    a.mov(x86::rax, kT1);
}

void EmitContext::restore_flags() {
    a.mov(kT1, x86::rax);
    a.mov(x86::ax, jit::state_field(offsetof(CpuState, scratch), 2));
    a.add(x86::al, 0x7f); // OF = (saved OF == 1)
    a.sahf();
    a.mov(x86::rax, kT1);
}

// ------------------------------------------------------------------ address

void EmitContext::effective_address(const ZydisDecodedOperand& op, x86::Gp dst) {
    const auto& m = op.mem;
    int64_t disp = m.disp.has_displacement ? m.disp.value : 0;
    unsigned aw = insn->address_width();
    if (m.base == ZYDIS_REGISTER_RIP || m.base == ZYDIS_REGISTER_EIP) {
        uint64_t v = insn->next_pc + uint64_t(disp);
        if (m.base == ZYDIS_REGISTER_EIP) v = uint32_t(v);
        a.mov(dst.r64(), Imm(v));
        return;
    }
    x86::Gp base, index;
    auto reg_for = [&](ZydisRegister r, x86::Gp scratch) -> x86::Gp {
        GuestOperand g;
        lower_gpr(r, g);
        if (g.in_state) {
            a.mov(scratch.r64(), jit::guest_gpr_slot(g.guest, 8));
            return scratch.r64();
        }
        return x86::gpq(uint32_t(jit::host_reg_of(g.guest)));
    };
    if (m.base != ZYDIS_REGISTER_NONE) base = reg_for(m.base, dst);
    if (m.index != ZYDIS_REGISTER_NONE) index = reg_for(m.index, dst == kT1 ? kT0 : kT1);
    x86::Mem mem;
    if (base.isValid() && index.isValid())
        mem = x86::ptr(base, index, uint32_t(__builtin_ctz(m.scale)), int32_t(disp));
    else if (base.isValid())
        mem = x86::ptr(base, int32_t(disp));
    else if (index.isValid())
        mem = x86::ptr(0, index, uint32_t(__builtin_ctz(m.scale)), int32_t(disp));
    else {
        uint64_t v = uint64_t(disp);
        if (aw == 32) v = uint32_t(v);
        if (aw == 16) v = uint16_t(v);
        a.mov(dst.r64(), Imm(v));
        return;
    }
    if (index.isValid() && !base.isValid()) {
        // asmjit needs a base for [index*scale+disp]; use the absolute form.
        mem = x86::ptr(uint64_t(int64_t(int32_t(disp))), index, uint32_t(__builtin_ctz(m.scale)));
    }
    if (aw == 64)
        a.lea(dst.r64(), mem);
    else {
        a.lea(dst.r32(), mem);
        if (aw == 16) a.movzx(dst.r32(), dst.r16());
    }
}

void EmitContext::add_segment_base(x86::Gp dst, int seg, unsigned size, MemAccess acc) {
    bool fs_gs = seg == FS || seg == GS;
    if (!fs_gs && (mode & mode::kFlat)) return;
    if (size && !is64()) check_segment_bounds(dst, seg, size, acc);
    a.mov(kT1, jit::state_field(offsetof(CpuState, seg) + seg * sizeof(SegmentCache) +
                                offsetof(SegmentCache, base)));
    if (is64())
        a.lea(dst.r64(), x86::ptr(dst.r64(), kT1));
    else
        a.lea(dst.r32(), x86::ptr(dst.r64(), kT1));
}

void EmitContext::linear_address(const ZydisDecodedOperand& op, x86::Gp dst, MemAccess acc) {
    effective_address(op, dst);
    int seg = zydis_seg_index(op.mem.segment);
    if (seg < 0) seg = DS;
    add_segment_base(dst, seg, uint8_t(acc) ? op.size / 8 : 0, acc);
}

// The offset in `offset` (zero-extended) against SegmentBounds: offset >= lo
// and offset + size - 1 <= hi for each kind of access. The flags are kept
// when live (the fault frame needs them too).
void EmitContext::check_segment_bounds(x86::Gp offset, int seg, unsigned size, MemAccess acc) {
    const bool live = flags_live_before();
    if (live && !flags_in_scratch) save_flags();
    const int32_t base = int32_t(offsetof(CpuState, seg_bounds) + size_t(seg) * sizeof(SegmentBounds));
    Label fault = a.newLabel();
    auto check = [&](size_t lo_field, size_t hi_field) {
        a.cmp(offset.r64(), x86::qword_ptr(kState, base + int32_t(lo_field)));
        a.jb(fault);
        a.lea(kT1, x86::ptr(offset.r64(), int32_t(size - 1)));
        a.cmp(kT1, x86::qword_ptr(kState, base + int32_t(hi_field)));
        a.ja(fault);
    };
    if (uint8_t(acc) & uint8_t(MemAccess::Read))
        check(offsetof(SegmentBounds, read_lo), offsetof(SegmentBounds, read_hi));
    if (uint8_t(acc) & uint8_t(MemAccess::Write))
        check(offsetof(SegmentBounds, write_lo), offsetof(SegmentBounds, write_hi));
    if (live) restore_flags();
    defer([this, fault, live, seg]() {
        a.bind(fault);
        if (live) restore_flags();
        raise_exception(seg == SS ? 12 : 13, 0, true);
    });
}

// ------------------------------------------------------------------- memory

// The kind of access Zydis reports for a memory operand (none: no access,
// e.g. INVLPG's operand).
MemAccess access_of(const ZydisDecodedOperand& op) {
    const bool r = op.actions & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD);
    const bool w = op.actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE);
    return MemAccess(uint8_t((r ? 1 : 0) | (w ? 2 : 0)));
}

void EmitContext::access_memory(const ZydisDecodedOperand& mem, MemAccess acc, MemBody body, bool align) {
    linear_address(mem, kT0, acc);
    int seg = zydis_seg_index(mem.mem.segment);
    access_linear(mem.size / 8, acc, seg < 0 ? DS : seg, std::move(body), align);
}

void EmitContext::access_linear(unsigned size, MemAccess acc, int seg, MemBody body, bool align,
                                bool keep_flags) {
    const bool save = keep_flags && flags_live_before();
    if (save) save_flags();
    Label slow = a.newLabel(), fast = a.newLabel(), done = a.newLabel();
    const int idx = mmu_index();
    const int32_t tlb_off = int32_t(offsetof(CpuState, tlb) + size_t(idx) * sizeof(TlbEntry) * kTlbEntries);
    const int32_t tag_off = tlb_off + int32_t(acc == MemAccess::Read ? offsetof(TlbEntry, tag_read)
                                                                     : offsetof(TlbEntry, tag_write));
    const int32_t host_off = tlb_off + int32_t(offsetof(TlbEntry, host_page));
    a.mov(kT1, kT0);
    a.shr(kT1, 12 - 5);
    a.and_(kT1.r32(), Imm((kTlbEntries - 1) << 5));
    a.xor_(kT0, x86::qword_ptr(kState, kT1, 0, tag_off));
    if (align && size > 1) {
        a.test(kT0, Imm(int32_t(~(0x1000u - size))));
        a.jnz(slow);
    } else {
        a.cmp(kT0, Imm(0x1000 - int(size)));
        a.ja(slow);
    }
    a.add(kT0, x86::qword_ptr(kState, kT1, 0, host_off));
    a.bind(fast);
    if (save) restore_flags();
    body(x86::ptr(kT0, 0, size));
    a.bind(done);

    const Insn* in = insn;
    const uint32_t info = MemInfo::make(size, acc, align, idx, seg);
    defer([this, in, slow, fast, done, save, tag_off, info, body, acc, size]() {
        a.bind(slow);
        a.xor_(kT0, x86::qword_ptr(kState, kT1, 0, tag_off)); // the linear address again
        if (save) restore_flags();
        a.call(Imm(uint64_t(uintptr_t(thunks.save_state))));
        store_rip(in->pc);
        a.mov(x86::rdi, kState);
        a.mov(x86::rsi, kT0);
        a.mov(x86::edx, Imm(info));
        a.mov(x86::rax, Imm(uint64_t(uintptr_t(&helper_mem_slow))));
        a.call(x86::rax);
        a.test(x86::rax, x86::rax);
        a.jz(Imm(uint64_t(uintptr_t(thunks.exit_nosave))));
        a.mov(kT0, x86::rax);
        Label bounce = a.newLabel();
        a.lea(kT1, jit::state_field(offsetof(CpuState, bounce)));
        a.cmp(x86::rax, kT1);
        a.je(bounce);
        a.call(Imm(uint64_t(uintptr_t(thunks.load_state))));
        a.jmp(fast);
        a.bind(bounce);
        a.call(Imm(uint64_t(uintptr_t(thunks.load_state))));
        body(x86::ptr(kT0, 0, size));
        if (uint8_t(acc) & uint8_t(MemAccess::Write)) {
            a.call(Imm(uint64_t(uintptr_t(thunks.save_state))));
            a.mov(x86::rdi, kState);
            a.mov(x86::rax, Imm(uint64_t(uintptr_t(&helper_mem_writeback))));
            a.call(x86::rax);
            a.test(x86::rax, x86::rax);
            Label go_on = a.newLabel();
            a.jz(go_on);
            store_rip(in->next_pc);
            a.jmp(Imm(uint64_t(uintptr_t(thunks.exit_nosave))));
            a.bind(go_on);
            a.call(Imm(uint64_t(uintptr_t(thunks.load_state))));
        }
        a.jmp(done);
    });
}

// ------------------------------------------------------------------ helpers

void EmitContext::store_rip(uint64_t pc) {
    if (int64_t(pc) == int64_t(int32_t(pc))) {
        a.mov(jit::state_field(offsetof(CpuState, rip)), Imm(int32_t(pc)));
    } else {
        a.mov(kT1, Imm(pc));
        a.mov(jit::state_field(offsetof(CpuState, rip)), kT1);
    }
}

void EmitContext::call_helper(const void* fn, uint64_t arg1, bool pass_t0) {
    const Insn* in = insn;
    a.call(Imm(uint64_t(uintptr_t(thunks.save_state))));
    store_rip(in->pc);
    a.mov(x86::rdi, kState);
    a.mov(x86::rsi, Imm(arg1));
    if (pass_t0) a.mov(x86::rdx, kT0);
    a.mov(x86::rax, Imm(uint64_t(uintptr_t(fn))));
    a.call(x86::rax);
    Label status = a.newLabel();
    a.test(x86::rax, x86::rax);
    a.jnz(status);
    a.call(Imm(uint64_t(uintptr_t(thunks.load_state))));
    defer([this, status, in]() {
        a.bind(status);
        a.cmp(x86::rax, Imm(kHelperExitNext));
        a.jne(Imm(uint64_t(uintptr_t(thunks.exit_nosave))));
        store_rip(in->next_pc);
        a.jmp(Imm(uint64_t(uintptr_t(thunks.exit_nosave))));
    });
}

void EmitContext::raise_exception(uint8_t vector, uint32_t error_code, bool has_error) {
    uint64_t arg = vector | (has_error ? 0x100u : 0u) | (uint64_t(error_code) << 32);
    call_helper(&helper_raise_exception, arg);
}

void EmitContext::raise_ud() { raise_exception(6); }

void EmitContext::mark_host_trap_site() {
    if (!host_traps) return;
    HostTrapLabels t{a.newLabel(), a.newLabel()};
    a.bind(t.site);
    host_trap_labels.push_back(t);
    // At the site host flags and registers hold the guest's (the memory
    // paths restore flags before their bodies), so the helper sees the state
    // of this instruction.
    defer([this, t]() {
        a.bind(t.resume);
        call_helper(&helper_simd_exception, 0);
        a.ud2(); // the helper always leaves generated code
    });
}

const Insn* EmitContext::keep_insn() {
    auto storage = std::make_unique<uint8_t[]>(sizeof(Insn));
    std::memcpy(storage.get(), insn, sizeof(Insn));
    const Insn* kept = reinterpret_cast<const Insn*>(storage.get());
    block->helper_data.push_back(std::move(storage));
    return kept;
}

void EmitContext::call_interpreter(bool memory_address) {
    if (memory_address)
        for (unsigned i = 0; i < insn->zi.operand_count_visible; i++)
            if (insn->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
                insn->ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM) {
                linear_address(insn->ops[i], kT0, access_of(insn->ops[i]));
                break;
            }
    call_helper(&helper_interpret, uint64_t(uintptr_t(keep_insn())), true);
}

// -------------------------------------------------------------- block exits

uint64_t EmitContext::wrap_pc(uint64_t v) const {
    switch (mode::code_size(mode)) {
    case mode::kCode16: return uint16_t(v);
    case mode::kCode32: return uint32_t(v);
    default: return v;
    }
}

void EmitContext::exit_direct(uint64_t target_pc) {
    Label site = a.newLabel(), stub = a.newLabel();
    int index = int(block->exits.size());
    block->exits.push_back(jit::BlockExit{});
    block->exits.back().target_pc = target_pc;
    a.bind(site);
    a.long_().jmp(stub);
    block_ended = true;
    jit::Block* b = block;
    // A target in another page is never chained (the dispatcher must check
    // that page's translation), but the jump cache holds translations that
    // are still valid: probe it inline, as indirect exits do, and go there
    // without a round trip through the dispatcher.
    const bool probe_jump_cache =
        (mode & mode::kFlat) && !(mode & mode::kStepwise) && ((target_pc ^ block->pc) & ~0xfffull);
    defer([this, site, stub, index, target_pc, b, probe_jump_cache]() {
        a.bind(stub);
        store_rip(target_pc);
        if (probe_jump_cache) {
            Label miss = a.newLabel();
            const int32_t entry = int32_t(offsetof(CpuState, jump_cache)) +
                                  int32_t(jump_cache_index(target_pc) * sizeof(JumpCacheEntry));
            save_flags();
            a.mov(kT0, Imm(target_pc));
            a.cmp(x86::qword_ptr(kState, entry + int32_t(offsetof(JumpCacheEntry, pc))), kT0);
            a.jne(miss);
            a.cmp(x86::qword_ptr(kState, entry + int32_t(offsetof(JumpCacheEntry, mode))),
                  Imm(int32_t(mode)));
            a.jne(miss);
            a.mov(kT0, x86::qword_ptr(kState, entry + int32_t(offsetof(JumpCacheEntry, code))));
            restore_flags();
            a.jmp(kT0);
            a.bind(miss);
            restore_flags();
        }
        a.mov(kT1, Imm(uint64_t(uintptr_t(b))));
        a.mov(jit::state_field(offsetof(CpuState, chain_block)), kT1);
        a.mov(jit::state_field(offsetof(CpuState, chain_exit)), Imm(index));
        a.jmp(Imm(uint64_t(uintptr_t(thunks.exit_save))));
        pending_exit_labels.push_back({index, site, stub});
    });
}

void EmitContext::exit_indirect() {
    a.mov(jit::state_field(offsetof(CpuState, rip)), kT0);
    block_ended = true;
    if (!(mode & mode::kFlat) || (mode & mode::kStepwise)) {
        a.jmp(Imm(uint64_t(uintptr_t(thunks.exit_save))));
        return;
    }
    // Inline jump-cache probe; guest flags are live across it. A memory
    // operand's probe may have saved them already (JMP/RET change no flags).
    if (!(flags_in_scratch && insn->flags_written == 0)) save_flags();
    Label miss = a.newLabel();
    const int32_t jc = int32_t(offsetof(CpuState, jump_cache));
    // jump_cache_index(pc) * sizeof(JumpCacheEntry)
    a.imul(kT1.r32(), kT0.r32(), Imm(int32_t(0x9E3779B1u)));
    a.shr(kT1.r32(), 32 - kJumpCacheBits);
    a.shl(kT1.r32(), 5);
    a.cmp(x86::qword_ptr(kState, kT1, 0, jc + int32_t(offsetof(JumpCacheEntry, pc))), kT0);
    a.jne(miss);
    a.cmp(x86::qword_ptr(kState, kT1, 0, jc + int32_t(offsetof(JumpCacheEntry, mode))), Imm(int32_t(mode)));
    a.jne(miss);
    a.mov(kT0, x86::qword_ptr(kState, kT1, 0, jc + int32_t(offsetof(JumpCacheEntry, code))));
    restore_flags();
    a.jmp(kT0);
    a.bind(miss);
    restore_flags();
    a.jmp(Imm(uint64_t(uintptr_t(thunks.exit_save))));
}

void EmitContext::exit_to_dispatcher(uint64_t pc) {
    store_rip(pc);
    a.jmp(Imm(uint64_t(uintptr_t(thunks.exit_save))));
    block_ended = true;
}

void EmitContext::emit_deferred() {
    // Deferred code may defer more; run until none is left.
    for (size_t i = 0; i < deferred_.size(); i++) {
        Deferred d = std::move(deferred_[i]);
        insn = d.insn;
        flags_in_scratch = false;
        host_traps = d.host_traps;
        d.fn();
        host_traps = false;
    }
    deferred_.clear();
}

} // namespace hayate

namespace hayate {

// ------------------------------------------------ the generic native path
//
// Most integer and SSE instructions behave identically on the host once their
// operands are host operands: registers are mapped, guest memory becomes [T0]
// after the TLB probe, and the host instruction computes the exact result and
// flags (including the host's choice for undefined flags).
bool EmitContext::emit_native(InstId id, bool align) {
    // Some forms only accept a memory operand in one position (TEST r/m, r):
    // if the first choice does not encode, put every CpuState register in a host register.
    return emit_native_form(id, align, false) || emit_native_form(id, align, true);
}

bool EmitContext::emit_native_form(InstId id, bool align, bool all_surrogates) {
    const Insn& in = *insn;
    unsigned n = in.visible_operands();
    GuestOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    int mem_index = -1;
    for (unsigned i = 0; i < n; i++) {
        const ZydisDecodedOperand& o = in.ops[i];
        GuestOperand& g = ops[i];
        g.read = o.actions & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD);
        g.written = o.actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE);
        switch (o.type) {
        case ZYDIS_OPERAND_TYPE_REGISTER: {
            ZydisRegisterClass cls = ZydisRegisterGetClass(o.reg.value);
            if (cls == ZYDIS_REGCLASS_XMM) {
                g.op = x86::xmm(uint32_t(o.reg.value - ZYDIS_REGISTER_XMM0));
                g.size = 16;
            } else if (!lower_gpr(o.reg.value, g)) {
                return false;
            }
            break;
        }
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            g.op = o.imm.is_signed ? Imm(int64_t(o.imm.value.s)) : Imm(uint64_t(o.imm.value.u));
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY:
            if (o.mem.type != ZYDIS_MEMOP_TYPE_MEM || mem_index >= 0) return false;
            mem_index = int(i);
            g.is_guest_mem = true;
            g.size = o.size / 8;
            break;
        default: return false;
        }
    }

    // Decide which CpuState-resident registers need a host surrogate: a
    // 32-bit write (must zero-extend), or more than one memory operand.
    bool surrogate[ZYDIS_MAX_OPERAND_COUNT] = {};
    // BT* with a memory operand address a bit string: a register kept in
    // CpuState must be a host register for them.
    const ZydisMnemonic mn = in.mnemonic();
    const bool bit_string = mn == ZYDIS_MNEMONIC_BT || mn == ZYDIS_MNEMONIC_BTS || mn == ZYDIS_MNEMONIC_BTR ||
                            mn == ZYDIS_MNEMONIC_BTC;
    int mem_like = mem_index >= 0 ? 1 : 0;
    for (unsigned i = 0; i < n; i++)
        if (ops[i].in_state) {
            if (all_surrogates || bit_string || (ops[i].written && ops[i].size == 4))
                surrogate[i] = true;
            else
                mem_like++;
        }
    // Prefer surrogates for later (source) operands: forms like TEST only
    // take their memory operand first.
    for (unsigned i = n; i-- > 0 && mem_like > 1;)
        if (ops[i].in_state && !surrogate[i]) surrogate[i] = true, mem_like--;

    // Host registers for surrogates: T1, then borrowed registers the
    // instruction does not use (spilled to scratch around it).
    bool used[16] = {};
    used[kT0.id()] = used[kT1.id()] = used[kState.id()] = used[x86::rsp.id()] = true;
    for (unsigned i = 0; i < n; i++)
        if (!ops[i].in_state && ops[i].guest >= 0) used[jit::host_reg_of(ops[i].guest)] = true;
    for (unsigned i = 0; i < in.zi.operand_count; i++) // implicit users (RAX of CMPXCHG, ...)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER) {
            GuestOperand g;
            if (lower_gpr(in.ops[i].reg.value, g) && !g.in_state) used[jit::host_reg_of(g.guest)] = true;
        }
    struct Sur {
        int opi;
        x86::Gp reg;
        bool borrowed;
        int spill_slot;
    };
    std::vector<Sur> surs;
    bool t1_taken = false;
    int spill = 1;
    for (unsigned i = 0; i < n; i++) {
        if (!surrogate[i]) continue;
        Sur s{int(i), kT1, false, 0};
        if (t1_taken) {
            int r = 0;
            while (r < 16 && used[r]) r++;
            if (r == 16 || spill > 3) return false;
            used[r] = true;
            s.reg = x86::gpq(uint32_t(r));
            s.borrowed = true;
            s.spill_slot = spill++;
        }
        t1_taken = true;
        surs.push_back(s);
    }

    // AH/BH/CH/DH cannot be encoded with a REX prefix; if the instruction needs
    // one (r8+, our T0/T1/state registers), swap the high byte into the low
    // byte around it.
    bool needs_rex = mem_index >= 0 || !surs.empty();
    for (unsigned i = 0; i < n; i++) {
        if (ops[i].in_state) needs_rex = true;
        if (ops[i].guest >= 0 && !ops[i].in_state) {
            int h = jit::host_reg_of(ops[i].guest);
            if (h >= 8 || (ops[i].size == 1 && !ops[i].high_byte && h >= 4)) needs_rex = true;
        }
    }
    int swap_reg = -1;
    if (needs_rex)
        for (unsigned i = 0; i < n; i++)
            if (ops[i].high_byte) {
                if (swap_reg >= 0 && swap_reg != ops[i].guest) return false;
                swap_reg = ops[i].guest;
                for (unsigned j = 0; j < n; j++)
                    if (ops[j].guest == swap_reg && !ops[j].in_state && !ops[j].high_byte) return false;
                ops[i].op = x86::gpb(uint32_t(jit::host_reg_of(swap_reg)));
            }

    {
        // Forms the host assembler rejects are not implemented (#UD), not errors.
        Operand check[ZYDIS_MAX_OPERAND_COUNT];
        for (unsigned i = 0; i < n; i++) check[i] = ops[i].op;
        if (mem_index >= 0) check[mem_index] = x86::ptr(kT0, 0, ops[mem_index].size);
        for (const Sur& s : surs) check[s.opi] = x86::gpq(s.reg.id());
        for (const Sur& s : surs)
            if (ops[s.opi].size == 4)
                check[s.opi] = s.reg.r32();
            else if (ops[s.opi].size == 2)
                check[s.opi] = s.reg.r16();
            else if (ops[s.opi].size == 1)
                check[s.opi] = s.reg.r8();
        BaseInst bi(id, in.has_lock() ? InstOptions::kX86_Lock : InstOptions::kNone);
        if (InstAPI::validate(Arch::kX64, bi, check, n) != kErrorOk) return false;
    }
    const bool lock = in.has_lock();
    auto body = [this, ops, n, mem_index, surs, swap_reg, lock, id](const x86::Mem& m) {
        Operand host_ops[ZYDIS_MAX_OPERAND_COUNT];
        for (unsigned i = 0; i < n; i++) host_ops[i] = ops[i].op;
        if (mem_index >= 0) {
            x86::Mem hm = m;
            hm.setSize(ops[mem_index].size);
            host_ops[mem_index] = hm;
        }
        for (const Sur& s : surs) {
            if (s.borrowed)
                a.mov(jit::state_field(offsetof(CpuState, scratch) + 8 * size_t(s.spill_slot)), s.reg);
            const GuestOperand& g = ops[s.opi];
            a.mov(s.reg, jit::guest_gpr_slot(g.guest, 8));
            switch (g.size) {
            case 1: host_ops[s.opi] = s.reg.r8(); break;
            case 2: host_ops[s.opi] = s.reg.r16(); break;
            case 4: host_ops[s.opi] = s.reg.r32(); break;
            default: host_ops[s.opi] = s.reg.r64(); break;
            }
        }
        if (swap_reg >= 0) {
            uint32_t h = uint32_t(jit::host_reg_of(swap_reg));
            a.xchg(x86::gpb(h), x86::gpb_hi(h));
        }
        if (lock) a.lock();
        mark_host_trap_site();
        a.emitOpArray(id, host_ops, n);
        if (swap_reg >= 0) {
            uint32_t h = uint32_t(jit::host_reg_of(swap_reg));
            a.xchg(x86::gpb(h), x86::gpb_hi(h));
        }
        for (const Sur& s : surs) {
            const GuestOperand& g = ops[s.opi];
            if (g.written) a.mov(jit::guest_gpr_slot(g.guest, 8), s.reg.r64());
            if (s.borrowed)
                a.mov(s.reg, jit::state_field(offsetof(CpuState, scratch) + 8 * size_t(s.spill_slot)));
        }
    };

    if (mem_index >= 0) {
        const GuestOperand& g = ops[mem_index];
        MemAccess acc = g.written ? (g.read ? MemAccess::ReadWrite : MemAccess::Write) : MemAccess::Read;
        access_memory(in.ops[mem_index], acc, body, align);
    } else {
        body(x86::Mem());
    }
    return true;
}

} // namespace hayate
