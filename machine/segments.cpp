#include "machine/segments.h"
#include "machine/log.h"

namespace hayate {

bool read_descriptor(Vcpu& cpu, uint16_t selector, Descriptor& d, uint8_t fault_vector) {
    CpuState& s = cpu.state;
    uint64_t base;
    uint32_t limit;
    if (selector & 4) {
        if (!(s.ldtr.attr & segattr::kPresent) || (s.ldtr.selector & ~3) == 0) {
            cpu.raise(fault_vector, true, selector & 0xfffc);
            return false;
        }
        base = s.ldtr.base;
        limit = s.ldtr.limit;
    } else {
        base = s.gdtr.base;
        limit = s.gdtr.limit;
    }
    uint32_t index = selector & 0xfff8;
    if (index + 7 > limit) {
        cpu.raise(fault_vector, true, selector & 0xfffc);
        return false;
    }
    if (!cpu.read_system(base + index, &d.raw, 8)) return false;
    d.raw_high = 0;
    if ((s.efer & efer::LMA) && !d.s() && index + 15 <= limit)
        if (!cpu.read_system(base + index + 8, &d.raw_high, 8)) return false;
    return true;
}

void mark_accessed(Vcpu& cpu, uint16_t selector, Descriptor& d) {
    if (!d.s() || (d.type() & 1)) return;
    d.raw |= 1ull << 40;
    uint64_t base = (selector & 4) ? cpu.state.ldtr.base : cpu.state.gdtr.base;
    uint8_t byte = uint8_t(d.raw >> 40);
    cpu.write_system(base + (selector & 0xfff8) + 5, &byte, 1);
}

static void set_from_descriptor(Vcpu& cpu, SegReg seg, uint16_t selector, const Descriptor& d) {
    cpu.state.seg[seg] = SegmentCache{d.base(), d.limit(), selector, d.attr()};
}

void refresh_segment_bounds(CpuState& s) {
    const bool protected_mode = (s.cr0 & cr0::PE) && !(s.eflags & flag::VM);
    for (int i = 0; i < kSegCount; i++) {
        const SegmentCache& c = s.seg[i];
        SegmentBounds& b = s.seg_bounds[i];
        if (!protected_mode) {
            // Real and virtual-8086 mode: only the limit counts (unreal mode keeps a big one).
            b = SegmentBounds{0, c.limit, 0, c.limit};
            continue;
        }
        constexpr SegmentBounds kNone{1, 0, 1, 0};
        if (!c.present()) { // null or unusable
            b = kNone;
            continue;
        }
        const unsigned type = c.attr & 0xf;
        const bool code = c.attr & segattr::kCode;
        uint64_t lo = 0, hi = c.limit;
        if (!code && (type & 4)) { // expand-down data: offsets above the limit
            lo = uint64_t(c.limit) + 1;
            hi = c.big() ? 0xffffffffull : 0xffffull;
        }
        const bool readable = !code || (type & 2);
        const bool writable = !code && (type & 2);
        b.read_lo = readable ? lo : 1;
        b.read_hi = readable ? hi : 0;
        b.write_lo = writable ? lo : 1;
        b.write_hi = writable ? hi : 0;
    }
}

bool load_data_segment(Vcpu& cpu, SegReg seg, uint16_t selector) {
    CpuState& s = cpu.state;
    if (!(s.cr0 & cr0::PE) || (s.eflags & flag::VM)) {
        // Real and virtual-8086 mode: base = selector * 16, other attributes kept
        // (that is what makes unreal mode work), except in VM86 where they are reset.
        SegmentCache& c = s.seg[seg];
        c.selector = selector;
        c.base = uint64_t(selector) << 4;
        if (s.eflags & flag::VM) {
            c.limit = 0xffff;
            c.attr = 0xf3;
        }
        return true;
    }
    const unsigned cpl = s.cpl();
    const unsigned rpl = selector & 3;
    if ((selector & 0xfffc) == 0) {
        if (seg == SS && (!(s.efer & efer::LMA) || cpl == 3 || !s.seg[CS].is_long() || rpl != cpl)) {
            cpu.raise(13, true, 0);
            return false;
        }
        // Null selector: unusable segment.
        s.seg[seg] = SegmentCache{0, 0, selector, 0};
        return true;
    }
    Descriptor d;
    if (!read_descriptor(cpu, selector, d)) return false;
    if (seg == SS) {
        if (rpl != cpl || !d.writable_data() || d.dpl() != cpl) {
            cpu.raise(13, true, selector & 0xfffc);
            return false;
        }
        if (!d.present()) {
            cpu.raise(12, true, selector & 0xfffc);
            return false;
        }
    } else {
        if (!d.s() || (d.is_code() && !d.readable())) {
            cpu.raise(13, true, selector & 0xfffc);
            return false;
        }
        if ((!d.is_code() || !d.conforming()) && (rpl > d.dpl() || cpl > d.dpl())) {
            cpu.raise(13, true, selector & 0xfffc);
            return false;
        }
        if (!d.present()) {
            cpu.raise(11, true, selector & 0xfffc);
            return false;
        }
    }
    mark_accessed(cpu, selector, d);
    set_from_descriptor(cpu, seg, selector, d);
    return true;
}

void load_code_segment(Vcpu& cpu, uint16_t selector, const Descriptor& d, unsigned new_cpl) {
    Descriptor copy = d;
    mark_accessed(cpu, selector, copy);
    set_from_descriptor(cpu, CS, uint16_t((selector & 0xfffc) | new_cpl), copy);
    // CPL lives in CS.DPL in our state (for conforming segments the DPL field of the cache holds CPL).
    cpu.state.seg[CS].attr = uint16_t((cpu.state.seg[CS].attr & ~0x60) | (new_cpl << 5));
}

} // namespace hayate
