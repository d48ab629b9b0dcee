// Segment descriptors: reading them from the GDT/LDT and loading segment
// registers with the protection checks of the Intel SDM (vol. 3, ch. 5).
#pragma once
#include "machine/vcpu.h"
#include <cstdint>

namespace hayate {

struct Descriptor {
    uint64_t raw = 0;
    uint64_t raw_high = 0; // second half of 16-byte system descriptors (long mode)
    uint64_t base() const { return ((raw >> 16) & 0xffffff) | (((raw >> 56) & 0xff) << 24); }
    uint32_t limit() const {
        uint32_t l = uint32_t((raw & 0xffff) | (((raw >> 48) & 0xf) << 16));
        return (raw & (1ull << 55)) ? (l << 12) | 0xfff : l;
    }
    uint16_t attr() const { return uint16_t(((raw >> 40) & 0xff) | (((raw >> 52) & 0xf) << 12)); }
    unsigned type() const { return unsigned(raw >> 40) & 0xf; }
    bool s() const { return raw & (1ull << 44); }
    unsigned dpl() const { return unsigned(raw >> 45) & 3; }
    bool present() const { return raw & (1ull << 47); }
    bool is_code() const { return s() && (type() & 8); }
    bool conforming() const { return is_code() && (type() & 4); }
    bool readable() const { return !is_code() || (type() & 2); }
    bool writable_data() const { return s() && !(type() & 8) && (type() & 2); }
    bool long_code() const { return raw & (1ull << 53); }
};

// Reads the descriptor for `selector` (GDT or LDT); raises #GP(selector) if
// it lies outside the table and returns false.
bool read_descriptor(Vcpu& cpu, uint16_t selector, Descriptor& d, uint8_t fault_vector = 13);
// Loads a data/stack segment register (DS, ES, FS, GS, SS) as MOV/POP do.
bool load_data_segment(Vcpu& cpu, SegReg seg, uint16_t selector);
// Loads CS for a far JMP/CALL/RET/IRET to a code segment at privilege `new_cpl`.
void load_code_segment(Vcpu& cpu, uint16_t selector, const Descriptor& d, unsigned new_cpl);
// Recomputes CpuState::seg_bounds from the segment caches. The dispatcher
// calls it before generated code runs: every segment change exits generated
// code, so the bounds always describe the current segments.
void refresh_segment_bounds(CpuState& s);
// Sets the accessed bit of a descriptor in memory.
void mark_accessed(Vcpu& cpu, uint16_t selector, Descriptor& d);

} // namespace hayate
