// Control registers, model-specific registers and the time-stamp counter.
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/system.h"
#include <x86intrin.h>

namespace hayate {

uint64_t read_tsc(const Vcpu& cpu) { return __rdtsc() + cpu.state.tsc_offset; }

uint64_t read_control_register(const Vcpu& cpu, int cr) {
    const CpuState& s = cpu.state;
    switch (cr) {
    case 0: return s.cr0;
    case 2: return s.cr2;
    case 3: return s.cr3;
    case 4: return s.cr4;
    case 8: return s.cr8;
    default: return 0;
    }
}

bool write_control_register(Vcpu& cpu, int cr, uint64_t value) {
    CpuState& s = cpu.state;
    const bool long_mode = s.efer & efer::LMA;
    switch (cr) {
    case 0: {
        if (!long_mode) value = uint32_t(value);
        if ((value >> 32) || ((value & cr0::PG) && !(value & cr0::PE)) || ((value & cr0::NW) && !(value & cr0::CD))) {
            cpu.raise(13, true, 0);
            return false;
        }
        // Enabling paging with EFER.LME activates long mode (needs PAE); disabling leaves it.
        if ((value & cr0::PG) && !(s.cr0 & cr0::PG) && (s.efer & efer::LME)) {
            if (!(s.cr4 & cr4::PAE) || s.seg[CS].is_long()) {
                cpu.raise(13, true, 0);
                return false;
            }
            s.efer |= efer::LMA;
        }
        if (!(value & cr0::PG) && (s.cr0 & cr0::PG) && long_mode) {
            if (s.seg[CS].is_long()) {
                cpu.raise(13, true, 0);
                return false;
            }
            s.efer &= ~efer::LMA;
        }
        value |= cr0::ET;
        uint64_t changed = s.cr0 ^ value;
        s.cr0 = value;
        if (changed & (cr0::PG | cr0::WP | cr0::PE)) cpu.flush_tlb();
        return true;
    }
    case 2: s.cr2 = value; return true;
    case 3:
        if (long_mode && (value >> 52)) {
            cpu.raise(13, true, 0);
            return false;
        }
        s.cr3 = long_mode ? value : uint32_t(value);
        cpu.flush_tlb();
        return true;
    case 4: {
        const uint64_t supported = cr4::VME | cr4::PVI | cr4::TSD | cr4::DE | cr4::PSE | cr4::PAE | cr4::MCE |
                                   cr4::PGE | cr4::PCE | cr4::OSFXSR | cr4::OSXMMEXCPT;
        if ((value & ~supported) || (long_mode && !(value & cr4::PAE))) {
            cpu.raise(13, true, 0);
            return false;
        }
        s.cr4 = value;
        cpu.flush_tlb();
        return true;
    }
    case 8:
        if (value >> 4) {
            cpu.raise(13, true, 0);
            return false;
        }
        s.cr8 = value;
        return true;
    default: cpu.raise(6); return false;
    }
}

bool read_msr(Vcpu& cpu, uint32_t index, uint64_t& v) {
    CpuState& s = cpu.state;
    switch (index) {
    case 0x10: v = read_tsc(cpu); return true;
    case 0x1b: v = s.apic_base; return true;
    case 0xc0000080: v = s.efer; return true;
    case 0xc0000081: v = s.star; return true;
    case 0xc0000082: v = s.lstar; return true;
    case 0xc0000083: v = s.cstar; return true;
    case 0xc0000084: v = s.sfmask; return true;
    case 0xc0000100: v = s.seg[FS].base; return true;
    case 0xc0000101: v = s.seg[GS].base; return true;
    case 0xc0000102: v = s.kernel_gs_base; return true;
    case 0xc0000103: v = s.tsc_aux; return true;
    case 0x174: v = s.sysenter_cs; return true;
    case 0x175: v = s.sysenter_esp; return true;
    case 0x176: v = s.sysenter_eip; return true;
    case 0x277: v = s.pat; return true;
    case 0x1a0: v = s.misc_enable; return true;
    default:
        log_cat(logcat::kUnimp | logcat::kGuestErrors, "RDMSR {:#x}: unknown MSR, #GP", index);
        cpu.raise(13, true, 0);
        return false;
    }
}

bool write_msr(Vcpu& cpu, uint32_t index, uint64_t v) {
    CpuState& s = cpu.state;
    auto canonical = [](uint64_t x) { return int64_t(x << 16) >> 16 == int64_t(x); };
    switch (index) {
    case 0x10: s.tsc_offset = v - __rdtsc(); return true;
    case 0x1b: s.apic_base = v; return true;
    case 0xc0000080: {
        const uint64_t writable = efer::SCE | efer::LME | efer::NXE;
        if ((v & ~(writable | efer::LMA)) || ((v ^ s.efer) & efer::LME && (s.cr0 & cr0::PG))) {
            cpu.raise(13, true, 0);
            return false;
        }
        s.efer = (s.efer & efer::LMA) | (v & writable);
        cpu.flush_tlb();
        return true;
    }
    case 0xc0000081: s.star = v; return true;
    case 0xc0000082:
    case 0xc0000083:
    case 0xc0000100:
    case 0xc0000101:
    case 0xc0000102:
        if (!canonical(v)) break;
        if (index == 0xc0000082) s.lstar = v;
        else if (index == 0xc0000083) s.cstar = v;
        else if (index == 0xc0000100) s.seg[FS].base = v;
        else if (index == 0xc0000101) s.seg[GS].base = v;
        else s.kernel_gs_base = v;
        return true;
    case 0xc0000084: s.sfmask = uint32_t(v); return true;
    case 0xc0000103: s.tsc_aux = uint32_t(v); return true;
    case 0x174: s.sysenter_cs = v & 0xffff; return true;
    case 0x175: s.sysenter_esp = v; return true;
    case 0x176: s.sysenter_eip = v; return true;
    case 0x277: s.pat = v; return true;
    case 0x1a0: s.misc_enable = v; return true;
    default:
        log_cat(logcat::kUnimp | logcat::kGuestErrors, "WRMSR {:#x} <- {:#x}: unknown MSR, #GP", index, v);
        break;
    }
    cpu.raise(13, true, 0);
    return false;
}

} // namespace hayate
