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
        if (!cpu.read_linear(table + (sel & 0xfff8), &d.raw, 8, false)) return kHelperExitHere;
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
    if (cls(d) == ZYDIS_REGCLASS_CONTROL || cls(src) == ZYDIS_REGCLASS_CONTROL) {
        if (!privileged()) return gp();
        bool to_cr = cls(d) == ZYDIS_REGCLASS_CONTROL;
        int cr = int((to_cr ? d : src).reg.value - ZYDIS_REGISTER_CR0);
        if (to_cr) {
            uint64_t v;
            read(1, v);
            if (!write_control_register(cpu, cr, v)) return kHelperExitHere;
            return kHelperExitNext;
        }
        write(0, read_control_register(cpu, cr));
        return kHelperContinue;
    }
    if (cls(d) == ZYDIS_REGCLASS_DEBUG || cls(src) == ZYDIS_REGCLASS_DEBUG) {
        if (!privileged()) return gp();
        bool to_dr = cls(d) == ZYDIS_REGCLASS_DEBUG;
        int dr = int((to_dr ? d : src).reg.value - ZYDIS_REGISTER_DR0);
        if ((dr == 4 || dr == 5) && (s.cr4 & cr4::DE)) return ud();
        if (dr == 4) dr = 6;
        if (dr == 5) dr = 7;
        if (to_dr) {
            uint64_t v;
            read(1, v);
            if (dr == 6) v = (v & 0x1e00f) | 0xffff0ff0;
            if (dr == 7) v = (v & ~0xd800ull) | 0x400;
            s.dr[dr] = v;
            if (dr == 7 && (v & 0xff))
                log_warning("hardware breakpoints (DR7={:#x}) are not implemented yet", v);
            return kHelperExitNext;
        }
        write(0, s.dr[dr]);
        return kHelperContinue;
    }
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
        if (!cpu.write_linear(s.gdtr.base + (sel & 0xfff8) + 5, &access, 1, false)) return kHelperExitHere;
        s.tr = SegmentCache{base, d.limit(), sel, uint16_t(d.attr() | 2)};
    }
    return kHelperContinue;
}

uint64_t Interp::far_transfer() {
    const bool is_call = in.mnemonic() == ZYDIS_MNEMONIC_CALL;
    const unsigned opsize = in.operand_width() / 8;
    uint64_t offset = 0;
    uint16_t sel = 0;
    const ZydisDecodedOperand& o = in.ops[0];
    if (o.type == ZYDIS_OPERAND_TYPE_POINTER) {
        offset = o.ptr.offset;
        sel = o.ptr.segment;
    } else {
        if (!cpu.read_linear(t0, &offset, opsize, user()) || !cpu.read_linear(t0 + opsize, &sel, 2, user()))
            return kHelperExitHere;
    }
    const uint64_t ret = in.next_pc;
    const uint16_t old_cs = s.seg[CS].selector;
    uint64_t sp = s.gpr[RSP];
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) {
        if (is_call && (!push(old_cs, opsize, sp) || !push(ret, opsize, sp))) return kHelperExitHere;
        s.seg[CS].selector = sel;
        s.seg[CS].base = uint64_t(sel) << 4;
        s.rip = opsize == 2 ? uint16_t(offset) : uint32_t(offset);
        if (is_call) set_sp(sp);
        return kHelperExitHere;
    }
    if ((sel & 0xfffc) == 0) return gp();
    Descriptor d;
    if (!read_descriptor(cpu, sel, d)) return kHelperExitHere;
    if (!d.s()) {
        log_warning("far {} through a system descriptor (type {}) at {:#x}: call gates and task switches are "
                    "not implemented yet",
                    is_call ? "call" : "jump", d.type(), in.pc);
        return gp(sel & 0xfffc);
    }
    const unsigned cpl = s.cpl();
    if (!d.is_code()) return gp(sel & 0xfffc);
    if (d.conforming() ? d.dpl() > cpl : ((sel & 3) > cpl || d.dpl() != cpl)) return gp(sel & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, sel & 0xfffc);
        return kHelperExitHere;
    }
    if (is_call) {
        if (!push(old_cs, opsize, sp) || !push(ret, opsize, sp)) return kHelperExitHere;
    }
    bool target64 = (s.efer & efer::LMA) && d.long_code();
    if (!target64 && d.limit() < uint32_t(offset)) return gp();
    load_code_segment(cpu, sel, d, cpl);
    s.rip = target64 ? offset : opsize == 2 ? uint16_t(offset) : uint32_t(offset);
    if (is_call) set_sp(sp);
    return kHelperExitHere;
}

uint64_t Interp::far_return() {
    const unsigned opsize = in.operand_width() / 8;
    const uint64_t extra = in.visible_operands() ? in.ops[0].imm.value.u : 0;
    uint64_t sp = s.gpr[RSP], offset, sel;
    if (!pop(offset, opsize, sp) || !pop(sel, opsize, sp)) return kHelperExitHere;
    sp += extra;
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) {
        s.seg[CS].selector = uint16_t(sel);
        s.seg[CS].base = (sel & 0xffff) << 4;
        s.rip = opsize == 2 ? uint16_t(offset) : uint32_t(offset);
        set_sp(sp);
        return kHelperExitHere;
    }
    if ((sel & 0xfffc) == 0) return gp();
    Descriptor d;
    if (!read_descriptor(cpu, uint16_t(sel), d)) return kHelperExitHere;
    const unsigned rpl = sel & 3;
    if (!d.is_code() || rpl < unsigned(s.cpl())) return gp(sel & 0xfffc);
    if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) return gp(sel & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, sel & 0xfffc);
        return kHelperExitHere;
    }
    if (rpl > unsigned(s.cpl())) {
        // Return to an outer level: pop SS:RSP too.
        uint64_t new_sp, new_ss;
        if (!pop(new_sp, opsize, sp) || !pop(new_ss, opsize, sp)) return kHelperExitHere;
        load_code_segment(cpu, uint16_t(sel), d, rpl);
        if (!load_data_segment(cpu, SS, uint16_t(new_ss))) return kHelperExitHere;
        s.rip = (s.efer & efer::LMA) && d.long_code() ? offset : uint32_t(offset);
        s.gpr[RSP] = new_sp + extra;
        for (SegReg r : {ES, DS, FS, GS})
            if (s.seg[r].dpl() < rpl && !(s.seg[r].attr & segattr::kCode && s.seg[r].attr & 4))
                s.seg[r] = SegmentCache{0, 0, 0, 0};
        return kHelperExitHere;
    }
    load_code_segment(cpu, uint16_t(sel), d, rpl);
    s.rip = (s.efer & efer::LMA) && d.long_code() ? offset
            : opsize == 2                         ? uint16_t(offset)
                                                  : uint32_t(offset);
    set_sp(sp);
    return kHelperExitHere;
}

uint64_t Interp::iret() {
    const unsigned opsize = in.operand_width() / 8;
    uint64_t sp = s.gpr[RSP], ip, cs, fl;
    if (!(s.cr0 & cr0::PE)) {
        if (!pop(ip, opsize, sp) || !pop(cs, opsize, sp) || !pop(fl, opsize, sp)) return kHelperExitHere;
        s.seg[CS].selector = uint16_t(cs);
        s.seg[CS].base = (cs & 0xffff) << 4;
        s.rip = opsize == 2 ? uint16_t(ip) : uint32_t(ip);
        uint64_t keep = opsize == 2 ? ~0xffffull : (flag::VM | flag::VIF | flag::VIP);
        s.eflags = (s.eflags & keep) | (fl & ~keep & 0x3f7fd5) | flag::kFixed1;
        set_sp(sp);
        return kHelperExitHere;
    }
    if (s.eflags & flag::VM) {
        log_warning("IRET in virtual-8086 mode is not implemented yet");
        return gp();
    }
    if (s.eflags & flag::NT && !(s.efer & efer::LMA)) {
        log_warning("IRET with NT set (task return) is not implemented yet");
        return gp();
    }
    if (!pop(ip, opsize, sp) || !pop(cs, opsize, sp) || !pop(fl, opsize, sp)) return kHelperExitHere;
    const unsigned cpl = s.cpl();
    if (opsize == 4 && (fl & flag::VM) && cpl == 0) {
        log_warning("IRET to virtual-8086 mode is not implemented yet");
        return gp();
    }
    if ((cs & 0xfffc) == 0) return gp();
    Descriptor d;
    if (!read_descriptor(cpu, uint16_t(cs), d)) return kHelperExitHere;
    const unsigned rpl = cs & 3;
    if (!d.is_code() || rpl < cpl || (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl))
        return gp(cs & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, cs & 0xfffc);
        return kHelperExitHere;
    }
    const bool long_mode = s.efer & efer::LMA;
    bool pop_stack = rpl > cpl || (long_mode && opsize == 8);
    uint64_t new_sp = 0, new_ss = 0;
    if (pop_stack && (!pop(new_sp, opsize, sp) || !pop(new_ss, opsize, sp))) return kHelperExitHere;
    // Flags: which bits may change depends on CPL and IOPL.
    uint64_t changeable = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::TF | flag::DF |
                          flag::OF | flag::NT | flag::RF | flag::AC | flag::ID;
    if (cpl == 0) changeable |= flag::IOPL | flag::VIF | flag::VIP;
    if (cpl <= ((s.eflags & flag::IOPL) >> 12)) changeable |= flag::IF;
    if (opsize == 2) changeable &= 0xffff;
    load_code_segment(cpu, uint16_t(cs), d, rpl);
    s.eflags = (s.eflags & ~changeable) | (fl & changeable) | flag::kFixed1;
    s.rip = long_mode && d.long_code() ? ip : opsize == 2 ? uint16_t(ip) : uint32_t(ip);
    if (pop_stack) {
        if ((new_ss & 0xfffc) == 0 && long_mode && d.long_code() && rpl != 3) {
            s.seg[SS] = SegmentCache{0, 0, uint16_t(new_ss), uint16_t(rpl << 5)};
        } else if (!load_data_segment(cpu, SS, uint16_t(new_ss))) {
            return kHelperExitHere;
        }
        s.gpr[RSP] = long_mode && d.long_code()
                         ? new_sp
                         : (opsize == 2 ? (s.gpr[RSP] & ~0xffffull) | uint16_t(new_sp) : uint32_t(new_sp));
    } else {
        set_sp(sp);
    }
    return kHelperExitHere;
}

uint64_t Interp::port_io() {
    const ZydisMnemonic m = in.mnemonic();
    const bool is_in = m == ZYDIS_MNEMONIC_IN;
    const ZydisDecodedOperand& port_op = is_in ? in.ops[1] : in.ops[0];
    const ZydisDecodedOperand& data_op = is_in ? in.ops[0] : in.ops[1];
    uint16_t port =
        port_op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? uint16_t(port_op.imm.value.u) : uint16_t(s.gpr[RDX]);
    unsigned size = data_op.size / 8;
    if ((s.cr0 & cr0::PE) && (uint64_t(s.cpl()) > ((s.eflags & flag::IOPL) >> 12) || (s.eflags & flag::VM))) {
        // The TSS I/O permission bitmap decides.
        bool allowed = false;
        uint16_t bitmap_base = 0;
        if ((s.tr.attr & 0xf) == 0xb || (s.tr.attr & 0xf) == 0x9) {
            if (s.tr.limit >= 0x67 && cpu.read_linear(s.tr.base + 0x66, &bitmap_base, 2, false)) {
                uint32_t byte = bitmap_base + port / 8u;
                uint16_t bits = 0;
                if (byte + 1 <= s.tr.limit && cpu.read_linear(s.tr.base + byte, &bits, 2, false))
                    allowed = ((bits >> (port & 7)) & ((1u << size) - 1)) == 0;
            }
        }
        if (!allowed) return gp();
    }
    IoBus& bus = cpu.machine.ports();
    if (is_in) {
        uint64_t v = bus.read(port, size);
        write_gpr(RAX, size, v);
    } else {
        bus.write(port, size, s.gpr[RAX] & mask(size));
    }
    if (cpu.machine.shutdown_requested() || s.exit_request) return kHelperExitNext;
    return kHelperContinue;
}

uint64_t Interp::popf() {
    const unsigned opsize = in.operand_width() / 8;
    uint64_t sp = s.gpr[RSP], v;
    if ((s.eflags & flag::VM) && ((s.eflags & flag::IOPL) >> 12) < 3) {
        log_warning("POPF in virtual-8086 mode with IOPL<3 (VME) is not implemented yet");
        return gp();
    }
    if (!pop(v, opsize, sp)) return kHelperExitHere;
    const unsigned cpl = (s.cr0 & cr0::PE) ? s.cpl() : 0;
    const unsigned iopl = unsigned(s.eflags & flag::IOPL) >> 12;
    uint64_t changeable = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::TF | flag::DF |
                          flag::OF | flag::NT | flag::AC | flag::ID;
    if (cpl == 0) changeable |= flag::IOPL;
    if (cpl <= iopl) changeable |= flag::IF;
    if (opsize == 2) changeable &= 0xffff;
    s.eflags = (s.eflags & ~changeable) | (v & changeable) | flag::kFixed1;
    s.eflags &= ~flag::RF;
    set_sp(sp);
    return kHelperExitNext;
}

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
    case ZYDIS_MNEMONIC_STI: {
        if ((s.cr0 & cr0::PE) && uint64_t(s.cpl()) > ((s.eflags & flag::IOPL) >> 12)) {
            if (s.eflags & flag::VM)
                log_warning("CLI/STI in virtual-8086 mode with IOPL<3 (VME) is not implemented yet");
            return gp();
        }
        if (in.mnemonic() == ZYDIS_MNEMONIC_CLI)
            s.eflags &= ~flag::IF;
        else {
            if (!(s.eflags & flag::IF)) s.interrupt_shadow = true;
            s.eflags |= flag::IF;
        }
        return kHelperExitNext;
    }
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
    default: break;
    }
    log_warning("no interpreter for {} at {:#x}", in.text(), in.pc);
    return ud();
}

uint64_t helper_interpret(CpuState* s, uint64_t insn, uint64_t t0) {
    Vcpu& cpu = *static_cast<Vcpu*>(s->vcpu);
    Interp it{cpu, *s, *reinterpret_cast<const Insn*>(uintptr_t(insn)), t0};
    return it.run();
}

} // namespace hayate
