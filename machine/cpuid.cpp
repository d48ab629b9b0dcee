// CPUID: one coherent model of the virtual CPU. It advertises exactly what the
// translator implements, intersected with what the host can run natively for
// the instructions the generated code executes on the host's units
// (CX16, MOVBE, POPCNT, BMI1/2, LZCNT, RDRAND/RDSEED, MMX, SSE3 to SSE4.2,
// AES-NI, PCLMULQDQ).
#include "devices/local_apic.h"
#include "machine/system.h"
#include "machine/xsave.h"
#include <cpuid.h>
#include <cstring>

namespace hayate {

namespace {

struct HostCpuid {
    uint32_t l1[4] = {}, l7[4] = {}, e1[4] = {}, e7[4] = {};
    HostCpuid() {
        uint32_t max_basic = __get_cpuid_max(0, nullptr);
        uint32_t max_ext = __get_cpuid_max(0x80000000, nullptr);
        __cpuid_count(1, 0, l1[0], l1[1], l1[2], l1[3]);
        if (max_basic >= 7) __cpuid_count(7, 0, l7[0], l7[1], l7[2], l7[3]);
        if (max_ext >= 0x80000001) __cpuid_count(0x80000001, 0, e1[0], e1[1], e1[2], e1[3]);
        if (max_ext >= 0x80000007) __cpuid_count(0x80000007, 0, e7[0], e7[1], e7[2], e7[3]);
    }
};

const HostCpuid& host() {
    static const HostCpuid h;
    return h;
}

// Intel's vendor string: the CPU behaves as Intel's where vendors differ
// (SYSCALL only in 64-bit mode, SYSENTER in long mode, CPUID leaf layout),
// and kernels take their Intel paths (an unknown vendor gets Linux's
// "vendor unknown, using generic init" and no constant-TSC detection), as
// QEMU's CPU models do. The brand string says what it really is.
constexpr char kVendor[13] = "GenuineIntel";
constexpr char kBrand[49] = "Hayate virtual x86-64 CPU (translated)          ";

constexpr uint32_t bit(unsigned n) { return 1u << n; }

// Leaf 1 EDX: FPU DE PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV PAT PSE36 CLFSH FXSR SSE SSE2
// (no VME, MCE, MCA, HTT); APIC where the board has one; MMX where the host has it.
constexpr uint32_t kLeaf1Edx = bit(0) | bit(2) | bit(3) | bit(4) | bit(5) | bit(6) | bit(8) | bit(11) |
                               bit(12) | bit(13) | bit(15) | bit(16) | bit(17) | bit(19) | bit(24) | bit(25) |
                               bit(26);
constexpr uint32_t kLeaf1EdxMmx = bit(23);
constexpr uint32_t kLeaf1EdxHost = kLeaf1EdxMmx;
constexpr uint32_t kLeaf1EdxApic = bit(9);
constexpr uint32_t kLeaf1EcxApic = bit(21) | bit(24); // x2APIC, TSC-deadline
// Leaf 1 ECX: PCID; only where the host has them: CX16, MOVBE, POPCNT, RDRAND and the SIMD
// extensions SSE3, PCLMULQDQ, SSSE3, SSE4.1, SSE4.2, AES-NI (see cpu_has_simd).
constexpr uint32_t kLeaf1Ecx = bit(17);
constexpr uint32_t kLeaf1EcxSimd = bit(0) | bit(1) | bit(9) | bit(19) | bit(20) | bit(25);
constexpr uint32_t kLeaf1EcxHost = bit(13) | bit(22) | bit(23) | bit(30) | kLeaf1EcxSimd;
// Leaf 7 EBX: FSGSBASE, SMEP, INVPCID, SMAP (with STAC/CLAC), CLFLUSHOPT, CLWB; BMI1, BMI2, RDSEED as the
// host.
constexpr uint32_t kLeaf7Ebx = bit(0) | bit(7) | bit(10) | bit(20) | bit(23) | bit(24);
constexpr uint32_t kLeaf7EbxHost = bit(3) | bit(8) | bit(18);
// Leaf 7 ECX: UMIP, RDPID.
constexpr uint32_t kLeaf7Ecx = bit(2) | bit(22);
// Leaf 7 EDX: IA32_ARCH_CAPABILITIES (machine/msr.cpp says what it reports).
constexpr uint32_t kLeaf7Edx = bit(29);
// 80000001H EDX: SYSCALL (64-bit mode), NX, 1-GByte pages, RDTSCP, LM.
constexpr uint32_t kExt1Edx = bit(11) | bit(20) | bit(26) | bit(27) | bit(29);
// 80000001H ECX: PREFETCHW; LAHF/SAHF in 64-bit mode and LZCNT as the host.
constexpr uint32_t kExt1Ecx = bit(8);
constexpr uint32_t kExt1EcxHost = bit(0) | bit(5);

constexpr uint32_t kMaxBasicLeaf = 0xd;
constexpr uint32_t kMaxExtendedLeaf = 0x80000008;
constexpr uint64_t kMiscEnableLimitCpuid = 1ull << 22;

// Deterministic cache parameters (leaf 4); leaf 2 defers to them and
// 80000006H repeats the L2. No caches are simulated (memory is always
// coherent), but software sizes buffers and CLFLUSH loops by these.
struct CacheLevel {
    uint32_t type, level, ways, sets;
};
constexpr unsigned kLineSize = 64; // also CPUID.1:EBX[15:8] * 8
constexpr CacheLevel kCaches[] = {
    {1, 1, 8, 64},    // L1 data, 32 KiB
    {2, 1, 8, 64},    // L1 instruction, 32 KiB
    {3, 2, 16, 1024}, // L2 unified, 1 MiB
};

void leaf4(uint32_t subleaf, uint32_t out[4]) {
    if (subleaf >= sizeof kCaches / sizeof kCaches[0]) return; // type 0: no more caches
    const CacheLevel& c = kCaches[subleaf];
    out[0] = c.type | (c.level << 5) | bit(8); // self-initializing; one logical CPU shares it
    out[1] = (kLineSize - 1) | ((c.ways - 1) << 22);
    out[2] = c.sets - 1;
    out[3] = 0;
}

} // namespace

uint32_t cpuid_signature() { return 0x000606a1; } // family 6, model 0x6a, stepping 1

bool cpu_has_rdrand() { return host().l1[2] & bit(30); }
bool cpu_has_rdseed() { return host().l7[1] & bit(18); }

bool cpu_has_simd(SimdExt ext) {
    const HostCpuid& h = host();
    switch (ext) {
    case SimdExt::Mmx: return h.l1[3] & kLeaf1EdxMmx;
    case SimdExt::Sse3: return h.l1[2] & bit(0);
    case SimdExt::Pclmul: return h.l1[2] & bit(1);
    case SimdExt::Ssse3: return h.l1[2] & bit(9);
    case SimdExt::Sse41: return h.l1[2] & bit(19);
    case SimdExt::Sse42: return h.l1[2] & bit(20);
    case SimdExt::Aes: return h.l1[2] & bit(25);
    }
    return false;
}

uint64_t cr4_writable_bits() {
    // VME/PVI, MCE, LA57 stay reserved until their features exist.
    return cr4::DE | cr4::PSE | cr4::PAE | cr4::TSD | cr4::PGE | cr4::PCE | cr4::OSFXSR | cr4::OSXMMEXCPT |
           cr4::OSXSAVE | cr4::UMIP | cr4::FSGSBASE | cr4::PCIDE | cr4::SMEP | cr4::SMAP;
}

void cpuid(const Vcpu& cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    uint32_t& a = out[0];
    uint32_t& b = out[1];
    uint32_t& c = out[2];
    uint32_t& d = out[3];
    a = b = c = d = 0;
    const HostCpuid& h = host();
    const uint32_t max_basic = (cpu.state.misc_enable & kMiscEnableLimitCpuid) ? 2 : kMaxBasicLeaf;
    // Beyond the basic or extended range: the highest basic leaf (SDM vol. 2, CPUID).
    const bool extended = leaf >= 0x80000000;
    if ((!extended && leaf > max_basic) || (extended && leaf > kMaxExtendedLeaf)) leaf = max_basic;
    switch (leaf) {
    case 0:
        a = max_basic;
        std::memcpy(&b, kVendor, 4);
        std::memcpy(&d, kVendor + 4, 4);
        std::memcpy(&c, kVendor + 8, 4);
        break;
    case 1:
        a = cpuid_signature();
        // CLFLUSH line in 8-byte units; one logical processor; initial APIC ID.
        b = ((kLineSize / 8) << 8) | (1u << 16) | (uint32_t(cpu.index) << 24);
        c = kLeaf1Ecx | (h.l1[2] & kLeaf1EcxHost) | cpuid_leaf1_ecx_xsave(cpu.state);
        d = kLeaf1Edx | (h.l1[3] & kLeaf1EdxHost);
        // The local APIC (xAPIC, x2APIC, TSC-deadline timer) where the board gave the CPU one.
        // CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN, as on hardware.
        if (cpu.apic) {
            c |= kLeaf1EcxApic;
            if (cpu.apic->base_msr() & LocalApic::kBaseEnable) d |= kLeaf1EdxApic;
        }
        break;
    case 2: a = 0x0000ff01; break; // one round; descriptor FFH: see leaf 4
    case 4: leaf4(subleaf, out); break;
    case 7:
        if (subleaf == 0) { // EAX = 0: no further subleaves
            b = kLeaf7Ebx | (h.l7[1] & kLeaf7EbxHost) | cpuid_leaf7_ebx_avx();
            c = kLeaf7Ecx;
            d = kLeaf7Edx;
        }
        break;
    case 0xb: // topology: one thread per core, one core per package
        c = subleaf & 0xff;
        d = uint32_t(cpu.index);
        if (subleaf < 2) {
            b = 1;
            c |= (subleaf + 1) << 8; // level type 1 (SMT), then 2 (core)
        }
        break;
    case 0xd: cpuid_leaf_0d(cpu.state, subleaf, out); break; // XSAVE (machine/xsave.cpp)
    case 0x80000000: a = kMaxExtendedLeaf; break;
    case 0x80000001:
        c = kExt1Ecx | (h.e1[2] & kExt1EcxHost);
        d = kExt1Edx;
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: std::memcpy(out, kBrand + (leaf - 0x80000002) * 16, 16); break;
    case 0x80000006: // L2: line size, 16-way (encoding 8), size in KiB
        c = kLineSize | (8u << 12) | ((kCaches[2].ways * kCaches[2].sets * kLineSize / 1024) << 16);
        break;
    case 0x80000007: d = h.e7[3] & bit(8); break; // invariant TSC: the guest's runs off the host's
    case 0x80000008: a = kPhysAddrBits | (kLinearAddrBits << 8); break;
    default: break; // 3 (no serial number), 5 (no MONITOR), 6, 8-0xA, 80000005H: reserved or zero
    }
}

} // namespace hayate
