// Host traps of generated code that stand for guest exceptions.
//
// Guest SSE arithmetic runs as the same host instruction under the guest's
// MXCSR. When the guest unmasks a SIMD floating-point exception, the host CPU
// raises #XM on that instruction and the kernel delivers SIGFPE. The
// translator records, for each host instruction that may trap so, a resume
// address in the block's cold code that raises the guest exception with the
// guest state of that instruction; the SIGFPE handler moves the host RIP
// there. The host instruction did not retire, so nothing is lost, and the
// MXCSR flags it set come back with the signal frame.
#pragma once
#include <csignal>
#include <cstdint>

namespace hayate::jit {

// Registers a trap site (host address of the instruction) and its resume address.
void add_host_trap(const uint8_t* site, const uint8_t* resume);
// Forgets every site in [begin, end) (translation cache flushed or freed).
void forget_host_traps(const uint8_t* begin, const uint8_t* end);
// Installs the SIGFPE handler once per process; a signal from anywhere else
// goes to the handler that was there before (or the default action).
void install_host_trap_handler();
// For programs with their own SIGFPE handler (tests): true if `ucontext`'s
// RIP was a registered site and has been moved to its resume address.
bool resume_host_trap(void* ucontext);

} // namespace hayate::jit
