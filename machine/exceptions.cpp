// Exception and interrupt delivery through the IVT (real mode) or IDT
// (protected and long mode), with the double-fault rules and triple faults.
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/segments.h"
#include "machine/task_switch.h"
#include "machine/vcpu.h"

namespace hayate {

namespace {

bool is_contributory(uint8_t v) { return v == 0 || (v >= 10 && v <= 13); }

bool push_value(Vcpu& cpu, uint64_t& sp, uint64_t ss_base, unsigned bytes, uint64_t value,
                unsigned stack_bytes) {
    sp -= bytes;
    if (stack_bytes == 2)
        sp = uint16_t(sp);
    else if (stack_bytes == 4)
        sp = uint32_t(sp);
    uint64_t linear = stack_bytes == 8 ? sp : uint32_t(ss_base + sp);
    return cpu.write_linear(linear, &value, bytes, cpu.state.cpl() == 3);
}

bool is_fault_class(uint8_t vector) {
    switch (vector) {
    case 0:
    case 5:
    case 6:
    case 7:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 16:
    case 17:
    case 19:
    case 20:
    case 21: return true;
    default: return false; // traps (#DB, #BP, #OF), NMI, aborts, external interrupts
    }
}

void deliver_real_mode(Vcpu& cpu, uint8_t vector, uint64_t return_ip) {
    CpuState& s = cpu.state;
    uint32_t entry = 0;
    if (uint64_t(vector) * 4 + 3 > s.idtr.limit) {
        cpu.raise(13, true, uint32_t(vector) * 8 + 2);
        return;
    }
    if (!cpu.read_system(s.idtr.base + vector * 4u, &entry, 4)) return;
    uint64_t sp = s.gpr[RSP];
    unsigned sb = s.seg[SS].big() ? 4 : 2;
    uint64_t flags = s.eflags;
    if (!push_value(cpu, sp, s.seg[SS].base, 2, flags, sb) ||
        !push_value(cpu, sp, s.seg[SS].base, 2, s.seg[CS].selector, sb) ||
        !push_value(cpu, sp, s.seg[SS].base, 2, return_ip, sb))
        return;
    if (sb == 2)
        s.gpr[RSP] = (s.gpr[RSP] & ~0xffffull) | (sp & 0xffff);
    else
        s.gpr[RSP] = uint32_t(sp);
    s.eflags &= ~(flag::IF | flag::TF | flag::AC | flag::RF);
    s.seg[CS].selector = uint16_t(entry >> 16);
    s.seg[CS].base = uint64_t(entry >> 16) << 4;
    s.rip = entry & 0xffff;
}

void deliver_protected(Vcpu& cpu, uint8_t vector, bool has_error, uint32_t error, uint64_t return_ip,
                       bool software, bool fault = false) {
    CpuState& s = cpu.state;
    const bool long_mode = s.efer & efer::LMA;
    const unsigned gate_size = long_mode ? 16 : 8;
    const uint32_t ext = software ? 0 : 1;
    if (uint64_t(vector) * gate_size + gate_size - 1 > s.idtr.limit) {
        cpu.raise(13, true, uint32_t(vector) * 8 + 2 + ext);
        return;
    }
    uint64_t gate[2] = {0, 0};
    if (!cpu.read_system(s.idtr.base + uint64_t(vector) * gate_size, gate, gate_size)) return;
    const unsigned type = unsigned(gate[0] >> 40) & 0xf;
    const unsigned gate_dpl = unsigned(gate[0] >> 45) & 3;
    const bool present = gate[0] & (1ull << 47);
    bool valid_type = long_mode ? (type == 0xe || type == 0xf)
                                : (type == 0xe || type == 0xf || type == 6 || type == 7 || type == 5);
    if (!valid_type) {
        cpu.raise(13, true, uint32_t(vector) * 8 + 2 + ext);
        return;
    }
    if (software && gate_dpl < s.cpl()) {
        cpu.raise(13, true, uint32_t(vector) * 8 + 2);
        return;
    }
    if (!present) {
        cpu.raise(11, true, uint32_t(vector) * 8 + 2 + ext);
        return;
    }
    if (type == 5) {
        // A task gate: the event is handled by a task switch (SDM 6.12.2, INT n TASK-GATE).
        const uint16_t tss_sel = uint16_t(gate[0] >> 16);
        Descriptor tss;
        if (!read_tss_descriptor(cpu, tss_sel, tss, 13, ext)) return;
        if (!tss_type::is_tss(tss) || tss_type::busy(tss)) {
            cpu.raise(13, true, (tss_sel & 0xfffc) | ext);
            return;
        }
        if (!tss.present()) {
            cpu.raise(11, true, (tss_sel & 0xfffc) | ext);
            return;
        }
        task_switch(cpu, tss_sel, tss, TaskSwitchReason::Interrupt, return_ip, ext, has_error, error, fault);
        return;
    }
    const bool gate32 = long_mode || (type & 8);
    const uint16_t target_sel = uint16_t(gate[0] >> 16);
    uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull);
    if (long_mode) target |= gate[1] << 32;
    if (!gate32) target &= 0xffff;
    const unsigned ist = long_mode ? unsigned(gate[0] >> 32) & 7 : 0;

    if ((target_sel & 0xfffc) == 0) {
        cpu.raise(13, true, ext);
        return;
    }
    Descriptor cs;
    if (!read_descriptor(cpu, target_sel, cs)) return;
    if (!cs.is_code() || cs.dpl() > s.cpl() || (long_mode && (!cs.long_code() || (cs.raw & (1ull << 54))))) {
        cpu.raise(13, true, (target_sel & 0xfffc) + ext);
        return;
    }
    if (!cs.present()) {
        cpu.raise(11, true, (target_sel & 0xfffc) + ext);
        return;
    }
    const unsigned old_cpl = s.cpl();
    const unsigned new_cpl = cs.conforming() ? old_cpl : cs.dpl();
    if ((s.eflags & flag::VM) && new_cpl != 0) {
        // Virtual-8086 mode can only be left for a ring-0 handler.
        cpu.raise(13, true, (target_sel & 0xfffc) + ext);
        return;
    }
    const uint64_t old_flags = s.eflags;
    // Fault-class exceptions push RF=1 so that IRET back to the faulting
    // instruction does not retrigger an instruction breakpoint (SDM vol. 3, 18.3.1.1).
    const uint64_t flags_image = old_flags | (fault ? flag::RF : 0);
    const SegmentCache old_ss = s.seg[SS];
    const uint64_t old_sp = s.gpr[RSP];
    const uint16_t old_cs = s.seg[CS].selector;

    uint64_t sp = old_sp;
    SegmentCache new_ss = old_ss;
    bool switch_stack = new_cpl < old_cpl || (old_flags & flag::VM);
    if (long_mode) {
        if (switch_stack || ist) {
            uint64_t off = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * new_cpl;
            if (off + 7 > s.tr.limit) {
                cpu.raise(10, true, s.tr.selector & 0xfffc);
                return;
            }
            if (!cpu.read_system(s.tr.base + off, &sp, 8)) return;
        }
        if (switch_stack) new_ss = SegmentCache{0, 0, uint16_t(new_cpl), uint16_t(new_cpl << 5)};
        sp &= ~0xfull;
        const unsigned w = 8;
        auto push = [&](uint64_t v) {
            sp -= w;
            return cpu.write_linear(sp, &v, w, false);
        };
        if (!push(old_ss.selector) || !push(old_sp) || !push(flags_image) || !push(old_cs) ||
            !push(return_ip) || (has_error && !push(error)))
            return;
    } else {
        if (switch_stack) {
            // 32-bit TSS: ESP0 at 4 + 8*cpl, SS0 at 8 + 8*cpl.
            uint32_t off = 4 + 8 * new_cpl;
            uint32_t esp = 0;
            uint16_t ss = 0;
            if (off + 5 > s.tr.limit) {
                cpu.raise(10, true, s.tr.selector & 0xfffc);
                return;
            }
            if (!cpu.read_system(s.tr.base + off, &esp, 4) || !cpu.read_system(s.tr.base + off + 4, &ss, 2))
                return;
            Descriptor ssd;
            if ((ss & 0xfffc) == 0 || !read_descriptor(cpu, ss, ssd, 10)) {
                if ((ss & 0xfffc) == 0) cpu.raise(10, true, ext);
                return;
            }
            if ((ss & 3) != new_cpl || ssd.dpl() != new_cpl || !ssd.writable_data()) {
                cpu.raise(10, true, (ss & 0xfffc) + ext);
                return;
            }
            if (!ssd.present()) {
                cpu.raise(12, true, (ss & 0xfffc) + ext);
                return;
            }
            new_ss = SegmentCache{ssd.base(), ssd.limit(), ss, ssd.attr()};
            sp = esp;
        }
        const unsigned w = gate32 ? 4 : 2;
        const unsigned sb = new_ss.big() ? 4 : 2;
        auto push = [&](uint64_t v) {
            sp -= w;
            if (sb == 2)
                sp = uint16_t(sp);
            else
                sp = uint32_t(sp);
            uint64_t linear = uint32_t(new_ss.base + sp);
            return cpu.write_linear(linear, &v, w, new_cpl == 3);
        };
        if (old_flags & flag::VM) {
            if (!push(s.seg[GS].selector) || !push(s.seg[FS].selector) || !push(s.seg[DS].selector) ||
                !push(s.seg[ES].selector))
                return;
        }
        if (switch_stack && (!push(old_ss.selector) || !push(old_sp))) return;
        if (!push(flags_image) || !push(old_cs) || !push(return_ip) || (has_error && !push(error))) return;
        if (sb == 2) sp = (old_sp & ~0xffffull) | (sp & 0xffff);
    }
    // Commit.
    if (old_flags & flag::VM) {
        for (SegReg r : {ES, DS, FS, GS}) s.seg[r] = SegmentCache{0, 0, 0, 0};
    }
    s.seg[SS] = new_ss;
    s.gpr[RSP] = sp;
    load_code_segment(cpu, target_sel, cs, new_cpl);
    s.rip = target;
    s.eflags &= ~(flag::TF | flag::NT | flag::RF | flag::VM);
    if (!(type & 1)) s.eflags &= ~flag::IF; // interrupt gate
}

} // namespace

void Vcpu::raise(uint8_t vector, bool has_error, uint32_t error_code) {
    static thread_local int depth = 0;
    static thread_local int first = -1;
    log_cat(logcat::kInt, "exception {} err {:#x} at {:04x}:{:#x} rflags {:#x}", vector,
            has_error ? error_code : 0, state.seg[CS].selector, state.rip, state.eflags);
    if (triple_faulted) return;
    event_count++;
    if (depth > 0) {
        // A fault while delivering `first`.
        bool df = (first == 8) ? false
                               : (is_contributory(uint8_t(first)) && is_contributory(vector)) ||
                                     (first == 14 && (is_contributory(vector) || vector == 14));
        if (first == 8) {
            triple_faulted = true;
            log_warning("triple fault (fault {} while delivering #DF)", vector);
            return;
        }
        if (df) {
            if (depth > 2) {
                triple_faulted = true;
                return;
            }
            vector = 8;
            has_error = true;
            error_code = 0;
        }
    }
    int saved_first = first;
    first = vector;
    depth++;
    if (depth > 3) {
        triple_faulted = true;
    } else {
        last_exceptions[last_exception_count++ % 4] = vector;
        if (!(state.cr0 & cr0::PE))
            deliver_real_mode(*this, vector, state.rip);
        else
            deliver_protected(*this, vector, has_error, error_code, state.rip, false, is_fault_class(vector));
    }
    depth--;
    first = saved_first;
    if (triple_faulted && depth == 0)
        log_warning("triple fault at {:04x}:{:#x}", state.seg[CS].selector, state.rip);
}

void Vcpu::raise_software_interrupt(uint8_t vector, uint64_t next_rip, bool int3_or_into) {
    log_cat(logcat::kInt, "software interrupt {} at {:#x}", vector, state.rip);
    event_count++;
    if (!(state.cr0 & cr0::PE)) {
        deliver_real_mode(*this, vector, next_rip);
        return;
    }
    if (state.eflags & flag::VM) {
        if (state.cr4 & cr4::VME)
            log_warning(
                "INT {} in virtual-8086 mode with CR4.VME: interrupt redirection (VME) is not implemented; "
                "handled as without VME",
                vector);
        // INT n is IOPL-sensitive in virtual-8086 mode; INT3 and INTO are not.
        if (!int3_or_into && ((state.eflags & flag::IOPL) >> 12) < 3) {
            raise(13, true, 0);
            return;
        }
    }
    deliver_protected(*this, vector, false, 0, next_rip, true);
}

void Vcpu::deliver_interrupt(uint8_t vector) {
    log_cat(logcat::kInt, "interrupt {:#x} at {:04x}:{:#x}", vector, state.seg[CS].selector, state.rip);
    event_count++;
    if (!(state.cr0 & cr0::PE))
        deliver_real_mode(*this, vector, state.rip);
    else
        deliver_protected(*this, vector, false, 0, state.rip, false);
    state.halted = false;
}

} // namespace hayate
