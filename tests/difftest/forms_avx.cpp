// The VEX forms of AVX, AVX2, FMA3, F16C and the VEX.128 AES-NI/PCLMULQDQ
// instructions: every mnemonic frontend/emit_avx.cpp translates, in its
// register and memory forms, 128- and 256-bit wide. Every case starts from
// random YMM upper halves (or all-zero ones, the state without dirty upper
// halves) and a random MXCSR (rounding mode, FTZ/DAZ, sticky flags, sometimes
// unmasked exceptions: #XM on both sides); FP lanes are biased to the special
// values (signed zeros, denormals, infinities, QNaN/SNaN with payloads,
// integer-indefinite boundaries). avx_mnemonics_without_form() checks the
// families against the translator's own table, so none is forgotten.
#include "tests/difftest/gen.h"
#include <Zydis/Zydis.h>
#include <cstring>
#include <map>
#include <set>

#ifdef DIFFTEST_HAVE_GUEST
#include "frontend/emit_table.h"
#endif

namespace difftest {

namespace {

constexpr unsigned A = feat::kAvx, A2 = feat::kAvx | feat::kAvx2, FMA = feat::kAvx | feat::kFma,
                   F16 = feat::kAvx | feat::kF16c;

InstId inst_id(const char* name) {
    const InstId id = asmjit::InstAPI::stringToInstId(asmjit::Arch::kX64, name, std::strlen(name));
    if (id == 0) throw std::runtime_error(std::string("difftest: asmjit has no instruction ") + name);
    return id;
}

// Every case: random MXCSR; the upper halves of all YMM registers random
// (two cases in three) or zero.
void avx_prelude(Gen& g) {
    g.random_mxcsr();
    if (g.rng.chance(67))
        for (auto& half : g.c.init.ymm_high) g.fill_lanes(half, g.rng.chance(50) ? Lanes::Bytes : Lanes::F32);
}

// MXCSR_MASK of the host (FXSAVE image bytes 28-31; 0 there means 0xffbf).
uint32_t host_mxcsr_mask() {
    static const uint32_t mask = [] {
        alignas(16) uint8_t image[512] = {};
        __asm__ volatile("fxsave %0" : "=m"(image));
        uint32_t m;
        std::memcpy(&m, image + 28, 4);
        return m ? m : 0xffbfu;
    }();
    return mask;
}

// A vector register of `bits` holding lanes of kind `k` (both halves).
x86::Vec vec(Gen& g, unsigned bits, Lanes k) {
    const x86::Xmm x = g.xmm(k);
    if (bits == 128) return x;
    g.fill_lanes(g.c.init.ymm_high[x.id()], k);
    return x86::ymm(x.id());
}

// A memory operand of `bytes` holding lanes of kind `k`; an aligned one is
// misaligned now and then (#GP on both sides).
x86::Mem vmem(Gen& g, unsigned bytes, Lanes k, bool aligned) {
    const unsigned align = aligned && !g.rng.chance(4) ? bytes : 1;
    x86::Mem m = g.mem(bytes, align);
    uint8_t tmp[32];
    g.fill_lanes(tmp, k);
    g.fill_lanes(tmp + 16, k);
    g.put(g.last_offset, tmp, bytes);
    return m;
}

using ImmFn = uint64_t (*)(Gen&);
uint64_t imm_any(Gen& g) { return g.rng.below(256); }
uint64_t imm_cmp(Gen& g) { return g.rng.chance(90) ? g.rng.below(32) : g.rng.below(256); }
uint64_t imm_round(Gen& g) { return g.rng.chance(90) ? g.rng.below(16) : g.rng.below(256); }
uint64_t imm_count(Gen& g) { return g.count(64); }

// One form. Operand pattern, one character each:
//   x / y   XMM / YMM register       X / Y   XMM / YMM register or memory
//   d / q   32- / 64-bit GPR          D / Q   32- / 64-bit GPR or memory
//   m       memory                    i       immediate
// A pattern with an upper-case letter makes two forms (register, memory);
// memory operands are `mem` bytes.
struct Spec {
    std::string name;
    std::string pattern;
    unsigned mem;
    Lanes lanes;
    unsigned features;
    bool aligned = false;
    ImmFn imm = imm_any;
};

std::string operand_name(char ch, bool memory, unsigned mem) {
    if (ch == 'm' || (memory && (ch == 'X' || ch == 'Y' || ch == 'D' || ch == 'Q')))
        return "m" + std::to_string(mem * 8);
    switch (ch) {
    case 'x':
    case 'X': return "xmm";
    case 'y':
    case 'Y': return "ymm";
    case 'd':
    case 'D': return "r32";
    case 'q':
    case 'Q': return "r64";
    default: return "imm";
    }
}

void add(std::vector<Form>& v, const Spec& s) {
    const std::string& pat = s.pattern;
    bool has_choice = false;
    for (char ch : pat) has_choice |= ch == 'X' || ch == 'Y' || ch == 'D' || ch == 'Q';
    for (bool memory : {false, true}) {
        if (memory && !has_choice) break;
        std::string name = s.name;
        for (size_t i = 0; i < pat.size(); i++)
            name += (i ? ", " : " ") + operand_name(pat[i], memory, s.mem);
        const InstId id = inst_id(s.name.c_str());
        v.push_back({name,
                     [s, pat, memory, id](Gen& g) {
                         avx_prelude(g);
                         asmjit::Operand ops[6];
                         x86::Vec first_vec;
                         for (size_t i = 0; i < pat.size(); i++) {
                             const char ch = pat[i];
                             const bool as_mem =
                                 ch == 'm' || (memory && (ch == 'X' || ch == 'Y' || ch == 'D' || ch == 'Q'));
                             if (as_mem) {
                                 ops[i] = vmem(g, s.mem, s.lanes, s.aligned);
                             } else if (ch == 'x' || ch == 'X' || ch == 'y' || ch == 'Y') {
                                 const unsigned bits = (ch == 'x' || ch == 'X') ? 128 : 256;
                                 // A source now and then the destination register itself.
                                 if (i > 0 && first_vec.isValid() && first_vec.size() * 8 == bits &&
                                     g.rng.chance(10))
                                     ops[i] = first_vec;
                                 else
                                     ops[i] = vec(g, bits, s.lanes);
                                 if (!first_vec.isValid()) first_vec = ops[i].as<x86::Vec>();
                             } else if (ch == 'd' || ch == 'D') {
                                 ops[i] = g.gp(32);
                             } else if (ch == 'q' || ch == 'Q') {
                                 ops[i] = g.gp(64);
                             } else {
                                 ops[i] = Imm(s.imm(g));
                             }
                         }
                         g.a.emitOpArray(id, ops, pat.size());
                     },
                     s.features});
    }
}

// The 128- and 256-bit forms of a packed instruction ("xxX"-like patterns
// with x widened to y for the 256-bit form).
void both(std::vector<Form>& v, const char* name, const char* pat128, Lanes k, unsigned f128, unsigned f256,
          bool aligned = false, ImmFn imm = imm_any) {
    std::string p256 = pat128;
    for (char& ch : p256) ch = ch == 'x' ? 'y' : ch == 'X' ? 'Y' : ch;
    add(v, {name, pat128, 16, k, f128, aligned, imm});
    add(v, {name, p256, 32, k, f256, aligned, imm});
}

void both_list(std::vector<Form>& v, std::initializer_list<const char*> names, const char* pat, Lanes k,
               unsigned f128, unsigned f256, ImmFn imm = imm_any) {
    for (const char* n : names) both(v, n, pat, k, f128, f256, false, imm);
}

void scalar_list(std::vector<Form>& v, std::initializer_list<const char*> names, const char* pat,
                 unsigned mem, Lanes k, unsigned f, ImmFn imm = imm_any) {
    for (const char* n : names) add(v, {n, pat, mem, k, f, false, imm});
}

} // namespace

// ------------------------------------------------------------ AVX floating point

std::vector<Form> forms_avx_fp() {
    std::vector<Form> v;
    both_list(v,
              {"vaddps", "vsubps", "vmulps", "vdivps", "vmaxps", "vminps", "vaddsubps", "vhaddps", "vhsubps",
               "vandps", "vandnps", "vorps", "vxorps", "vunpckhps", "vunpcklps", "vpermilps"},
              "xxX", Lanes::F32, A, A);
    both_list(v,
              {"vaddpd", "vsubpd", "vmulpd", "vdivpd", "vmaxpd", "vminpd", "vaddsubpd", "vhaddpd", "vhsubpd",
               "vandpd", "vandnpd", "vorpd", "vxorpd", "vunpckhpd", "vunpcklpd", "vpermilpd"},
              "xxX", Lanes::F64, A, A);
    both_list(v, {"vshufps", "vblendps", "vdpps"}, "xxXi", Lanes::F32, A, A);
    both_list(v, {"vshufpd", "vblendpd"}, "xxXi", Lanes::F64, A, A);
    add(v, {"vdppd", "xxXi", 16, Lanes::F64, A});
    both(v, "vcmpps", "xxXi", Lanes::F32, A, A, false, imm_cmp);
    both(v, "vcmppd", "xxXi", Lanes::F64, A, A, false, imm_cmp);
    both(v, "vblendvps", "xxXx", Lanes::F32, A, A);
    both(v, "vblendvpd", "xxXx", Lanes::F64, A, A);
    both_list(
        v, {"vsqrtps", "vrcpps", "vrsqrtps", "vmovshdup", "vmovsldup", "vcvtps2dq", "vcvttps2dq", "vtestps"},
        "xX", Lanes::F32, A, A);
    both_list(v, {"vsqrtpd", "vtestpd"}, "xX", Lanes::F64, A, A);
    both(v, "vptest", "xX", Lanes::I64, A, A);
    both(v, "vroundps", "xXi", Lanes::F32, A, A, false, imm_round);
    both(v, "vroundpd", "xXi", Lanes::F64, A, A, false, imm_round);
    both(v, "vpermilps", "xXi", Lanes::F32, A, A);
    both(v, "vpermilpd", "xXi", Lanes::F64, A, A);
    // Integer lanes for the int->FP conversions: fill_lanes' edges.
    both(v, "vcvtdq2ps", "xX", Lanes::I32, A, A);
    add(v, {"vmovddup", "xX", 8, Lanes::F64, A});
    add(v, {"vmovddup", "yY", 32, Lanes::F64, A});
    // Widening and narrowing conversions.
    add(v, {"vcvtdq2pd", "xX", 8, Lanes::I32, A});
    add(v, {"vcvtdq2pd", "yX", 16, Lanes::I32, A});
    add(v, {"vcvtps2pd", "xX", 8, Lanes::F32, A});
    add(v, {"vcvtps2pd", "yX", 16, Lanes::F32, A});
    for (const char* n : {"vcvtpd2ps", "vcvtpd2dq", "vcvttpd2dq"}) {
        add(v, {n, "xX", 16, Lanes::F64, A});
        add(v, {n, "xY", 32, Lanes::F64, A});
    }
    // Scalars.
    scalar_list(v,
                {"vaddss", "vsubss", "vmulss", "vdivss", "vmaxss", "vminss", "vsqrtss", "vrcpss", "vrsqrtss",
                 "vcvtss2sd"},
                "xxX", 4, Lanes::F32, A);
    scalar_list(v, {"vaddsd", "vsubsd", "vmulsd", "vdivsd", "vmaxsd", "vminsd", "vsqrtsd", "vcvtsd2ss"},
                "xxX", 8, Lanes::F64, A);
    scalar_list(v, {"vcmpss"}, "xxXi", 4, Lanes::F32, A, imm_cmp);
    scalar_list(v, {"vcmpsd"}, "xxXi", 8, Lanes::F64, A, imm_cmp);
    scalar_list(v, {"vroundss"}, "xxXi", 4, Lanes::F32, A, imm_round);
    scalar_list(v, {"vroundsd"}, "xxXi", 8, Lanes::F64, A, imm_round);
    scalar_list(v, {"vcomiss", "vucomiss"}, "xX", 4, Lanes::F32, A);
    scalar_list(v, {"vcomisd", "vucomisd"}, "xX", 8, Lanes::F64, A);
    scalar_list(v, {"vcvtss2si", "vcvttss2si"}, "dX", 4, Lanes::F32, A);
    scalar_list(v, {"vcvtss2si", "vcvttss2si"}, "qX", 4, Lanes::F32, A);
    scalar_list(v, {"vcvtsd2si", "vcvttsd2si"}, "dX", 8, Lanes::F64, A);
    scalar_list(v, {"vcvtsd2si", "vcvttsd2si"}, "qX", 8, Lanes::F64, A);
    scalar_list(v, {"vcvtsi2ss", "vcvtsi2sd"}, "xxD", 4, Lanes::I32, A);
    scalar_list(v, {"vcvtsi2ss", "vcvtsi2sd"}, "xxQ", 8, Lanes::I64, A);
    return v;
}

// ------------------------------------------------------------ AVX/AVX2 integer

std::vector<Form> forms_avx_int() {
    std::vector<Form> v;
    both_list(v, {"vpaddb",   "vpaddsb",  "vpaddusb",   "vpsubb",     "vpsubsb",    "vpsubusb",  "vpavgb",
                  "vpcmpeqb", "vpcmpgtb", "vpmaxsb",    "vpmaxub",    "vpminsb",    "vpminub",   "vpshufb",
                  "vpsignb",  "vpsadbw",  "vpmaddubsw", "vpunpckhbw", "vpunpcklbw", "vpacksswb", "vpackuswb"},
              "xxX", Lanes::I8, A, A2);
    both_list(v, {"vpaddw",   "vpaddsw",  "vpaddusw",   "vpsubw",     "vpsubsw",   "vpsubusw", "vpavgw",
                  "vpcmpeqw", "vpcmpgtw", "vpmaxsw",    "vpmaxuw",    "vpminsw",   "vpminuw",  "vpmulhw",
                  "vpmulhuw", "vpmullw",  "vpmulhrsw",  "vpmaddwd",   "vpsignw",   "vphaddw",  "vphaddsw",
                  "vphsubw",  "vphsubsw", "vpunpckhwd", "vpunpcklwd", "vpackssdw", "vpackusdw"},
              "xxX", Lanes::I16, A, A2);
    both_list(v,
              {"vpaddd", "vpsubd", "vpcmpeqd", "vpcmpgtd", "vpmaxsd", "vpmaxud", "vpminsd", "vpminud",
               "vpmulld", "vpmuldq", "vpmuludq", "vpsignd", "vphaddd", "vphsubd", "vpunpckhdq", "vpunpckldq"},
              "xxX", Lanes::I32, A, A2);
    both_list(v,
              {"vpaddq", "vpsubq", "vpcmpeqq", "vpcmpgtq", "vpunpckhqdq", "vpunpcklqdq", "vpand", "vpandn",
               "vpor", "vpxor"},
              "xxX", Lanes::I64, A, A2);
    both_list(v, {"vpalignr", "vpblendw", "vmpsadbw"}, "xxXi", Lanes::I16, A, A2);
    both(v, "vpblendd", "xxXi", Lanes::I32, A2, A2);
    both(v, "vpblendvb", "xxXx", Lanes::I8, A, A2);
    both(v, "vpabsb", "xX", Lanes::I8, A, A2);
    both(v, "vpabsw", "xX", Lanes::I16, A, A2);
    both(v, "vpabsd", "xX", Lanes::I32, A, A2);
    both(v, "vpshufd", "xXi", Lanes::I32, A, A2);
    both_list(v, {"vpshufhw", "vpshuflw"}, "xXi", Lanes::I16, A, A2);
    add(v, {"vphminposuw", "xX", 16, Lanes::I16, A});
    // Shifts: count in an XMM register or m128 (also for the 256-bit forms),
    // or an immediate; variable per-element counts (AVX2).
    for (const char* n : {"vpsllw", "vpslld", "vpsllq", "vpsraw", "vpsrad", "vpsrlw", "vpsrld", "vpsrlq"}) {
        add(v, {n, "xxX", 16, Lanes::I64, A, false});
        add(v, {n, "yyX", 16, Lanes::I64, A2, false});
        add(v, {n, "xxi", 16, Lanes::I32, A, false, imm_count});
        add(v, {n, "yyi", 16, Lanes::I32, A2, false, imm_count});
    }
    for (const char* n : {"vpslldq", "vpsrldq"}) {
        add(v, {n, "xxi", 16, Lanes::I8, A, false, imm_count});
        add(v, {n, "yyi", 16, Lanes::I8, A2, false, imm_count});
    }
    both_list(v, {"vpsllvd", "vpsrlvd", "vpsravd"}, "xxX", Lanes::I32, A2, A2);
    both_list(v, {"vpsllvq", "vpsrlvq"}, "xxX", Lanes::I64, A2, A2);
    // Sign and zero extension: the source is half, a quarter or an eighth of the destination.
    struct Ext {
        const char* s;
        const char* z;
        unsigned mem128;
        Lanes k;
    };
    for (const Ext& e :
         {Ext{"vpmovsxbw", "vpmovzxbw", 8, Lanes::I8}, Ext{"vpmovsxbd", "vpmovzxbd", 4, Lanes::I8},
          Ext{"vpmovsxbq", "vpmovzxbq", 2, Lanes::I8}, Ext{"vpmovsxwd", "vpmovzxwd", 8, Lanes::I16},
          Ext{"vpmovsxwq", "vpmovzxwq", 4, Lanes::I16}, Ext{"vpmovsxdq", "vpmovzxdq", 8, Lanes::I32}})
        for (const char* n : {e.s, e.z}) {
            add(v, {n, "xX", e.mem128, e.k, A});
            add(v, {n, "yX", 2 * e.mem128, e.k, A2});
        }
    // String compares (128-bit only): lengths in RAX/RDX for the E forms.
    for (const char* n : {"vpcmpestri", "vpcmpestrm", "vpcmpistri", "vpcmpistrm"}) {
        const bool explicit_length = n[6] == 'e';
        const InstId id = inst_id(n);
        for (bool memory : {false, true})
            v.push_back({std::string(n) + (memory ? " xmm, m128, imm" : " xmm, xmm, imm"),
                         [=](Gen& g) {
                             avx_prelude(g);
                             g.used |= 1u << 1; // RCX: the index result
                             if (explicit_length) {
                                 const int64_t e[] = {0, 1, 8, 15, 16, 17, -1, -16, -17, INT64_MIN};
                                 g.fixed(0, 64, uint64_t(e[g.rng.below(std::size(e))]));
                                 g.fixed(2, 64, uint64_t(int64_t(g.rng.below(41)) - 20));
                             }
                             const x86::Vec a = vec(g, 128, Lanes::I8);
                             if (memory)
                                 g.a.emit(id, a, vmem(g, 16, Lanes::I8, false), Imm(g.rng.below(256)));
                             else
                                 g.a.emit(id, a, vec(g, 128, Lanes::I8), Imm(g.rng.below(256)));
                         },
                         A});
    }
    // Moves between GPRs/memory and lanes.
    add(v, {"vpmovmskb", "dx", 16, Lanes::I8, A});
    add(v, {"vpmovmskb", "dy", 32, Lanes::I8, A2});
    add(v, {"vpextrb", "Dxi", 1, Lanes::I8, A});
    add(v, {"vpextrw", "Dxi", 2, Lanes::I16, A});
    add(v, {"vpextrd", "Dxi", 4, Lanes::I32, A});
    add(v, {"vpextrq", "Qxi", 8, Lanes::I64, A});
    add(v, {"vpinsrb", "xxDi", 1, Lanes::I8, A});
    add(v, {"vpinsrw", "xxDi", 2, Lanes::I16, A});
    add(v, {"vpinsrd", "xxDi", 4, Lanes::I32, A});
    add(v, {"vpinsrq", "xxQi", 8, Lanes::I64, A});
    // AVX2 permutes and broadcasts.
    add(v, {"vpermd", "yyY", 32, Lanes::I32, A2});
    add(v, {"vpermps", "yyY", 32, Lanes::F32, A2});
    add(v, {"vpermq", "yYi", 32, Lanes::I64, A2});
    add(v, {"vpermpd", "yYi", 32, Lanes::F64, A2});
    add(v, {"vperm2i128", "yyYi", 32, Lanes::I64, A2});
    add(v, {"vinserti128", "yyXi", 16, Lanes::I64, A2});
    add(v, {"vextracti128", "Xyi", 16, Lanes::I64, A2});
    add(v, {"vbroadcasti128", "ym", 16, Lanes::I64, A2});
    struct Bc {
        const char* n;
        unsigned bytes;
        Lanes k;
    };
    for (const Bc& b : {Bc{"vpbroadcastb", 1, Lanes::I8}, Bc{"vpbroadcastw", 2, Lanes::I16},
                        Bc{"vpbroadcastd", 4, Lanes::I32}, Bc{"vpbroadcastq", 8, Lanes::I64}}) {
        add(v, {b.n, "xX", b.bytes, b.k, A2});
        add(v, {b.n, "yX", b.bytes, b.k, A2});
    }
    return v;
}

// ------------------------------------------------------------ AVX moves, inserts, extracts

std::vector<Form> forms_avx_move() {
    std::vector<Form> v;
    for (const char* n : {"vmovaps", "vmovapd", "vmovdqa", "vmovups", "vmovupd", "vmovdqu"}) {
        const bool aligned = std::strcmp(n, "vmovaps") == 0 || std::strcmp(n, "vmovapd") == 0 ||
                             std::strcmp(n, "vmovdqa") == 0;
        both(v, n, "xX", Lanes::Bytes, A, A, aligned);
        both(v, n, "mx", Lanes::Bytes, A, A, aligned);
    }
    for (const char* n : {"vmovntps", "vmovntpd", "vmovntdq"}) both(v, n, "mx", Lanes::Bytes, A, A, true);
    add(v, {"vmovntdqa", "xm", 16, Lanes::Bytes, A, true});
    add(v, {"vmovntdqa", "ym", 32, Lanes::Bytes, A2, true});
    both(v, "vlddqu", "xm", Lanes::Bytes, A, A);
    // Scalar moves: register merge, load (zeroes the rest), store.
    add(v, {"vmovss", "xxx", 4, Lanes::F32, A});
    add(v, {"vmovss", "xm", 4, Lanes::F32, A});
    add(v, {"vmovss", "mx", 4, Lanes::F32, A});
    add(v, {"vmovsd", "xxx", 8, Lanes::F64, A});
    add(v, {"vmovsd", "xm", 8, Lanes::F64, A});
    add(v, {"vmovsd", "mx", 8, Lanes::F64, A});
    add(v, {"vmovd", "xD", 4, Lanes::I32, A});
    add(v, {"vmovd", "Dx", 4, Lanes::I32, A});
    add(v, {"vmovq", "xQ", 8, Lanes::I64, A});
    add(v, {"vmovq", "Qx", 8, Lanes::I64, A});
    add(v, {"vmovq", "xX", 8, Lanes::I64, A});
    add(v, {"vmovq", "mx", 8, Lanes::I64, A});
    for (const char* n : {"vmovhps", "vmovhpd", "vmovlps", "vmovlpd"}) {
        add(v, {n, "xxm", 8, Lanes::F64, A});
        add(v, {n, "mx", 8, Lanes::F64, A});
    }
    add(v, {"vmovhlps", "xxx", 16, Lanes::F32, A});
    add(v, {"vmovlhps", "xxx", 16, Lanes::F32, A});
    both(v, "vmovmskps", "dx", Lanes::F32, A, A);
    both(v, "vmovmskpd", "dx", Lanes::F64, A, A);
    // Broadcasts (the register-source forms are AVX2).
    add(v, {"vbroadcastss", "xm", 4, Lanes::F32, A});
    add(v, {"vbroadcastss", "ym", 4, Lanes::F32, A});
    add(v, {"vbroadcastss", "xx", 4, Lanes::F32, A2});
    add(v, {"vbroadcastss", "yx", 4, Lanes::F32, A2});
    add(v, {"vbroadcastsd", "ym", 8, Lanes::F64, A});
    add(v, {"vbroadcastsd", "yx", 8, Lanes::F64, A2});
    add(v, {"vbroadcastf128", "ym", 16, Lanes::F64, A});
    // 128-bit lanes and single elements.
    add(v, {"vinsertf128", "yyXi", 16, Lanes::F32, A});
    add(v, {"vextractf128", "Xyi", 16, Lanes::F32, A});
    add(v, {"vperm2f128", "yyYi", 32, Lanes::F64, A});
    add(v, {"vinsertps", "xxXi", 4, Lanes::F32, A});
    add(v, {"vextractps", "Dxi", 4, Lanes::F32, A});
    return v;
}

// ------------------------------------------------------------ FMA3

std::vector<Form> forms_fma() {
    std::vector<Form> v;
    for (const char* op : {"vfmadd", "vfmsub", "vfnmadd", "vfnmsub", "vfmaddsub", "vfmsubadd"})
        for (const char* order : {"132", "213", "231"})
            for (const char* type : {"ps", "pd", "ss", "sd"}) {
                const bool scalar = type[0] == 's';
                if (scalar && std::strlen(op) > 7) continue; // no scalar VFMADDSUB/VFMSUBADD
                const std::string name = std::string(op) + order + type;
                const char* n = name.c_str();
                const Lanes k = type[1] == 's' ? Lanes::F32 : Lanes::F64;
                if (scalar)
                    add(v, {n, "xxX", type[1] == 's' ? 4u : 8u, k, FMA});
                else
                    both(v, n, "xxX", k, FMA, FMA);
            }
    return v;
}

// ------------------------------------------------------------ the rest

namespace {

// An element-wise access (masked move, gather) placed so that some elements
// may lie beyond the end of the data buffer (unmapped on both sides): only
// the elements the mask selects may fault.
x86::Mem edge_mem(Gen& g, unsigned bytes) {
    if (g.rng.chance(20)) return g.mem(bytes, 1, kDataSize - bytes - 8, kDataSize + bytes);
    return vmem(g, bytes, Lanes::Bytes, false);
}

// A mask vector: each element's sign bit random (all set, none set, mixed).
void fill_mask(Gen& g, unsigned id, unsigned bits, unsigned es) {
    const unsigned r = unsigned(g.rng.below(10));
    for (unsigned j = 0; j < bits / 8 / es; j++) {
        const bool sel = r == 0 ? true : r == 1 ? false : g.rng.chance(50);
        uint8_t* e = j * es < 16 ? g.c.init.xmm[id] + j * es : g.c.init.ymm_high[id] + j * es - 16;
        e[es - 1] = uint8_t((e[es - 1] & 0x7f) | (sel ? 0x80 : 0));
    }
}

} // namespace

std::vector<Form> forms_avx_other() {
    std::vector<Form> v;
    // F16C: both directions, every rounding immediate (bit 2: MXCSR.RC).
    add(v, {"vcvtph2ps", "xX", 8, Lanes::I16, F16});
    add(v, {"vcvtph2ps", "yX", 16, Lanes::I16, F16});
    add(v, {"vcvtps2ph", "Xxi", 8, Lanes::F32, F16, false, imm_round});
    add(v, {"vcvtps2ph", "Xyi", 16, Lanes::F32, F16, false, imm_round});
    // VEX.128 AES-NI and PCLMULQDQ.
    for (const char* n : {"vaesenc", "vaesenclast", "vaesdec", "vaesdeclast"})
        add(v, {n, "xxX", 16, Lanes::Bytes, A | feat::kAes});
    add(v, {"vaesimc", "xX", 16, Lanes::Bytes, A | feat::kAes});
    add(v, {"vaeskeygenassist", "xXi", 16, Lanes::Bytes, A | feat::kAes});
    add(v, {"vpclmulqdq", "xxXi", 16, Lanes::I64, A | feat::kPclmul});

    // Masked loads and stores: only the selected elements are accessed.
    struct Mask {
        const char* n;
        unsigned es, f;
    };
    for (const Mask& m : {Mask{"vmaskmovps", 4, A}, Mask{"vmaskmovpd", 8, A}, Mask{"vpmaskmovd", 4, A2},
                          Mask{"vpmaskmovq", 8, A2}}) {
        const InstId id = inst_id(m.n);
        for (unsigned bits : {128u, 256u})
            for (bool store : {false, true}) {
                const std::string w = bits == 128 ? "xmm" : "ymm";
                const std::string mn = "m" + std::to_string(bits);
                v.push_back({std::string(m.n) +
                                 (store ? " " + mn + ", " + w + ", " + w : " " + w + ", " + w + ", " + mn),
                             [=](Gen& g) {
                                 avx_prelude(g);
                                 const x86::Vec r = vec(g, bits, Lanes::Bytes),
                                                k = vec(g, bits, Lanes::Bytes);
                                 fill_mask(g, k.id(), bits, m.es);
                                 x86::Mem mem = edge_mem(g, bits / 8);
                                 if (store)
                                     g.a.emit(id, mem, k, r);
                                 else
                                     g.a.emit(id, r, k, mem);
                             },
                             m.f});
            }
    }
    v.push_back({"vmaskmovdqu xmm, xmm ([rdi])",
                 [](Gen& g) {
                     avx_prelude(g);
                     const x86::Vec r = vec(g, 128, Lanes::Bytes), k = vec(g, 128, Lanes::Bytes);
                     const uint64_t off = 0x400 + g.rng.below(0x4000);
                     g.fixed(7, 64, kDataAddr + off);
                     g.a.vmaskmovdqu(r.as<x86::Xmm>(), k.as<x86::Xmm>());
                 },
                 A});

    // Gathers: VSIB addressing, index vector of dwords or qwords, elements
    // fetched in order while the mask's sign bits say so.
    struct Gather {
        const char* n;
        bool qword_index, qword_elem;
    };
    for (const Gather& ga : {Gather{"vgatherdps", false, false}, Gather{"vgatherdpd", false, true},
                             Gather{"vgatherqps", true, false}, Gather{"vgatherqpd", true, true},
                             Gather{"vpgatherdd", false, false}, Gather{"vpgatherdq", false, true},
                             Gather{"vpgatherqd", true, false}, Gather{"vpgatherqq", true, true}}) {
        const InstId id = inst_id(ga.n);
        for (unsigned bits : {128u, 256u}) {
            // Register widths: destination/mask and index.
            unsigned dbits, ibits;
            if (ga.qword_index == ga.qword_elem)
                dbits = ibits = bits;
            else if (ga.qword_index)
                dbits = 128, ibits = bits; // qword index, dword elements: half as many
            else
                dbits = bits, ibits = 128; // dword index, qword elements
            const unsigned es = ga.qword_elem ? 8 : 4, is = ga.qword_index ? 8 : 4;
            const std::string name = std::string(ga.n) + (dbits == 128 ? " xmm, " : " ymm, ") +
                                     (ibits == 128 ? "[r64+xmm*s]" : "[r64+ymm*s]") +
                                     (dbits == 128 ? ", xmm" : ", ymm");
            v.push_back({name,
                         [=](Gen& g) {
                             avx_prelude(g);
                             const x86::Vec d = vec(g, dbits, Lanes::Bytes);
                             const x86::Vec k = vec(g, dbits, Lanes::Bytes);
                             const x86::Vec x = vec(g, ibits, Lanes::Bytes);
                             fill_mask(g, k.id(), dbits, es);
                             const unsigned shift = unsigned(g.rng.below(4));
                             const int base = [&] {
                                 for (;;) {
                                     const int r = int(g.rng.below(16));
                                     if (r != 4 && !(g.used & (1u << r))) return r;
                                 }
                             }();
                             g.used |= 1u << base;
                             const int32_t disp = int32_t(g.rng.below(64)) - 32;
                             g.c.init.gpr[base] = kDataAddr + 0x2000;
                             // Index elements: within ±0x1000 bytes of the base, now
                             // and then one far outside the buffer (#PF).
                             const unsigned count = ibits / 8 / is;
                             for (unsigned j = 0; j < count; j++) {
                                 int64_t ix = (int64_t(g.rng.below(0x2000)) - 0x1000) >> shift;
                                 if (g.rng.chance(3)) ix = int64_t(0x100000) >> shift;
                                 uint8_t* e = j * is < 16 ? g.c.init.xmm[x.id()] + j * is
                                                          : g.c.init.ymm_high[x.id()] + j * is - 16;
                                 std::memcpy(e, &ix, is);
                             }
                             x86::Mem m = x86::ptr(x86::gpq(uint32_t(base)), x, shift, disp);
                             g.a.emit(id, d, m, k);
                         },
                         A2});
        }
    }

    // MXCSR: VLDMXCSR with valid values and now and then a reserved bit
    // (#GP), VSTMXCSR. Bits the host defines beyond the SDM's 15:0 (AMD's
    // MXCSR.MM, bit 17) are left out: Hayate's MXCSR_MASK is the SDM's.
    v.push_back({"vldmxcsr m32",
                 [](Gen& g) {
                     avx_prelude(g);
                     uint32_t m = uint32_t(g.rng.below(0x10000));
                     if (g.rng.chance(10)) m |= ~host_mxcsr_mask() & (1u << (16 + g.rng.below(16)));
                     g.a.vldmxcsr(g.mem_val(4, m));
                 },
                 A});
    v.push_back({"vstmxcsr m32",
                 [](Gen& g) {
                     avx_prelude(g);
                     g.a.vstmxcsr(g.mem(4));
                 },
                 A});
    // VZEROUPPER/VZEROALL, alone and followed by a VEX and a legacy SSE
    // instruction (the upper halves after them).
    for (bool all : {false, true})
        for (bool then : {false, true})
            v.push_back({std::string(all ? "vzeroall" : "vzeroupper") + (then ? "; vaddps ymm; addps" : ""),
                         [all, then](Gen& g) {
                             avx_prelude(g);
                             if (all)
                                 g.a.vzeroall();
                             else
                                 g.a.vzeroupper();
                             if (then) {
                                 const x86::Vec a = vec(g, 256, Lanes::F32), b = vec(g, 256, Lanes::F32);
                                 g.a.vaddps(a.as<x86::Ymm>(), b.as<x86::Ymm>(), a.as<x86::Ymm>());
                                 g.a.addps(vec(g, 128, Lanes::F32).as<x86::Xmm>(), a.as<x86::Ymm>().xmm());
                             }
                         },
                         A});
    return v;
}

// Short sequences mixing 256-bit and VEX.128 writes, legacy SSE (keeps the
// upper halves), VZEROUPPER, helpers (masked load, VLDMXCSR: C++ code
// between generated instructions) and a taken branch (a second block): the
// upper halves must survive every transition of the translator's dirty mark.
std::vector<Form> forms_avx_sequence() {
    std::vector<Form> v;
    for (int variant = 0; variant < 4; variant++)
        v.push_back({"sequence " + std::to_string(variant),
                     [](Gen& g) {
                         avx_prelude(g);
                         g.c.init.mxcsr |= 0x1f80; // no #XM here: the sequence is about the state
                         const unsigned steps = 3 + unsigned(g.rng.below(5));
                         for (unsigned i = 0; i < steps; i++) {
                             const x86::Ymm a = x86::ymm(uint32_t(g.rng.below(16)));
                             const x86::Ymm b = x86::ymm(uint32_t(g.rng.below(16)));
                             const x86::Ymm c = x86::ymm(uint32_t(g.rng.below(16)));
                             switch (g.rng.below(10)) {
                             case 0: g.a.vpaddd(a, b, c); break;
                             case 1: g.a.vxorps(a.xmm(), b.xmm(), c.xmm()); break;
                             case 2: g.a.paddq(a.xmm(), b.xmm()); break;
                             case 3: g.a.vzeroupper(); break;
                             case 4: g.a.vperm2f128(a, b, c, Imm(g.rng.below(256))); break;
                             case 5: {
                                 fill_mask(g, b.id(), 256, 4);
                                 g.a.vmaskmovps(a, b, vmem(g, 32, Lanes::Bytes, false));
                                 break;
                             }
                             case 6: {
                                 g.a.vldmxcsr(g.mem_val(4, 0x1f80 | (g.rng.below(4) << 13)));
                                 break;
                             }
                             case 7: {
                                 const Label next = g.a.newLabel();
                                 g.a.jmp(next);
                                 g.a.int3();
                                 g.a.bind(next);
                                 break;
                             }
                             case 8: g.a.vinsertf128(a, b, c.xmm(), Imm(1)); break;
                             default: g.a.vmulpd(a, b, c); break;
                             }
                         }
                     },
                     A2});
    return v;
}

std::vector<std::string> avx_mnemonics_without_form() {
    std::vector<std::string> missing;
#ifdef DIFFTEST_HAVE_GUEST
    // The translator's table: a table with every entry cleared, then the AVX
    // registration alone.
    static hayate::EmitTable table;
    for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++) table.set(ZydisMnemonic(m), nullptr);
    hayate::register_avx(table);
    std::set<std::string> covered;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    for (auto make :
         {forms_avx_fp, forms_avx_int, forms_avx_move, forms_fma, forms_avx_other, forms_avx_sequence})
        for (const Form& form : make()) {
            Rng rng(1);
            Case c;
            std::string error;
            if (!make_case(form, rng, c, error)) continue;
            ZydisDecodedInstruction insn;
            size_t off = 0;
            while (off < c.code.size() &&
                   ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, nullptr, c.code.data() + off,
                                                              c.code.size() - off, &insn))) {
                covered.insert(ZydisMnemonicGetString(insn.mnemonic));
                off += insn.length;
            }
        }
    for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++)
        if (table[ZydisMnemonic(m)].fn && !covered.count(ZydisMnemonicGetString(ZydisMnemonic(m))))
            missing.push_back(ZydisMnemonicGetString(ZydisMnemonic(m)));
#endif
    return missing;
}

} // namespace difftest
