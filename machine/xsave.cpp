#include "machine/xsave.h"
#include "machine/system.h"
#include "machine/x87.h"
#include <cpuid.h>

namespace hayate {

namespace {

constexpr uint32_t bit(unsigned n) { return 1u << n; }

struct HostAvx {
    bool avx = false, avx2 = false, fma = false, f16c = false, xsave = false;
    HostAvx() {
        // __builtin_cpu_supports also checks that the host OS enabled the YMM state.
        __builtin_cpu_init();
        avx = __builtin_cpu_supports("avx");
        avx2 = avx && __builtin_cpu_supports("avx2");
        fma = avx && __builtin_cpu_supports("fma");
        uint32_t a, b, c, d;
        __cpuid_count(1, 0, a, b, c, d);
        f16c = avx && (c & bit(29));
        xsave = c & bit(26);
    }
};

const HostAvx& host() {
    static const HostAvx h;
    return h;
}

} // namespace

// Set once frontend/emit_avx.cpp translates the VEX instructions.
constexpr bool kVexImplemented = true;

bool cpu_has_avx(AvxExt ext) {
    if (!kVexImplemented) return false;
    const HostAvx& h = host();
    switch (ext) {
    case AvxExt::Avx: return h.avx;
    case AvxExt::Avx2: return h.avx2;
    case AvxExt::Fma: return h.fma;
    case AvxExt::F16c: return h.f16c;
    }
    return false;
}

// x87 and SSE state always (XSAVE is emulated in C++); AVX state where the
// host can run AVX.
uint64_t xcr0_supported_bits() {
    return xstate::kX87 | xstate::kSse | (cpu_has_avx(AvxExt::Avx) ? xstate::kAvx : 0);
}

uint32_t cpuid_leaf1_ecx_xsave(const CpuState& s) {
    uint32_t c = bit(26); // XSAVE
    if (s.cr4 & cr4::OSXSAVE) c |= bit(27);
    if (cpu_has_avx(AvxExt::Avx)) c |= bit(28);
    if (cpu_has_avx(AvxExt::Fma)) c |= bit(12);
    if (cpu_has_avx(AvxExt::F16c)) c |= bit(29);
    return c;
}

uint32_t cpuid_leaf7_ebx_avx() { return cpu_has_avx(AvxExt::Avx2) ? bit(5) : 0; }

unsigned xsave_standard_size(uint64_t bits) {
    return (bits & xstate::kAvx) ? xstate::kAvxOffset + xstate::kAvxSize : xstate::kExtendedStart;
}

void cpuid_leaf_0d(const CpuState& s, uint32_t subleaf, uint32_t out[4]) {
    const uint64_t supported = xcr0_supported_bits();
    switch (subleaf) {
    case 0:
        out[0] = uint32_t(supported);
        out[1] = xsave_standard_size(s.xcr0);    // for the components XCR0 enables
        out[2] = xsave_standard_size(supported); // for every supported component
        out[3] = uint32_t(supported >> 32);
        break;
    case 1:
        // XSAVEOPT, XSAVEC, XGETBV with ECX = 1; no XSAVES (IA32_XSS is not implemented).
        out[0] = bit(0) | bit(1) | bit(2);
        // Compacted size for XCR0 | IA32_XSS (no supervisor components: XCR0's).
        out[1] = xsave_standard_size(s.xcr0);
        break;
    case 2:
        if (supported & xstate::kAvx) {
            out[0] = xstate::kAvxSize;
            out[1] = xstate::kAvxOffset;
        }
        break;
    default: break; // components 0 and 1 are in the legacy region; others are not supported
    }
}

uint64_t xstate_in_use(const CpuState& s) {
    uint64_t in_use = 0;
    // x87: FCW 037FH, FSW 0, all registers empty, pointers and opcode 0, registers 0.
    bool x87_init = x87::fcw(s) == x87::kFcwInit && x87::fsw(s) == 0 && x87::ftw(s) == 0xffff &&
                    s.x87_fip == 0 && s.x87_fdp == 0 && s.x87_fcs == 0 && s.x87_fds == 0 && s.x87_fop == 0;
    for (unsigned i = 0; i < 80 && x87_init; i++)
        if (s.x87_image[x87::kImageRegs + i]) x87_init = false;
    if (!x87_init) in_use |= xstate::kX87;
    // SSE: XMM registers 0 and MXCSR 1F80H (the compacted XRSTOR initialises
    // MXCSR with the component, so a non-default MXCSR keeps it in use).
    bool sse_init = s.mxcsr == 0x1f80;
    for (unsigned i = 0; i < sizeof s.xmm && sse_init; i++)
        if ((&s.xmm[0][0])[i]) sse_init = false;
    if (!sse_init) in_use |= xstate::kSse;
    if (s.ymm_dirty)
        for (unsigned i = 0; i < sizeof s.ymm_high; i++)
            if ((&s.ymm_high[0][0])[i]) {
                in_use |= xstate::kAvx;
                break;
            }
    return in_use;
}

} // namespace hayate
