// Emitters: MMX, SSE, SSE2, SSE3, SSSE3, SSE4.1, SSE4.2, AES-NI, PCLMULQDQ
// (legacy encodings, MMX and XMM forms).
//
// Guest XMM0-15 are host XMM0-15 and the host MXCSR is the guest's while
// generated code runs, so nearly every instruction is the same host
// instruction with its operands lowered (EmitContext::emit_native). What this
// file adds on top, driven by one table:
//   - the availability check (CR0.EM / CR4.OSFXSR -> #UD, CR0.TS -> #NM);
//   - the 16-byte alignment rule of legacy SSE memory operands (#GP(0));
//   - guest GPRs that live in CpuState where the host form needs a register;
//   - the few instructions that cannot run as they are: LDMXCSR (reserved
//     bits would fault on the host), MASKMOVDQU/MASKMOVQ (implicit [RDI]
//     store), prefetches (never touch memory), CLFLUSH (faults like a load)
//     and PCMPESTRI/M with REX.W (no such form in the host assembler);
//   - the extension each form belongs to: the translator runs it on the host,
//     so it exists (and CPUID advertises it) only where the host has it
//     (cpu_has_simd); elsewhere the form is #UD.
// MMX forms: MMX registers alias the x87 registers, so the guest's x87 state
// is made live in the host unit (as x87 instructions do, frontend/emit_x87.h)
// and an FWAIT first raises a pending x87 exception as #MF at this
// instruction, before any memory fault; the host instruction then sets TOP
// and the tag word as hardware does. CR0.EM -> #UD, CR0.TS -> #NM; forms that
// also use an XMM register follow the SSE rules (CR4.OSFXSR too).
// VEX/EVEX encodings are not handled here.
#include "frontend/emit_sse.h"
#include "frontend/emit_table.h"
#include "frontend/emit_x87.h"
#include "frontend/helpers.h"
#include "machine/system.h"
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
    kMmx = 32,      // an MMX form even without MMX register operands (EMMS)
};

// The extension a form belongs to. Base (SSE, SSE2) is part of x86-64; the
// MMX-register forms of Base instructions need MMX.
enum class Ext : uint8_t { Base, Sse3, Ssse3, Sse41, Sse42, Aes, Pclmul };

enum class Kind : uint8_t {
    Native,     // the same host instruction
    Hint,       // prefetches: no architectural effect, never fault
    Flush,      // CLFLUSH & co: fault like a one-byte load, otherwise no effect here
    Ldmxcsr,    // reserved-bit check, then the guest MXCSR is reloaded
    Maskmovdqu, // byte-masked store to the implicit DS:[rDI] (MASKMOVDQU, MASKMOVQ)
    Gpr,        // a general-register instruction of a SIMD extension (CRC32): no SSE state rules
    Pcmpestr,   // PCMPESTRI/M: the REX.W form (64-bit lengths) is encoded by hand
};

struct Form {
    ZydisMnemonic m;
    uint8_t flags;
    Kind kind;
    Ext ext;
};

constexpr uint8_t N = 0; // no flags

#define F(name, flags, kind)                                                                                 \
    Form { ZYDIS_MNEMONIC_##name, uint8_t(kListed | (flags)), Kind::kind, Ext::Base }
#define E(ext, name, flags, kind)                                                                            \
    Form { ZYDIS_MNEMONIC_##name, uint8_t(kListed | (flags)), Kind::kind, Ext::ext }
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
    // --- MMX-only forms (the MMX forms of PADDB & co share the entries above) ---
    F(EMMS, kMmx, Native),
    F(PSHUFW, N, Native),
    F(MOVNTQ, N, Native),
    F(MASKMOVQ, N, Maskmovdqu),
    F(MOVQ2DQ, N, Native),
    F(MOVDQ2Q, N, Native),
    F(CVTPI2PS, N, Native),
    F(CVTPS2PI, N, Native),
    F(CVTTPS2PI, N, Native),
    F(CVTPI2PD, N, Native),
    F(CVTPD2PI, N, Native),
    F(CVTTPD2PI, N, Native),
    // --- SSE3 ---
    E(Sse3, ADDSUBPS, N, Native),
    E(Sse3, ADDSUBPD, N, Native),
    E(Sse3, HADDPS, N, Native),
    E(Sse3, HADDPD, N, Native),
    E(Sse3, HSUBPS, N, Native),
    E(Sse3, HSUBPD, N, Native),
    E(Sse3, LDDQU, kUnaligned, Native),
    E(Sse3, MOVDDUP, N, Native),
    E(Sse3, MOVSHDUP, N, Native),
    E(Sse3, MOVSLDUP, N, Native),
    // --- SSSE3 (MMX and XMM forms) ---
    E(Ssse3, PABSB, N, Native),
    E(Ssse3, PABSW, N, Native),
    E(Ssse3, PABSD, N, Native),
    E(Ssse3, PALIGNR, N, Native),
    E(Ssse3, PHADDW, N, Native),
    E(Ssse3, PHADDD, N, Native),
    E(Ssse3, PHADDSW, N, Native),
    E(Ssse3, PHSUBW, N, Native),
    E(Ssse3, PHSUBD, N, Native),
    E(Ssse3, PHSUBSW, N, Native),
    E(Ssse3, PMADDUBSW, N, Native),
    E(Ssse3, PMULHRSW, N, Native),
    E(Ssse3, PSHUFB, N, Native),
    E(Ssse3, PSIGNB, N, Native),
    E(Ssse3, PSIGNW, N, Native),
    E(Ssse3, PSIGND, N, Native),
    // --- SSE4.1 ---
    E(Sse41, BLENDPS, N, Native),
    E(Sse41, BLENDPD, N, Native),
    E(Sse41, BLENDVPS, N, Native),
    E(Sse41, BLENDVPD, N, Native),
    E(Sse41, PBLENDVB, N, Native),
    E(Sse41, PBLENDW, N, Native),
    E(Sse41, DPPS, N, Native),
    E(Sse41, DPPD, N, Native),
    E(Sse41, EXTRACTPS, kMask32, Native),
    E(Sse41, INSERTPS, N, Native),
    E(Sse41, MOVNTDQA, N, Native),
    E(Sse41, MPSADBW, N, Native),
    E(Sse41, PACKUSDW, N, Native),
    E(Sse41, PCMPEQQ, N, Native),
    E(Sse41, PEXTRB, kMask32, Native),
    E(Sse41, PEXTRD, N, Native),
    E(Sse41, PEXTRQ, N, Native),
    E(Sse41, PINSRB, N, Native),
    E(Sse41, PINSRD, N, Native),
    E(Sse41, PINSRQ, N, Native),
    E(Sse41, PHMINPOSUW, N, Native),
    E(Sse41, PMAXSB, N, Native),
    E(Sse41, PMAXSD, N, Native),
    E(Sse41, PMAXUD, N, Native),
    E(Sse41, PMAXUW, N, Native),
    E(Sse41, PMINSB, N, Native),
    E(Sse41, PMINSD, N, Native),
    E(Sse41, PMINUD, N, Native),
    E(Sse41, PMINUW, N, Native),
    E(Sse41, PMOVSXBW, N, Native),
    E(Sse41, PMOVSXBD, N, Native),
    E(Sse41, PMOVSXBQ, N, Native),
    E(Sse41, PMOVSXWD, N, Native),
    E(Sse41, PMOVSXWQ, N, Native),
    E(Sse41, PMOVSXDQ, N, Native),
    E(Sse41, PMOVZXBW, N, Native),
    E(Sse41, PMOVZXBD, N, Native),
    E(Sse41, PMOVZXBQ, N, Native),
    E(Sse41, PMOVZXWD, N, Native),
    E(Sse41, PMOVZXWQ, N, Native),
    E(Sse41, PMOVZXDQ, N, Native),
    E(Sse41, PMULDQ, N, Native),
    E(Sse41, PMULLD, N, Native),
    E(Sse41, PTEST, N, Native), // writes ZF/CF, clears OF/SF/AF/PF: the host's flags are the guest's
    E(Sse41, ROUNDPS, N, Native),
    E(Sse41, ROUNDPD, N, Native),
    E(Sse41, ROUNDSS, N, Native),
    E(Sse41, ROUNDSD, N, Native),
    // --- SSE4.2 (the string compares take unaligned operands; implicit RAX/RDX/RCX/XMM0 are the host's) ---
    E(Sse42, PCMPESTRI, kUnaligned, Pcmpestr),
    E(Sse42, PCMPESTRM, kUnaligned, Pcmpestr),
    E(Sse42, PCMPISTRI, kUnaligned, Native),
    E(Sse42, PCMPISTRM, kUnaligned, Native),
    E(Sse42, PCMPGTQ, N, Native),
    E(Sse42, CRC32, kAnyMode, Gpr),
    // --- AES-NI, PCLMULQDQ ---
    E(Aes, AESENC, N, Native),
    E(Aes, AESENCLAST, N, Native),
    E(Aes, AESDEC, N, Native),
    E(Aes, AESDECLAST, N, Native),
    E(Aes, AESIMC, N, Native),
    E(Aes, AESKEYGENASSIST, N, Native),
    E(Pclmul, PCLMULQDQ, N, Native),
};
#undef F
#undef E

constexpr std::array<Form, ZYDIS_MNEMONIC_MAX_VALUE + 1> kFormOf = [] {
    std::array<Form, ZYDIS_MNEMONIC_MAX_VALUE + 1> f{};
    for (const Form& form : kForms) f[size_t(form.m)] = form;
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

bool is_mmx(const ZydisDecodedOperand& o) {
    return o.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_MMX;
}

// An MMX form: it uses MMX registers, so the guest's x87 state must be live.
bool is_mmx_form(const Insn& in, const Form& f) {
    if (f.flags & kMmx) return true;
    for (unsigned i = 0; i < in.zi.operand_count; i++)
        if (is_mmx(in.ops[i])) return true;
    return false;
}

// Whether the host runs this form (and CPUID advertises its extension).
bool available(const Insn& in, const Form& f, bool mmx) {
    switch (f.ext) {
    case Ext::Base:
        // PEXTRW's 0F 3A 15 encoding (with its memory form) came with SSE4.1.
        if (in.mnemonic() == ZYDIS_MNEMONIC_PEXTRW && in.zi.opcode_map == ZYDIS_OPCODE_MAP_0F3A)
            return cpu_has_simd(SimdExt::Sse41);
        return !mmx || cpu_has_simd(SimdExt::Mmx);
    case Ext::Sse3: return cpu_has_simd(SimdExt::Sse3);
    case Ext::Ssse3: return cpu_has_simd(SimdExt::Ssse3);
    case Ext::Sse41: return cpu_has_simd(SimdExt::Sse41);
    case Ext::Sse42: return cpu_has_simd(SimdExt::Sse42);
    case Ext::Aes: return cpu_has_simd(SimdExt::Aes);
    case Ext::Pclmul: return cpu_has_simd(SimdExt::Pclmul);
    }
    return false;
}

enum class Gate { Emit, Raised, Refuse };

// Rejects what this family does not implement (or the host cannot run: not
// advertised, so #UD) and raises the availability exceptions. On Raised the
// instruction is done and the block ends.
Gate gate(EmitContext& c, const Form& f) {
    const Insn& in = *c.insn;
    if (in.zi.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) return Gate::Refuse;
    const bool mmx = is_mmx_form(in, f);
    bool xmm = false;
    for (unsigned i = 0; i < in.zi.operand_count; i++) xmm |= is_xmm(in.ops[i]);
    if (!available(in, f, mmx)) return Gate::Refuse;
    if (f.flags & kAnyMode) return Gate::Emit;
    if (mmx && !xmm) {
        // MMX: CR0.EM -> #UD, then CR0.TS -> #NM; CR4.OSFXSR plays no part
        // (SDM vol. 3, table 22-7 and its relatives).
        if (!(c.mode & (mode::kFpuEm | mode::kFpuTs))) return Gate::Emit;
        c.raise_exception((c.mode & mode::kFpuEm) ? 6 : 7);
        c.block_ended = true;
        return Gate::Raised;
    }
    if (c.mode & mode::kSseOk) return Gate::Emit;
    c.call_helper(&helper_sse_unavailable, 0);
    c.block_ended = true;
    return Gate::Raised;
}

// Before an MMX form: the guest's x87 state in the host unit, and a pending
// unmasked x87 exception raised as #MF (the FWAIT traps) before anything else.
void prepare_mmx(EmitContext& c) {
    x87_make_live(c);
    x87_wait_pending(c);
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
    case ZYDIS_MNEMONIC_CVTTPD2DQ:
    case ZYDIS_MNEMONIC_CVTPI2PS:
    case ZYDIS_MNEMONIC_CVTPS2PI:
    case ZYDIS_MNEMONIC_CVTTPS2PI:
    case ZYDIS_MNEMONIC_CVTPD2PI:
    case ZYDIS_MNEMONIC_CVTTPD2PI:
    case ZYDIS_MNEMONIC_ADDSUBPS:
    case ZYDIS_MNEMONIC_ADDSUBPD:
    case ZYDIS_MNEMONIC_HADDPS:
    case ZYDIS_MNEMONIC_HADDPD:
    case ZYDIS_MNEMONIC_HSUBPS:
    case ZYDIS_MNEMONIC_HSUBPD:
    case ZYDIS_MNEMONIC_DPPS:
    case ZYDIS_MNEMONIC_DPPD:
    case ZYDIS_MNEMONIC_ROUNDPS:
    case ZYDIS_MNEMONIC_ROUNDPD:
    case ZYDIS_MNEMONIC_ROUNDSS:
    case ZYDIS_MNEMONIC_ROUNDSD: return true;
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
            if (is_mmx(o)) {
                ops[i] = x86::mm(uint32_t(o.reg.value - ZYDIS_REGISTER_MM0));
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

bool emit_same(EmitContext& c, InstId id, const Form& f) {
    if (id == 0) return false;
    switch (gate(c, f)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    const uint8_t flags = f.flags;
    const bool align = needs_alignment(in, flags);
    // MMX registers are lowered only here.
    const bool mmx = is_mmx_form(in, f);
    if (mmx) prepare_mmx(c);
    bool lower_here = mmx;
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

const Form& form_of(const EmitContext& c) { return kFormOf[c.insn->mnemonic()]; }

bool emit_native_form(EmitContext& c) {
    const ZydisMnemonic m = c.insn->mnemonic();
    return emit_same(c, emit_table().host_inst(m), kFormOf[m]);
}

bool emit_hint(EmitContext& c) {
    // Prefetches never fault and have no architectural effect; the host must
    // not touch the guest address. The register forms are reserved NOPs.
    return gate(c, form_of(c)) == Gate::Emit;
}

bool emit_flush(EmitContext& c) {
    if (gate(c, form_of(c)) != Gate::Emit) return false;
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
    switch (gate(c, form_of(c))) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    return emit_mxcsr_load(c);
}

// MASKMOVDQU xmm, xmm and MASKMOVQ mm, mm.
bool emit_maskmovdqu(EmitContext& c) {
    switch (gate(c, form_of(c))) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    const bool mmx = is_mmx(in.ops[0]) && is_mmx(in.ops[1]);
    if (!mmx && (!is_xmm(in.ops[0]) || !is_xmm(in.ops[1]))) return false;
    if (mmx) prepare_mmx(c);
    const ZydisRegister first = mmx ? ZYDIS_REGISTER_MM0 : ZYDIS_REGISTER_XMM0;
    const uint32_t src = uint32_t(in.ops[0].reg.value - first);
    const uint32_t mask = uint32_t(in.ops[1].reg.value - first);
    return emit_masked_store_through_rdi(c, mmx ? 8 : 16, [&c, src, mask, mmx]() {
        if (mmx)
            c.a.maskmovq(x86::mm(src), x86::mm(mask), x86::ptr(x86::rdi));
        else
            c.a.maskmovdqu(x86::xmm(src), x86::xmm(mask), x86::ptr(x86::rdi));
    });
}

// CRC32 r, r/m: a general-register instruction (no CR0/CR4 conditions).
bool emit_gpr_form(EmitContext& c) {
    if (gate(c, form_of(c)) != Gate::Emit) return false;
    const InstId id = emit_table().host_inst(c.insn->mnemonic());
    return id != 0 && c.emit_native(id);
}

// PCMPESTRI/PCMPESTRM. With REX.W the lengths are RAX and RDX (64-bit); the
// host assembler has no such form, so that one is encoded here:
// 66 REX.W 0F 3A op ModRM imm8, a memory operand at [r14] (REX.B, rm 110).
bool emit_pcmpestr(EmitContext& c) {
    const Insn& in = *c.insn;
    const bool rex_w = (in.zi.attributes & ZYDIS_ATTRIB_HAS_REX) && in.zi.raw.rex.W;
    if (!rex_w) return emit_native_form(c);
    switch (gate(c, form_of(c))) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    if (in.visible_operands() != 3 || !is_xmm(in.ops[0]) || in.ops[2].type != ZYDIS_OPERAND_TYPE_IMMEDIATE)
        return false;
    const uint8_t dst = uint8_t(in.ops[0].reg.value - ZYDIS_REGISTER_XMM0);
    const uint8_t opcode = uint8_t(in.zi.opcode), imm = uint8_t(in.ops[2].imm.value.u);
    const ZydisDecodedOperand& src = in.ops[1];
    if (is_xmm(src)) {
        const uint8_t s = uint8_t(src.reg.value - ZYDIS_REGISTER_XMM0);
        const uint8_t bytes[7] = {0x66,   uint8_t(0x48 | (dst >> 3) << 2 | (s >> 3)), 0x0f, 0x3a,
                                  opcode, uint8_t(0xc0 | (dst & 7) << 3 | (s & 7)),   imm};
        c.a.embed(bytes, 7);
        return true;
    }
    if (src.type != ZYDIS_OPERAND_TYPE_MEMORY || src.mem.type != ZYDIS_MEMOP_TYPE_MEM) return false;
    const uint8_t bytes[7] = {0x66,   uint8_t(0x49 | (dst >> 3) << 2), 0x0f, 0x3a,
                              opcode, uint8_t((dst & 7) << 3 | 6),     imm};
    c.access_memory(src, MemAccess::Read, [&c, bytes](const x86::Mem&) { c.a.embed(bytes, 7); });
    return true;
}

EmitFn emitter_of(Kind k) {
    switch (k) {
    case Kind::Native: return &emit_native_form;
    case Kind::Hint: return &emit_hint;
    case Kind::Flush: return &emit_flush;
    case Kind::Ldmxcsr: return &emit_ldmxcsr;
    case Kind::Maskmovdqu: return &emit_maskmovdqu;
    case Kind::Gpr: return &emit_gpr_form;
    case Kind::Pcmpestr: return &emit_pcmpestr;
    }
    return nullptr;
}

} // namespace

bool emit_mxcsr_load(EmitContext& c) {
    const ZydisDecodedOperand& op = c.insn->ops[0];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
    c.access_memory(op, MemAccess::Read, [&c](const x86::Mem& m) {
        x86::Mem d = m;
        d.setSize(4);
        c.a.mov(kT0.r32(), d);
    });
    c.call_helper(&helper_sse_ldmxcsr, 0, true);
    return true;
}

bool emit_masked_store_through_rdi(EmitContext& c, unsigned bytes, const std::function<void()>& store) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand* dst = nullptr;
    for (unsigned i = 0; i < in.zi.operand_count; i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) dst = &in.ops[i];
    if (!dst) return false;
    c.linear_address(*dst, kT0, MemAccess::Write);
    const int seg = zydis_seg_index(dst->mem.segment);
    // Read-modify-write, so that a bounced access writes back the unselected
    // bytes unchanged.
    c.access_linear(bytes, MemAccess::ReadWrite, seg < 0 ? DS : seg, [&c, store](const x86::Mem&) {
        c.a.xchg(x86::rdi, kT0);
        store();
        c.a.xchg(x86::rdi, kT0);
    });
    return true;
}

bool is_sse_form(const Insn& in) {
    for (unsigned i = 0; i < in.visible_operands(); i++)
        if (is_xmm(in.ops[i])) return true;
    return false;
}

bool emit_sse_movsd(EmitContext& c) {
    if (!is_sse_form(*c.insn)) return false;
    return emit_same(c, x86::Inst::kIdMovsd, kFormOf[ZYDIS_MNEMONIC_MOVSD]);
}

bool emit_sse_cmpsd(EmitContext& c) {
    if (!is_sse_form(*c.insn)) return false;
    return emit_same(c, x86::Inst::kIdCmpsd, kFormOf[ZYDIS_MNEMONIC_CMPSD]);
}

void register_sse(EmitTable& t) {
    for (const Form& f : kForms)
        if (!(f.flags & kShared)) t.set(f.m, emitter_of(f.kind));
}

} // namespace hayate
