// Stack accesses of control transfers (far CALL/RET, IRET, gates, task
// switches) on a stack that need not be the current one: the inner stack of a
// call gate is written before SS:ESP change, so a fault leaves the guest
// state as it was (precise restart). Segment limits (expand-down too) are
// checked as the SDM's "stack does not have room" / "not within stack limits"
// conditions, raising #SS with the caller's error code.
#pragma once
#include "machine/vcpu.h"
#include <cstdint>

namespace hayate {

inline bool is_canonical_address(uint64_t v) { return int64_t(v << 16) >> 16 == int64_t(v); }

// Whether `bytes` bytes at `offset` lie within the segment's limit.
inline bool segment_offset_ok(const SegmentCache& c, uint64_t offset, unsigned bytes) {
    const uint64_t last = offset + bytes - 1;
    const bool expand_down = (c.attr & 0x1c) == 0x14; // data segment with the E bit
    if (expand_down) return offset > c.limit && last <= (c.big() ? 0xffffffffull : 0xffffull);
    return last <= c.limit;
}

struct StackCursor {
    Vcpu& cpu;
    SegmentCache ss;         // the stack's segment (a null SS for 64-bit stacks)
    uint64_t rsp;            // the whole stack-pointer register
    bool long64;             // a 64-bit stack: no segmentation, canonical addresses
    bool user;               // CPL 3 access rights
    uint32_t fault_code = 0; // error code of #SS

    unsigned width() const { return long64 ? 8 : ss.big() ? 4 : 2; }
    uint64_t offset_mask() const { return width() == 8 ? ~0ull : width() == 4 ? 0xffffffffull : 0xffffull; }
    uint64_t offset() const { return rsp & offset_mask(); }
    void set_offset(uint64_t off) {
        off &= offset_mask();
        rsp = width() == 2 ? (rsp & ~0xffffull) | off : off;
    }

    // The linear address of `bytes` at `off`, or false after raising #SS.
    bool locate(uint64_t off, unsigned bytes, uint64_t& linear) {
        if (long64) {
            if (!is_canonical_address(off) || !is_canonical_address(off + bytes - 1)) {
                cpu.raise(12, true, fault_code);
                return false;
            }
            linear = off;
            return true;
        }
        if (!segment_offset_ok(ss, off, bytes)) {
            cpu.raise(12, true, fault_code);
            return false;
        }
        linear = uint32_t(ss.base + off);
        return true;
    }
    bool push(uint64_t value, unsigned bytes) {
        const uint64_t off = (offset() - bytes) & offset_mask();
        uint64_t linear;
        if (!locate(off, bytes, linear) || !cpu.write_linear(linear, &value, bytes, user)) return false;
        set_offset(off);
        return true;
    }
    bool pop(uint64_t& value, unsigned bytes) {
        value = 0;
        uint64_t linear;
        if (!locate(offset(), bytes, linear) || !cpu.read_linear(linear, &value, bytes, user)) return false;
        set_offset(offset() + bytes);
        return true;
    }
    // Reads `bytes` at `skip` bytes above the top of the stack without popping.
    bool peek(uint64_t skip, uint64_t& value, unsigned bytes) {
        value = 0;
        uint64_t linear;
        const uint64_t off = (offset() + skip) & offset_mask();
        return locate(off, bytes, linear) && cpu.read_linear(linear, &value, bytes, user);
    }
    void release(uint64_t bytes) { set_offset(offset() + bytes); }
};

// The current stack (SS:rSP) as the running code sees it.
inline StackCursor current_stack(Vcpu& cpu) {
    const CpuState& s = cpu.state;
    const bool long64 = (s.efer & efer::LMA) && s.seg[CS].is_long();
    return StackCursor{cpu, s.seg[SS], s.gpr[RSP], long64, s.cpl() == 3 || (s.eflags & flag::VM), 0};
}

} // namespace hayate
