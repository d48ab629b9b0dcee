// CPUID: advertises exactly what the translator implements, intersected with
// what the host can run natively (the generated code uses the host's units).
#include "machine/system.h"
#include <cpuid.h>
#include <cstring>

namespace hayate {

namespace {

struct HostCpuid {
    uint32_t l1[4] = {}, l7[4] = {}, e1[4] = {};
    HostCpuid() {
        __cpuid_count(1, 0, l1[0], l1[1], l1[2], l1[3]);
        __cpuid_count(7, 0, l7[0], l7[1], l7[2], l7[3]);
        __cpuid_count(0x80000001, 0, e1[0], e1[1], e1[2], e1[3]);
    }
};

const HostCpuid& host() {
    static const HostCpuid h;
    return h;
}

constexpr char kVendor[13] = "HayateHayate";
constexpr char kBrand[49] = "Hayate virtual x86-64 CPU (translated)          ";

} // namespace

void cpuid(const Vcpu& cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    (void)cpu;
    uint32_t& a = out[0];
    uint32_t& b = out[1];
    uint32_t& c = out[2];
    uint32_t& d = out[3];
    a = b = c = d = 0;
    const HostCpuid& h = host();
    switch (leaf) {
    case 0:
        a = 7;
        std::memcpy(&b, kVendor, 4);
        std::memcpy(&d, kVendor + 4, 4);
        std::memcpy(&c, kVendor + 8, 4);
        break;
    case 1: {
        a = 0x000606a0 | 0x1; // family 6, model 0x6a-ish signature, stepping 1
        b = (8u << 8) | (1u << 16) | (uint32_t(cpu.index) << 24); // CLFLUSH line 64, 1 logical CPU
        // EDX: DE PSE TSC MSR PAE CX8 PGE CMOV PAT PSE36 CLFSH SSE SSE2 (x87 and FXSAVE come with the FPU issue)
        d = (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 13) | (1u << 15) |
            (1u << 16) | (1u << 17) | (1u << 19) | (1u << 25) | (1u << 26);
        // ECX: CX16, MOVBE and POPCNT only where the host has them (they run natively).
        uint32_t host_c = h.l1[2];
        c = host_c & ((1u << 13) | (1u << 22) | (1u << 23));
        break;
    }
    case 7:
        if (subleaf == 0) {
            // BMI1, BMI2 as the host has them (native execution).
            b = h.l7[1] & ((1u << 3) | (1u << 8));
        }
        break;
    case 0x80000000: a = 0x80000008; break;
    case 0x80000001:
        // LAHF/SAHF in 64-bit mode, ABM (LZCNT) as the host; NX, LM.
        c = h.e1[2] & ((1u << 0) | (1u << 5));
        d = (1u << 20) | (1u << 29);
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: std::memcpy(out, kBrand + (leaf - 0x80000002) * 16, 16); break;
    case 0x80000008: a = 0x3028; break; // 40-bit physical (below our 44-bit check), 48-bit linear
    default: break;
    }
}

} // namespace hayate
