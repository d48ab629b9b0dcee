// The translating accelerator: runs one vCPU's guest code through the
// block translator until something needs the board's attention.
#pragma once
#include <memory>

namespace hayate {

class Vcpu;
class PhysicalMemory;
class IoBus;

enum class StopReason {
    Halted,   // HLT executed (state.halted is set): wait for an interrupt
    Shutdown, // the machine asked to end (debug-exit, Ctrl-A x, triple fault with -no-reboot)
    Reset,    // triple fault or reset request: the board resets
    Kicked,   // exit_request was set by another thread: the caller looks at why
};

class TcgEngine {
  public:
    TcgEngine(Vcpu& cpu, PhysicalMemory& memory, IoBus& ports);
    ~TcgEngine();
    StopReason run();
    void flush_translations();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace hayate
