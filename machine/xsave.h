// The XSAVE feature set's model of the CPU: which state components XCR0 may
// enable, the CPUID bits and leaf 0DH that describe them, and the layout of
// the XSAVE area (SDM vol. 1, chapter 13). The instructions themselves are in
// frontend/emit_xsave.cpp; the AVX family in frontend/emit_avx.cpp.
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>

namespace hayate {

// State components (XCR0 bits) this CPU knows.
namespace xstate {
constexpr uint64_t kX87 = 1, kSse = 2, kAvx = 4;
// Legacy region (FXSAVE layout) and XSAVE header.
constexpr unsigned kLegacySize = 512, kHeaderSize = 64, kExtendedStart = kLegacySize + kHeaderSize;
// Standard-format offset and size of the AVX component (the upper halves of YMM0-15).
constexpr unsigned kAvxOffset = 576, kAvxSize = 256;
} // namespace xstate

// VEX-encoded extensions: each is implemented (frontend/emit_avx.cpp) and
// runs on the host's units, so it exists for the guest only where the host has it.
enum class AvxExt : uint8_t { Avx, Avx2, Fma, F16c };
bool cpu_has_avx(AvxExt ext);

// CPUID bits of the XSAVE family: leaf 1 ECX (XSAVE, OSXSAVE from CR4, AVX,
// FMA, F16C) and leaf 7 EBX (AVX2); leaf 0DH.
uint32_t cpuid_leaf1_ecx_xsave(const CpuState& s);
uint32_t cpuid_leaf7_ebx_avx();
void cpuid_leaf_0d(const CpuState& s, uint32_t subleaf, uint32_t out[4]);

// Size of the standard-format XSAVE area for the components in `bits`.
unsigned xsave_standard_size(uint64_t bits);

// XINUSE: bit i clear only when state component i is in its initial
// configuration (SDM vol. 1, 13.6). Computed from the state itself, which the
// SDM allows (a processor may report 1 for a component in its initial
// configuration, never 0 for one that is not).
uint64_t xstate_in_use(const CpuState& s);

} // namespace hayate
