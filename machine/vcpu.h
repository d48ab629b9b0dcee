// One virtual CPU: its architectural state and the system-architecture
// operations on it (segment loads, exceptions, MSRs, CPUID, paging walks).
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>
#include <string>

namespace hayate {

class Machine;
class TcgEngine;

// Thrown out of helpers is never done: helpers return status codes. This is
// what a guest exception looks like while it is being raised.
struct GuestException {
    uint8_t vector;
    bool has_error_code;
    uint32_t error_code;
};

class Vcpu {
  public:
    Vcpu(Machine& machine, int index);
    ~Vcpu();

    CpuState state; // must stay first: generated code gets &state
    Machine& machine;
    const int index;

    void reset(); // power-on/INIT state: real mode at F000:FFF0

    // Loads a segment register's hidden part directly (loaders, reset, KVM sync).
    void set_segment(SegReg s, uint16_t selector, uint64_t base, uint32_t limit, uint16_t attr);
    // The state a multiboot loader hands over: flat 32-bit protected mode,
    // paging off, interrupts off.
    void enter_flat_protected_mode(uint32_t eip);

    // A one-screen dump of the guest state (triple faults, -d cpu, errors).
    std::string dump_state() const;

    TcgEngine* tcg = nullptr; // owned by the accelerator
};

} // namespace hayate
