// SSE3, SSSE3, SSE4.1, SSE4.2, AES-NI and PCLMULQDQ forms (XMM; the MMX
// forms of SSSE3 are in forms_mmx.cpp). Every case runs under a random MXCSR
// (rounding mode, FTZ/DAZ, sticky flags, sometimes unmasked exceptions, so
// the FP forms also raise #XM on both sides). Each form is gated on the
// host's CPUID bit: what the host lacks is skipped.
#include "tests/difftest/gen.h"
#include <cstring>

namespace difftest {

namespace {

namespace Inst = asmjit::x86::Inst;

constexpr int kNoImm = -1, kRandomImm = -2;

// A 16-byte memory operand that must be aligned is, except now and then
// (then both sides raise #GP).
x86::Mem simd_mem(Gen& g, unsigned bytes, Lanes k, bool aligned) {
    const unsigned align = aligned && !g.rng.chance(4) ? 16 : 1;
    return g.mem_lanes(bytes, k, align);
}

struct Op {
    InstId id;
    Lanes lanes;
    unsigned mem_bytes; // size of the memory form's operand
    bool aligned;       // the m128 form needs 16-byte alignment
    unsigned features;
};

// "op xmm, xmm[, imm]" and "op xmm, mN[, imm]". `imm`: kNoImm, kRandomImm,
// or a function of the generator.
using ImmFn = std::function<uint64_t(Gen&)>;
void xx(std::vector<Form>& v, const Op& op, const ImmFn& imm = nullptr, const std::string& suffix = "") {
    const std::string n = inst_name(op.id) + suffix;
    const std::string mn = "m" + std::to_string(op.mem_bytes * 8);
    const std::string is = imm ? ", imm" : "";
    v.push_back({n + " xmm, xmm" + is,
                 [=](Gen& g) {
                     g.random_mxcsr();
                     x86::Xmm d = g.xmm(op.lanes);
                     x86::Xmm s = g.rng.chance(10) ? d : g.xmm(op.lanes);
                     if (imm)
                         g.a.emit(op.id, d, s, Imm(imm(g)));
                     else
                         g.a.emit(op.id, d, s);
                 },
                 op.features});
    v.push_back({n + " xmm, " + mn + is,
                 [=](Gen& g) {
                     g.random_mxcsr();
                     x86::Xmm d = g.xmm(op.lanes);
                     x86::Mem m = simd_mem(g, op.mem_bytes, op.lanes, op.aligned);
                     if (imm)
                         g.a.emit(op.id, d, m, Imm(imm(g)));
                     else
                         g.a.emit(op.id, d, m);
                 },
                 op.features});
}

void xx_list(std::vector<Form>& v, std::initializer_list<InstId> ids, Lanes k, unsigned bytes, bool aligned,
             unsigned features) {
    for (InstId id : ids) xx(v, {id, k, bytes, aligned, features});
}

uint64_t any_imm(Gen& g) { return g.rng.below(256); }

// Strings for the SSE4.2 compares: characters from a small alphabet (so that
// matches and ranges happen), now and then a zero (the implicit length ends).
void fill_string(Gen& g, uint8_t* p) {
    const uint8_t alphabet[] = {'a', 'b', 'c', 'z', 'A', 0x80, 0xff, 0x7f, '0', '9'};
    for (int i = 0; i < 16; i++)
        p[i] = g.rng.chance(6)    ? 0
               : g.rng.chance(80) ? alphabet[g.rng.below(std::size(alphabet))]
                                  : uint8_t(g.rng.next());
}

int64_t string_length(Gen& g) {
    const int64_t e[] = {0, 1, 7, 8, 9, 15, 16, 17, -1, -8, -16, -17, 0x7fffffff, INT64_MIN, -0x80000000ll};
    return g.rng.chance(60) ? e[g.rng.below(std::size(e))] : int64_t(g.rng.below(41)) - 20;
}

} // namespace

std::vector<Form> forms_sse3() {
    std::vector<Form> v;
    const unsigned f = feat::kSse3;
    xx_list(v, {Inst::kIdAddsubps, Inst::kIdHaddps, Inst::kIdHsubps, Inst::kIdMovshdup, Inst::kIdMovsldup},
            Lanes::F32, 16, true, f);
    xx_list(v, {Inst::kIdAddsubpd, Inst::kIdHaddpd, Inst::kIdHsubpd}, Lanes::F64, 16, true, f);
    xx_list(v, {Inst::kIdMovddup}, Lanes::F64, 8, false, f);
    v.push_back({"lddqu xmm, m128",
                 [](Gen& g) {
                     x86::Xmm d = g.xmm(Lanes::Bytes);
                     g.a.lddqu(d, g.mem_lanes(16, Lanes::Bytes, 1));
                 },
                 f});
    return v;
}

std::vector<Form> forms_ssse3() {
    std::vector<Form> v;
    const unsigned f = feat::kSsse3;
    xx_list(v, {Inst::kIdPabsb, Inst::kIdPsignb, Inst::kIdPshufb, Inst::kIdPmaddubsw}, Lanes::I8, 16, true,
            f);
    xx_list(v,
            {Inst::kIdPabsw, Inst::kIdPsignw, Inst::kIdPhaddw, Inst::kIdPhaddsw, Inst::kIdPhsubw,
             Inst::kIdPhsubsw, Inst::kIdPmulhrsw},
            Lanes::I16, 16, true, f);
    xx_list(v, {Inst::kIdPabsd, Inst::kIdPsignd, Inst::kIdPhaddd, Inst::kIdPhsubd}, Lanes::I32, 16, true, f);
    xx(v, {Inst::kIdPalignr, Lanes::Bytes, 16, true, f}, [](Gen& g) -> uint64_t {
        const uint64_t e[] = {0, 1, 8, 15, 16, 17, 31, 32, 255};
        return g.rng.chance(50) ? e[g.rng.below(std::size(e))] : g.rng.below(256);
    });
    return v;
}

std::vector<Form> forms_sse41() {
    std::vector<Form> v;
    const unsigned f = feat::kSse41;
    xx(v, {Inst::kIdBlendps, Lanes::F32, 16, true, f}, any_imm);
    xx(v, {Inst::kIdBlendpd, Lanes::F64, 16, true, f}, any_imm);
    xx(v, {Inst::kIdPblendw, Lanes::I16, 16, true, f}, any_imm);
    // BLENDV*: the mask is the implicit XMM0.
    xx_list(v, {Inst::kIdBlendvps, Inst::kIdBlendvpd, Inst::kIdPblendvb}, Lanes::Bytes, 16, true, f);
    xx(v, {Inst::kIdDpps, Lanes::F32, 16, true, f}, any_imm);
    xx(v, {Inst::kIdDppd, Lanes::F64, 16, true, f}, any_imm);
    xx(v, {Inst::kIdInsertps, Lanes::F32, 4, false, f}, any_imm);
    xx(v, {Inst::kIdMpsadbw, Lanes::I8, 16, true, f}, any_imm);
    xx_list(v,
            {Inst::kIdPackusdw, Inst::kIdPmaxsd, Inst::kIdPmaxud, Inst::kIdPminsd, Inst::kIdPminud,
             Inst::kIdPmuldq, Inst::kIdPmulld},
            Lanes::I32, 16, true, f);
    xx_list(v, {Inst::kIdPmaxsb, Inst::kIdPminsb}, Lanes::I8, 16, true, f);
    xx_list(v, {Inst::kIdPmaxuw, Inst::kIdPminuw, Inst::kIdPhminposuw}, Lanes::I16, 16, true, f);
    xx_list(v, {Inst::kIdPcmpeqq}, Lanes::I64, 16, true, f);
    // PTEST's memory operand stays aligned: at a fault of an instruction that
    // overwrites every flag, Hayate's exception frame holds the flags as the
    // TLB probe left them (flag liveness ignores faults, for every family).
    v.push_back({"ptest xmm, xmm",
                 [](Gen& g) {
                     x86::Xmm d = g.xmm(Lanes::I64);
                     g.a.ptest(d, g.rng.chance(10) ? d : g.xmm(Lanes::I64));
                 },
                 f});
    v.push_back({"ptest xmm, m128",
                 [](Gen& g) {
                     x86::Xmm d = g.xmm(Lanes::I64);
                     g.a.ptest(d, g.mem_lanes(16, Lanes::I64, 16));
                 },
                 f});
    xx_list(v, {Inst::kIdPmovsxbw, Inst::kIdPmovzxbw}, Lanes::I8, 8, false, f);
    xx_list(v, {Inst::kIdPmovsxbd, Inst::kIdPmovzxbd}, Lanes::I8, 4, false, f);
    xx_list(v, {Inst::kIdPmovsxbq, Inst::kIdPmovzxbq}, Lanes::I8, 2, false, f);
    xx_list(v, {Inst::kIdPmovsxwd, Inst::kIdPmovzxwd}, Lanes::I16, 8, false, f);
    xx_list(v, {Inst::kIdPmovsxwq, Inst::kIdPmovzxwq}, Lanes::I16, 4, false, f);
    xx_list(v, {Inst::kIdPmovsxdq, Inst::kIdPmovzxdq}, Lanes::I32, 8, false, f);
    // ROUND*: rounding control from the immediate or from MXCSR (bit 2),
    // precision exception suppressed or not (bit 3).
    auto round_imm = [](Gen& g) -> uint64_t { return g.rng.chance(90) ? g.rng.below(16) : g.rng.below(256); };
    xx(v, {Inst::kIdRoundps, Lanes::F32, 16, true, f}, round_imm);
    xx(v, {Inst::kIdRoundpd, Lanes::F64, 16, true, f}, round_imm);
    xx(v, {Inst::kIdRoundss, Lanes::F32, 4, false, f}, round_imm);
    xx(v, {Inst::kIdRoundsd, Lanes::F64, 8, false, f}, round_imm);
    v.push_back({"movntdqa xmm, m128",
                 [](Gen& g) {
                     x86::Xmm d = g.xmm(Lanes::Bytes);
                     g.a.movntdqa(d, simd_mem(g, 16, Lanes::Bytes, true));
                 },
                 f});
    // Extracts and inserts with GPR and memory operands (R12-R15 live in CpuState in Hayate).
    struct Gpr {
        InstId id;
        unsigned reg_bits, mem_bytes;
        Lanes lanes;
    };
    for (const Gpr& e : {Gpr{Inst::kIdPextrb, 32, 1, Lanes::I8}, Gpr{Inst::kIdPextrw, 32, 2, Lanes::I16},
                         Gpr{Inst::kIdPextrd, 32, 4, Lanes::I32}, Gpr{Inst::kIdPextrq, 64, 8, Lanes::I64},
                         Gpr{Inst::kIdExtractps, 32, 4, Lanes::F32}}) {
        const std::string n = inst_name(e.id);
        if (e.id != Inst::kIdPextrw) // the register form of PEXTRW is SSE2's (forms_sse.cpp)
            v.push_back({n + " r" + std::to_string(e.reg_bits) + ", xmm, imm",
                         [=](Gen& g) {
                             x86::Xmm s = g.xmm(e.lanes);
                             g.a.emit(e.id, g.gp(e.reg_bits), s, Imm(g.rng.below(256)));
                         },
                         f});
        v.push_back({n + " m" + std::to_string(e.mem_bytes * 8) + ", xmm, imm",
                     [=](Gen& g) {
                         x86::Xmm s = g.xmm(e.lanes);
                         g.a.emit(e.id, g.mem(e.mem_bytes), s, Imm(g.rng.below(256)));
                     },
                     f});
    }
    for (const Gpr& e : {Gpr{Inst::kIdPinsrb, 32, 1, Lanes::I8}, Gpr{Inst::kIdPinsrd, 32, 4, Lanes::I32},
                         Gpr{Inst::kIdPinsrq, 64, 8, Lanes::I64}}) {
        const std::string n = inst_name(e.id);
        v.push_back({n + " xmm, r" + std::to_string(e.reg_bits) + ", imm",
                     [=](Gen& g) {
                         x86::Xmm d = g.xmm(e.lanes);
                         g.a.emit(e.id, d, g.gp(e.reg_bits), Imm(g.rng.below(256)));
                     },
                     f});
        v.push_back({n + " xmm, m" + std::to_string(e.mem_bytes * 8) + ", imm",
                     [=](Gen& g) {
                         x86::Xmm d = g.xmm(e.lanes);
                         g.a.emit(e.id, d, g.mem(e.mem_bytes), Imm(g.rng.below(256)));
                     },
                     f});
    }
    return v;
}

std::vector<Form> forms_sse42() {
    std::vector<Form> v;
    const unsigned f = feat::kSse42;
    xx_list(v, {Inst::kIdPcmpgtq}, Lanes::I64, 16, true, f);
    // The string compares: RCX (index) or XMM0 (mask) and the flags are
    // written; the E forms read their lengths from RAX and RDX.
    for (InstId id : {Inst::kIdPcmpestri, Inst::kIdPcmpestrm, Inst::kIdPcmpistri, Inst::kIdPcmpistrm}) {
        const bool explicit_length = id == Inst::kIdPcmpestri || id == Inst::kIdPcmpestrm;
        auto setup = [explicit_length](Gen& g) {
            g.used |= 1u << 1; // RCX: written by the I forms
            if (explicit_length) {
                g.fixed(0, 64, uint64_t(string_length(g)));
                g.fixed(2, 64, uint64_t(string_length(g)));
            }
        };
        auto strings = [](Gen& g, x86::Xmm a) { fill_string(g, g.c.init.xmm[a.id()]); };
        v.push_back({inst_name(id) + " xmm, xmm, imm",
                     [=](Gen& g) {
                         setup(g);
                         x86::Xmm a = g.xmm(Lanes::Bytes), b = g.xmm(Lanes::Bytes);
                         strings(g, a);
                         strings(g, b);
                         g.a.emit(id, a, b, Imm(g.rng.below(256)));
                     },
                     f});
        v.push_back({inst_name(id) + " xmm, m128, imm",
                     [=](Gen& g) {
                         setup(g);
                         x86::Xmm a = g.xmm(Lanes::Bytes);
                         strings(g, a);
                         x86::Mem m = g.mem(16); // no alignment required
                         uint8_t s[16];
                         fill_string(g, s);
                         g.put(g.last_offset, s, 16);
                         g.a.emit(id, a, m, Imm(g.rng.below(256)));
                     },
                     f});
        if (explicit_length)
            // REX.W: 64-bit lengths in RAX and RDX (the assembler has no such form; bytes by hand).
            v.push_back({inst_name(id) + " xmm, xmm, imm (REX.W)",
                         [=](Gen& g) {
                             setup(g);
                             x86::Xmm a = g.xmm(Lanes::Bytes), b = g.xmm(Lanes::Bytes);
                             strings(g, a);
                             strings(g, b);
                             const uint8_t op = id == Inst::kIdPcmpestri ? 0x61 : 0x60;
                             const uint8_t bytes[7] = {0x66,
                                                       uint8_t(0x48 | (a.id() >> 3) << 2 | (b.id() >> 3)),
                                                       0x0f,
                                                       0x3a,
                                                       op,
                                                       uint8_t(0xc0 | (a.id() & 7) << 3 | (b.id() & 7)),
                                                       uint8_t(g.rng.below(256))};
                             g.a.embed(bytes, 7);
                         },
                         f});
    }
    for (unsigned dw : {32u, 64u})
        for (unsigned sw : {8u, 16u, 32u, 64u}) {
            if (sw == 64 && dw == 32) continue;
            if (sw == 16 && dw == 64) continue;
            if (sw == 32 && dw == 64) continue;
            const std::string n = "crc32 r" + std::to_string(dw);
            v.push_back({n + ", r" + std::to_string(sw),
                         [=](Gen& g) {
                             x86::Gp d = g.gp(dw);
                             g.a.crc32(d, g.gp(sw));
                         },
                         f});
            v.push_back({n + ", m" + std::to_string(sw),
                         [=](Gen& g) {
                             x86::Gp d = g.gp(dw);
                             g.a.crc32(d, g.mem(sw / 8));
                         },
                         f});
        }
    return v;
}

std::vector<Form> forms_aes() {
    std::vector<Form> v;
    xx_list(v, {Inst::kIdAesenc, Inst::kIdAesenclast, Inst::kIdAesdec, Inst::kIdAesdeclast, Inst::kIdAesimc},
            Lanes::Bytes, 16, true, feat::kAes);
    xx(v, {Inst::kIdAeskeygenassist, Lanes::Bytes, 16, true, feat::kAes}, any_imm);
    xx(v, {Inst::kIdPclmulqdq, Lanes::I64, 16, true, feat::kPclmul}, any_imm);
    return v;
}

} // namespace difftest
