// System and other rare instructions, interpreted in C++ on the guest state
// in CpuState. The translator emits a call here (EmitContext::call_interpreter)
// with the decoded instruction and the linear address of its memory operand.
#include "frontend/interpret.h"
#include "machine/bus.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/segments.h"
#include "machine/system.h"
#include "machine/vcpu.h"

namespace hayate {

// LAR, LSL, VERR, VERW: ZF reports whether the selector passes; no faults for
// a bad selector (only for the memory operand).
uint64_t Interp::access_check() {
    const ZydisMnemonic m = in.mnemonic();
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) return ud();
    const bool verify = m == ZYDIS_MNEMONIC_VERR || m == ZYDIS_MNEMONIC_VERW;
    uint64_t v;
    if (!read(verify ? 0 : 1, v, 2)) return kHelperExitHere;
    const uint16_t sel = uint16_t(v);
    bool ok = false;
    Descriptor d;
    uint64_t table = (sel & 4) ? s.ldtr.base : s.gdtr.base;
    uint32_t limit = (sel & 4) ? s.ldtr.limit : s.gdtr.limit;
    if ((sel & 0xfffc) && (sel | 7) <= limit && !((sel & 4) && !(s.ldtr.attr & segattr::kPresent))) {
        if (!cpu.read_system(table + (sel & 0xfff8), &d.raw, 8)) return kHelperExitHere;
        const unsigned cpl = s.cpl(), rpl = sel & 3;
        const bool priv_ok = d.conforming() || (d.dpl() >= cpl && d.dpl() >= rpl);
        const bool lm = s.efer & efer::LMA;
        if (m == ZYDIS_MNEMONIC_VERR)
            ok = d.s() && d.readable() && priv_ok;
        else if (m == ZYDIS_MNEMONIC_VERW)
            ok = d.writable_data() && priv_ok;
        else {
            bool type_ok;
            if (d.s())
                type_ok = true;
            else if (lm)
                type_ok = d.type() == 2 || d.type() == 9 || d.type() == 11;
            else if (m == ZYDIS_MNEMONIC_LAR)
                type_ok = d.type() != 0 && d.type() != 8 && d.type() != 10 && d.type() != 13 &&
                          d.type() != 14 && d.type() != 15;
            else
                type_ok = d.type() == 1 || d.type() == 2 || d.type() == 3 || d.type() == 9 || d.type() == 11;
            ok = type_ok && (d.s() ? priv_ok : (d.dpl() >= cpl && d.dpl() >= rpl));
        }
    }
    s.eflags = ok ? (s.eflags | flag::ZF) : (s.eflags & ~flag::ZF);
    if (ok && m == ZYDIS_MNEMONIC_LAR) write(0, (d.raw >> 32) & 0x00ffff00);
    if (ok && m == ZYDIS_MNEMONIC_LSL) write(0, d.limit());
    return kHelperContinue;
}

uint64_t Interp::mov_special() {
    const ZydisDecodedOperand& d = in.ops[0];
    const ZydisDecodedOperand& src = in.ops[1];
    auto cls = [](const ZydisDecodedOperand& o) {
        return o.type == ZYDIS_OPERAND_TYPE_REGISTER ? ZydisRegisterGetClass(o.reg.value)
                                                     : ZYDIS_REGCLASS_INVALID;
    };
    if (cls(d) == ZYDIS_REGCLASS_CONTROL || cls(src) == ZYDIS_REGCLASS_CONTROL) return mov_control();
    if (cls(d) == ZYDIS_REGCLASS_DEBUG || cls(src) == ZYDIS_REGCLASS_DEBUG) return mov_debug();
    // Segment registers.
    if (cls(d) == ZYDIS_REGCLASS_SEGMENT) {
        int seg = zydis_seg_index(d.reg.value);
        if (seg == CS) return ud();
        uint64_t v;
        if (!read(1, v, 2)) return kHelperExitHere;
        if (!load_data_segment(cpu, SegReg(seg), uint16_t(v))) return kHelperExitHere;
        if (seg == SS) s.interrupt_shadow = true;
        return kHelperExitNext;
    }
    int seg = zydis_seg_index(src.reg.value);
    uint64_t sel = s.seg[seg].selector;
    if (d.type == ZYDIS_OPERAND_TYPE_MEMORY) return write(0, sel, 2) ? kHelperContinue : kHelperExitHere;
    write(0, sel);
    return kHelperContinue;
}

uint64_t Interp::descriptor_table() {
    const ZydisMnemonic m = in.mnemonic();
    const bool is64 = mode::is64(compute_mode(s));
    DescriptorTableReg& reg = (m == ZYDIS_MNEMONIC_LGDT || m == ZYDIS_MNEMONIC_SGDT) ? s.gdtr : s.idtr;
    if (m == ZYDIS_MNEMONIC_LGDT || m == ZYDIS_MNEMONIC_LIDT) {
        if (!privileged()) return gp();
        uint16_t limit = 0;
        uint64_t base = 0;
        if (!cpu.read_linear(t0, &limit, 2, false) || !cpu.read_linear(t0 + 2, &base, is64 ? 8 : 4, false))
            return kHelperExitHere;
        if (!is64 && in.operand_width() == 16) base &= 0xffffff;
        reg.limit = limit;
        reg.base = base;
        return kHelperContinue;
    }
    if ((s.cr4 & cr4::UMIP) && !privileged()) return gp();
    uint16_t limit = uint16_t(reg.limit);
    uint64_t base = reg.base;
    if (!cpu.write_linear(t0, &limit, 2, user()) || !cpu.write_linear(t0 + 2, &base, is64 ? 8 : 4, user()))
        return kHelperExitHere;
    return kHelperContinue;
}

uint64_t Interp::lldt_ltr() {
    const ZydisMnemonic m = in.mnemonic();
    if (m == ZYDIS_MNEMONIC_SLDT || m == ZYDIS_MNEMONIC_STR) {
        if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) return ud(); // protected mode only
        if ((s.cr4 & cr4::UMIP) && !privileged()) return gp();
        uint64_t sel = m == ZYDIS_MNEMONIC_SLDT ? s.ldtr.selector : s.tr.selector;
        return write(0, sel, in.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? 2 : 0) ? kHelperContinue
                                                                                  : kHelperExitHere;
    }
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) return ud();
    if (!privileged()) return gp();
    uint64_t v;
    if (!read(0, v, 2)) return kHelperExitHere;
    uint16_t sel = uint16_t(v);
    if (m == ZYDIS_MNEMONIC_LLDT && (sel & 0xfffc) == 0) {
        s.ldtr = SegmentCache{0, 0, sel, 0};
        return kHelperContinue;
    }
    if (sel & 4) return gp(sel & 0xfffc);
    Descriptor d;
    if (!read_descriptor(cpu, sel, d)) return kHelperExitHere;
    bool ok =
        m == ZYDIS_MNEMONIC_LLDT ? (!d.s() && d.type() == 2) : (!d.s() && (d.type() == 9 || d.type() == 1));
    if (!ok) return gp(sel & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, sel & 0xfffc);
        return kHelperExitHere;
    }
    uint64_t base = d.base() | ((s.efer & efer::LMA) ? (d.raw_high & 0xffffffff) << 32 : 0);
    if (m == ZYDIS_MNEMONIC_LLDT) {
        s.ldtr = SegmentCache{base, d.limit(), sel, d.attr()};
    } else {
        // Mark the TSS busy in the GDT.
        uint8_t access = uint8_t((d.raw >> 40) | 2);
        if (!cpu.write_system(s.gdtr.base + (sel & 0xfff8) + 5, &access, 1)) return kHelperExitHere;
        s.tr = SegmentCache{base, d.limit(), sel, uint16_t(d.attr() | 2)};
    }
    return kHelperContinue;
}

// far_transfer, far_return, iret, port_io and popf live in interpret_transfer.cpp.

uint64_t Interp::run() {
    switch (in.mnemonic()) {
    case ZYDIS_MNEMONIC_MOV: return mov_special();
    case ZYDIS_MNEMONIC_POP: {
        int seg = zydis_seg_index(in.ops[0].reg.value);
        const unsigned opsize = in.operand_width() / 8;
        uint64_t sp = s.gpr[RSP], v;
        if (!pop(v, opsize, sp)) return kHelperExitHere;
        if (!load_data_segment(cpu, SegReg(seg), uint16_t(v))) return kHelperExitHere;
        set_sp(sp);
        if (seg == SS) s.interrupt_shadow = true;
        return kHelperExitNext;
    }
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT: return descriptor_table();
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_LTR:
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_STR: return lldt_ltr();
    case ZYDIS_MNEMONIC_LAR:
    case ZYDIS_MNEMONIC_LSL:
    case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW: return access_check();
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL: return far_transfer();
    case ZYDIS_MNEMONIC_RET: return far_return();
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRETQ: return iret();
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT: return port_io();
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPFQ: return popf();
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_PUSHFQ: return pushf();
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD: return string_io();
    case ZYDIS_MNEMONIC_ARPL: return arpl();
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD: {
        const unsigned w = in.operand_width() / 8;
        uint64_t sp = s.gpr[RSP];
        const uint64_t original_sp = sp;
        for (int r : {RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI})
            if (!push(r == RSP ? original_sp : s.gpr[r], w, sp)) return kHelperExitHere;
        set_sp(sp);
        return kHelperContinue;
    }
    case ZYDIS_MNEMONIC_ENTER: return enter();
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD: {
        const unsigned w = in.operand_width() / 8;
        uint64_t sp = s.gpr[RSP], v[8];
        for (int i = 7; i >= 0; i--)
            if (!pop(v[i], w, sp)) return kHelperExitHere;
        const int order[8] = {RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI};
        for (int i = 0; i < 8; i++)
            if (order[i] != RSP) write_gpr(order[i], w, v[i]); // the saved SP is skipped
        set_sp(sp);
        return kHelperContinue;
    }
    case ZYDIS_MNEMONIC_CLD: s.eflags &= ~flag::DF; return kHelperContinue;
    case ZYDIS_MNEMONIC_STD: s.eflags |= flag::DF; return kHelperContinue;
    case ZYDIS_MNEMONIC_CPUID: {
        uint32_t out[4];
        cpuid(cpu, uint32_t(s.gpr[RAX]), uint32_t(s.gpr[RCX]), out);
        s.gpr[RAX] = out[0], s.gpr[RBX] = out[1], s.gpr[RCX] = out[2], s.gpr[RDX] = out[3];
        return kHelperContinue;
    }
    case ZYDIS_MNEMONIC_RDTSC:
    case ZYDIS_MNEMONIC_RDTSCP: {
        if ((s.cr4 & cr4::TSD) && !privileged()) return gp();
        uint64_t t = read_tsc(cpu);
        s.gpr[RAX] = uint32_t(t);
        s.gpr[RDX] = t >> 32;
        if (in.mnemonic() == ZYDIS_MNEMONIC_RDTSCP) s.gpr[RCX] = uint32_t(s.tsc_aux);
        return kHelperContinue;
    }
    case ZYDIS_MNEMONIC_RDMSR:
    case ZYDIS_MNEMONIC_WRMSR: {
        if (!privileged()) return gp();
        uint32_t index = uint32_t(s.gpr[RCX]);
        if (in.mnemonic() == ZYDIS_MNEMONIC_RDMSR) {
            uint64_t v;
            if (!read_msr(cpu, index, v)) return kHelperExitHere;
            s.gpr[RAX] = uint32_t(v);
            s.gpr[RDX] = v >> 32;
            return kHelperContinue;
        }
        if (!write_msr(cpu, index, uint32_t(s.gpr[RAX]) | (s.gpr[RDX] << 32))) return kHelperExitHere;
        return kHelperExitNext;
    }
    case ZYDIS_MNEMONIC_HLT:
        if (!privileged()) return gp();
        s.halted = true;
        return kHelperExitNext;
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI: return cli_sti();
    case ZYDIS_MNEMONIC_INT:
        cpu.raise_software_interrupt(uint8_t(in.ops[0].imm.value.u), in.next_pc, false);
        return kHelperExitHere;
    case ZYDIS_MNEMONIC_INT3: cpu.raise_software_interrupt(3, in.next_pc, true); return kHelperExitHere;
    case ZYDIS_MNEMONIC_INTO:
        if (!(s.eflags & flag::OF)) return kHelperContinue;
        cpu.raise_software_interrupt(4, in.next_pc, true);
        return kHelperExitHere;
    case ZYDIS_MNEMONIC_INT1:
        s.rip = in.next_pc; // a trap: the return address is the next instruction
        cpu.raise(1);
        return kHelperExitHere;
    case ZYDIS_MNEMONIC_INVLPG:
        if (!privileged()) return gp();
        cpu.flush_tlb_page(t0);
        return kHelperExitNext;
    case ZYDIS_MNEMONIC_INVPCID: return invpcid();
    case ZYDIS_MNEMONIC_STAC:
    case ZYDIS_MNEMONIC_CLAC: return stac_clac();
    case ZYDIS_MNEMONIC_CLTS:
        if (!privileged()) return gp();
        s.cr0 &= ~cr0::TS;
        return kHelperExitNext;
    case ZYDIS_MNEMONIC_LMSW: {
        if (!privileged()) return gp();
        uint64_t v;
        if (!read(0, v, 2)) return kHelperExitHere;
        uint64_t cr0v = (s.cr0 & ~0xeull) | (v & 0xf) | (s.cr0 & 1);
        if (!write_control_register(cpu, 0, cr0v)) return kHelperExitHere;
        return kHelperExitNext;
    }
    case ZYDIS_MNEMONIC_SMSW:
        if ((s.cr4 & cr4::UMIP) && !privileged()) return gp();
        return write(0, s.cr0, in.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY ? 2 : 0) ? kHelperContinue
                                                                                    : kHelperExitHere;
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVD:
        // No caches are modelled: memory is always coherent.
        if (!privileged()) return gp();
        return kHelperContinue;
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2: return ud();
    case ZYDIS_MNEMONIC_SWAPGS:
        if (!mode::is64(compute_mode(s))) return ud();
        if (!privileged()) return gp();
        std::swap(s.seg[GS].base, s.kernel_gs_base);
        return kHelperContinue;
    default: return system_instruction(); // further families, then the loud #UD fallback
    }
}

uint64_t helper_interpret(CpuState* s, uint64_t insn, uint64_t t0) {
    Vcpu& cpu = *static_cast<Vcpu*>(s->vcpu);
    Interp it{cpu, *s, *reinterpret_cast<const Insn*>(uintptr_t(insn)), t0};
    cpu.current_block_invalidated = false;
    const uint64_t status = it.run();
    // A store into translated code (SGDT onto the running block, say): leave
    // at the next instruction, so that it is fetched anew.
    if (status == kHelperContinue && cpu.current_block_invalidated) {
        cpu.current_block_invalidated = false;
        return kHelperExitNext;
    }
    return status;
}

} // namespace hayate
