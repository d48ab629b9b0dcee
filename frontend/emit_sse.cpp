// Emitters: SSE and SSE2 (legacy encodings, XMM forms).
//
// Guest XMM0-15 are host XMM0-15 and the host MXCSR is the guest's while
// generated code runs, so nearly every instruction is the same host
// instruction with its operands lowered (EmitContext::emit_native). What this
// file adds on top, driven by one table:
//   - the availability check (CR0.EM / CR4.OSFXSR -> #UD, CR0.TS -> #NM);
//   - the 16-byte alignment rule of legacy SSE memory operands (#GP(0));
//   - guest GPRs that live in CpuState where the host form needs a register;
//   - the few instructions that cannot run as they are: LDMXCSR (reserved
//     bits would fault on the host), MASKMOVDQU (implicit [RDI] store),
//     prefetches (never touch memory) and CLFLUSH (faults like a load).
// MMX-register forms, VEX/EVEX encodings and SSE3+ are not handled here: the
// translator raises #UD for them.
#include "frontend/emit_sse.h"
#include "frontend/emit_table.h"
#include "frontend/helpers.h"
#include <array>

namespace hayate {

namespace {

using namespace asmjit;

// ------------------------------------------------------------ the table

enum Flag : uint8_t {
    kListed = 1,    // present in the table
    kUnaligned = 2, // a 128-bit memory operand needs no 16-byte alignment
    kAnyMode = 4,   // not subject to CR0.EM/CR0.TS/CR4.OSFXSR (fences, hints, MOVNTI, CLFLUSH)
    kShared = 8,    // mnemonic registered by another family, which calls us (MOVSD, CMPSD)
    kMask32 = 16,   // a 64-bit GPR destination (REX.W) gets a zero-extended mask: use the 32-bit form
};

enum class Kind : uint8_t {
    Native,     // the same host instruction
    Hint,       // prefetches: no architectural effect, never fault
    Flush,      // CLFLUSH & co: fault like a one-byte load, otherwise no effect here
    Ldmxcsr,    // reserved-bit check, then the guest MXCSR is reloaded
    Maskmovdqu, // byte-masked store to the implicit DS:[rDI]
};

struct Form {
    ZydisMnemonic m;
    uint8_t flags;
    Kind kind;
};

constexpr uint8_t N = 0; // no flags

#define F(name, flags, kind)                                                                                 \
    Form { ZYDIS_MNEMONIC_##name, uint8_t(kListed | (flags)), Kind::kind }
constexpr Form kForms[] = {
    // --- moves ---
    F(MOVAPS, N, Native),
    F(MOVUPS, kUnaligned, Native),
    F(MOVAPD, N, Native),
    F(MOVUPD, kUnaligned, Native),
    F(MOVDQA, N, Native),
    F(MOVDQU, kUnaligned, Native),
    F(MOVSS, N, Native),
    F(MOVSD, kShared, Native),
    F(MOVD, N, Native),
    F(MOVQ, N, Native),
    F(MOVLPS, N, Native),
    F(MOVHPS, N, Native),
    F(MOVLPD, N, Native),
    F(MOVHPD, N, Native),
    F(MOVHLPS, N, Native),
    F(MOVLHPS, N, Native),
    F(MOVMSKPS, kMask32, Native),
    F(MOVMSKPD, kMask32, Native),
    F(PMOVMSKB, kMask32, Native),
    F(MOVNTI, kAnyMode, Native),
    F(MOVNTDQ, N, Native),
    F(MOVNTPS, N, Native),
    F(MOVNTPD, N, Native),
    F(MASKMOVDQU, kUnaligned, Maskmovdqu),
    // --- floating-point arithmetic and logic ---
    F(ADDSS, N, Native),
    F(ADDPS, N, Native),
    F(ADDSD, N, Native),
    F(ADDPD, N, Native),
    F(SUBSS, N, Native),
    F(SUBPS, N, Native),
    F(SUBSD, N, Native),
    F(SUBPD, N, Native),
    F(MULSS, N, Native),
    F(MULPS, N, Native),
    F(MULSD, N, Native),
    F(MULPD, N, Native),
    F(DIVSS, N, Native),
    F(DIVPS, N, Native),
    F(DIVSD, N, Native),
    F(DIVPD, N, Native),
    F(MINSS, N, Native),
    F(MINPS, N, Native),
    F(MINSD, N, Native),
    F(MINPD, N, Native),
    F(MAXSS, N, Native),
    F(MAXPS, N, Native),
    F(MAXSD, N, Native),
    F(MAXPD, N, Native),
    F(SQRTSS, N, Native),
    F(SQRTPS, N, Native),
    F(SQRTSD, N, Native),
    F(SQRTPD, N, Native),
    F(RCPSS, N, Native),
    F(RCPPS, N, Native),
    F(RSQRTSS, N, Native),
    F(RSQRTPS, N, Native),
    F(ANDPS, N, Native),
    F(ANDPD, N, Native),
    F(ANDNPS, N, Native),
    F(ANDNPD, N, Native),
    F(ORPS, N, Native),
    F(ORPD, N, Native),
    F(XORPS, N, Native),
    F(XORPD, N, Native),
    // --- compares (COMIS/UCOMIS write OSZAPC: host flags are guest flags) ---
    F(CMPPS, N, Native),
    F(CMPSS, N, Native),
    F(CMPPD, N, Native),
    F(CMPSD, kShared, Native),
    F(COMISS, N, Native),
    F(COMISD, N, Native),
    F(UCOMISS, N, Native),
    F(UCOMISD, N, Native),
    // --- conversions ---
    F(CVTSI2SS, N, Native),
    F(CVTSI2SD, N, Native),
    F(CVTSS2SI, N, Native),
    F(CVTSD2SI, N, Native),
    F(CVTTSS2SI, N, Native),
    F(CVTTSD2SI, N, Native),
    F(CVTSS2SD, N, Native),
    F(CVTSD2SS, N, Native),
    F(CVTPS2PD, N, Native),
    F(CVTPD2PS, N, Native),
    F(CVTDQ2PS, N, Native),
    F(CVTPS2DQ, N, Native),
    F(CVTTPS2DQ, N, Native),
    F(CVTDQ2PD, N, Native),
    F(CVTPD2DQ, N, Native),
    F(CVTTPD2DQ, N, Native),
    // --- shuffles and unpacks ---
    F(SHUFPS, N, Native),
    F(SHUFPD, N, Native),
    F(UNPCKLPS, N, Native),
    F(UNPCKHPS, N, Native),
    F(UNPCKLPD, N, Native),
    F(UNPCKHPD, N, Native),
    F(PSHUFD, N, Native),
    F(PSHUFLW, N, Native),
    F(PSHUFHW, N, Native),
    F(PUNPCKLBW, N, Native),
    F(PUNPCKLWD, N, Native),
    F(PUNPCKLDQ, N, Native),
    F(PUNPCKLQDQ, N, Native),
    F(PUNPCKHBW, N, Native),
    F(PUNPCKHWD, N, Native),
    F(PUNPCKHDQ, N, Native),
    F(PUNPCKHQDQ, N, Native),
    // --- integer SIMD ---
    F(PADDB, N, Native),
    F(PADDW, N, Native),
    F(PADDD, N, Native),
    F(PADDQ, N, Native),
    F(PSUBB, N, Native),
    F(PSUBW, N, Native),
    F(PSUBD, N, Native),
    F(PSUBQ, N, Native),
    F(PADDSB, N, Native),
    F(PADDSW, N, Native),
    F(PADDUSB, N, Native),
    F(PADDUSW, N, Native),
    F(PSUBSB, N, Native),
    F(PSUBSW, N, Native),
    F(PSUBUSB, N, Native),
    F(PSUBUSW, N, Native),
    F(PMULLW, N, Native),
    F(PMULHW, N, Native),
    F(PMULHUW, N, Native),
    F(PMULUDQ, N, Native),
    F(PMADDWD, N, Native),
    F(PAVGB, N, Native),
    F(PAVGW, N, Native),
    F(PMAXUB, N, Native),
    F(PMINUB, N, Native),
    F(PMAXSW, N, Native),
    F(PMINSW, N, Native),
    F(PSADBW, N, Native),
    F(PAND, N, Native),
    F(PANDN, N, Native),
    F(POR, N, Native),
    F(PXOR, N, Native),
    F(PCMPEQB, N, Native),
    F(PCMPEQW, N, Native),
    F(PCMPEQD, N, Native),
    F(PCMPGTB, N, Native),
    F(PCMPGTW, N, Native),
    F(PCMPGTD, N, Native),
    F(PACKSSWB, N, Native),
    F(PACKSSDW, N, Native),
    F(PACKUSWB, N, Native),
    F(PSLLW, N, Native),
    F(PSLLD, N, Native),
    F(PSLLQ, N, Native),
    F(PSRLW, N, Native),
    F(PSRLD, N, Native),
    F(PSRLQ, N, Native),
    F(PSRAW, N, Native),
    F(PSRAD, N, Native),
    F(PSLLDQ, N, Native),
    F(PSRLDQ, N, Native),
    F(PEXTRW, N, Native),
    F(PINSRW, N, Native),
    // --- MXCSR ---
    F(LDMXCSR, N, Ldmxcsr),
    F(STMXCSR, N, Native),
    // --- ordering, cache control and hints (no CR0/CR4 conditions) ---
    F(LFENCE, kAnyMode, Native),
    F(SFENCE, kAnyMode, Native),
    F(MFENCE, kAnyMode, Native),
    F(PREFETCHNTA, kAnyMode, Hint),
    F(PREFETCHT0, kAnyMode, Hint),
    F(PREFETCHT1, kAnyMode, Hint),
    F(PREFETCHT2, kAnyMode, Hint),
    F(PREFETCH, kAnyMode, Hint),
    F(PREFETCHW, kAnyMode, Hint),
    F(PREFETCHWT1, kAnyMode, Hint),
    F(CLFLUSH, kAnyMode, Flush),
    F(CLFLUSHOPT, kAnyMode, Flush),
    F(CLWB, kAnyMode, Flush),
};
#undef F

constexpr std::array<uint8_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> kFlagsOf = [] {
    std::array<uint8_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> f{};
    for (const Form& form : kForms) f[size_t(form.m)] = form.flags;
    return f;
}();

// ------------------------------------------------------------ helpers

// SSE unavailable: CR0.EM=1 or CR4.OSFXSR=0 give #UD before CR0.TS=1 gives
// #NM (SDM Vol. 3A, "Exception conditions for legacy SIMD instructions").
// The translation mode does not record OSFXSR when TS is set, so decide here.
uint64_t helper_sse_unavailable(CpuState* s, uint64_t, uint64_t) {
    const bool ud = (s->cr0 & cr0::EM) || !(s->cr4 & cr4::OSFXSR);
    return helper_raise_exception(s, ud ? 6 : 7, 0);
}

// LDMXCSR: bits outside MXCSR_MASK (0xffff) raise #GP(0); the host must never
// see them. load_state moves the new value into the host MXCSR.
uint64_t helper_sse_ldmxcsr(CpuState* s, uint64_t, uint64_t value) {
    constexpr uint64_t kMxcsrMask = 0xffff;
    if (value & ~kMxcsrMask) return helper_raise_exception(s, 13 | 0x100, 0);
    s->mxcsr = uint32_t(value);
    return kHelperContinue;
}

// ------------------------------------------------------------ common checks

bool is_xmm(const ZydisDecodedOperand& o) {
    return o.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_XMM;
}

enum class Gate { Emit, Raised, Refuse };

// Rejects what this family does not implement and raises the availability
// exceptions. On Raised the instruction is done and the block ends.
Gate gate(EmitContext& c, uint8_t flags) {
    const Insn& in = *c.insn;
    if (in.zi.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) return Gate::Refuse;
    for (unsigned i = 0; i < in.zi.operand_count; i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(in.ops[i].reg.value) == ZYDIS_REGCLASS_MMX)
            return Gate::Refuse;
    if ((flags & kAnyMode) || (c.mode & mode::kSseOk)) return Gate::Emit;
    c.call_helper(&helper_sse_unavailable, 0);
    c.block_ended = true;
    return Gate::Raised;
}

// Legacy SSE: a 128-bit memory operand must be 16-byte aligned unless the
// instruction is one of the explicitly unaligned ones.
bool needs_alignment(const Insn& in, uint8_t flags) {
    if (flags & kUnaligned) return false;
    for (unsigned i = 0; i < in.visible_operands(); i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && in.ops[i].size == 128) return true;
    return false;
}

x86::Gp sized(x86::Gp r, unsigned bytes) {
    switch (bytes) {
    case 1: return r.r8();
    case 2: return r.r16();
    case 4: return r.r32();
    default: return r.r64();
    }
}

// Instructions that can raise SIMD floating-point exceptions (SDM vol. 1,
// 11.5): their host forms may trap when the guest unmasks one.
bool raises_simd_fp(ZydisMnemonic m) {
    switch (m) {
    case ZYDIS_MNEMONIC_ADDSS:
    case ZYDIS_MNEMONIC_ADDPS:
    case ZYDIS_MNEMONIC_ADDSD:
    case ZYDIS_MNEMONIC_ADDPD:
    case ZYDIS_MNEMONIC_SUBSS:
    case ZYDIS_MNEMONIC_SUBPS:
    case ZYDIS_MNEMONIC_SUBSD:
    case ZYDIS_MNEMONIC_SUBPD:
    case ZYDIS_MNEMONIC_MULSS:
    case ZYDIS_MNEMONIC_MULPS:
    case ZYDIS_MNEMONIC_MULSD:
    case ZYDIS_MNEMONIC_MULPD:
    case ZYDIS_MNEMONIC_DIVSS:
    case ZYDIS_MNEMONIC_DIVPS:
    case ZYDIS_MNEMONIC_DIVSD:
    case ZYDIS_MNEMONIC_DIVPD:
    case ZYDIS_MNEMONIC_MINSS:
    case ZYDIS_MNEMONIC_MINPS:
    case ZYDIS_MNEMONIC_MINSD:
    case ZYDIS_MNEMONIC_MINPD:
    case ZYDIS_MNEMONIC_MAXSS:
    case ZYDIS_MNEMONIC_MAXPS:
    case ZYDIS_MNEMONIC_MAXSD:
    case ZYDIS_MNEMONIC_MAXPD:
    case ZYDIS_MNEMONIC_SQRTSS:
    case ZYDIS_MNEMONIC_SQRTPS:
    case ZYDIS_MNEMONIC_SQRTSD:
    case ZYDIS_MNEMONIC_SQRTPD:
    case ZYDIS_MNEMONIC_CMPSS:
    case ZYDIS_MNEMONIC_CMPPS:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_CMPPD:
    case ZYDIS_MNEMONIC_COMISS:
    case ZYDIS_MNEMONIC_COMISD:
    case ZYDIS_MNEMONIC_UCOMISS:
    case ZYDIS_MNEMONIC_UCOMISD:
    case ZYDIS_MNEMONIC_CVTSI2SS:
    case ZYDIS_MNEMONIC_CVTSI2SD:
    case ZYDIS_MNEMONIC_CVTSS2SI:
    case ZYDIS_MNEMONIC_CVTSD2SI:
    case ZYDIS_MNEMONIC_CVTTSS2SI:
    case ZYDIS_MNEMONIC_CVTTSD2SI:
    case ZYDIS_MNEMONIC_CVTSS2SD:
    case ZYDIS_MNEMONIC_CVTSD2SS:
    case ZYDIS_MNEMONIC_CVTPS2PD:
    case ZYDIS_MNEMONIC_CVTPD2PS:
    case ZYDIS_MNEMONIC_CVTDQ2PS:
    case ZYDIS_MNEMONIC_CVTPS2DQ:
    case ZYDIS_MNEMONIC_CVTTPS2DQ:
    case ZYDIS_MNEMONIC_CVTPD2DQ:
    case ZYDIS_MNEMONIC_CVTTPD2DQ: return true;
    default: return false;
    }
}

// The native path with GPR operands lowered here rather than by emit_native:
// a GPR living in CpuState is taken through T1 (the SSE forms with a GPR --
// CVT*2SI, MOVMSK*, PEXTRW, PINSRW, MOVD/MOVQ, MOVNTI -- mostly have no memory
// form in that position), and `narrow` turns a 64-bit destination into the
// 32-bit host form (the result is zero-extended either way).
bool emit_lowered(EmitContext& c, InstId id, bool align, bool narrow) {
    const Insn& in = *c.insn;
    const unsigned n = in.visible_operands();
    Operand ops[ZYDIS_MAX_OPERAND_COUNT];
    int mem = -1;
    GuestOperand st; // the GPR that lives in CpuState, if any
    unsigned st_size = 0;
    bool st_rd = false, st_wr = false;
    for (unsigned i = 0; i < n; i++) {
        const ZydisDecodedOperand& o = in.ops[i];
        switch (o.type) {
        case ZYDIS_OPERAND_TYPE_REGISTER: {
            if (is_xmm(o)) {
                ops[i] = x86::xmm(uint32_t(o.reg.value - ZYDIS_REGISTER_XMM0));
                break;
            }
            GuestOperand r;
            if (!lower_gpr(o.reg.value, r) || r.high_byte) return false;
            const unsigned size = narrow && r.size == 8 ? 4 : r.size;
            if (!r.in_state) {
                ops[i] = sized(x86::gpq(uint32_t(jit::host_reg_of(r.guest))), size);
                break;
            }
            if (st.guest >= 0) return false; // never two in SSE
            st = r;
            st_size = size;
            st_rd = o.actions & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD);
            st_wr = o.actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE);
            ops[i] = sized(kT1, size);
            break;
        }
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            ops[i] = o.imm.is_signed ? Imm(int64_t(o.imm.value.s)) : Imm(uint64_t(o.imm.value.u));
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY:
            if (o.mem.type != ZYDIS_MEMOP_TYPE_MEM || mem >= 0) return false;
            mem = int(i);
            ops[i] = x86::ptr(kT0, 0, o.size / 8);
            break;
        default: return false;
        }
    }
    if (InstAPI::validate(Arch::kX64, BaseInst(id), ops, n) != kErrorOk) return false;

    // T1 is free inside a memory body (the probe is done with it).
    auto body = [&c, ops, n, mem, id, st, st_size, st_rd, st_wr](const x86::Mem& m) {
        Operand h[ZYDIS_MAX_OPERAND_COUNT];
        for (unsigned i = 0; i < n; i++) h[i] = ops[i];
        if (mem >= 0) {
            x86::Mem hm = m;
            hm.setSize(ops[mem].as<x86::Mem>().size());
            h[mem] = hm;
        }
        if (st_rd) c.load_gpr(kT1, st.guest, st.size);
        c.mark_host_trap_site();
        c.a.emitOpArray(id, h, n);
        if (st_wr) c.store_gpr(st.guest, kT1, st_size);
    };
    if (mem >= 0) {
        const uint8_t ma = in.ops[mem].actions;
        const bool mr = ma & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD);
        const bool mw = ma & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE);
        const MemAccess acc = mw ? (mr ? MemAccess::ReadWrite : MemAccess::Write) : MemAccess::Read;
        c.access_memory(in.ops[mem], acc, body, align);
    } else {
        body(x86::Mem());
    }
    return true;
}

bool emit_same(EmitContext& c, InstId id, uint8_t flags) {
    if (id == 0) return false;
    switch (gate(c, flags)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    const bool align = needs_alignment(in, flags);
    bool lower_here = false;
    for (unsigned i = 0; i < in.visible_operands(); i++) {
        GuestOperand g;
        if (in.ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER || !lower_gpr(in.ops[i].reg.value, g)) continue;
        if (g.in_state || ((flags & kMask32) && g.size == 8)) lower_here = true;
    }
    c.host_traps = raises_simd_fp(in.mnemonic());
    const bool done = lower_here ? emit_lowered(c, id, align, flags & kMask32) : c.emit_native(id, align);
    c.host_traps = false;
    return done;
}

// ------------------------------------------------------------ emitters

bool emit_native_form(EmitContext& c) {
    const ZydisMnemonic m = c.insn->mnemonic();
    return emit_same(c, emit_table().host_inst(m), kFlagsOf[m]);
}

bool emit_hint(EmitContext& c) {
    // Prefetches never fault and have no architectural effect; the host must
    // not touch the guest address. The register forms are reserved NOPs.
    return gate(c, kAnyMode) == Gate::Emit;
}

bool emit_flush(EmitContext& c) {
    if (gate(c, kAnyMode) != Gate::Emit) return false;
    const ZydisDecodedOperand& op = c.insn->ops[0];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
    // Checked like a one-byte load (#PF, #GP/#SS); guest memory is coherent,
    // so nothing is left to do once the address is known to be valid.
    c.linear_address(op, kT0, MemAccess::Read);
    const int seg = zydis_seg_index(op.mem.segment);
    c.access_linear(1, MemAccess::Read, seg < 0 ? DS : seg, [](const x86::Mem&) {});
    return true;
}

bool emit_ldmxcsr(EmitContext& c) {
    switch (gate(c, 0)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const ZydisDecodedOperand& op = c.insn->ops[0];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
    c.linear_address(op, kT0, MemAccess::Read);
    const int seg = zydis_seg_index(op.mem.segment);
    c.access_linear(4, MemAccess::Read, seg < 0 ? DS : seg, [&c](const x86::Mem& m) {
        x86::Mem d = m;
        d.setSize(4);
        c.a.mov(kT0.r32(), d);
    });
    c.call_helper(&helper_sse_ldmxcsr, 0, true);
    return true;
}

bool emit_maskmovdqu(EmitContext& c) {
    switch (gate(c, kUnaligned)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    if (!is_xmm(in.ops[0]) || !is_xmm(in.ops[1])) return false;
    const ZydisDecodedOperand* dst = nullptr;
    for (unsigned i = 0; i < in.zi.operand_count; i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) dst = &in.ops[i];
    if (!dst) return false;
    const x86::Xmm src = x86::xmm(uint32_t(in.ops[0].reg.value - ZYDIS_REGISTER_XMM0));
    const x86::Xmm mask = x86::xmm(uint32_t(in.ops[1].reg.value - ZYDIS_REGISTER_XMM0));
    c.linear_address(*dst, kT0, MemAccess::Write);
    const int seg = zydis_seg_index(dst->mem.segment);
    // Read-modify-write, so that a bounced access writes back the unselected
    // bytes unchanged. The host instruction stores through RDI (guest RDI).
    c.access_linear(16, MemAccess::ReadWrite, seg < 0 ? DS : seg, [&c, src, mask](const x86::Mem&) {
        c.a.xchg(x86::rdi, kT0);
        c.a.maskmovdqu(src, mask, x86::ptr(x86::rdi));
        c.a.xchg(x86::rdi, kT0);
    });
    return true;
}

EmitFn emitter_of(Kind k) {
    switch (k) {
    case Kind::Native: return &emit_native_form;
    case Kind::Hint: return &emit_hint;
    case Kind::Flush: return &emit_flush;
    case Kind::Ldmxcsr: return &emit_ldmxcsr;
    case Kind::Maskmovdqu: return &emit_maskmovdqu;
    }
    return nullptr;
}

} // namespace

bool is_sse_form(const Insn& in) {
    for (unsigned i = 0; i < in.visible_operands(); i++)
        if (is_xmm(in.ops[i])) return true;
    return false;
}

bool emit_sse_movsd(EmitContext& c) {
    if (!is_sse_form(*c.insn)) return false;
    return emit_same(c, x86::Inst::kIdMovsd, kFlagsOf[ZYDIS_MNEMONIC_MOVSD]);
}

bool emit_sse_cmpsd(EmitContext& c) {
    if (!is_sse_form(*c.insn)) return false;
    return emit_same(c, x86::Inst::kIdCmpsd, kFlagsOf[ZYDIS_MNEMONIC_CMPSD]);
}

void register_sse(EmitTable& t) {
    for (const Form& f : kForms)
        if (!(f.flags & kShared)) t.set(f.m, emitter_of(f.kind));
}

} // namespace hayate
