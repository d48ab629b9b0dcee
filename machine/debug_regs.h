// Debug registers (SDM vol. 3, ch. 18): which DR0-DR3 breakpoints a data
// access hits. Instruction breakpoints are checked by the dispatcher
// (machine/tcg.cpp), data breakpoints where guest memory is accessed.
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>

namespace hayate {

// True if DR7 enables any of DR0-DR3 (L or G bit).
inline bool debug_breakpoints_enabled(const CpuState& s) { return s.dr[7] & 0xff; }
// DR6.Bn bits of the enabled data breakpoints that the access
// [linear, linear + size) triggers (R/W = 01 on writes, 11 on reads and writes).
uint32_t data_breakpoint_hits(const CpuState& s, uint64_t linear, unsigned size, bool write);
// True if an enabled data breakpoint covers part of the 4 KiB page of
// `linear`: accesses to that page must not be served by the TLB.
bool page_has_data_breakpoint(const CpuState& s, uint64_t linear);

} // namespace hayate
