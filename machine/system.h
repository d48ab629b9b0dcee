// System registers of the CPU: control registers, MSRs, CPUID, TSC.
#pragma once
#include "machine/vcpu.h"
#include <cstdint>

namespace hayate {

// MOV to CRn with the SDM's checks; raises #GP(0) and returns false when invalid.
bool write_control_register(Vcpu& cpu, int cr, uint64_t value);
uint64_t read_control_register(const Vcpu& cpu, int cr);
// RDMSR/WRMSR; unknown MSRs and invalid values raise #GP(0) and return false.
bool read_msr(Vcpu& cpu, uint32_t index, uint64_t& value);
bool write_msr(Vcpu& cpu, uint32_t index, uint64_t value);
// CPUID: one coherent model of what is implemented.
void cpuid(const Vcpu& cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
// The guest's time-stamp counter (invariant, from the host's).
uint64_t read_tsc(const Vcpu& cpu);

} // namespace hayate
