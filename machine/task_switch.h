// Hardware task switching (Intel SDM vol. 3, ch. 7): far JMP/CALL to a TSS
// or task gate, IRET with EFLAGS.NT, and exceptions/interrupts through a task
// gate in the IDT. 32-bit and 16-bit TSSs; protected mode only (IA-32e mode
// has no task switching).
#pragma once
#include "machine/segments.h"
#include "machine/vcpu.h"
#include <cstdint>

namespace hayate {

enum class TaskSwitchReason { Jump, Call, Iret, Interrupt };

// TSS descriptor types (system descriptors, S = 0).
namespace tss_type {
constexpr unsigned kAvailable16 = 1, kBusy16 = 3, kAvailable32 = 9, kBusy32 = 11;
inline bool is_tss(const Descriptor& d) {
    return !d.s() && (d.type() == kAvailable16 || d.type() == kBusy16 || d.type() == kAvailable32 ||
                      d.type() == kBusy32);
}
inline bool busy(const Descriptor& d) { return d.type() == kBusy16 || d.type() == kBusy32; }
} // namespace tss_type

// Switches to the task of the TSS descriptor `tss` (selector `selector`, in
// the GDT). The caller has made the checks that depend on how the switch was
// started (privilege, busy/available, present). This checks the TSS limit,
// saves the current task, commits, and loads the new task; a fault found
// after the commit point is raised in the context of the new task (SDM 7.3).
// `return_rip` is the EIP saved in the old TSS; `ext` sets the EXT bit of the
// error codes; for Interrupt, `has_error`/`error` is pushed on the new task's
// stack and `fault_class` sets RF in the saved EFLAGS image (as a fault's
// stack frame has it). Returns true when the new task may start (false: an
// exception was raised).
bool task_switch(Vcpu& cpu, uint16_t selector, const Descriptor& tss, TaskSwitchReason reason,
                 uint64_t return_rip, bool ext = false, bool has_error = false, uint32_t error = 0,
                 bool fault_class = false);

// Reads a TSS descriptor for a task gate's or IRET's TSS selector: it must be in
// the GDT and within its limit; raises `fault_vector`(selector | ext) otherwise.
bool read_tss_descriptor(Vcpu& cpu, uint16_t selector, Descriptor& d, uint8_t fault_vector, bool ext);

} // namespace hayate
