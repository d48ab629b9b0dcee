// Emitters: the VEX-encoded SIMD instructions of AVX, AVX2, FMA3 and F16C.
//
// Guest XMM/YMM0-15 are the host's while generated code runs, with the upper
// halves of the YMM registers in the host registers while CpuState.ymm_dirty
// is set (jit/trampoline.cpp moves them to CpuState.ymm_high around C++ code;
// while it is clear they are all zero, on the host too). The guest MXCSR is
// the host's. So nearly every instruction runs as the same host instruction
// with its operands lowered, as in emit_sse.cpp; legacy SSE instructions
// keep the upper halves (the host's do), VEX.128 ones zero them (the host's
// do). What this file adds, driven by one table:
//   - availability (SDM vol. 2, 2.4 and the exception-class tables): #UD in
//     real and virtual-8086 mode, with CR4.OSXSAVE clear or XCR0 lacking SSE
//     or AVX state (translation-mode bit kAvxOk), then #NM with CR0.TS;
//     instructions of an extension the host lacks are not there (#UD, logged);
//   - the alignment rule of VMOVAPS & co (exception class 1: #GP(0) unless
//     aligned to the operand size); other VEX memory operands have none;
//   - marking the upper halves dirty when an instruction writes a YMM register;
//   - host trap sites for the instructions that raise SIMD floating-point
//     exceptions (classes 2, 3 and 11), so an unmasked one is #XM (or #UD
//     without CR4.OSXMMEXCPT) at this instruction;
//   - the instructions that cannot run as they are: VZEROUPPER/VZEROALL (they
//     clean the dirty mark), VLDMXCSR (reserved bits), VMASKMOVDQU (implicit
//     [RDI] store), VMASKMOV/VPMASKMOV (only the selected elements may fault:
//     a helper) and the AVX2 gathers (element-wise with a mask: a helper).
// The VEX.128 forms of AES-NI and PCLMULQDQ need those extensions besides
// AVX (their VEX.256 forms are VAES/VPCLMULQDQ, not implemented: #UD, logged).
#include "frontend/emit_sse.h"
#include "frontend/emit_table.h"
#include "frontend/helpers.h"
#include "machine/system.h"
#include "machine/vcpu.h"
#include "machine/xsave.h"
#include <array>
#include <cstring>

namespace hayate {

namespace {

using namespace asmjit;

// ------------------------------------------------------------ the table

enum Flag : uint8_t {
    kListed = 1,
    kAligned = 2, // a memory operand must be aligned to its size (#GP(0))
    kSimdFp = 4,  // may raise SIMD floating-point exceptions: host trap site
};

enum class Kind : uint8_t {
    Native,     // the same host instruction
    Vzero,      // VZEROUPPER, VZEROALL
    Ldmxcsr,    // VLDMXCSR: reserved-bit check, then the guest MXCSR is reloaded
    Maskmovdqu, // byte-masked store to the implicit DS:[rDI]
    MaskMove,   // VMASKMOVPS/PD, VPMASKMOVD/Q
    Gather,     // VGATHER*, VPGATHER*
};

struct Form {
    ZydisMnemonic m;
    uint8_t flags;
    Kind kind;
};

constexpr uint8_t N = 0;

#define F(name, flags, kind)                                                                                 \
    Form { ZYDIS_MNEMONIC_##name, uint8_t(kListed | (flags)), Kind::kind }
// Every VEX mnemonic of AVX, AVX2, FMA and F16C; the flags follow the SDM's
// exception class of each (Zydis reports the same).
constexpr Form kForms[] = {
    F(VADDPD, kSimdFp, Native),
    F(VADDPS, kSimdFp, Native),
    F(VADDSD, kSimdFp, Native),
    F(VADDSS, kSimdFp, Native),
    F(VADDSUBPD, kSimdFp, Native),
    F(VADDSUBPS, kSimdFp, Native),
    F(VANDNPD, N, Native),
    F(VANDNPS, N, Native),
    F(VANDPD, N, Native),
    F(VANDPS, N, Native),
    F(VBLENDPD, N, Native),
    F(VBLENDPS, N, Native),
    F(VBLENDVPD, N, Native),
    F(VBLENDVPS, N, Native),
    F(VBROADCASTF128, N, Native),
    F(VBROADCASTI128, N, Native),
    F(VBROADCASTSD, N, Native),
    F(VBROADCASTSS, N, Native),
    F(VCMPPD, kSimdFp, Native),
    F(VCMPPS, kSimdFp, Native),
    F(VCMPSD, kSimdFp, Native),
    F(VCMPSS, kSimdFp, Native),
    F(VCOMISD, kSimdFp, Native),
    F(VCOMISS, kSimdFp, Native),
    F(VCVTDQ2PD, N, Native),
    F(VCVTDQ2PS, kSimdFp, Native),
    F(VCVTPD2DQ, kSimdFp, Native),
    F(VCVTPD2PS, kSimdFp, Native),
    F(VCVTPH2PS, kSimdFp, Native),
    F(VCVTPS2DQ, kSimdFp, Native),
    F(VCVTPS2PD, kSimdFp, Native),
    F(VCVTPS2PH, kSimdFp, Native),
    F(VCVTSD2SI, kSimdFp, Native),
    F(VCVTSD2SS, kSimdFp, Native),
    F(VCVTSI2SD, kSimdFp, Native),
    F(VCVTSI2SS, kSimdFp, Native),
    F(VCVTSS2SD, kSimdFp, Native),
    F(VCVTSS2SI, kSimdFp, Native),
    F(VCVTTPD2DQ, kSimdFp, Native),
    F(VCVTTPS2DQ, kSimdFp, Native),
    F(VCVTTSD2SI, kSimdFp, Native),
    F(VCVTTSS2SI, kSimdFp, Native),
    F(VDIVPD, kSimdFp, Native),
    F(VDIVPS, kSimdFp, Native),
    F(VDIVSD, kSimdFp, Native),
    F(VDIVSS, kSimdFp, Native),
    F(VDPPD, kSimdFp, Native),
    F(VDPPS, kSimdFp, Native),
    F(VEXTRACTF128, N, Native),
    F(VEXTRACTI128, N, Native),
    F(VEXTRACTPS, N, Native),
    F(VFMADD132PD, kSimdFp, Native),
    F(VFMADD132PS, kSimdFp, Native),
    F(VFMADD132SD, kSimdFp, Native),
    F(VFMADD132SS, kSimdFp, Native),
    F(VFMADD213PD, kSimdFp, Native),
    F(VFMADD213PS, kSimdFp, Native),
    F(VFMADD213SD, kSimdFp, Native),
    F(VFMADD213SS, kSimdFp, Native),
    F(VFMADD231PD, kSimdFp, Native),
    F(VFMADD231PS, kSimdFp, Native),
    F(VFMADD231SD, kSimdFp, Native),
    F(VFMADD231SS, kSimdFp, Native),
    F(VFMADDSUB132PD, kSimdFp, Native),
    F(VFMADDSUB132PS, kSimdFp, Native),
    F(VFMADDSUB213PD, kSimdFp, Native),
    F(VFMADDSUB213PS, kSimdFp, Native),
    F(VFMADDSUB231PD, kSimdFp, Native),
    F(VFMADDSUB231PS, kSimdFp, Native),
    F(VFMSUB132PD, kSimdFp, Native),
    F(VFMSUB132PS, kSimdFp, Native),
    F(VFMSUB132SD, kSimdFp, Native),
    F(VFMSUB132SS, kSimdFp, Native),
    F(VFMSUB213PD, kSimdFp, Native),
    F(VFMSUB213PS, kSimdFp, Native),
    F(VFMSUB213SD, kSimdFp, Native),
    F(VFMSUB213SS, kSimdFp, Native),
    F(VFMSUB231PD, kSimdFp, Native),
    F(VFMSUB231PS, kSimdFp, Native),
    F(VFMSUB231SD, kSimdFp, Native),
    F(VFMSUB231SS, kSimdFp, Native),
    F(VFMSUBADD132PD, kSimdFp, Native),
    F(VFMSUBADD132PS, kSimdFp, Native),
    F(VFMSUBADD213PD, kSimdFp, Native),
    F(VFMSUBADD213PS, kSimdFp, Native),
    F(VFMSUBADD231PD, kSimdFp, Native),
    F(VFMSUBADD231PS, kSimdFp, Native),
    F(VFNMADD132PD, kSimdFp, Native),
    F(VFNMADD132PS, kSimdFp, Native),
    F(VFNMADD132SD, kSimdFp, Native),
    F(VFNMADD132SS, kSimdFp, Native),
    F(VFNMADD213PD, kSimdFp, Native),
    F(VFNMADD213PS, kSimdFp, Native),
    F(VFNMADD213SD, kSimdFp, Native),
    F(VFNMADD213SS, kSimdFp, Native),
    F(VFNMADD231PD, kSimdFp, Native),
    F(VFNMADD231PS, kSimdFp, Native),
    F(VFNMADD231SD, kSimdFp, Native),
    F(VFNMADD231SS, kSimdFp, Native),
    F(VFNMSUB132PD, kSimdFp, Native),
    F(VFNMSUB132PS, kSimdFp, Native),
    F(VFNMSUB132SD, kSimdFp, Native),
    F(VFNMSUB132SS, kSimdFp, Native),
    F(VFNMSUB213PD, kSimdFp, Native),
    F(VFNMSUB213PS, kSimdFp, Native),
    F(VFNMSUB213SD, kSimdFp, Native),
    F(VFNMSUB213SS, kSimdFp, Native),
    F(VFNMSUB231PD, kSimdFp, Native),
    F(VFNMSUB231PS, kSimdFp, Native),
    F(VFNMSUB231SD, kSimdFp, Native),
    F(VFNMSUB231SS, kSimdFp, Native),
    F(VGATHERDPD, N, Gather),
    F(VGATHERDPS, N, Gather),
    F(VGATHERQPD, N, Gather),
    F(VGATHERQPS, N, Gather),
    F(VHADDPD, kSimdFp, Native),
    F(VHADDPS, kSimdFp, Native),
    F(VHSUBPD, kSimdFp, Native),
    F(VHSUBPS, kSimdFp, Native),
    F(VINSERTF128, N, Native),
    F(VINSERTI128, N, Native),
    F(VINSERTPS, N, Native),
    F(VLDDQU, N, Native),
    F(VLDMXCSR, N, Ldmxcsr),
    F(VMASKMOVDQU, N, Maskmovdqu),
    F(VMASKMOVPD, N, MaskMove),
    F(VMASKMOVPS, N, MaskMove),
    F(VMAXPD, kSimdFp, Native),
    F(VMAXPS, kSimdFp, Native),
    F(VMAXSD, kSimdFp, Native),
    F(VMAXSS, kSimdFp, Native),
    F(VMINPD, kSimdFp, Native),
    F(VMINPS, kSimdFp, Native),
    F(VMINSD, kSimdFp, Native),
    F(VMINSS, kSimdFp, Native),
    F(VMOVAPD, kAligned, Native),
    F(VMOVAPS, kAligned, Native),
    F(VMOVD, N, Native),
    F(VMOVDDUP, N, Native),
    F(VMOVDQA, kAligned, Native),
    F(VMOVDQU, N, Native),
    F(VMOVHLPS, N, Native),
    F(VMOVHPD, N, Native),
    F(VMOVHPS, N, Native),
    F(VMOVLHPS, N, Native),
    F(VMOVLPD, N, Native),
    F(VMOVLPS, N, Native),
    F(VMOVMSKPD, N, Native),
    F(VMOVMSKPS, N, Native),
    F(VMOVNTDQ, kAligned, Native),
    F(VMOVNTDQA, kAligned, Native),
    F(VMOVNTPD, kAligned, Native),
    F(VMOVNTPS, kAligned, Native),
    F(VMOVQ, N, Native),
    F(VMOVSD, N, Native),
    F(VMOVSHDUP, N, Native),
    F(VMOVSLDUP, N, Native),
    F(VMOVSS, N, Native),
    F(VMOVUPD, N, Native),
    F(VMOVUPS, N, Native),
    F(VMPSADBW, N, Native),
    F(VMULPD, kSimdFp, Native),
    F(VMULPS, kSimdFp, Native),
    F(VMULSD, kSimdFp, Native),
    F(VMULSS, kSimdFp, Native),
    F(VORPD, N, Native),
    F(VORPS, N, Native),
    F(VPABSB, N, Native),
    F(VPABSD, N, Native),
    F(VPABSW, N, Native),
    F(VPACKSSDW, N, Native),
    F(VPACKSSWB, N, Native),
    F(VPACKUSDW, N, Native),
    F(VPACKUSWB, N, Native),
    F(VPADDB, N, Native),
    F(VPADDD, N, Native),
    F(VPADDQ, N, Native),
    F(VPADDSB, N, Native),
    F(VPADDSW, N, Native),
    F(VPADDUSB, N, Native),
    F(VPADDUSW, N, Native),
    F(VPADDW, N, Native),
    F(VPALIGNR, N, Native),
    F(VPAND, N, Native),
    F(VPANDN, N, Native),
    F(VPAVGB, N, Native),
    F(VPAVGW, N, Native),
    F(VPBLENDD, N, Native),
    F(VPBLENDVB, N, Native),
    F(VPBLENDW, N, Native),
    F(VPBROADCASTB, N, Native),
    F(VPBROADCASTD, N, Native),
    F(VPBROADCASTQ, N, Native),
    F(VPBROADCASTW, N, Native),
    F(VPCMPEQB, N, Native),
    F(VPCMPEQD, N, Native),
    F(VPCMPEQQ, N, Native),
    F(VPCMPEQW, N, Native),
    F(VPCMPESTRI, N, Native),
    F(VPCMPESTRM, N, Native),
    F(VPCMPGTB, N, Native),
    F(VPCMPGTD, N, Native),
    F(VPCMPGTQ, N, Native),
    F(VPCMPGTW, N, Native),
    F(VPCMPISTRI, N, Native),
    F(VPCMPISTRM, N, Native),
    F(VPERM2F128, N, Native),
    F(VPERM2I128, N, Native),
    F(VPERMD, N, Native),
    F(VPERMILPD, N, Native),
    F(VPERMILPS, N, Native),
    F(VPERMPD, N, Native),
    F(VPERMPS, N, Native),
    F(VPERMQ, N, Native),
    F(VPEXTRB, N, Native),
    F(VPEXTRD, N, Native),
    F(VPEXTRQ, N, Native),
    F(VPEXTRW, N, Native),
    F(VPGATHERDD, N, Gather),
    F(VPGATHERDQ, N, Gather),
    F(VPGATHERQD, N, Gather),
    F(VPGATHERQQ, N, Gather),
    F(VPHADDD, N, Native),
    F(VPHADDSW, N, Native),
    F(VPHADDW, N, Native),
    F(VPHMINPOSUW, N, Native),
    F(VPHSUBD, N, Native),
    F(VPHSUBSW, N, Native),
    F(VPHSUBW, N, Native),
    F(VPINSRB, N, Native),
    F(VPINSRD, N, Native),
    F(VPINSRQ, N, Native),
    F(VPINSRW, N, Native),
    F(VPMADDUBSW, N, Native),
    F(VPMADDWD, N, Native),
    F(VPMASKMOVD, N, MaskMove),
    F(VPMASKMOVQ, N, MaskMove),
    F(VPMAXSB, N, Native),
    F(VPMAXSD, N, Native),
    F(VPMAXSW, N, Native),
    F(VPMAXUB, N, Native),
    F(VPMAXUD, N, Native),
    F(VPMAXUW, N, Native),
    F(VPMINSB, N, Native),
    F(VPMINSD, N, Native),
    F(VPMINSW, N, Native),
    F(VPMINUB, N, Native),
    F(VPMINUD, N, Native),
    F(VPMINUW, N, Native),
    F(VPMOVMSKB, N, Native),
    F(VPMOVSXBD, N, Native),
    F(VPMOVSXBQ, N, Native),
    F(VPMOVSXBW, N, Native),
    F(VPMOVSXDQ, N, Native),
    F(VPMOVSXWD, N, Native),
    F(VPMOVSXWQ, N, Native),
    F(VPMOVZXBD, N, Native),
    F(VPMOVZXBQ, N, Native),
    F(VPMOVZXBW, N, Native),
    F(VPMOVZXDQ, N, Native),
    F(VPMOVZXWD, N, Native),
    F(VPMOVZXWQ, N, Native),
    F(VPMULDQ, N, Native),
    F(VPMULHRSW, N, Native),
    F(VPMULHUW, N, Native),
    F(VPMULHW, N, Native),
    F(VPMULLD, N, Native),
    F(VPMULLW, N, Native),
    F(VPMULUDQ, N, Native),
    F(VPOR, N, Native),
    F(VPSADBW, N, Native),
    F(VPSHUFB, N, Native),
    F(VPSHUFD, N, Native),
    F(VPSHUFHW, N, Native),
    F(VPSHUFLW, N, Native),
    F(VPSIGNB, N, Native),
    F(VPSIGND, N, Native),
    F(VPSIGNW, N, Native),
    F(VPSLLD, N, Native),
    F(VPSLLDQ, N, Native),
    F(VPSLLQ, N, Native),
    F(VPSLLVD, N, Native),
    F(VPSLLVQ, N, Native),
    F(VPSLLW, N, Native),
    F(VPSRAD, N, Native),
    F(VPSRAVD, N, Native),
    F(VPSRAW, N, Native),
    F(VPSRLD, N, Native),
    F(VPSRLDQ, N, Native),
    F(VPSRLQ, N, Native),
    F(VPSRLVD, N, Native),
    F(VPSRLVQ, N, Native),
    F(VPSRLW, N, Native),
    F(VPSUBB, N, Native),
    F(VPSUBD, N, Native),
    F(VPSUBQ, N, Native),
    F(VPSUBSB, N, Native),
    F(VPSUBSW, N, Native),
    F(VPSUBUSB, N, Native),
    F(VPSUBUSW, N, Native),
    F(VPSUBW, N, Native),
    F(VPTEST, N, Native),
    F(VPUNPCKHBW, N, Native),
    F(VPUNPCKHDQ, N, Native),
    F(VPUNPCKHQDQ, N, Native),
    F(VPUNPCKHWD, N, Native),
    F(VPUNPCKLBW, N, Native),
    F(VPUNPCKLDQ, N, Native),
    F(VPUNPCKLQDQ, N, Native),
    F(VPUNPCKLWD, N, Native),
    F(VPXOR, N, Native),
    F(VRCPPS, N, Native),
    F(VRCPSS, N, Native),
    F(VROUNDPD, kSimdFp, Native),
    F(VROUNDPS, kSimdFp, Native),
    F(VROUNDSD, kSimdFp, Native),
    F(VROUNDSS, kSimdFp, Native),
    F(VRSQRTPS, N, Native),
    F(VRSQRTSS, N, Native),
    F(VSHUFPD, N, Native),
    F(VSHUFPS, N, Native),
    F(VSQRTPD, kSimdFp, Native),
    F(VSQRTPS, kSimdFp, Native),
    F(VSQRTSD, kSimdFp, Native),
    F(VSQRTSS, kSimdFp, Native),
    F(VSTMXCSR, N, Native),
    F(VSUBPD, kSimdFp, Native),
    F(VSUBPS, kSimdFp, Native),
    F(VSUBSD, kSimdFp, Native),
    F(VSUBSS, kSimdFp, Native),
    F(VTESTPD, N, Native),
    F(VTESTPS, N, Native),
    F(VUCOMISD, kSimdFp, Native),
    F(VUCOMISS, kSimdFp, Native),
    F(VUNPCKHPD, N, Native),
    F(VUNPCKHPS, N, Native),
    F(VUNPCKLPD, N, Native),
    F(VUNPCKLPS, N, Native),
    F(VXORPD, N, Native),
    F(VXORPS, N, Native),
    F(VZEROALL, N, Vzero),
    F(VZEROUPPER, N, Vzero),
    F(VPCLMULQDQ, N, Native),
    F(VAESENC, N, Native),
    F(VAESENCLAST, N, Native),
    F(VAESDEC, N, Native),
    F(VAESDECLAST, N, Native),
    F(VAESIMC, N, Native),
    F(VAESKEYGENASSIST, N, Native),
};
#undef F

constexpr std::array<uint8_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> kFlagsOf = [] {
    std::array<uint8_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> f{};
    for (const Form& form : kForms) f[size_t(form.m)] = form.flags;
    return f;
}();

// ------------------------------------------------------------ vector registers in CpuState

// YMMn as the guest sees it while C++ code runs.
void get_vec(const CpuState& s, unsigned r, uint8_t out[32]) {
    std::memcpy(out, s.xmm[r], 16);
    if (s.ymm_dirty)
        std::memcpy(out + 16, s.ymm_high[r], 16);
    else
        std::memset(out + 16, 0, 16);
}

void set_vec(CpuState& s, unsigned r, const uint8_t in[32]) {
    std::memcpy(s.xmm[r], in, 16);
    if (!s.ymm_dirty) {
        bool any = false;
        for (unsigned i = 16; i < 32; i++) any |= in[i] != 0;
        if (!any) return;
        std::memset(s.ymm_high, 0, sizeof s.ymm_high);
        s.ymm_dirty = 1;
    }
    std::memcpy(s.ymm_high[r], in + 16, 16);
}

unsigned vec_index(ZydisRegister r) {
    return ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_YMM ? unsigned(r - ZYDIS_REGISTER_YMM0)
                                                          : unsigned(r - ZYDIS_REGISTER_XMM0);
}

// An element access of a helper: segment limit (outside 64-bit mode) and paging.
bool element_linear(CpuState& s, int seg, uint64_t offset, unsigned size, bool write, bool mode64,
                    uint64_t& linear) {
    if (mode64) {
        linear = offset + ((seg == FS || seg == GS) ? s.seg[seg].base : 0);
        return true;
    }
    offset = uint32_t(offset);
    const SegmentBounds& b = s.seg_bounds[seg];
    const uint64_t lo = write ? b.write_lo : b.read_lo, hi = write ? b.write_hi : b.read_hi;
    if (offset < lo || offset + size - 1 > hi) {
        vcpu_of(&s).raise(seg == SS ? 12 : 13, true, 0);
        return false;
    }
    linear = uint32_t(s.seg[seg].base + offset);
    return true;
}

bool mode64_of(const CpuState& s) { return (s.efer & efer::LMA) && s.seg[CS].is_long(); }

// ------------------------------------------------------------ helpers

// VMASKMOVPS/PD, VPMASKMOVD/Q: arg1 = register (bits 0-3), mask register
// (4-7), element size (8-15), vector bytes (16-23), store (24), segment
// (28-30); the offset (effective address) in `offset`. Only elements whose
// mask sign bit is set are accessed, so only they fault.
uint64_t helper_avx_maskmove(CpuState* s, uint64_t arg1, uint64_t offset) {
    Vcpu& cpu = vcpu_of(s);
    const unsigned reg = arg1 & 15, mask_reg = (arg1 >> 4) & 15, es = (arg1 >> 8) & 0xff,
                   bytes = (arg1 >> 16) & 0xff;
    const bool store = (arg1 >> 24) & 1, mode64 = mode64_of(*s);
    const int seg = int((arg1 >> 28) & 7);
    const bool user = s->cpl() == 3;
    uint8_t mask[32], data[32], out[32] = {};
    get_vec(*s, mask_reg, mask);
    get_vec(*s, reg, data);
    uint64_t linear[8];
    for (unsigned j = 0; j < bytes / es; j++) {
        if (!(mask[j * es + es - 1] & 0x80)) continue;
        uint64_t phys;
        if (!element_linear(*s, seg, offset + j * es, es, store, mode64, linear[j]) ||
            !cpu.translate(linear[j], store ? Vcpu::Access::Write : Vcpu::Access::Read, user, phys))
            return kHelperExitHere;
    }
    for (unsigned j = 0; j < bytes / es; j++) {
        if (!(mask[j * es + es - 1] & 0x80)) continue;
        const bool ok = store ? cpu.write_linear(linear[j], data + j * es, es, user)
                              : cpu.read_linear(linear[j], out + j * es, es, user);
        if (!ok) return kHelperExitHere;
    }
    if (!store) set_vec(*s, reg, out); // VEX.128 zeroes bits 255:128 as well
    if (store && cpu.current_block_invalidated) {
        cpu.current_block_invalidated = false;
        return kHelperExitNext;
    }
    return kHelperContinue;
}

// Gathers (SDM vol. 2, VGATHERDPS & co): elements in order, each with its
// mask element's sign bit set is loaded and its mask element cleared, so a
// fault leaves the state a restart continues from. arg1: the kept instruction.
uint64_t helper_avx_gather(CpuState* s, uint64_t arg1, uint64_t) {
    const Insn& in = *reinterpret_cast<const Insn*>(arg1);
    Vcpu& cpu = vcpu_of(s);
    const ZydisDecodedOperand& dst = in.ops[0];
    const ZydisDecodedOperand& mem = in.ops[1];
    const ZydisDecodedOperand& msk = in.ops[2];
    const ZydisMnemonic m = in.mnemonic();
    const bool qword_index = m == ZYDIS_MNEMONIC_VGATHERQPS || m == ZYDIS_MNEMONIC_VGATHERQPD ||
                             m == ZYDIS_MNEMONIC_VPGATHERQD || m == ZYDIS_MNEMONIC_VPGATHERQQ;
    const bool qword_elem = m == ZYDIS_MNEMONIC_VGATHERDPD || m == ZYDIS_MNEMONIC_VGATHERQPD ||
                            m == ZYDIS_MNEMONIC_VPGATHERDQ || m == ZYDIS_MNEMONIC_VPGATHERQQ;
    const unsigned es = qword_elem ? 8 : 4, is = qword_index ? 8 : 4;
    const unsigned vl = ZydisRegisterGetClass(mem.mem.index) == ZYDIS_REGCLASS_YMM ? 32 : 16; // index vector
    const unsigned n = std::min(vl / is, unsigned(dst.size / 8) / es);
    const unsigned d = vec_index(dst.reg.value), k = vec_index(msk.reg.value), x = vec_index(mem.mem.index);
    const bool mode64 = mode64_of(*s), user = s->cpl() == 3;
    const unsigned addr_bits = in.zi.address_width;
    uint64_t base = 0;
    if (mem.mem.base != ZYDIS_REGISTER_NONE) {
        GuestOperand g;
        if (!lower_gpr(mem.mem.base, g)) return helper_raise_exception(s, 6, 0);
        base = s->gpr[g.guest];
    }
    int seg = zydis_seg_index(mem.mem.segment);
    if (seg < 0) seg = DS;
    uint8_t dest[32], mask[32], index[32];
    get_vec(*s, d, dest);
    get_vec(*s, k, mask);
    get_vec(*s, x, index);
    for (unsigned j = 0; j < n; j++) {
        if (!(mask[j * es + es - 1] & 0x80)) {
            // Not selected: its mask element is cleared all the same (SDM
            // pseudocode: MASK[j] <- 0 for every element done), which a fault
            // at a later element shows.
            std::memset(mask + j * es, 0, es);
            set_vec(*s, k, mask);
            continue;
        }
        int64_t ix;
        if (is == 8) {
            std::memcpy(&ix, index + 8 * j, 8);
        } else {
            int32_t v;
            std::memcpy(&v, index + 4 * j, 4);
            ix = v;
        }
        uint64_t offset = base + uint64_t(ix) * mem.mem.scale + uint64_t(mem.mem.disp.value);
        if (addr_bits == 32)
            offset = uint32_t(offset);
        else if (addr_bits == 16)
            offset = uint16_t(offset);
        uint64_t linear;
        if (!element_linear(*s, seg, offset, es, false, mode64, linear)) return kHelperExitHere;
        if (!cpu.read_linear(linear, dest + j * es, es, user)) return kHelperExitHere;
        std::memset(mask + j * es, 0, es);
        set_vec(*s, d, dest); // the progress so far is architectural
        set_vec(*s, k, mask);
    }
    // Done: the whole mask register is zero; bits beyond the elements written are zeroed.
    std::memset(mask, 0, 32);
    std::memset(dest + n * es, 0, 32 - n * es);
    set_vec(*s, d, dest);
    set_vec(*s, k, mask);
    return kHelperContinue;
}

// ------------------------------------------------------------ common checks

bool is_vec(const ZydisDecodedOperand& o) {
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
    const ZydisRegisterClass c = ZydisRegisterGetClass(o.reg.value);
    return c == ZYDIS_REGCLASS_XMM || c == ZYDIS_REGCLASS_YMM;
}

bool host_has_ext(ZydisISAExt ext) {
    switch (ext) {
    case ZYDIS_ISA_EXT_AVX: return cpu_has_avx(AvxExt::Avx);
    case ZYDIS_ISA_EXT_AVX2:
    case ZYDIS_ISA_EXT_AVX2GATHER: return cpu_has_avx(AvxExt::Avx2);
    case ZYDIS_ISA_EXT_FMA: return cpu_has_avx(AvxExt::Fma);
    case ZYDIS_ISA_EXT_F16C: return cpu_has_avx(AvxExt::F16c);
    case ZYDIS_ISA_EXT_AVXAES: return cpu_has_avx(AvxExt::Avx) && cpu_has_simd(SimdExt::Aes);
    default: return false;
    }
}

enum class Gate { Emit, Raised, Refuse };

Gate gate(EmitContext& c) {
    const Insn& in = *c.insn;
    if (in.zi.encoding != ZYDIS_INSTRUCTION_ENCODING_VEX || !host_has_ext(in.zi.meta.isa_ext))
        return Gate::Refuse;
    if (in.mnemonic() == ZYDIS_MNEMONIC_VPCLMULQDQ && !cpu_has_simd(SimdExt::Pclmul)) return Gate::Refuse;
    uint8_t vector = 0;
    if (!(c.mode & mode::kProtected) || (c.mode & mode::kVm86) || !(c.mode & mode::kAvxOk))
        vector = 6;
    else if (c.mode & mode::kFpuTs)
        vector = 7;
    if (!vector) return Gate::Emit;
    c.raise_exception(vector);
    c.block_ended = true;
    return Gate::Raised;
}

// The instruction writes a YMM register: the upper halves may become non-zero.
void mark_ymm_dirty(EmitContext& c) {
    if (c.ymm_dirty_marked) return;
    c.a.mov(HAYATE_STATE(ymm_dirty), Imm(1));
    c.ymm_dirty_marked = true;
}

bool writes_ymm(const Insn& in) {
    for (unsigned i = 0; i < in.zi.operand_count; i++) {
        const ZydisDecodedOperand& o = in.ops[i];
        if (o.type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_YMM &&
            (o.actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE)))
            return true;
    }
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

// The native path: vector registers map to themselves, a GPR living in
// CpuState goes through T1 (VEX forms have at most one GPR operand), memory
// becomes [T0] after the TLB probe.
bool emit_lowered(EmitContext& c, InstId id, bool align) {
    const Insn& in = *c.insn;
    const unsigned n = in.visible_operands();
    Operand ops[ZYDIS_MAX_OPERAND_COUNT];
    int mem = -1;
    GuestOperand st;
    bool st_rd = false, st_wr = false;
    for (unsigned i = 0; i < n; i++) {
        const ZydisDecodedOperand& o = in.ops[i];
        switch (o.type) {
        case ZYDIS_OPERAND_TYPE_REGISTER: {
            const ZydisRegisterClass cls = ZydisRegisterGetClass(o.reg.value);
            if (cls == ZYDIS_REGCLASS_XMM) {
                ops[i] = x86::xmm(uint32_t(o.reg.value - ZYDIS_REGISTER_XMM0));
                break;
            }
            if (cls == ZYDIS_REGCLASS_YMM) {
                ops[i] = x86::ymm(uint32_t(o.reg.value - ZYDIS_REGISTER_YMM0));
                break;
            }
            GuestOperand r;
            if (!lower_gpr(o.reg.value, r) || r.high_byte) return false;
            if (!r.in_state) {
                ops[i] = sized(x86::gpq(uint32_t(jit::host_reg_of(r.guest))), r.size);
                break;
            }
            if (st.guest >= 0) return false;
            st = r;
            st_rd = o.actions & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD);
            st_wr = o.actions & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE);
            ops[i] = sized(kT1, r.size);
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
    if (writes_ymm(in)) mark_ymm_dirty(c);

    auto body = [&c, ops, n, mem, id, st, st_rd, st_wr](const x86::Mem& m) {
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
        if (st_wr) c.store_gpr(st.guest, kT1, st.size);
    };
    if (mem >= 0) {
        const uint8_t ma = in.ops[mem].actions;
        const bool mr = ma & (ZYDIS_OPERAND_ACTION_READ | ZYDIS_OPERAND_ACTION_CONDREAD);
        const bool mw = ma & (ZYDIS_OPERAND_ACTION_WRITE | ZYDIS_OPERAND_ACTION_CONDWRITE);
        const MemAccess acc = mw ? (mr ? MemAccess::ReadWrite : MemAccess::Write) : MemAccess::Read;
        c.access_memory(in.ops[mem], acc, body, align && in.ops[mem].size >= 128);
    } else {
        body(x86::Mem());
    }
    return true;
}

// ------------------------------------------------------------ emitters

bool emit_native_form(EmitContext& c) {
    const ZydisMnemonic m = c.insn->mnemonic();
    const InstId id = emit_table().host_inst(m);
    if (id == 0) return false;
    switch (gate(c)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    c.host_traps = kFlagsOf[m] & kSimdFp;
    const bool done = emit_lowered(c, id, kFlagsOf[m] & kAligned);
    c.host_traps = false;
    return done;
}

bool emit_vzero(EmitContext& c) {
    switch (gate(c)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    if (c.insn->mnemonic() == ZYDIS_MNEMONIC_VZEROALL)
        c.a.vzeroall();
    else
        c.a.vzeroupper();
    c.a.mov(HAYATE_STATE(ymm_dirty), Imm(0));
    c.ymm_dirty_marked = false;
    return true;
}

bool emit_ldmxcsr(EmitContext& c) {
    switch (gate(c)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    return emit_mxcsr_load(c);
}

bool emit_maskmovdqu(EmitContext& c) {
    switch (gate(c)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    if (!is_vec(in.ops[0]) || !is_vec(in.ops[1])) return false;
    const x86::Xmm src = x86::xmm(vec_index(in.ops[0].reg.value));
    const x86::Xmm mask = x86::xmm(vec_index(in.ops[1].reg.value));
    return emit_masked_store_through_rdi(
        c, 16, [&c, src, mask]() { c.a.vmaskmovdqu(src, mask, x86::ptr(x86::rdi)); });
}

bool emit_maskmove(EmitContext& c) {
    switch (gate(c)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    const bool store = in.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY;
    const ZydisDecodedOperand& mem = store ? in.ops[0] : in.ops[2];
    const ZydisDecodedOperand& reg = store ? in.ops[2] : in.ops[0];
    if (mem.type != ZYDIS_OPERAND_TYPE_MEMORY || !is_vec(reg) || !is_vec(in.ops[1])) return false;
    const ZydisMnemonic m = in.mnemonic();
    const unsigned es = (m == ZYDIS_MNEMONIC_VMASKMOVPD || m == ZYDIS_MNEMONIC_VPMASKMOVQ) ? 8 : 4;
    const int seg = zydis_seg_index(mem.mem.segment);
    const uint64_t arg = vec_index(reg.reg.value) | (vec_index(in.ops[1].reg.value) << 4) | (es << 8) |
                         (uint64_t(mem.size / 8) << 16) | (store ? 1u << 24 : 0u) |
                         (uint64_t((seg < 0 ? DS : seg) & 7) << 28);
    c.effective_address(mem, kT0);
    c.call_helper(&helper_avx_maskmove, arg, true);
    c.ymm_dirty_marked = false;
    return true;
}

bool emit_gather(EmitContext& c) {
    switch (gate(c)) {
    case Gate::Refuse: return false;
    case Gate::Raised: return true;
    case Gate::Emit: break;
    }
    const Insn& in = *c.insn;
    if (in.visible_operands() < 3 || !is_vec(in.ops[0]) || !is_vec(in.ops[2]) ||
        in.ops[1].type != ZYDIS_OPERAND_TYPE_MEMORY)
        return false;
    // #UD when destination, index and mask are not three different registers.
    const unsigned d = vec_index(in.ops[0].reg.value), k = vec_index(in.ops[2].reg.value),
                   x = vec_index(in.ops[1].mem.index);
    if (d == k || d == x || k == x) {
        c.raise_ud();
        c.block_ended = true;
        return true;
    }
    c.call_helper(&helper_avx_gather, uint64_t(uintptr_t(c.keep_insn())));
    c.ymm_dirty_marked = false;
    return true;
}

EmitFn emitter_of(Kind k) {
    switch (k) {
    case Kind::Native: return &emit_native_form;
    case Kind::Vzero: return &emit_vzero;
    case Kind::Ldmxcsr: return &emit_ldmxcsr;
    case Kind::Maskmovdqu: return &emit_maskmovdqu;
    case Kind::MaskMove: return &emit_maskmove;
    case Kind::Gather: return &emit_gather;
    }
    return nullptr;
}

} // namespace

void register_avx(EmitTable& t) {
    for (const Form& f : kForms) t.set(f.m, emitter_of(f.kind));
}

} // namespace hayate
