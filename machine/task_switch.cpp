// Hardware task switches (Intel SDM vol. 3, 7.3 "Task Switching"). The steps
// up to the commit point (new TSS limit, reading the new TSS, saving the old
// one, busy bits and the back-link) change no register, so a fault there
// restarts the instruction or event cleanly. After the commit the new task's
// registers are loaded and its LDT and segment descriptors qualified (SDM
// table 7-1); the first failing check is raised in the context of the new
// task once every segment register holds its selector (the rest loaded
// without further checks).
#include "machine/task_switch.h"
#include "machine/log.h"
#include "machine/stack_cursor.h"
#include "machine/system.h"
#include <cstring>

namespace hayate {

namespace {

constexpr uint32_t kTss32MinLimit = 0x67, kTss16MinLimit = 0x2b;
constexpr uint64_t kLoadableFlags = 0x3f7fd5; // EFLAGS bits a TSS can set
constexpr uint16_t kVm86DataAttr = 0xf3, kVm86CodeAttr = 0xfb;

// The registers of a task as a TSS holds them (16-bit TSS fields widened).
struct TaskImage {
    uint32_t cr3 = 0, eip = 0, eflags = 0;
    uint32_t gpr[8] = {};
    uint16_t seg[kSegCount] = {}; // ES CS SS DS FS GS
    uint16_t ldt = 0;
    bool trap = false; // the T (debug trap) flag
};

bool read_block(Vcpu& cpu, uint64_t linear, uint8_t* out, unsigned size) {
    for (unsigned off = 0; off < size; off += 8) {
        const unsigned n = size - off < 8 ? size - off : 8;
        if (!cpu.read_system(uint32_t(linear + off), out + off, n)) return false;
    }
    return true;
}

bool read_image(Vcpu& cpu, uint64_t base, bool tss32, TaskImage& t) {
    uint8_t raw[kTss32MinLimit + 1];
    if (!read_block(cpu, base, raw, tss32 ? kTss32MinLimit + 1 : kTss16MinLimit + 1)) return false;
    auto u16 = [&](unsigned off) { return uint16_t(raw[off] | raw[off + 1] << 8); };
    auto u32 = [&](unsigned off) { return uint32_t(u16(off) | uint32_t(u16(off + 2)) << 16); };
    if (tss32) {
        t.cr3 = u32(0x1c);
        t.eip = u32(0x20);
        t.eflags = u32(0x24);
        for (int i = 0; i < 8; i++) t.gpr[i] = u32(0x28 + 4 * i);
        for (int i = 0; i < kSegCount; i++) t.seg[i] = u16(0x48 + 4 * i);
        t.ldt = u16(0x60);
        t.trap = raw[0x64] & 1;
    } else {
        // The upper halves of a 16-bit task's registers read as ones (as Bochs
        // models it; the SDM leaves them undefined); FS and GS are null.
        t.eip = u16(0x0e);
        t.eflags = u16(0x10);
        for (int i = 0; i < 8; i++) t.gpr[i] = 0xffff0000u | u16(0x12 + 2 * i);
        for (int i = 0; i < 4; i++) t.seg[i] = u16(0x22 + 2 * i);
        t.ldt = u16(0x2a);
    }
    return true;
}

bool write_u16(Vcpu& cpu, uint64_t linear, uint16_t v) { return cpu.write_system(uint32_t(linear), &v, 2); }
bool write_u32(Vcpu& cpu, uint64_t linear, uint32_t v) { return cpu.write_system(uint32_t(linear), &v, 4); }

// Saves the dynamic fields of the current task into its TSS (the static
// ones, CR3 and the LDT selector, stay).
bool save_image(Vcpu& cpu, uint64_t eip, uint32_t eflags) {
    const CpuState& s = cpu.state;
    const uint64_t base = s.tr.base;
    if (s.tr.attr & 8) {
        if (!write_u32(cpu, base + 0x20, uint32_t(eip)) || !write_u32(cpu, base + 0x24, eflags)) return false;
        for (int i = 0; i < 8; i++)
            if (!write_u32(cpu, base + 0x28 + 4 * i, uint32_t(s.gpr[i]))) return false;
        for (int i = 0; i < kSegCount; i++)
            if (!write_u16(cpu, base + 0x48 + 4 * i, s.seg[i].selector)) return false;
        return true;
    }
    if (!write_u16(cpu, base + 0x0e, uint16_t(eip)) || !write_u16(cpu, base + 0x10, uint16_t(eflags)))
        return false;
    for (int i = 0; i < 8; i++)
        if (!write_u16(cpu, base + 0x12 + 2 * i, uint16_t(s.gpr[i]))) return false;
    for (int i = 0; i < 4; i++)
        if (!write_u16(cpu, base + 0x22 + 2 * i, s.seg[i].selector)) return false;
    return true;
}

// Sets or clears the busy bit of the TSS descriptor `selector` in the GDT.
bool set_busy(Vcpu& cpu, uint16_t selector, bool busy) {
    const uint64_t linear = cpu.state.gdtr.base + (selector & 0xfff8) + 5;
    uint8_t access = 0;
    if (!cpu.read_system(linear, &access, 1)) return false;
    access = busy ? access | 2 : access & ~2;
    return cpu.write_system(linear, &access, 1);
}

enum class Fetch { Ok, NotInTable, Faulted };

// Reads the descriptor of `selector` without raising for a selector outside
// its table (the caller decides); a page fault on the table is raised.
Fetch fetch_descriptor(Vcpu& cpu, uint16_t selector, Descriptor& d) {
    const CpuState& s = cpu.state;
    uint64_t base = s.gdtr.base;
    uint32_t limit = s.gdtr.limit;
    if (selector & 4) {
        if (!(s.ldtr.attr & segattr::kPresent)) return Fetch::NotInTable;
        base = s.ldtr.base;
        limit = s.ldtr.limit;
    }
    if ((selector | 7u) > limit) return Fetch::NotInTable;
    d.raw_high = 0;
    return cpu.read_system(base + (selector & 0xfff8), &d.raw, 8) ? Fetch::Ok : Fetch::Faulted;
}

struct PendingFault {
    uint8_t vector = 0; // 0: none
    uint32_t code = 0;
};

// Loads the new task's LDTR and segment registers (SDM table 7-1). Returns
// false if a page fault on a descriptor table was raised (nothing more can be done).
bool load_task_segments(Vcpu& cpu, const TaskImage& t, bool vm86, uint32_t ext, PendingFault& fault) {
    CpuState& s = cpu.state;
    auto fail = [&](uint8_t vector, uint16_t selector) {
        if (!fault.vector) fault = PendingFault{vector, uint32_t(selector & 0xfffc) | ext};
    };

    // LDTR: a GDT selector of a present LDT descriptor, or null.
    s.ldtr = SegmentCache{0, 0, t.ldt, 0};
    if (t.ldt & 0xfffc) {
        Descriptor d;
        Fetch f = (t.ldt & 4) ? Fetch::NotInTable : fetch_descriptor(cpu, t.ldt, d);
        if (f == Fetch::Faulted) return false;
        if (f != Fetch::Ok || d.s() || d.type() != 2 || !d.present())
            fail(10, t.ldt);
        else
            s.ldtr = SegmentCache{d.base(), d.limit(), t.ldt, d.attr()};
    }

    if (vm86) {
        for (int i = 0; i < kSegCount; i++)
            s.seg[i] = SegmentCache{uint64_t(t.seg[i]) << 4, 0xffff, t.seg[i],
                                    i == CS ? kVm86CodeAttr : kVm86DataAttr};
        return true;
    }

    const unsigned cpl = t.seg[CS] & 3;
    // Every register first gets its selector and an unusable cache; CS carries the new CPL.
    for (int i = 0; i < kSegCount; i++)
        s.seg[i] = SegmentCache{0, 0, t.seg[i], uint16_t(i == CS ? cpl << 5 : 0)};

    for (int i : {CS, SS, DS, ES, FS, GS}) {
        const uint16_t sel = t.seg[i];
        const unsigned rpl = sel & 3;
        const bool checking = !fault.vector; // after a failure the rest load unchecked
        Descriptor d;
        Fetch f = (sel & 0xfffc) ? fetch_descriptor(cpu, sel, d) : Fetch::NotInTable;
        if (f == Fetch::Faulted) return false;
        if (checking) {
            if (i == CS) {
                if (f != Fetch::Ok || !d.is_code() || (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl))
                    fail(10, sel);
                else if (!d.present())
                    fail(11, sel);
            } else if (i == SS) {
                if (f != Fetch::Ok || rpl != cpl || !d.writable_data() || d.dpl() != cpl)
                    fail(10, sel);
                else if (!d.present())
                    fail(12, sel);
            } else if (sel & 0xfffc) {
                if (f != Fetch::Ok || !d.s() || (d.is_code() && !d.readable()))
                    fail(10, sel);
                else if (!d.conforming() && (d.dpl() < cpl || d.dpl() < rpl))
                    fail(10, sel);
                else if (!d.present())
                    fail(11, sel);
            }
        }
        if (f != Fetch::Ok) continue; // stays unusable
        if (!fault.vector) mark_accessed(cpu, sel, d);
        s.seg[i] = SegmentCache{d.base(), d.limit(), sel, d.attr()};
        if (i == CS) s.seg[CS].attr = uint16_t((s.seg[CS].attr & ~0x60) | (cpl << 5));
    }
    return true;
}

} // namespace

bool read_tss_descriptor(Vcpu& cpu, uint16_t selector, Descriptor& d, uint8_t fault_vector, bool ext) {
    const CpuState& s = cpu.state;
    if ((selector & 4) || (selector | 7u) > s.gdtr.limit) {
        cpu.raise(fault_vector, true, uint32_t(selector & 0xfffc) | (ext ? 1 : 0));
        return false;
    }
    d.raw_high = 0;
    return cpu.read_system(s.gdtr.base + (selector & 0xfff8), &d.raw, 8);
}

bool task_switch(Vcpu& cpu, uint16_t selector, const Descriptor& tss, TaskSwitchReason reason,
                 uint64_t return_rip, bool ext, bool has_error, uint32_t error, bool fault_class) {
    CpuState& s = cpu.state;
    const uint32_t ext_bit = ext ? 1 : 0;
    const bool tss32 = tss.type() & 8;
    if (tss.limit() < (tss32 ? kTss32MinLimit : kTss16MinLimit)) {
        cpu.raise(10, true, uint32_t(selector & 0xfffc) | ext_bit);
        return false;
    }
    TaskImage next;
    if (!read_image(cpu, tss.base(), tss32, next)) return false;

    // Save the outgoing task. IRET leaves it with NT clear; JMP and IRET free it.
    uint32_t flags_image = uint32_t(s.eflags);
    if (reason == TaskSwitchReason::Iret) flags_image &= ~uint32_t(flag::NT);
    if (fault_class) flags_image |= uint32_t(flag::RF);
    if (!save_image(cpu, return_rip, flags_image)) return false;
    if (reason == TaskSwitchReason::Jump || reason == TaskSwitchReason::Iret)
        if (!set_busy(cpu, s.tr.selector, false)) return false;
    const bool nests = reason == TaskSwitchReason::Call || reason == TaskSwitchReason::Interrupt;
    if (nests && !write_u16(cpu, tss.base(), s.tr.selector)) return false;
    if (reason != TaskSwitchReason::Iret && !set_busy(cpu, selector, true)) return false;

    // Commit: the new task's TR, registers and control state.
    log_cat(logcat::kInt, "task switch {:#x} -> {:#x} ({})", s.tr.selector, selector,
            reason == TaskSwitchReason::Jump   ? "jmp"
            : reason == TaskSwitchReason::Call ? "call"
            : reason == TaskSwitchReason::Iret ? "iret"
                                               : "interrupt");
    s.tr = SegmentCache{tss.base(), tss.limit(), selector, uint16_t(tss.attr() | 2)};
    s.cr0 |= cr0::TS;
    if (tss32 && (s.cr0 & cr0::PG) && !write_control_register(cpu, 3, next.cr3)) return false;
    uint64_t flags = (next.eflags & kLoadableFlags) | flag::kFixed1;
    if (!tss32) flags &= 0xffff;
    if (nests) flags |= flag::NT;
    s.eflags = flags;
    s.rip = next.eip;
    for (int i = 0; i < 8; i++) s.gpr[i] = next.gpr[i];
    const bool vm86 = tss32 && (flags & flag::VM);
    PendingFault fault;
    if (!load_task_segments(cpu, next, vm86, ext_bit, fault)) return false;
    if (fault.vector) {
        cpu.raise(fault.vector, true, fault.code);
        return false;
    }

    if (has_error) {
        StackCursor stack = current_stack(cpu);
        stack.fault_code = ext_bit;
        if (!stack.push(error, tss32 ? 4 : 2)) return false;
        s.gpr[RSP] = stack.rsp;
    }
    if (s.rip > s.seg[CS].limit) {
        cpu.raise(13, true, ext_bit);
        return false;
    }
    if (next.trap) {
        // The T flag: a debug trap before the new task's first instruction (DR6.BT).
        s.dr[6] |= 1u << 15;
        cpu.raise(1);
        return false;
    }
    return true;
}

} // namespace hayate
