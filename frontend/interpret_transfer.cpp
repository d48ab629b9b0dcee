// Control transfers between privilege levels and tasks, and the IOPL-sensitive
// instructions (Intel SDM vol. 2 pseudocode of CALL, JMP, RET, IRET, IN/OUT,
// INS/OUTS, CLI/STI, PUSHF/POPF, ARPL; vol. 3 ch. 5-7, 20):
//   far JMP/CALL to code segments (conforming rules), through call gates
//   (16/32-bit, 64-bit in IA-32e mode; inner stack from the TSS with
//   parameter copying), to TSSs and task gates (task switches);
//   far RET to the same or an outer level (SS:ESP reload, data segments
//   whose DPL is below the new CPL become null); IRET to the same or an outer
//   level, to virtual-8086 mode, from it (IOPL 3), and task returns (NT);
//   the I/O permission bitmap when CPL > IOPL or in virtual-8086 mode.
// Every check comes before the first register change, and writes to a new
// stack come before SS:ESP change, so a fault restarts the instruction.
#include "frontend/interpret.h"
#include "machine/bus.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/segments.h"
#include "machine/stack_cursor.h"
#include "machine/task_switch.h"

namespace hayate {

namespace {

constexpr uint16_t kVm86DataAttr = 0xf3, kVm86CodeAttr = 0xfb;
constexpr unsigned kCallGate16 = 4, kTaskGate = 5, kCallGate32 = 12;

bool is_call_gate(const Descriptor& d) {
    return !d.s() && (d.type() == kCallGate16 || d.type() == kCallGate32);
}
bool code_is_long_and_big(const Descriptor& d) { return d.long_code() && (d.raw & (1ull << 54)); }

uint64_t sized_ip(uint64_t ip, unsigned bytes) {
    return bytes == 2 ? uint16_t(ip) : bytes == 4 ? uint32_t(ip) : ip;
}

// The limit of the descriptor table a selector points into.
uint32_t table_limit(const CpuState& s, uint16_t sel) {
    if (sel & 4) return (s.ldtr.attr & segattr::kPresent) ? s.ldtr.limit : 0;
    return s.gdtr.limit;
}

// Data segment registers that the new, outer CPL may not use become null
// (RET and IRET to an outer level). The hidden base stays (64-bit FS/GS).
void null_inaccessible_segments(CpuState& s, unsigned new_cpl) {
    for (SegReg r : {ES, DS, FS, GS}) {
        SegmentCache& c = s.seg[r];
        const bool conforming_code = (c.attr & segattr::kCode) && (c.attr & 4) && (c.attr & segattr::kS);
        if ((c.selector & 0xfffc) == 0 || (!conforming_code && c.dpl() < new_cpl)) {
            c.selector = 0;
            c.attr = 0;
        }
    }
}

SegmentCache cache_of(const Descriptor& d, uint16_t sel) {
    return SegmentCache{d.base(), d.limit(), sel, d.attr()};
}

// The SS that a far RET or IRET to an outer level loads, with the checks of
// the SDM's RETURN-TO-OUTER-PRIVILEGE-LEVEL: a null selector only for 64-bit
// code outside ring 3; RPL and DPL equal to the new CPL; writable data;
// present (#SS). Raises the fault and returns false.
bool outer_stack_segment(Vcpu& cpu, uint16_t ss_sel, unsigned rpl, bool target64, SegmentCache& out) {
    if ((ss_sel & 0xfffc) == 0) {
        if (!target64 || rpl == 3) {
            cpu.raise(13, true, 0);
            return false;
        }
        out = SegmentCache{0, 0, ss_sel, uint16_t(rpl << 5)};
        return true;
    }
    Descriptor ssd;
    if (!read_descriptor(cpu, ss_sel, ssd)) return false;
    if ((ss_sel & 3u) != rpl || !ssd.writable_data() || ssd.dpl() != rpl) {
        cpu.raise(13, true, ss_sel & 0xfffc);
        return false;
    }
    if (!ssd.present()) {
        cpu.raise(12, true, ss_sel & 0xfffc);
        return false;
    }
    mark_accessed(cpu, ss_sel, ssd);
    out = cache_of(ssd, ss_sel);
    return true;
}

} // namespace

// The new stack of a privilege change through a call gate, from the TSS
// (32-, 16- or 64-bit TSS layout). Raises #TS/#SS and returns false if unusable.
bool Interp::inner_stack(unsigned new_cpl, SegmentCache& ss, uint64_t& sp) {
    const bool long_mode = s.efer & efer::LMA;
    const uint32_t tr_sel = s.tr.selector & 0xfffc;
    if (long_mode) {
        const uint32_t off = 4 + 8 * new_cpl;
        if (off + 7 > s.tr.limit) {
            cpu.raise(10, true, tr_sel);
            return false;
        }
        if (!cpu.read_system(s.tr.base + off, &sp, 8)) return false;
        // IA-32e mode: SS becomes null with RPL = new CPL.
        ss = SegmentCache{0, 0, uint16_t(new_cpl), uint16_t(new_cpl << 5)};
        return true;
    }
    uint16_t new_ss = 0;
    sp = 0;
    if (s.tr.attr & 8) { // 32-bit TSS
        const uint32_t off = 4 + 8 * new_cpl;
        if (off + 5 > s.tr.limit) {
            cpu.raise(10, true, tr_sel);
            return false;
        }
        if (!cpu.read_system(s.tr.base + off, &sp, 4) || !cpu.read_system(s.tr.base + off + 4, &new_ss, 2))
            return false;
    } else {
        const uint32_t off = 2 + 4 * new_cpl;
        if (off + 3 > s.tr.limit) {
            cpu.raise(10, true, tr_sel);
            return false;
        }
        if (!cpu.read_system(s.tr.base + off, &sp, 2) || !cpu.read_system(s.tr.base + off + 2, &new_ss, 2))
            return false;
    }
    if ((new_ss & 0xfffc) == 0) {
        cpu.raise(10, true, 0);
        return false;
    }
    Descriptor d;
    if (!read_descriptor(cpu, new_ss, d, 10)) return false;
    if ((new_ss & 3) != new_cpl || d.dpl() != new_cpl || !d.writable_data()) {
        cpu.raise(10, true, new_ss & 0xfffc);
        return false;
    }
    if (!d.present()) {
        cpu.raise(12, true, new_ss & 0xfffc);
        return false;
    }
    mark_accessed(cpu, new_ss, d);
    ss = cache_of(d, new_ss);
    return true;
}

// JMP/CALL far through a call gate (the gate passed its type check).
uint64_t Interp::call_gate_transfer(uint16_t gate_sel, const Descriptor& gate, bool is_call) {
    const unsigned cpl = s.cpl();
    const bool long_mode = s.efer & efer::LMA;
    if (gate.dpl() < cpl || (gate_sel & 3u) > gate.dpl()) return gp(gate_sel & 0xfffc);
    if (!gate.present()) {
        cpu.raise(11, true, gate_sel & 0xfffc);
        return kHelperExitHere;
    }
    if (long_mode && (gate.raw_high >> 40 & 0x1f) != 0) return gp(gate_sel & 0xfffc);
    const uint16_t code_sel = uint16_t(gate.raw >> 16);
    if ((code_sel & 0xfffc) == 0) return gp(0);
    Descriptor code;
    if (!read_descriptor(cpu, code_sel, code)) return kHelperExitHere;
    if (!code.is_code() || code.dpl() > cpl) return gp(code_sel & 0xfffc);
    if (long_mode && (!code.long_code() || code_is_long_and_big(code))) return gp(code_sel & 0xfffc);
    if (!is_call && (code.conforming() ? code.dpl() > cpl : code.dpl() != cpl)) return gp(code_sel & 0xfffc);
    if (!code.present()) {
        cpu.raise(11, true, code_sel & 0xfffc);
        return kHelperExitHere;
    }
    const unsigned gate_bytes = long_mode ? 8 : gate.type() == kCallGate32 ? 4 : 2;
    uint64_t target = (gate.raw & 0xffff) | ((gate.raw >> 32) & 0xffff0000ull);
    if (long_mode) target |= (gate.raw_high & 0xffffffffull) << 32;
    if (gate_bytes == 2) target &= 0xffff;
    auto target_ok = [&] { return long_mode ? is_canonical_address(target) : target <= code.limit(); };

    const bool more_privileged = is_call && !code.conforming() && code.dpl() < cpl;
    if (!is_call) {
        if (!target_ok()) return gp();
        load_code_segment(cpu, code_sel, code, cpl);
        s.rip = target;
        return kHelperExitHere;
    }
    const uint64_t ret = sized_ip(in.next_pc, gate_bytes);
    const uint16_t old_cs = s.seg[CS].selector;
    if (!more_privileged) {
        StackCursor stack = current_stack(cpu);
        if (!stack.push(old_cs, gate_bytes) || !stack.push(ret, gate_bytes)) return kHelperExitHere;
        if (!target_ok()) return gp();
        load_code_segment(cpu, code_sel, code, cpl);
        s.rip = target;
        s.gpr[RSP] = stack.rsp;
        return kHelperExitHere;
    }

    // MORE-PRIVILEGE: switch to the inner stack from the TSS.
    const unsigned new_cpl = code.dpl();
    SegmentCache new_ss;
    uint64_t new_sp;
    if (!inner_stack(new_cpl, new_ss, new_sp)) return kHelperExitHere;
    StackCursor inner{cpu, new_ss, new_sp, long_mode, false, uint32_t(new_ss.selector & 0xfffc)};
    if (!long_mode) inner.set_offset(new_sp); // ESP <- newESP, then the pushes use SS.B
    StackCursor outer = current_stack(cpu);
    if (!inner.push(s.seg[SS].selector, gate_bytes) || !inner.push(s.gpr[RSP], gate_bytes))
        return kHelperExitHere;
    if (!long_mode) {
        // Parameters keep their order: the deepest one is copied first.
        const unsigned count = unsigned(gate.raw >> 32) & 0x1f;
        for (unsigned i = count; i-- > 0;) {
            uint64_t v;
            if (!outer.peek(uint64_t(i) * gate_bytes, v, gate_bytes) || !inner.push(v, gate_bytes))
                return kHelperExitHere;
        }
    }
    if (!inner.push(old_cs, gate_bytes) || !inner.push(ret, gate_bytes)) return kHelperExitHere;
    if (!target_ok()) return gp();
    s.seg[SS] = new_ss;
    s.gpr[RSP] = inner.rsp;
    load_code_segment(cpu, code_sel, code, new_cpl);
    s.rip = target;
    return kHelperExitHere;
}

// JMP/CALL far to a TSS or through a task gate.
uint64_t Interp::task_transfer(uint16_t sel, const Descriptor& d, bool is_call) {
    const unsigned cpl = s.cpl(), rpl = sel & 3u;
    if (d.dpl() < cpl || d.dpl() < rpl) return gp(sel & 0xfffc);
    uint16_t tss_sel = sel;
    Descriptor tss = d;
    if (d.type() == kTaskGate) {
        if (!d.present()) {
            cpu.raise(11, true, sel & 0xfffc);
            return kHelperExitHere;
        }
        tss_sel = uint16_t(d.raw >> 16);
        if (!read_tss_descriptor(cpu, tss_sel, tss, 13, false)) return kHelperExitHere;
        if (!tss_type::is_tss(tss)) return gp(tss_sel & 0xfffc);
    } else if (sel & 4) {
        return gp(sel & 0xfffc); // TSS descriptors live in the GDT
    }
    if (tss_type::busy(tss)) return gp(tss_sel & 0xfffc);
    if (!tss.present()) {
        cpu.raise(11, true, tss_sel & 0xfffc);
        return kHelperExitHere;
    }
    task_switch(cpu, tss_sel, tss, is_call ? TaskSwitchReason::Call : TaskSwitchReason::Jump, in.next_pc);
    return kHelperExitHere;
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
    const uint64_t new_ip = sized_ip(offset, opsize);
    const uint16_t old_cs = s.seg[CS].selector;
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) {
        StackCursor stack = current_stack(cpu);
        if (is_call && (!stack.push(old_cs, opsize) || !stack.push(sized_ip(in.next_pc, opsize), opsize)))
            return kHelperExitHere;
        if (new_ip > s.seg[CS].limit) return gp();
        s.seg[CS].selector = sel;
        s.seg[CS].base = uint64_t(sel) << 4;
        s.rip = new_ip;
        s.gpr[RSP] = stack.rsp;
        return kHelperExitHere;
    }
    if ((sel & 0xfffc) == 0) return gp();
    Descriptor d;
    if (!read_descriptor(cpu, sel, d)) return kHelperExitHere;
    const bool long_mode = s.efer & efer::LMA;
    if (!d.s()) {
        if (is_call_gate(d) && (!long_mode || d.type() == kCallGate32)) {
            // A 64-bit call gate is 16 bytes: its second half must be inside the table.
            if (long_mode && (sel | 7u) + 8 > table_limit(s, sel)) return gp(sel & 0xfffc);
            return call_gate_transfer(sel, d, is_call);
        }
        if (!long_mode && (tss_type::is_tss(d) || d.type() == kTaskGate))
            return task_transfer(sel, d, is_call);
        return gp(sel & 0xfffc);
    }
    const unsigned cpl = s.cpl();
    if (!d.is_code() || (long_mode && code_is_long_and_big(d))) return gp(sel & 0xfffc);
    if (d.conforming() ? d.dpl() > cpl : ((sel & 3u) > cpl || d.dpl() != cpl)) return gp(sel & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, sel & 0xfffc);
        return kHelperExitHere;
    }
    StackCursor stack = current_stack(cpu);
    if (is_call && (!stack.push(old_cs, opsize) || !stack.push(sized_ip(in.next_pc, opsize), opsize)))
        return kHelperExitHere;
    const bool target64 = long_mode && d.long_code();
    if (target64 ? !is_canonical_address(new_ip) : new_ip > d.limit()) return gp();
    load_code_segment(cpu, sel, d, cpl);
    s.rip = new_ip;
    s.gpr[RSP] = stack.rsp;
    return kHelperExitHere;
}

uint64_t Interp::far_return() {
    const unsigned opsize = in.operand_width() / 8;
    const uint64_t release = in.visible_operands() ? in.ops[0].imm.value.u & 0xffff : 0;
    StackCursor stack = current_stack(cpu);
    uint64_t ip, sel64;
    if (!stack.pop(ip, opsize) || !stack.pop(sel64, opsize)) return kHelperExitHere;
    const uint16_t sel = uint16_t(sel64);
    ip = sized_ip(ip, opsize);
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) {
        if (ip > s.seg[CS].limit) return gp();
        s.seg[CS].selector = sel;
        s.seg[CS].base = uint64_t(sel) << 4;
        s.rip = ip;
        stack.release(release);
        s.gpr[RSP] = stack.rsp;
        return kHelperExitHere;
    }
    if ((sel & 0xfffc) == 0) return gp();
    Descriptor d;
    if (!read_descriptor(cpu, sel, d)) return kHelperExitHere;
    const bool long_mode = s.efer & efer::LMA;
    const unsigned cpl = s.cpl(), rpl = sel & 3u;
    if (!d.is_code() || rpl < cpl || (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) ||
        (long_mode && code_is_long_and_big(d)))
        return gp(sel & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, sel & 0xfffc);
        return kHelperExitHere;
    }
    const bool target64 = long_mode && d.long_code();
    auto ip_ok = [&] { return target64 ? is_canonical_address(ip) : ip <= d.limit(); };
    if (rpl == cpl) {
        if (!ip_ok()) return gp();
        load_code_segment(cpu, sel, d, rpl);
        s.rip = ip;
        stack.release(release);
        s.gpr[RSP] = stack.rsp;
        return kHelperExitHere;
    }

    // RETURN-TO-OUTER-PRIVILEGE-LEVEL: the caller's SS:ESP lies above the parameters.
    stack.release(release);
    uint64_t new_sp, ss64;
    if (!stack.pop(new_sp, opsize) || !stack.pop(ss64, opsize)) return kHelperExitHere;
    SegmentCache new_ss;
    if (!outer_stack_segment(cpu, uint16_t(ss64), rpl, target64, new_ss)) return kHelperExitHere;
    if (!ip_ok()) return gp();
    load_code_segment(cpu, sel, d, rpl);
    s.rip = ip;
    s.seg[SS] = new_ss;
    // ESP <- the popped ESP (operand size), then the parameters are released
    // from the caller's stack in its own stack-address size.
    StackCursor caller{cpu, new_ss, 0, target64, rpl == 3, 0};
    if (target64 || new_ss.big())
        caller.rsp = new_sp;
    else // a 16-bit stack: only SP is loaded
        caller.rsp = (s.gpr[RSP] & ~0xffffull) | uint16_t(new_sp);
    caller.release(release);
    s.gpr[RSP] = caller.rsp;
    null_inaccessible_segments(s, rpl);
    return kHelperExitHere;
}

uint64_t Interp::iret() {
    // IRET ends NMI blocking even when it faults (SDM vol. 3, 6.7.1).
    s.nmi_blocked = false;
    const unsigned opsize = in.operand_width() / 8;
    const uint64_t iopl = (s.eflags & flag::IOPL) >> 12;
    StackCursor stack = current_stack(cpu);
    uint64_t ip, cs64, fl;
    auto pop_frame = [&] {
        return stack.pop(ip, opsize) && stack.pop(cs64, opsize) && stack.pop(fl, opsize);
    };

    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) {
        // Real mode, or virtual-8086 mode with IOPL 3: a real-mode frame.
        if ((s.eflags & flag::VM) && iopl < 3) {
            if (s.cr4 & cr4::VME)
                log_warning(
                    "IRET in virtual-8086 mode with IOPL<3 and CR4.VME at {:#x}: VME is not implemented; "
                    "#GP(0) as without VME",
                    in.pc);
            return gp();
        }
        if (!pop_frame()) return kHelperExitHere;
        if (ip > s.seg[CS].limit) return gp();
        s.seg[CS].selector = uint16_t(cs64);
        s.seg[CS].base = (cs64 & 0xffff) << 4;
        s.rip = ip;
        // VM, VIF and VIP never change here; IOPL only in real mode.
        uint64_t keep = opsize == 2 ? ~0xffffull : (flag::VM | flag::VIF | flag::VIP);
        if (s.eflags & flag::VM) keep |= flag::IOPL;
        s.eflags = (s.eflags & keep) | (fl & ~keep & 0x3f7fd5) | flag::kFixed1;
        s.gpr[RSP] = stack.rsp;
        return kHelperExitHere;
    }
    const bool long_mode = s.efer & efer::LMA;
    if (s.eflags & flag::NT) {
        if (long_mode) return gp();
        return task_return();
    }
    if (!pop_frame()) return kHelperExitHere;
    const unsigned cpl = s.cpl();
    if (opsize == 4 && (fl & flag::VM) && cpl == 0 && !long_mode) return iret_to_vm86(stack, ip, cs64, fl);

    const uint16_t cs = uint16_t(cs64);
    if ((cs & 0xfffc) == 0) return gp();
    Descriptor d;
    if (!read_descriptor(cpu, cs, d)) return kHelperExitHere;
    const unsigned rpl = cs & 3u;
    if (!d.is_code() || rpl < cpl || (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) ||
        (long_mode && code_is_long_and_big(d)))
        return gp(cs & 0xfffc);
    if (!d.present()) {
        cpu.raise(11, true, cs & 0xfffc);
        return kHelperExitHere;
    }
    const bool target64 = long_mode && d.long_code();
    ip = sized_ip(ip, opsize);
    const bool pop_stack = rpl > cpl || (long_mode && opsize == 8);
    uint64_t new_sp = 0;
    SegmentCache new_ss = s.seg[SS];
    if (pop_stack) {
        uint64_t ss64;
        if (!stack.pop(new_sp, opsize) || !stack.pop(ss64, opsize)) return kHelperExitHere;
        if (!outer_stack_segment(cpu, uint16_t(ss64), rpl, target64, new_ss)) return kHelperExitHere;
    }
    if (target64 ? !is_canonical_address(ip) : ip > d.limit()) return gp();

    // Which flags the image may change depends on the (old) CPL and IOPL.
    uint64_t changeable = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::TF | flag::DF |
                          flag::OF | flag::NT | flag::RF | flag::AC | flag::ID;
    if (cpl <= iopl) changeable |= flag::IF;
    if (cpl == 0) changeable |= flag::IOPL | flag::VIF | flag::VIP;
    if (opsize == 2) changeable &= 0xffff;
    load_code_segment(cpu, cs, d, rpl);
    s.eflags = (s.eflags & ~changeable) | (fl & changeable) | flag::kFixed1;
    s.rip = ip;
    if (pop_stack) {
        s.seg[SS] = new_ss;
        if (target64)
            s.gpr[RSP] = new_sp;
        else if (!new_ss.big()) // a 16-bit stack: only SP is loaded
            s.gpr[RSP] = (s.gpr[RSP] & ~0xffffull) | uint16_t(new_sp);
        else
            s.gpr[RSP] = uint32_t(new_sp);
    } else {
        s.gpr[RSP] = stack.rsp;
    }
    if (rpl > cpl) null_inaccessible_segments(s, rpl);
    return kHelperExitHere;
}

// RETURN-TO-VIRTUAL-8086-MODE: from CPL 0 with EFLAGS.VM in a 32-bit image.
uint64_t Interp::iret_to_vm86(StackCursor& stack, uint64_t ip, uint64_t cs, uint64_t fl) {
    uint64_t v[6]; // ESP, SS, ES, DS, FS, GS
    for (uint64_t& x : v)
        if (!stack.pop(x, 4)) return kHelperExitHere;
    if (ip > 0xffff) return gp();
    s.eflags = (fl & 0x3f7fd5) | flag::kFixed1;
    const SegReg order[5] = {SS, ES, DS, FS, GS};
    for (int i = 0; i < 5; i++) {
        const uint16_t sel = uint16_t(v[i + 1]);
        s.seg[order[i]] = SegmentCache{uint64_t(sel) << 4, 0xffff, sel, kVm86DataAttr};
    }
    s.seg[CS] = SegmentCache{(cs & 0xffff) << 4, 0xffff, uint16_t(cs), kVm86CodeAttr};
    s.gpr[RSP] = uint32_t(v[0]);
    s.rip = ip;
    return kHelperExitHere;
}

// TASK-RETURN: IRET with NT=1 goes back to the task in the back-link.
uint64_t Interp::task_return() {
    uint16_t link = 0;
    if (!cpu.read_system(s.tr.base, &link, 2)) return kHelperExitHere;
    Descriptor tss;
    if (!read_tss_descriptor(cpu, link, tss, 10, false)) return kHelperExitHere;
    if (!tss_type::is_tss(tss) || !tss_type::busy(tss)) {
        cpu.raise(10, true, link & 0xfffc);
        return kHelperExitHere;
    }
    if (!tss.present()) {
        cpu.raise(11, true, link & 0xfffc);
        return kHelperExitHere;
    }
    task_switch(cpu, link, tss, TaskSwitchReason::Iret, in.next_pc);
    return kHelperExitHere;
}

// IN/OUT/INS/OUTS when CPL > IOPL or in virtual-8086 mode: every bit of the
// accessed ports in the 32-bit TSS's I/O permission bitmap must be clear
// (two bytes are read; beyond the TSS limit counts as set).
bool Interp::io_permitted(uint16_t port, unsigned size) {
    if (!(s.cr0 & cr0::PE)) return true;
    if (!(s.eflags & flag::VM) && s.cpl() <= ((s.eflags & flag::IOPL) >> 12)) return true;
    const unsigned type = s.tr.attr & 0xf;
    if (!(s.tr.attr & segattr::kPresent) || (type != 9 && type != 11) || s.tr.limit < 0x67) return false;
    uint16_t bitmap_base = 0;
    if (!cpu.read_system(s.tr.base + 0x66, &bitmap_base, 2)) return false;
    const uint32_t byte = bitmap_base + port / 8u;
    if (byte + 1 > s.tr.limit) return false;
    uint16_t bits = 0;
    if (!cpu.read_system(s.tr.base + byte, &bits, 2)) return false;
    return ((bits >> (port & 7)) & ((1u << size) - 1)) == 0;
}

uint64_t Interp::port_io() {
    const bool is_in = in.mnemonic() == ZYDIS_MNEMONIC_IN;
    const ZydisDecodedOperand& port_op = is_in ? in.ops[1] : in.ops[0];
    const ZydisDecodedOperand& data_op = is_in ? in.ops[0] : in.ops[1];
    const uint16_t port =
        port_op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? uint16_t(port_op.imm.value.u) : uint16_t(s.gpr[RDX]);
    const unsigned size = data_op.size / 8;
    const uint64_t events = cpu.event_count;
    if (!io_permitted(port, size)) {
        if (cpu.event_count == events) return gp(); // not a #PF on the TSS
        return kHelperExitHere;
    }
    IoBus& bus = cpu.machine.ports();
    if (is_in)
        write_gpr(RAX, size, bus.read(port, size));
    else
        bus.write(port, size, s.gpr[RAX] & mask(size));
    if (cpu.machine.shutdown_requested() || s.exit_request) return kHelperExitNext;
    return kHelperContinue;
}

// INS/OUTS (with REP): the destination of INS is checked before the port is
// read, so a fault does not lose the input. Long REPs yield every few
// thousand elements with the registers updated (RIP stays on the instruction).
uint64_t Interp::string_io() {
    const ZydisMnemonic m = in.mnemonic();
    const bool is_in = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
    const unsigned size = (m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_OUTSB)   ? 1
                          : (m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_OUTSW) ? 2
                                                                                    : 4;
    const unsigned ab = in.address_width() / 8;
    const uint64_t amask = mask(ab);
    const bool rep =
        in.zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    const uint16_t port = uint16_t(s.gpr[RDX]);
    int seg = ES;
    if (!is_in) {
        seg = DS;
        for (unsigned i = 0; i < in.zi.operand_count; i++)
            if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
                const int sg = zydis_seg_index(in.ops[i].mem.segment);
                if (sg >= 0) seg = sg;
            }
    }
    if (rep && (s.gpr[RCX] & amask) == 0) return kHelperContinue;
    const uint64_t events = cpu.event_count;
    if (!io_permitted(port, size)) return cpu.event_count == events ? gp() : kHelperExitHere;
    const int index_reg = is_in ? RDI : RSI;
    const int64_t step = (s.eflags & flag::DF) ? -int64_t(size) : int64_t(size);
    const bool segmented = !mode::is64(compute_mode(s));
    IoBus& bus = cpu.machine.ports();
    constexpr unsigned kYieldAfter = 4096;
    for (unsigned n = 0;; n++) {
        if (rep && (s.gpr[RCX] & amask) == 0) break;
        if (n == kYieldAfter) {
            s.rip = in.pc;
            return kHelperExitHere;
        }
        const uint64_t offset = s.gpr[index_reg] & amask;
        if (segmented && !segment_offset_ok(s.seg[seg], offset, size)) return gp();
        if (segmented && (s.cr0 & cr0::PE) && !(s.eflags & flag::VM) && !s.seg[seg].present()) return gp();
        const uint64_t linear = cpu.linear_of(seg, offset, ab);
        uint64_t v = 0;
        if (is_in) {
            uint64_t phys;
            if (!cpu.translate(linear, Vcpu::Access::Write, user(), phys) ||
                !cpu.translate(linear + size - 1, Vcpu::Access::Write, user(), phys))
                return kHelperExitHere;
            v = bus.read(port, size);
            if (!cpu.write_linear(linear, &v, size, user())) return kHelperExitHere;
        } else {
            if (!cpu.read_linear(linear, &v, size, user())) return kHelperExitHere;
            bus.write(port, size, v);
        }
        write_gpr(index_reg, ab, (offset + step) & amask);
        if (!rep) break;
        write_gpr(RCX, ab, (s.gpr[RCX] - 1) & amask);
        if (cpu.machine.shutdown_requested()) break;
    }
    if (cpu.machine.shutdown_requested() || s.exit_request) return kHelperExitNext;
    return kHelperContinue;
}

// ARPL r/m16, r16 (legacy and compatibility mode; 63 /r is MOVSXD in 64-bit mode).
uint64_t Interp::arpl() {
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) return ud();
    uint64_t dest, src;
    if (!read(0, dest, 2) || !read(1, src, 2)) return kHelperExitHere;
    if ((dest & 3) < (src & 3)) {
        if (!write(0, (dest & ~3ull) | (src & 3), 2)) return kHelperExitHere;
        s.eflags |= flag::ZF;
    } else {
        s.eflags &= ~flag::ZF;
    }
    return kHelperContinue;
}

// CLI/STI: IOPL-sensitive; at CPL 3 with CR4.PVI (protected mode) or in
// virtual-8086 mode with CR4.VME they change VIF instead.
uint64_t Interp::cli_sti() {
    const bool sti = in.mnemonic() == ZYDIS_MNEMONIC_STI;
    const unsigned iopl = unsigned(s.eflags & flag::IOPL) >> 12;
    bool direct = true;
    if (s.cr0 & cr0::PE) direct = (s.eflags & flag::VM) ? iopl == 3 : s.cpl() <= iopl;
    if (direct) {
        if (!sti)
            s.eflags &= ~flag::IF;
        else {
            if (!(s.eflags & flag::IF)) s.interrupt_shadow = true;
            s.eflags |= flag::IF;
        }
        return kHelperExitNext;
    }
    const bool virtual_if =
        (s.eflags & flag::VM) ? (s.cr4 & cr4::VME) != 0 : (s.cpl() == 3 && (s.cr4 & cr4::PVI));
    if (!virtual_if || (sti && (s.eflags & flag::VIP))) return gp();
    s.eflags = sti ? s.eflags | flag::VIF : s.eflags & ~flag::VIF;
    return kHelperExitNext;
}

// PUSHF in virtual-8086 mode (the translator pushes the flags itself elsewhere).
uint64_t Interp::pushf() {
    const unsigned opsize = in.operand_width() / 8;
    if ((s.eflags & flag::VM) && ((s.eflags & flag::IOPL) >> 12) < 3) {
        if (s.cr4 & cr4::VME)
            log_warning(
                "PUSHF in virtual-8086 mode with IOPL<3 and CR4.VME at {:#x}: VME is not implemented; "
                "#GP(0) as without VME",
                in.pc);
        return gp();
    }
    StackCursor stack = current_stack(cpu);
    if (!stack.push(s.eflags & ~(flag::VM | flag::RF), opsize)) return kHelperExitHere;
    s.gpr[RSP] = stack.rsp;
    return kHelperContinue;
}

uint64_t Interp::popf() {
    const unsigned opsize = in.operand_width() / 8;
    const bool vm86 = s.eflags & flag::VM;
    const unsigned iopl = unsigned(s.eflags & flag::IOPL) >> 12;
    if (vm86 && iopl < 3) {
        if (s.cr4 & cr4::VME)
            log_warning("POPF in virtual-8086 mode with IOPL<3 and CR4.VME at {:#x}: VME is not implemented; "
                        "#GP(0) as without VME",
                        in.pc);
        return gp();
    }
    StackCursor stack = current_stack(cpu);
    uint64_t v;
    if (!stack.pop(v, opsize)) return kHelperExitHere;
    const unsigned cpl = (s.cr0 & cr0::PE) ? s.cpl() : 0;
    uint64_t changeable = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::TF | flag::DF |
                          flag::OF | flag::NT | flag::AC | flag::ID;
    if (cpl == 0 && !vm86) changeable |= flag::IOPL;
    if (cpl <= iopl) changeable |= flag::IF; // in virtual-8086 mode CPL is 3 and IOPL 3 here
    if (opsize == 2) changeable &= 0xffff;
    s.eflags = (s.eflags & ~changeable) | (v & changeable) | flag::kFixed1;
    s.eflags &= ~flag::RF;
    s.gpr[RSP] = stack.rsp;
    return kHelperExitNext;
}

} // namespace hayate
