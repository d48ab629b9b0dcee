#include "machine/machine.h"
#include "devices/debug_exit.h"
#include "devices/elcr.h"
#include "devices/ferr_latch.h"
#include "devices/local_apic.h"
#include "devices/pci_config.h"
#include "devices/pic8259.h"
#include "devices/uart16550.h"
#include "machine/apic_bus.h"
#include "machine/chardev.h"
#include "machine/irq_router.h"
#include "machine/linux_boot.h"
#include "machine/log.h"
#include "machine/multiboot.h"
#include "machine/system.h"
#include "machine/tcg.h"
#include "machine/vcpu.h"
#include <atomic>
#include <cstring>
#include <linux/futex.h>
#include <stdexcept>
#include <sys/syscall.h>
#include <unistd.h>

namespace hayate {

namespace {

// futex(2) wait with a timeout: std::atomic::wait has none.
void futex_wait(uint32_t* word, uint32_t expected, uint64_t timeout_ns) {
    timespec ts{time_t(timeout_ns / kNsPerSecond), long(timeout_ns % kNsPerSecond)};
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, timeout_ns == TimerQueue::kNever ? nullptr : &ts,
            nullptr, 0);
}

} // namespace

Machine::Machine(const MachineOptions& options) : options_(options) {
    begin_host_tsc_measurement(); // the local APIC's TSC-deadline timer needs the rate later
    if (options_.accel != "tcg")
        throw std::runtime_error(fmt::format("-accel {}: not supported", options_.accel));
    memory_ = std::make_unique<PhysicalMemory>(options_.ram_bytes);
    vcpus_.push_back(std::make_unique<Vcpu>(*this, 0));
    build_board();
    load_kernel();
    timers_.set_deadline_moved_earlier([this] { wake_timer_watch(); });
    timer_watch_ = std::thread([this] { timer_watch_loop(); });
}

// Under the watcher's lock, so the wake-up cannot fall between its look at
// the queue and its wait.
void Machine::wake_timer_watch() {
    std::lock_guard lock(timer_watch_mu_);
    timer_watch_cv_.notify_one();
}

void Machine::stop_timer_watch() {
    if (!timer_watch_.joinable()) return;
    {
        std::lock_guard lock(timer_watch_mu_);
        timer_watch_stop_ = true;
    }
    timer_watch_cv_.notify_one();
    timer_watch_.join();
}

// Sleeps until the earliest timer is due, then makes the vCPU leave generated
// code so that it runs the timer; waits for it to do so before looking again.
void Machine::timer_watch_loop() {
    std::unique_lock lock(timer_watch_mu_);
    uint64_t kicked_for = TimerQueue::kNever;
    while (!timer_watch_stop_) {
        const uint64_t due = timers_.next_deadline();
        const uint64_t now = clock_.now_ns();
        if (due == TimerQueue::kNever) {
            timer_watch_cv_.wait(lock);
        } else if (due > now) {
            timer_watch_cv_.wait_for(lock, std::chrono::nanoseconds(due - now));
        } else if (due != kicked_for) {
            kicked_for = due;
            kick_cpus();
        } else {
            // Kicked already; the vCPU notifies once it has run the timers.
            // The bound only matters if that notification raced this wait.
            timer_watch_cv_.wait_for(lock, std::chrono::milliseconds(1));
            kicked_for = TimerQueue::kNever;
        }
    }
}

Machine::~Machine() {
    stop_timer_watch();
    // Devices go first: their backends' input threads may still call into them.
    devices_.clear();
    backends_.clear();
}

void Machine::load_kernel() {
    firmware_cpu_setup();
    write_firmware_tables();
    FileImage image(options_.kernel);
    auto bytes = image.bytes();
    auto header = find_multiboot_header(bytes);
    if (header.offset) {
        MultibootBoot boot =
            load_multiboot(*memory_, image, options_.append, options_.initrd);
        Vcpu& cpu = vcpu(0);
        cpu.enter_flat_protected_mode(boot.entry, boot.gdt_base, boot.gdt_limit);
        cpu.state.gpr[RAX] = kMultibootBootMagic;
        cpu.state.gpr[RBX] = boot.info_addr;
        return;
    }
    if (is_linux_bzimage(bytes)) {
        load_linux_kernel(image);
        return;
    }
    std::string why = bytes.empty() ? "the file is empty" : header.note;
    throw std::runtime_error(
        fmt::format("{}: not a kernel format hayate can load (multiboot v1 ELF32/ELF64 or a.out kludge){}{}",
                    options_.kernel, why.empty() ? "" : "; ", why));
}

void Machine::reset_cpus() {
    for (auto& cpu : vcpus_) {
        cpu->reset();
        cpu->set_a20(true); // the board's reset opens the gate again
    }
}

void Machine::reset_board() {
    clear_reset_request();
    for (auto& d : devices_) d->reset();
    reset_cpus();
    // As QEMU does for -kernel: the loader runs again, so the guest restarts
    // from a fresh image rather than from the reset vector (there is no BIOS).
    load_kernel();
}

// The memory types a PC BIOS leaves programmed: write-back by default, the
// legacy VGA window uncached, and the MMIO part of the PCI hole (the top
// 512 MiB or 1 GiB below 4 GiB) uncached. Without this Linux finds MTRRs
// disabled and leaves PAT off.
static void set_firmware_mtrrs(CpuState& s, const RamLayout& ram) {
    constexpr uint64_t kWriteBack = 6, kUncached = 0, kEnable = 1u << 11, kFixedEnable = 1u << 10;
    constexpr uint64_t all_wb = 0x0606060606060606ull;
    s.mtrr_def_type = kEnable | kFixedEnable | kWriteBack;
    for (auto& f : s.mtrr_fixed) f = all_wb;
    s.mtrr_fixed[2] = 0; // MTRRfix16K_A0000: 0xA0000-0xBFFFF uncached
    const uint64_t hole = ram.below_4g <= 0xc0000000 ? 0xc0000000 : 0xe0000000;
    const uint64_t size = k4GiB - hole;
    s.mtrr_var[0] = hole | kUncached;
    s.mtrr_var[1] = (~(size - 1) & ((1ull << kPhysAddrBits) - 1)) | (1u << 11);
}

void Machine::load_linux_kernel(const FileImage& image) {
    const RamLayout ram = RamLayout::for_size(options_.ram_bytes);
    LinuxBootInputs in;
    in.cmdline = options_.append;
    in.initrd_paths = options_.initrd;
    in.e820 = pc_e820_map(ram, kFirmwareTailBytes);
    in.rsdp_addr = kRsdpAddress;
    in.low_ram_limit = ram.below_4g - kFirmwareTailBytes;
    LinuxBoot boot = load_linux(*memory_, image, in);
    Vcpu& cpu = vcpu(0);
    cpu.enter_flat_protected_mode(boot.entry, boot.gdt_base, boot.gdt_limit, kLinuxBootCodeSelector,
                                  kLinuxBootDataSelector);
    set_firmware_mtrrs(cpu.state, ram);
    cpu.state.gpr[RSI] = boot.zero_page;
    cpu.state.gpr[RBX] = cpu.state.gpr[RBP] = cpu.state.gpr[RDI] = 0;
}

void Machine::wait_while_halted() {
    CpuState& s = vcpu(0).state;
    std::atomic_ref<uint32_t> exit_request(s.exit_request);
    exit_request.store(0);
    if (((s.eflags & flag::IF) && interrupt_requested()) || (s.nmi_pending && !s.nmi_blocked)) {
        s.halted = false; // the engine delivers it
        return;
    }
    if (shutdown_requested() || reset_requested()) return;
    const uint64_t due = timers_.next_deadline();
    const uint64_t now = clock_.now_ns();
    if (due <= now) return;
    futex_wait(&s.exit_request, 0, due == TimerQueue::kNever ? due : due - now);
}

int Machine::run() {
    Vcpu& cpu = vcpu(0);
    TcgEngine engine(cpu, *memory_, ports_);
    std::atomic_ref<uint32_t> exit_request(cpu.state.exit_request);
    for (;;) {
        if (shutdown_requested()) return exit_status();
        if (reset_requested()) {
            reset_board();
            engine.flush_translations();
            continue;
        }
        if (timers_.run_expired()) wake_timer_watch();
        if (cpu.state.halted) {
            // HLT sleeps until an interrupt the CPU takes (INTR with IF=1),
            // the next timer, a shutdown or a reset; whoever causes one kicks.
            wait_while_halted();
            continue;
        }
        StopReason why = engine.run();
        // The reason for a kick is in the flags checked at the loop's top.
        exit_request.store(0);
        switch (why) {
        case StopReason::Shutdown: return exit_status();
        case StopReason::Reset:
            // A triple fault is a crash, whatever -no-reboot says: scripts
            // must not take it for a clean end (the CPU dump is logged).
            if (cpu.triple_faulted && options_.no_reboot) return kTripleFaultStatus;
            if (options_.no_reboot) return 0;
            reset_requested_ = true;
            break;
        case StopReason::Halted:
        case StopReason::Kicked: break;
        }
    }
}

uint8_t Machine::acknowledge_interrupt() { return vcpu(0).apic->acknowledge(); }

uint8_t Machine::acknowledge_pic() {
    int cascade = -1;
    uint8_t vector = pic_master_->acknowledge(&cascade);
    if (cascade == 2) vector = pic_slave_->acknowledge();
    return vector;
}

void Machine::reset_devices() {
    for (auto& d : devices_) d->reset();
}

bool Machine::signal_fpu_error() {
    if (ferr_->ignore_errors()) return true;
    ferr_->assert_error();
    return false;
}

void Machine::request_shutdown(int exit_status) {
    // The first request wins: a later one (Ctrl-A x while debug-exit ends)
    // must not change the status. The status is stored before the flag, so
    // whoever sees the flag sees the status.
    bool expected = false;
    if (shutdown_claimed_.compare_exchange_strong(expected, true)) {
        exit_status_ = exit_status;
        shutdown_requested_ = true;
    }
    kick_cpus();
}

void Machine::request_reset() {
    if (options_.no_reboot) {
        request_shutdown(0);
        return;
    }
    reset_requested_ = true;
    kick_cpus();
}

void Machine::kick_cpus() {
    for (auto& cpu : vcpus_) {
        std::atomic_ref<uint32_t> req(cpu->state.exit_request);
        req.store(1);
        // A raw futex wake: the halted vCPU sleeps in futex_wait (with a
        // timeout), which std::atomic's notify does not know about.
        syscall(SYS_futex, &cpu->state.exit_request, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
    }
}

} // namespace hayate
