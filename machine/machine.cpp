#include "machine/machine.h"
#include "devices/debug_exit.h"
#include "devices/elcr.h"
#include "devices/ferr_latch.h"
#include "devices/pic8259.h"
#include "devices/uart16550.h"
#include "machine/chardev.h"
#include "machine/log.h"
#include "machine/multiboot.h"
#include "machine/tcg.h"
#include "machine/vcpu.h"
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace hayate {

namespace {

// The ISA serial ports a PC has, in COM1..COM4 order.
struct ComPort {
    uint16_t base;
    unsigned irq;
};
constexpr ComPort kComPorts[] = {{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}};

bool is_linux_bzimage(std::span<const uint8_t> b) {
    // The real-mode setup header: "HdrS" at 0x202 after the 0xAA55 boot sector signature.
    return b.size() >= 0x206 && b[0x1fe] == 0x55 && b[0x1ff] == 0xaa &&
           std::memcmp(b.data() + 0x202, "HdrS", 4) == 0;
}

} // namespace

Machine::Machine(const MachineOptions& options) : options_(options) {
    if (options_.accel != "tcg")
        throw std::runtime_error(fmt::format("-accel {}: not supported", options_.accel));
    memory_ = std::make_unique<PhysicalMemory>(options_.ram_bytes);
    vcpus_.push_back(std::make_unique<Vcpu>(*this, 0));
    build_board();
    load_kernel();
}

Machine::~Machine() {
    // Devices go first: their backends' input threads may still call into them.
    devices_.clear();
    backends_.clear();
}

void Machine::build_board() {
    std::vector<SerialOption> serial = options_.serial;
    if (serial.empty()) serial.push_back({SerialOption::Kind::Stdio, {}});
    size_t com = 0;
    for (const auto& s : serial) {
        if (s.kind == SerialOption::Kind::None) continue; // no device, and no COM number used up
        if (com >= std::size(kComPorts)) throw std::runtime_error("at most 4 serial ports (COM1-COM4)");
        auto backend =
            open_char_backend(s, options_.nographic, [this](int status) { request_shutdown(status); });
        // Connected to the interrupt controller below.
        irq_lines_.push_back(std::make_unique<IrqLine>());
        std::string name = fmt::format("COM{}", com + 1);
        auto uart = std::make_unique<Uart16550>(name, *backend, *irq_lines_.back());
        ports_.map(kComPorts[com].base, Uart16550::kPortCount, uart.get(), name);
        backends_.push_back(std::move(backend));
        devices_.push_back(std::move(uart));
        com++;
    }
    // The two 8259As of the PC: the slave's INT on the master's IR2, the
    // master's INT on the CPU's INTR. COM1 and COM2 drive IRQ4 and IRQ3;
    // COM3 and COM4 would share those lines, which needs a wired-OR the
    // board does not model yet, so they stay unconnected.
    auto master = std::make_unique<Pic8259>("pic-master", [this](bool level) {
        intr_.store(level, std::memory_order_release);
        if (level) kick_cpus();
    });
    auto slave =
        std::make_unique<Pic8259>("pic-slave", [m = master.get()](bool level) { m->set_input(2, level); });
    pic_master_ = master.get();
    pic_slave_ = slave.get();
    ports_.map(0x20, Pic8259::kPortCount, master.get(), "pic-master");
    ports_.map(0xa0, Pic8259::kPortCount, slave.get(), "pic-slave");
    for (size_t i = 0; i < irq_lines_.size() && i < 2; i++) {
        const unsigned irq = i == 0 ? 4 : 3;
        irq_lines_[i]->connect([m = master.get(), irq](bool level) { m->set_input(irq, level); });
    }
    // FERR# latched onto IRQ 13 (slave IR5), cleared through port 0xF0.
    irq_lines_.push_back(
        std::make_unique<IrqLine>([s = slave.get()](bool level) { s->set_input(5, level); }));
    auto ferr = std::make_unique<FerrLatch>(*irq_lines_.back());
    ferr_ = ferr.get();
    ports_.map(FerrLatch::kPort, 1, ferr.get(), "ferr-latch");
    auto elcr = std::make_unique<Elcr>(*master, *slave);
    ports_.map(Elcr::kPort, Elcr::kPortCount, elcr.get(), "elcr");
    devices_.push_back(std::move(master));
    devices_.push_back(std::move(slave));
    devices_.push_back(std::move(ferr));
    devices_.push_back(std::move(elcr));

    for (const auto& d : options_.debug_exit) {
        auto dev = std::make_unique<DebugExit>("isa-debug-exit", d.iosize,
                                               [this](int status) { request_shutdown(status); });
        ports_.map(d.iobase, d.iosize, dev.get(), "isa-debug-exit");
        devices_.push_back(std::move(dev));
    }
}

void Machine::load_kernel() {
    FileImage image(options_.kernel);
    auto bytes = image.bytes();
    auto header = find_multiboot_header(bytes);
    if (header.offset) {
        MultibootBoot boot = load_multiboot(*memory_, image, options_.append, options_.initrd);
        Vcpu& cpu = vcpu(0);
        cpu.enter_flat_protected_mode(boot.entry, boot.gdt_base, boot.gdt_limit);
        cpu.state.gpr[RAX] = kMultibootBootMagic;
        cpu.state.gpr[RBX] = boot.info_addr;
        return;
    }
    if (is_linux_bzimage(bytes))
        throw std::runtime_error(fmt::format("{}: Linux bzImage boot is not supported yet", options_.kernel));
    std::string why = bytes.empty() ? "the file is empty" : header.note;
    throw std::runtime_error(
        fmt::format("{}: not a kernel format hayate can load (multiboot v1 ELF32/ELF64 or a.out kludge){}{}",
                    options_.kernel, why.empty() ? "" : "; ", why));
}

void Machine::reset_cpus() {
    for (auto& cpu : vcpus_) cpu->reset();
}

void Machine::reset_board() {
    clear_reset_request();
    for (auto& d : devices_) d->reset();
    reset_cpus();
    // As QEMU does for -kernel: the loader runs again, so the guest restarts
    // from a fresh image rather than from the reset vector (there is no BIOS).
    load_kernel();
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
        if (cpu.state.halted) {
            // HLT sleeps until an interrupt the CPU takes (INTR with IF=1),
            // a shutdown or a reset; the kick of whoever causes it wakes it.
            exit_request.store(0);
            if ((cpu.state.eflags & flag::IF) && interrupt_requested()) {
                cpu.state.halted = false; // the engine delivers it
                continue;
            }
            if (!shutdown_requested() && !reset_requested()) exit_request.wait(0);
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

uint8_t Machine::acknowledge_interrupt() {
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
        req.notify_all();
    }
}

} // namespace hayate
