#include "jit/trampoline.h"
#include "jit/host_regs.h"
#include <stdexcept>

namespace hayate::jit {

using namespace asmjit;

namespace {

constexpr uint32_t kHostArithMask = 0x8d5; // OF SF ZF AF PF CF

void emit_store_gprs(x86::Assembler& a) {
    for (int g = 0; g < 16; g++)
        if (guest_in_host_reg(g)) a.mov(guest_gpr_slot(g), x86::gpq(uint32_t(host_reg_of(g))));
}

void emit_load_gprs(x86::Assembler& a) {
    for (int g = 0; g < 16; g++)
        if (guest_in_host_reg(g)) a.mov(x86::gpq(uint32_t(host_reg_of(g))), guest_gpr_slot(g));
}

void emit_store_xmm(x86::Assembler& a) {
    for (uint32_t i = 0; i < 16; i++)
        a.movdqa(state_field(offsetof(CpuState, xmm) + i * 16, 16), x86::xmm(i));
    a.stmxcsr(state_field(offsetof(CpuState, mxcsr), 4));
}

void emit_load_xmm(x86::Assembler& a) {
    a.ldmxcsr(state_field(offsetof(CpuState, mxcsr), 4));
    for (uint32_t i = 0; i < 16; i++)
        a.movdqa(x86::xmm(i), state_field(offsetof(CpuState, xmm) + i * 16, 16));
}

// AVX: while CpuState.ymm_dirty is set the host YMM registers hold the
// guest's upper halves; C++ code gets them in CpuState.ymm_high and runs with
// clean upper halves (VZEROUPPER: no SSE/AVX transition penalty in host
// code). Nothing but one compare while the guest has none (ymm_dirty clear,
// the host's upper halves are zero). Clobbers the flags.
bool host_has_avx() {
    static const bool avx = [] {
        __builtin_cpu_init();
        return bool(__builtin_cpu_supports("avx"));
    }();
    return avx;
}

void emit_store_ymm_high(x86::Assembler& a) {
    if (!host_has_avx()) return;
    Label skip = a.newLabel();
    a.cmp(HAYATE_STATE(ymm_dirty), Imm(0));
    a.je(skip);
    for (uint32_t i = 0; i < 16; i++)
        a.vextractf128(state_field(offsetof(CpuState, ymm_high) + i * 16, 16), x86::ymm(i), Imm(1));
    a.vzeroupper();
    a.bind(skip);
}

// After emit_load_xmm. When the guest's upper halves are zero but its XCR0
// enables AVX, VZEROUPPER makes sure the host's are too (host code that left
// them dirty must not leak into the guest).
void emit_load_ymm_high(x86::Assembler& a, bool at_entry) {
    if (!host_has_avx()) return;
    Label clean = a.newLabel(), done = a.newLabel();
    a.cmp(HAYATE_STATE(ymm_dirty), Imm(0));
    a.je(clean);
    for (uint32_t i = 0; i < 16; i++)
        a.vinsertf128(x86::ymm(i), x86::ymm(i), state_field(offsetof(CpuState, ymm_high) + i * 16, 16),
                      Imm(1));
    a.jmp(done);
    a.bind(clean);
    if (at_entry) {
        a.test(state_field(offsetof(CpuState, xcr0), 1), Imm(4));
        a.jz(done);
        a.vzeroupper();
    }
    a.bind(done);
}

// x87: when the host unit holds the guest's state (CpuState.x87_live), it
// goes to CpuState before C++ code runs. FNSAVE also re-initialises the unit
// (empty stack, nothing pending), so no guest exception can surface in host
// code; the host's control word goes back. Clobbers the flags. One compare
// when the guest never touched x87.
void emit_x87_save(x86::Assembler& a) {
    Label skip = a.newLabel();
    a.cmp(HAYATE_STATE(x87_live), Imm(0));
    a.je(skip);
    a.fnsave(x86::ptr(kState, int32_t(offsetof(CpuState, x87_image))));
    a.fldcw(HAYATE_STATE(host_fcw));
    a.bind(skip);
}

// The reverse, after a helper returned: FRSTOR on the clean unit cannot trap
// (an exception pending in the guest's state surfaces at its next waiting
// x87 instruction, as on hardware). Clobbers the flags.
void emit_x87_load(x86::Assembler& a) {
    Label skip = a.newLabel();
    a.cmp(HAYATE_STATE(x87_live), Imm(0));
    a.je(skip);
    a.frstor(x86::ptr(kState, int32_t(offsetof(CpuState, x87_image))));
    a.bind(skip);
}

// Host RFLAGS (arithmetic part) -> CpuState.eflags. Uses T1 and RAX after
// RAX has been stored.
void emit_merge_flags_from(x86::Assembler& a, const x86::Gp& host_flags) {
    a.mov(x86::rax, HAYATE_STATE(eflags));
    a.and_(x86::rax, Imm(~int64_t(kHostArithMask)));
    a.and_(host_flags, Imm(kHostArithMask));
    a.or_(x86::rax, host_flags);
    a.mov(HAYATE_STATE(eflags), x86::rax);
}

// CpuState.eflags (arithmetic part) -> host RFLAGS. Clobbers RAX (reloaded after).
void emit_load_flags(x86::Assembler& a) {
    a.mov(x86::rax, HAYATE_STATE(eflags));
    a.and_(x86::eax, Imm(kHostArithMask));
    a.or_(x86::eax, Imm(2));
    a.push(x86::rax);
    a.popfq();
}

} // namespace

Thunks build_thunks(CodeBuffer& buffer) {
    CodeHolder code;
    code.init(Environment::host(), uint64_t(uintptr_t(buffer.cursor())));
    x86::Assembler a(&code);
    Label enter = a.newLabel(), save = a.newLabel(), load = a.newLabel(), exit_save = a.newLabel(),
          exit_nosave = a.newLabel(), x87_load = a.newLabel(), x87_ready = a.newLabel();

    // enter(CpuState* rdi, code rsi)
    a.align(AlignMode::kCode, 16);
    a.bind(enter);
    a.push(x86::rbx);
    a.push(x86::rbp);
    a.push(x86::r12);
    a.push(x86::r13);
    a.push(x86::r14);
    a.push(x86::r15);
    a.sub(x86::rsp, 8); // 16-byte alignment for helper calls from generated code
    a.mov(kState, x86::rdi);
    a.mov(kT0, x86::rsi);
    a.stmxcsr(HAYATE_STATE(host_mxcsr));
    // The guest's x87 state stays in CpuState until a block's first x87
    // instruction calls x87_ensure (x87_live is 0: every exit clears it).
    a.lea(x86::rax, x86::ptr(x87_load));
    a.mov(HAYATE_STATE(x87_ensure), x86::rax);
    emit_load_xmm(a);
    emit_load_ymm_high(a, true);
    emit_load_flags(a);
    emit_load_gprs(a);
    a.jmp(kT0);

    // save_state: called with guest flags live in RFLAGS.
    a.align(AlignMode::kCode, 16);
    a.bind(save);
    a.pushfq();
    a.pop(kT1);
    emit_store_gprs(a);
    emit_merge_flags_from(a, kT1);
    emit_store_xmm(a);
    emit_store_ymm_high(a);
    emit_x87_save(a);
    // Helpers run under the host's MXCSR: a guest that unmasked an exception
    // must not make C++ code trap. load_state puts the guest's back.
    a.ldmxcsr(HAYATE_STATE(host_mxcsr));
    a.mov(x86::rax, guest_gpr_slot(RAX)); // keep RAX a guest value for the caller
    a.ret();

    // load_state
    a.align(AlignMode::kCode, 16);
    a.bind(load);
    emit_x87_load(a);
    emit_load_xmm(a);
    emit_load_ymm_high(a, false);
    emit_load_flags(a);
    emit_load_gprs(a);
    a.ret();

    // exit_save: leave generated code, storing the guest state first.
    a.align(AlignMode::kCode, 16);
    a.bind(exit_save);
    a.pushfq();
    a.pop(kT1);
    emit_store_gprs(a);
    emit_merge_flags_from(a, kT1);
    emit_store_xmm(a);
    emit_store_ymm_high(a);
    emit_x87_save(a);
    // fallthrough
    a.bind(exit_nosave);
    a.mov(HAYATE_STATE(x87_live), Imm(0)); // saved by save_state or above
    a.ldmxcsr(HAYATE_STATE(host_mxcsr));
    a.add(x86::rsp, 8);
    a.pop(x86::r15);
    a.pop(x86::r14);
    a.pop(x86::r13);
    a.pop(x86::r12);
    a.pop(x86::rbp);
    a.pop(x86::rbx);
    a.ret();

    // x87_load: called through CpuState.x87_ensure (which then points to
    // x87_ready, a plain return) by the first x87 instruction of a block.
    // Keeps every register and the flags.
    a.align(AlignMode::kCode, 16);
    a.bind(x87_load);
    a.fnstcw(HAYATE_STATE(host_fcw));
    a.frstor(x86::ptr(kState, int32_t(offsetof(CpuState, x87_image))));
    a.mov(HAYATE_STATE(x87_live), Imm(1));
    a.push(x86::rax);
    a.lea(x86::rax, x86::ptr(x87_ready));
    a.mov(HAYATE_STATE(x87_ensure), x86::rax);
    a.pop(x86::rax);
    a.bind(x87_ready);
    a.ret();

    uint8_t* base = buffer.commit(code);
    if (!base) throw std::runtime_error("translation cache too small for the thunks");
    Thunks t;
    auto at = [&](Label l) { return base + code.labelOffsetFromBase(l); };
    t.enter = reinterpret_cast<void (*)(CpuState*, const void*)>(at(enter));
    t.save_state = at(save);
    t.load_state = at(load);
    t.exit_save = at(exit_save);
    t.exit_nosave = at(exit_nosave);
    return t;
}

} // namespace hayate::jit
