// System instructions (SDM vol. 2 pseudocode, vol. 3 chapters 2, 5 and 18):
// fast system calls (SYSCALL/SYSRET, SYSENTER/SYSEXIT), MOV to/from control
// and debug registers, FSGSBASE, RDRAND/RDSEED, RDPID, RDPMC, XGETBV/XSETBV.
// Each raises exactly what the manual lists, in its order, and changes no
// state before a fault.
#include "frontend/interpret.h"
#include "machine/log.h"
#include "machine/system.h"
#include "machine/xsave.h"

namespace hayate {

namespace {

bool canonical(uint64_t x) {
    return int64_t(x << (64 - kLinearAddrBits)) >> (64 - kLinearAddrBits) == int64_t(x);
}

// The fixed descriptor caches the fast system calls load instead of reading
// the GDT: base 0, limit 4 GiB, accessed code (type 11) / data (type 3).
constexpr uint32_t kFlatLimit = 0xffffffff;
constexpr uint16_t kCode64 = segattr::kPresent | segattr::kS | 0xb | segattr::kLong | segattr::kGran;
constexpr uint16_t kCode32 = segattr::kPresent | segattr::kS | 0xb | segattr::kBig | segattr::kGran;
constexpr uint16_t kData = segattr::kPresent | segattr::kS | 0x3 | segattr::kBig | segattr::kGran;
constexpr uint16_t kDpl3 = 3u << 5;

constexpr uint64_t kDr7Gd = 1u << 13, kDr6Bd = 1u << 13;

} // namespace

// MOV to/from CR0, CR2, CR3, CR4, CR8.
uint64_t Interp::mov_control() {
    const bool to_cr = in.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                       ZydisRegisterGetClass(in.ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL;
    const int cr = int((to_cr ? in.ops[0] : in.ops[1]).reg.value - ZYDIS_REGISTER_CR0);
    // CR1, CR5-CR7, CR9-CR15 do not exist; CR8 only in 64-bit mode.
    if (!(cr == 0 || cr == 2 || cr == 3 || cr == 4 || (cr == 8 && mode::is64(compute_mode(s))))) return ud();
    if ((s.eflags & flag::VM) || !privileged()) return gp();
    if (!to_cr) {
        write(0, read_control_register(cpu, cr));
        return kHelperContinue;
    }
    uint64_t v = 0;
    if (!read(1, v)) return ud();
    if (!write_control_register(cpu, cr, v)) return kHelperExitHere;
    return kHelperExitNext; // paging, CR0.TS/EM, CR4.OSFXSR... change the translation mode
}

// MOV to/from DR0-DR7 (DR4/DR5 alias DR6/DR7 unless CR4.DE).
uint64_t Interp::mov_debug() {
    const bool to_dr = in.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                       ZydisRegisterGetClass(in.ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
    int dr = int((to_dr ? in.ops[0] : in.ops[1]).reg.value - ZYDIS_REGISTER_DR0);
    if ((s.eflags & flag::VM) || !privileged()) return gp();
    if ((dr == 4 || dr == 5) && (s.cr4 & cr4::DE)) return ud();
    if (s.dr[7] & kDr7Gd) {
        // General detect: a fault before the access; the handler gets GD
        // cleared so that it can use the debug registers (SDM vol. 3, 18.2.4).
        s.dr[6] |= kDr6Bd;
        s.dr[7] &= ~kDr7Gd;
        cpu.raise(1);
        return kHelperExitHere;
    }
    if (dr == 4) dr = 6;
    if (dr == 5) dr = 7;
    if (!to_dr) {
        write(0, s.dr[dr]);
        return kHelperContinue;
    }
    uint64_t v = 0;
    if (!read(1, v)) return ud();
    if ((dr == 6 || dr == 7) && (v >> 32)) return gp(); // 64-bit mode: bits 63:32 are reserved
    if (dr == 6) v = (v & 0xe00f) | 0xffff0ff0;         // B0-B3, BD, BS, BT; the rest reads fixed
    if (dr == 7) v = (v & ~0xd800ull) | 0x400;          // bits 11, 12, 14, 15 read 0, bit 10 reads 1
    s.dr[dr] = v;
    return kHelperExitNext; // DR0-DR3/DR7 decide breakpoints and the translation mode
}

// SYSCALL/SYSRET (64-bit mode only on Intel) and SYSENTER/SYSEXIT. The
// selectors come from IA32_STAR / IA32_SYSENTER_CS; the descriptor caches
// get fixed flat values, never the GDT's.
uint64_t Interp::fast_system_call() {
    const ZydisMnemonic m = in.mnemonic();
    const bool mode64 = (s.efer & efer::LMA) && s.seg[CS].is_long();
    const bool to64 = in.operand_width() == 64;
    switch (m) {
    case ZYDIS_MNEMONIC_SYSCALL: {
        if (!mode64 || !(s.efer & efer::SCE)) return ud();
        const uint16_t sel = uint16_t(s.star >> 32);
        s.gpr[RCX] = in.next_pc;
        s.gpr[R11] = s.eflags;
        s.eflags = (s.eflags & ~s.sfmask & ~flag::RF) | flag::kFixed1;
        s.seg[CS] = SegmentCache{0, kFlatLimit, uint16_t(sel & 0xfffc), kCode64};
        s.seg[SS] = SegmentCache{0, kFlatLimit, uint16_t(sel + 8), kData};
        s.rip = s.lstar;
        return kHelperExitHere;
    }
    case ZYDIS_MNEMONIC_SYSRET: {
        if (!mode64 || !(s.efer & efer::SCE)) return ud();
        if (!privileged()) return gp();
        // Checked at CPL 0, before anything changes: a non-canonical RCX faults in the kernel.
        if (to64 && !canonical(s.gpr[RCX])) return gp();
        const uint16_t sel = uint16_t(s.star >> 48);
        s.rip = to64 ? s.gpr[RCX] : uint32_t(s.gpr[RCX]);
        s.eflags = (s.gpr[R11] & 0x3c7fd7) | flag::kFixed1; // RF, VM and reserved bits cleared
        s.seg[CS] = SegmentCache{0, kFlatLimit, uint16_t((to64 ? sel + 16 : sel) | 3),
                                 uint16_t((to64 ? kCode64 : kCode32) | kDpl3)};
        s.seg[SS] = SegmentCache{0, kFlatLimit, uint16_t((sel + 8) | 3), uint16_t(kData | kDpl3)};
        return kHelperExitHere;
    }
    case ZYDIS_MNEMONIC_SYSENTER: {
        const uint16_t sel = uint16_t(s.sysenter_cs) & 0xfffc;
        if (!(s.cr0 & cr0::PE) || sel == 0) return gp();
        const bool ia32e = s.efer & efer::LMA;
        s.eflags &= ~(flag::VM | flag::IF | flag::RF);
        s.gpr[RSP] = ia32e ? s.sysenter_esp : uint32_t(s.sysenter_esp);
        s.rip = ia32e ? s.sysenter_eip : uint32_t(s.sysenter_eip);
        s.seg[CS] = SegmentCache{0, kFlatLimit, sel, ia32e ? kCode64 : kCode32};
        s.seg[SS] = SegmentCache{0, kFlatLimit, uint16_t(sel + 8), kData};
        return kHelperExitHere;
    }
    case ZYDIS_MNEMONIC_SYSEXIT: {
        const uint16_t base = uint16_t(s.sysenter_cs);
        if ((base & 0xfffc) == 0 || !(s.cr0 & cr0::PE) || (s.eflags & flag::VM) || !privileged()) return gp();
        if (to64 && (!canonical(s.gpr[RCX]) || !canonical(s.gpr[RDX]))) return gp();
        const uint16_t sel = uint16_t((base + (to64 ? 32 : 16)) | 3);
        s.gpr[RSP] = to64 ? s.gpr[RCX] : uint32_t(s.gpr[RCX]);
        s.rip = to64 ? s.gpr[RDX] : uint32_t(s.gpr[RDX]);
        s.seg[CS] = SegmentCache{0, kFlatLimit, sel, uint16_t((to64 ? kCode64 : kCode32) | kDpl3)};
        s.seg[SS] = SegmentCache{0, kFlatLimit, uint16_t(sel + 8), uint16_t(kData | kDpl3)};
        return kHelperExitHere;
    }
    default: return ud();
    }
}

uint64_t Interp::system_instruction() {
    const ZydisMnemonic m = in.mnemonic();
    switch (m) {
    case ZYDIS_MNEMONIC_SYSCALL:
    case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT: return fast_system_call();

    case ZYDIS_MNEMONIC_RDFSBASE:
    case ZYDIS_MNEMONIC_RDGSBASE:
    case ZYDIS_MNEMONIC_WRFSBASE:
    case ZYDIS_MNEMONIC_WRGSBASE: {
        // 64-bit mode only, at any CPL, when CR4.FSGSBASE allows them.
        if (!mode::is64(compute_mode(s)) || !(s.cr4 & cr4::FSGSBASE)) return ud();
        const SegReg seg = (m == ZYDIS_MNEMONIC_RDFSBASE || m == ZYDIS_MNEMONIC_WRFSBASE) ? FS : GS;
        if (m == ZYDIS_MNEMONIC_RDFSBASE || m == ZYDIS_MNEMONIC_RDGSBASE) {
            write(0, s.seg[seg].base);
            return kHelperContinue;
        }
        uint64_t v = 0;
        if (!read(0, v)) return ud(); // a 32-bit source is zero-extended
        if (!canonical(v)) return gp();
        s.seg[seg].base = v;
        return kHelperContinue;
    }

    case ZYDIS_MNEMONIC_RDRAND:
    case ZYDIS_MNEMONIC_RDSEED: {
        // The host's generator: advertised only where the host has it. CF
        // tells success (the destination is 0 otherwise); OF SF ZF AF PF clear.
        const bool seed = m == ZYDIS_MNEMONIC_RDSEED;
        if (!(seed ? cpu_has_rdseed() : cpu_has_rdrand())) return ud();
        uint64_t v = 0;
        uint8_t ok = 0;
        if (seed)
            __asm__ volatile("rdseed %0; setc %1" : "=r"(v), "=qm"(ok)::"cc");
        else
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok)::"cc");
        write(0, ok ? v : 0);
        s.eflags = (s.eflags & ~flag::kArith) | (ok ? flag::CF : 0);
        return kHelperContinue;
    }

    case ZYDIS_MNEMONIC_RDPID:
        // IA32_TSC_AUX into r32 (r64 in 64-bit mode, zero-extended); not subject to CR4.TSD.
        write(0, s.tsc_aux);
        return kHelperContinue;

    case ZYDIS_MNEMONIC_RDPMC:
        // CPUID leaf 0AH reports no performance counters, so no ECX selects a
        // valid one: #GP(0) either way (CR4.PCE only decides it earlier at CPL > 0).
        log_cat(logcat::kGuestErrors, "RDPMC {:#x} at {:#x}: no performance counters, #GP",
                uint32_t(s.gpr[RCX]), in.pc);
        return gp();

    case ZYDIS_MNEMONIC_XGETBV: {
        if (!(s.cr4 & cr4::OSXSAVE)) return ud();
        // ECX = 1: XINUSE of the components XCR0 enables (CPUID.(0DH,1):EAX[2]).
        const uint32_t index = uint32_t(s.gpr[RCX]);
        if (index > 1) return gp();
        const uint64_t v = index == 0 ? s.xcr0 : s.xcr0 & xstate_in_use(s);
        s.gpr[RAX] = uint32_t(v);
        s.gpr[RDX] = v >> 32;
        return kHelperContinue;
    }

    case ZYDIS_MNEMONIC_XSETBV: {
        if (!(s.cr4 & cr4::OSXSAVE)) return ud();
        if ((s.eflags & flag::VM) || !privileged() || uint32_t(s.gpr[RCX]) != 0) return gp();
        const uint64_t v = uint32_t(s.gpr[RAX]) | (s.gpr[RDX] << 32);
        // x87 state is always enabled; AVX state needs SSE state.
        if ((v & ~xcr0_supported_bits()) || !(v & 1) || ((v & 4) && !(v & 2))) return gp();
        s.xcr0 = v;
        return kHelperExitNext;
    }

    default: break;
    }
    log_warning("no interpreter for {} at {:#x}; #UD. Guest state:\n{}", in.text(), in.pc, cpu.dump_state());
    return ud();
}

} // namespace hayate
