// System registers of the CPU: control registers, MSRs, CPUID, TSC.
#pragma once
#include "machine/vcpu.h"
#include <cstdint>

namespace hayate {

// MOV to CRn with the SDM's checks; raises #GP(0) and returns false when invalid.
bool write_control_register(Vcpu& cpu, int cr, uint64_t value);
uint64_t read_control_register(const Vcpu& cpu, int cr);
// MOV to CR3: reserved bits, the PCID no-flush bit, PDPTE loading, TLB flush (machine/mmu.cpp).
bool write_cr3(Vcpu& cpu, uint64_t value);
// Commits new CR0/CR4/EFER values that passed their own checks, after the
// checks that involve paging (PCIDE, PAE PDPTEs); flushes what the change
// invalidates. Raises #GP(0) and returns false, changing nothing, when invalid.
bool commit_paging_controls(Vcpu& cpu, uint64_t cr0, uint64_t cr4, uint64_t efer);
// RDMSR/WRMSR; unknown MSRs and invalid values raise #GP(0) and return false.
bool read_msr(Vcpu& cpu, uint32_t index, uint64_t& value);
bool write_msr(Vcpu& cpu, uint32_t index, uint64_t value);
// CPUID: one coherent model of what is implemented.
void cpuid(const Vcpu& cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
// Decisions of the CPUID model that instructions and registers follow, so
// that what CPUID advertises and what works cannot drift apart.
constexpr unsigned kPhysAddrBits = 44;   // MAXPHYADDR (CPUID.80000008H:EAX[7:0])
constexpr unsigned kLinearAddrBits = 48; // no 5-level paging
uint32_t cpuid_signature();              // CPUID.1:EAX, also EDX after RESET
bool cpu_has_rdrand();                   // RDRAND/RDSEED run the host's: only where it has them
bool cpu_has_rdseed();
// SIMD extensions whose instructions run as the host's own: advertised in
// CPUID and executed only where the host has them (#UD otherwise).
enum class SimdExt : uint8_t { Mmx, Sse3, Ssse3, Sse41, Sse42, Aes, Pclmul };
bool cpu_has_simd(SimdExt ext);
uint64_t cr4_writable_bits();   // CR4 bits of advertised features; others are reserved
uint64_t xcr0_supported_bits(); // XCR0 state components (0: XSAVE not advertised)
// The guest's time-stamp counter (invariant, from the host's).
uint64_t read_tsc(const Vcpu& cpu);

} // namespace hayate
