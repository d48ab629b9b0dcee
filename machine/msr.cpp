// Control registers, model-specific registers and the time-stamp counter.
#include "devices/local_apic.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/system.h"
#include "machine/vcpu.h"
#include <x86intrin.h>

namespace hayate {

uint64_t read_tsc(const Vcpu& cpu) { return __rdtsc() + cpu.state.tsc_offset; }

namespace {

bool canonical(uint64_t x) {
    return int64_t(x << (64 - kLinearAddrBits)) >> (64 - kLinearAddrBits) == int64_t(x);
}

// Bits above MAXPHYADDR (a physical address field's reserved bits).
constexpr uint64_t kAbovePhysAddr = ~0ull << kPhysAddrBits;

// CR0 bits that exist; MOV to CR0 ignores the other bits of 31:0 (bits
// 63:32 are reserved and fault).
constexpr uint64_t kCr0Defined = cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::ET | cr0::NE | cr0::WP |
                                 cr0::AM | cr0::NW | cr0::CD | cr0::PG;

bool gp(Vcpu& cpu) {
    cpu.raise(13, true, 0);
    return false;
}

// Memory types of MTRRs (UC WC WT WP WB) and of PAT entries (those and UC-).
bool valid_mtrr_type(uint64_t t) { return t == 0 || t == 1 || t == 4 || t == 5 || t == 6; }
bool valid_pat(uint64_t v) {
    for (int i = 0; i < 8; i++) {
        uint64_t t = (v >> (i * 8)) & 0xff;
        if (t > 7 || t == 2 || t == 3) return false;
    }
    return true;
}
bool valid_fixed_mtrr(uint64_t v) {
    for (int i = 0; i < 8; i++)
        if (!valid_mtrr_type((v >> (i * 8)) & 0xff)) return false;
    return true;
}

// IA32_MTRRCAP: 8 variable ranges, fixed ranges, WC; no SMRR.
constexpr uint64_t kMtrrCap = 8 | (1u << 8) | (1u << 10);
constexpr unsigned kMtrrVariableCount = 8;

// Index into CpuState::mtrr_fixed, or -1.
int fixed_mtrr_index(uint32_t msr) {
    if (msr == 0x250) return 0;
    if (msr == 0x258 || msr == 0x259) return int(msr - 0x258) + 1;
    if (msr >= 0x268 && msr <= 0x26f) return int(msr - 0x268) + 3;
    return -1;
}

namespace msr {
constexpr uint32_t TSC = 0x10, PLATFORM_ID = 0x17, APIC_BASE = 0x1b, BIOS_SIGN_ID = 0x8b,
                   ARCH_CAPABILITIES = 0x10a, MTRRCAP = 0xfe, SYSENTER_CS = 0x174, SYSENTER_ESP = 0x175,
                   SYSENTER_EIP = 0x176, MISC_ENABLE = 0x1a0, MTRR_PHYS_FIRST = 0x200,
                   MTRR_PHYS_LAST = 0x200 + 2 * kMtrrVariableCount - 1, PAT = 0x277, MTRR_DEF_TYPE = 0x2ff,
                   EFER = 0xc0000080, STAR = 0xc0000081, LSTAR = 0xc0000082, CSTAR = 0xc0000083,
                   FMASK = 0xc0000084, FS_BASE = 0xc0000100, GS_BASE = 0xc0000101,
                   KERNEL_GS_BASE = 0xc0000102, TSC_AUX = 0xc0000103;
}

// IA32_APIC_BASE: BSP (read-only), EN, base. There is no local APIC yet:
// it reads as globally disabled (so CPUID.1:EDX.APIC = 0 is coherent) and
// enabling it is refused loudly.
constexpr uint64_t kApicBsp = 1u << 8, kApicEnable = 1u << 11, kApicBaseMask = ~0xfffull & ~kAbovePhysAddr;

// IA32_MISC_ENABLE: fast strings (R/W), Limit CPUID Maxval (R/W, honoured
// by CPUID); BTS and PEBS unavailable (read-only 1); the rest is reserved.
constexpr uint64_t kMiscWritable = (1u << 0) | (1u << 22), kMiscReadOnly = (1u << 11) | (1u << 12);

constexpr uint64_t kMicrocodeRevision = 1;
// IA32_ARCH_CAPABILITIES: RDCL_NO (bit 0). A guest load is checked against
// the soft TLB of the current privilege level before it reaches memory, and
// a user-level TLB never holds supervisor-only pages, so no load - not even
// one the host runs speculatively - can read data the page tables forbid:
// this CPU is not subject to rogue data cache load (Meltdown), and kernels
// need not isolate their page tables from user mode.
constexpr uint64_t kArchCapabilities = 1u << 0;

} // namespace

uint64_t read_control_register(const Vcpu& cpu, int cr) {
    const CpuState& s = cpu.state;
    switch (cr) {
    case 0: return s.cr0;
    case 2: return s.cr2;
    case 3: return s.cr3;
    case 4: return s.cr4;
    case 8: return cpu.apic ? cpu.apic->tpr() : s.cr8;
    default: return 0;
    }
}

bool write_control_register(Vcpu& cpu, int cr, uint64_t value) {
    CpuState& s = cpu.state;
    const bool long_mode = s.efer & efer::LMA;
    switch (cr) {
    case 0: {
        if (!long_mode) value = uint32_t(value);
        if ((value >> 32) || ((value & cr0::PG) && !(value & cr0::PE)) ||
            ((value & cr0::NW) && !(value & cr0::CD)))
            return gp(cpu);
        // Enabling paging with EFER.LME activates long mode (needs PAE); disabling leaves it.
        uint64_t new_efer = s.efer;
        if ((value & cr0::PG) && !(s.cr0 & cr0::PG) && (s.efer & efer::LME)) {
            if (!(s.cr4 & cr4::PAE) || s.seg[CS].is_long()) return gp(cpu);
            new_efer |= efer::LMA;
        }
        if (!(value & cr0::PG) && (s.cr0 & cr0::PG) && long_mode) {
            if (s.seg[CS].is_long()) return gp(cpu);
            new_efer &= ~efer::LMA;
        }
        return commit_paging_controls(cpu, (value & kCr0Defined) | cr0::ET, s.cr4, new_efer);
    }
    case 2: s.cr2 = long_mode ? value : uint32_t(value); return true;
    case 3: return write_cr3(cpu, value);
    case 4:
        if (!long_mode) value = uint32_t(value);
        if ((value & ~cr4_writable_bits()) || (long_mode && !(value & cr4::PAE))) return gp(cpu);
        return commit_paging_controls(cpu, s.cr0, value, s.efer);
    case 8:
        // The local APIC's task-priority register, TPR[7:4]. A CPU built
        // without an APIC (unit tests) only holds the value.
        if (value >> 4) return gp(cpu);
        s.cr8 = value;
        if (cpu.apic) cpu.apic->set_tpr(uint8_t(value));
        return true;
    default: cpu.raise(6); return false;
    }
}

bool read_msr(Vcpu& cpu, uint32_t index, uint64_t& v) {
    CpuState& s = cpu.state;
    // IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC registers belong to the local APIC.
    if (cpu.apic && LocalApic::handles_msr(index)) return cpu.apic->read_msr(index, v) || gp(cpu);
    if (index >= msr::MTRR_PHYS_FIRST && index <= msr::MTRR_PHYS_LAST) {
        v = s.mtrr_var[index - msr::MTRR_PHYS_FIRST];
        return true;
    }
    if (int f = fixed_mtrr_index(index); f >= 0) {
        v = s.mtrr_fixed[f];
        return true;
    }
    switch (index) {
    case msr::TSC: v = read_tsc(cpu); return true;
    case msr::APIC_BASE: v = s.apic_base; return true;
    case msr::MTRRCAP: v = kMtrrCap; return true;
    case msr::MTRR_DEF_TYPE: v = s.mtrr_def_type; return true;
    case msr::EFER: v = s.efer; return true;
    case msr::STAR: v = s.star; return true;
    case msr::LSTAR: v = s.lstar; return true;
    case msr::CSTAR: v = s.cstar; return true;
    case msr::FMASK: v = s.sfmask; return true;
    case msr::FS_BASE: v = s.seg[FS].base; return true;
    case msr::GS_BASE: v = s.seg[GS].base; return true;
    case msr::KERNEL_GS_BASE: v = s.kernel_gs_base; return true;
    case msr::TSC_AUX: v = s.tsc_aux; return true;
    case msr::SYSENTER_CS: v = s.sysenter_cs; return true;
    case msr::SYSENTER_ESP: v = s.sysenter_esp; return true;
    case msr::SYSENTER_EIP: v = s.sysenter_eip; return true;
    case msr::PAT: v = s.pat; return true;
    case msr::MISC_ENABLE: v = s.misc_enable; return true;
    // IA32_BIOS_SIGN_ID: the microcode update signature in the high half
    // (revision 1: there is no microcode, as under QEMU).
    case msr::BIOS_SIGN_ID: v = kMicrocodeRevision << 32; return true;
    // IA32_PLATFORM_ID (read-only): platform id 0 in bits 52:50, which
    // microcode loaders match against update headers.
    case msr::PLATFORM_ID: v = 0; return true;
    case msr::ARCH_CAPABILITIES: v = kArchCapabilities; return true;
    default:
        log_cat(logcat::kUnimp | logcat::kGuestErrors, "RDMSR {:#x}: unknown MSR, #GP", index);
        return gp(cpu);
    }
}

bool write_msr(Vcpu& cpu, uint32_t index, uint64_t v) {
    CpuState& s = cpu.state;
    if (cpu.apic && LocalApic::handles_msr(index)) return cpu.apic->write_msr(index, v) || gp(cpu);
    if (index >= msr::MTRR_PHYS_FIRST && index <= msr::MTRR_PHYS_LAST) {
        const bool is_mask = (index - msr::MTRR_PHYS_FIRST) & 1;
        // PHYSBASE: type in 7:0, 11:8 reserved; PHYSMASK: 10:0 reserved, V in 11.
        const bool ok = is_mask ? !(v & (kAbovePhysAddr | 0x7ff))
                                : !(v & (kAbovePhysAddr | 0xf00)) && valid_mtrr_type(v & 0xff);
        if (!ok) return gp(cpu);
        s.mtrr_var[index - msr::MTRR_PHYS_FIRST] = v;
        return true;
    }
    if (int f = fixed_mtrr_index(index); f >= 0) {
        if (!valid_fixed_mtrr(v)) return gp(cpu);
        s.mtrr_fixed[f] = v;
        return true;
    }
    switch (index) {
    case msr::TSC: s.tsc_offset = v - __rdtsc(); return true;
    case msr::APIC_BASE:
        if (v & ~(kApicBaseMask | kApicBsp | kApicEnable)) return gp(cpu); // x2APIC is not supported
        if (v & kApicEnable) {
            log_warning("WRMSR IA32_APIC_BASE <- {:#x}: the local APIC is not implemented yet; #GP", v);
            return gp(cpu);
        }
        s.apic_base = (v & kApicBaseMask) | (s.apic_base & kApicBsp);
        return true;
    case msr::MTRRCAP: return gp(cpu); // read-only
    case msr::MTRR_DEF_TYPE:
        // Type in 7:0, FE (fixed ranges enabled) in 10, E in 11.
        if ((v & ~0xcffull) || !valid_mtrr_type(v & 0xff)) return gp(cpu);
        s.mtrr_def_type = v;
        return true;
    case msr::EFER: {
        const uint64_t writable = efer::SCE | efer::LME | efer::NXE;
        // LMA is read-only (writes ignored); LME may not change while paging is on.
        if ((v & ~(writable | efer::LMA)) || ((v ^ s.efer) & efer::LME && (s.cr0 & cr0::PG))) return gp(cpu);
        return commit_paging_controls(cpu, s.cr0, s.cr4, (s.efer & efer::LMA) | (v & writable));
    }
    case msr::STAR: s.star = v; return true;
    case msr::FMASK:
        if (v >> 32) return gp(cpu);
        s.sfmask = v;
        return true;
    case msr::TSC_AUX:
        if (v >> 32) return gp(cpu);
        s.tsc_aux = v;
        return true;
    case msr::SYSENTER_CS: s.sysenter_cs = uint32_t(v); return true; // 63:32 not used: writes ignored
    case msr::LSTAR:
    case msr::CSTAR:
    case msr::FS_BASE:
    case msr::GS_BASE:
    case msr::KERNEL_GS_BASE:
    case msr::SYSENTER_ESP:
    case msr::SYSENTER_EIP:
        // MSRs holding a linear address: WRMSR keeps them canonical.
        if (!canonical(v)) return gp(cpu);
        if (index == msr::LSTAR)
            s.lstar = v;
        else if (index == msr::CSTAR)
            s.cstar = v;
        else if (index == msr::FS_BASE)
            s.seg[FS].base = v;
        else if (index == msr::GS_BASE)
            s.seg[GS].base = v;
        else if (index == msr::KERNEL_GS_BASE)
            s.kernel_gs_base = v;
        else if (index == msr::SYSENTER_ESP)
            s.sysenter_esp = v;
        else
            s.sysenter_eip = v;
        return true;
    case msr::PAT:
        if (!valid_pat(v)) return gp(cpu);
        s.pat = v;
        return true;
    case msr::ARCH_CAPABILITIES: return gp(cpu); // read-only
    case msr::PLATFORM_ID: return gp(cpu);       // read-only
    case msr::BIOS_SIGN_ID:
        // Software writes 0 before CPUID to have the signature latched;
        // the value is fixed here, so any write is accepted and has no effect.
        return true;
    case msr::MISC_ENABLE:
        if (v & ~(kMiscWritable | kMiscReadOnly)) return gp(cpu);
        s.misc_enable = (v & kMiscWritable) | kMiscReadOnly;
        return true;
    default:
        log_cat(logcat::kUnimp | logcat::kGuestErrors, "WRMSR {:#x} <- {:#x}: unknown MSR, #GP", index, v);
        return gp(cpu);
    }
}

} // namespace hayate
