// The PC board: memory, buses, devices, the vCPU and the accelerator that runs it.
#pragma once
#include "machine/bus.h"
#include "machine/clock.h"
#include "machine/memory.h"
#include "machine/options.h"
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace hayate {

class Vcpu;
class Device;
class CharBackend;
class Pic8259;
class FerrLatch;
class ApicBus;
class IrqRouter;
class LocalApic;
class IoApic;
class Pit8254;
class RtcCmos;
class Hpet;
class AcpiPm;
class PciFunction;

// Exit status of hayate when the guest triple-faults under -no-reboot.
constexpr int kTripleFaultStatus = 2;

class Machine {
  public:
    // Builds the board and loads the kernel. Throws std::runtime_error with a
    // one-line user-facing message (bad file, unknown kernel format, too much -m).
    explicit Machine(const MachineOptions& options);
    ~Machine();

    // Runs the guest until it ends; returns hayate's exit status.
    int run();

    // Thread-safe requests from devices and the CPU.
    void request_shutdown(int exit_status); // ends run() with this status
    void request_reset();                   // guest reset (or shutdown with 0 under -no-reboot)
    void kick_cpus();                       // make every vCPU leave generated code soon

    // The CPU's interrupt input: the local APIC has a deliverable interrupt
    // (its own, or the 8259's through LINT0 / with the APIC disabled), and
    // the acknowledge cycle that returns its vector.
    bool interrupt_requested() const { return intr_.load(std::memory_order_acquire); }
    uint8_t acknowledge_interrupt();
    // The 8259 pair's INTA cycle: the vector of the highest pending request,
    // from the slave for a cascaded one.
    uint8_t acknowledge_pic();
    // FERR#: a waiting x87 instruction found an unmasked error with CR0.NE=0.
    // Raises IRQ 13 and returns false, or returns true when IGNNE# (set by
    // the IRQ 13 handler's write to port 0xF0) lets the instruction go on.
    bool signal_fpu_error();
    // Every device back to its power-on state (test harnesses that reuse a machine).
    void reset_devices();

    PhysicalMemory& memory() { return *memory_; }
    TimerQueue& timers() { return timers_; }
    IoBus& ports() { return ports_; }
    Vcpu& vcpu(int index = 0) { return *vcpus_.at(index); }
    const MachineOptions& options() const { return options_; }

    bool shutdown_requested() const { return shutdown_requested_.load(); }
    int exit_status() const { return exit_status_.load(); }
    bool reset_requested() const { return reset_requested_.load(); }
    void clear_reset_request() { reset_requested_ = false; }

  private:
    void build_board();
    void load_kernel();
    void reset_cpus();
    void reset_board(); // devices, CPUs, and the kernel loaded again
    void load_linux_kernel(const class FileImage& image);
    void build_serial_ports();
    void build_interrupt_controllers();
    void build_timers();
    void build_chipset();
    void write_firmware_tables();
    void firmware_cpu_setup();
    void wait_while_halted();
    void timer_watch_loop();
    void stop_timer_watch();
    void wake_timer_watch();

    MachineOptions options_;
    VirtualClock clock_;
    TimerQueue timers_{clock_};
    // Outlive the devices that use them.
    std::unique_ptr<ApicBus> apic_bus_;
    std::unique_ptr<IrqRouter> irq_router_;
    // Leaves generated code when a timer falls due (the vCPU runs it).
    std::thread timer_watch_;
    std::mutex timer_watch_mu_;
    std::condition_variable timer_watch_cv_;
    bool timer_watch_stop_ = false;
    std::unique_ptr<PhysicalMemory> memory_;
    IoBus ports_{"ioport", 0x10000};
    std::vector<std::unique_ptr<Vcpu>> vcpus_;
    std::vector<std::unique_ptr<IrqLine>> irq_lines_;    // outlive the devices raising them
    std::vector<std::unique_ptr<CharBackend>> backends_; // outlive the devices writing to them
    std::vector<std::unique_ptr<Device>> devices_;
    std::atomic<bool> shutdown_claimed_{false}; // first request_shutdown owns exit_status_
    std::atomic<bool> shutdown_requested_{false};
    std::atomic<bool> reset_requested_{false};
    std::atomic<int> exit_status_{0};
    std::atomic<bool> intr_{false};
    Pic8259* pic_master_ = nullptr;
    IoApic* ioapic_ = nullptr;
    std::vector<LocalApic*> lapics_;
    Pit8254* pit_ = nullptr;
    RtcCmos* rtc_ = nullptr;
    Hpet* hpet_ = nullptr;
    AcpiPm* acpi_pm_ = nullptr;
    std::vector<std::unique_ptr<PciFunction>> pci_functions_; // attached to the PCI host
    bool a20_keyboard_controller_ = true, a20_port92_ = false;
    bool hpet_legacy_route_ = false; // HPET timers 0/1 drive IRQ 0/8 instead of the PIT/RTC
    Pic8259* pic_slave_ = nullptr;
    FerrLatch* ferr_ = nullptr;
};

} // namespace hayate
