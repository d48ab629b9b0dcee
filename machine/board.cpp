// The PC board modelled on QEMU's default `pc` machine: which devices sit
// at which ports, addresses and interrupt lines, and the firmware state a
// -kernel boot finds (what SeaBIOS would leave: APIC virtual wire, CMOS
// memory size, ACPI and MP tables).
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/elcr.h"
#include "devices/ferr_latch.h"
#include "devices/hpet.h"
#include "devices/i8042.h"
#include "devices/io_apic.h"
#include "devices/local_apic.h"
#include "devices/pci_host.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port61.h"
#include "devices/port92.h"
#include "devices/post_port.h"
#include "devices/reset_control.h"
#include "devices/rtc_cmos.h"
#include "devices/uart16550.h"
#include "machine/acpi_tables.h"
#include "machine/apic_bus.h"
#include "machine/chardev.h"
#include "machine/e820.h"
#include "machine/irq_router.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/mp_table.h"
#include "machine/system.h"
#include "machine/vcpu.h"
#include <ctime>
#include <stdexcept>

namespace hayate {

namespace {

// The ISA serial ports a PC has, in COM1..COM4 order (COM3/COM4 share the
// lines of COM1/COM2; the router ORs them).
struct ComPort {
    uint16_t base;
    unsigned irq;
};
constexpr ComPort kComPorts[] = {{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}};

constexpr unsigned kIrqTimer = 0, kIrqKeyboard = 1, kIrqRtc = 8, kIrqSci = 9, kIrqMouse = 12, kIrqFpu = 13;

} // namespace

void Machine::build_board() {
    apic_bus_ = std::make_unique<ApicBus>();
    irq_router_ = std::make_unique<IrqRouter>();
    build_interrupt_controllers();
    build_serial_ports();
    build_timers();
    build_chipset();
    for (const auto& d : options_.debug_exit) {
        auto dev = std::make_unique<DebugExit>("isa-debug-exit", d.iosize,
                                               [this](int status) { request_shutdown(status); });
        ports_.map(d.iobase, d.iosize, dev.get(), "isa-debug-exit");
        devices_.push_back(std::move(dev));
    }
}

void Machine::build_interrupt_controllers() {
    // The local APIC of each CPU. Its output is the CPU's interrupt input;
    // the master 8259's INT reaches it on LINT0 (ExtINT in virtual-wire
    // mode, or straight through while the APIC is disabled).
    for (auto& cpu_ptr : vcpus_) {
        Vcpu& cpu = *cpu_ptr;
        LocalApic::Callbacks cb;
        cb.on_output = [this](bool level) {
            intr_.store(level, std::memory_order_release);
            if (level) kick_cpus();
        };
        cb.on_nmi = [this, &cpu] {
            std::atomic_ref<uint32_t>(cpu.state.nmi_pending).store(1);
            kick_cpus();
        };
        cb.on_init = [&cpu] {
            log_warning("CPU {}: INIT IPI: only one CPU is modelled, so INIT (a CPU reset keeping the APIC "
                        "and the caches) is not supported; ignored",
                        cpu.index);
        };
        cb.on_startup = [&cpu](uint8_t vector) {
            log_warning("CPU {}: start-up IPI (vector {:#x}) ignored: the CPU is not waiting for one",
                        cpu.index, vector);
        };
        cb.pic_acknowledge = [this] { return acknowledge_pic(); };
        cb.on_base_changed = [this, &cpu](uint64_t new_base) {
            memory_->unmap_mmio(cpu.apic);
            memory_->map_mmio(new_base, LocalApic::kMmioSize, cpu.apic, "lapic");
            cpu.flush_tlb();
        };
        auto lapic = std::make_unique<LocalApic>(
            uint32_t(cpu.index), cpu.index == 0, timers_, *apic_bus_, [&cpu] { return read_tsc(cpu); },
            0 /* the host's rate, measured since start-up */, kPhysAddrBits, std::move(cb));
        cpu.apic = lapic.get();
        lapics_.push_back(lapic.get());
        memory_->map_mmio(lapic->base_address(), LocalApic::kMmioSize, lapic.get(), "lapic");
        devices_.push_back(std::move(lapic));
    }

    auto master =
        std::make_unique<Pic8259>("pic-master", [this](bool level) { lapics_[0]->set_lint(0, level); });
    auto slave =
        std::make_unique<Pic8259>("pic-slave", [m = master.get()](bool level) { m->set_input(2, level); });
    pic_master_ = master.get();
    pic_slave_ = slave.get();
    ports_.map(0x20, Pic8259::kPortCount, master.get(), "pic-master");
    ports_.map(0xa0, Pic8259::kPortCount, slave.get(), "pic-slave");
    auto ioapic = std::make_unique<IoApic>(*apic_bus_);
    ioapic_ = ioapic.get();
    memory_->map_mmio(IoApic::kDefaultBase, IoApic::kMmioSize, ioapic.get(), "ioapic");
    irq_router_->set_pic_sink([m = master.get(), s = slave.get()](unsigned irq, bool level) {
        if (irq < 8)
            m->set_input(irq, level);
        else
            s->set_input(irq - 8, level);
    });
    irq_router_->set_ioapic_sink(
        [io = ioapic.get()](unsigned pin, bool level) { io->set_input(pin, level); });

    // FERR# latched onto IRQ 13, cleared through port 0xF0.
    auto ferr = std::make_unique<FerrLatch>(irq_router_->isa_source(kIrqFpu));
    ferr_ = ferr.get();
    ports_.map(FerrLatch::kPort, 1, ferr.get(), "ferr-latch");
    auto elcr = std::make_unique<Elcr>(*master, *slave);
    ports_.map(Elcr::kPort, Elcr::kPortCount, elcr.get(), "elcr");
    devices_.push_back(std::move(master));
    devices_.push_back(std::move(slave));
    devices_.push_back(std::move(ioapic));
    devices_.push_back(std::move(ferr));
    devices_.push_back(std::move(elcr));
}

void Machine::build_serial_ports() {
    std::vector<SerialOption> serial = options_.serial;
    if (serial.empty()) serial.push_back({SerialOption::Kind::Stdio, {}});
    size_t com = 0;
    for (const auto& s : serial) {
        if (s.kind == SerialOption::Kind::None) continue; // no device, and no COM number used up
        if (com >= std::size(kComPorts)) throw std::runtime_error("at most 4 serial ports (COM1-COM4)");
        auto backend =
            open_char_backend(s, options_.nographic, [this](int status) { request_shutdown(status); });
        std::string name = fmt::format("COM{}", com + 1);
        auto uart = std::make_unique<Uart16550>(name, *backend, irq_router_->isa_source(kComPorts[com].irq));
        ports_.map(kComPorts[com].base, Uart16550::kPortCount, uart.get(), name);
        backends_.push_back(std::move(backend));
        devices_.push_back(std::move(uart));
        com++;
    }
}

void Machine::build_timers() {
    // IRQ 0 and IRQ 8 come from the PIT and the RTC, or from HPET timers 0
    // and 1 while the HPET's legacy replacement route is on.
    IrqLine& isa0_pit = irq_router_->isa_source(kIrqTimer);
    IrqLine& isa8_rtc = irq_router_->isa_source(kIrqRtc);
    irq_lines_.push_back(std::make_unique<IrqLine>([this, &isa0_pit](bool level) {
        if (!hpet_legacy_route_) isa0_pit.set(level);
    }));
    IrqLine& pit_out = *irq_lines_.back();
    irq_lines_.push_back(std::make_unique<IrqLine>([this, &isa8_rtc](bool level) {
        if (!hpet_legacy_route_) isa8_rtc.set(level);
    }));
    IrqLine& rtc_out = *irq_lines_.back();

    auto pit = std::make_unique<Pit8254>(timers_, pit_out);
    pit_ = pit.get();
    ports_.map(Pit8254::kPort, Pit8254::kPortCount, pit.get(), "pit");
    auto port61 = std::make_unique<Port61>(*pit, timers_);
    ports_.map(Port61::kPort, Port61::kPortCount, port61.get(), "port61");

    auto rtc = std::make_unique<RtcCmos>(timers_, rtc_out, int64_t(std::time(nullptr)));
    const RamLayout ram = memory_->layout();
    RtcCmos::fill_memory_size(*rtc, ram.below_4g, ram.above_4g);
    rtc_ = rtc.get();
    ports_.map(RtcCmos::kPort, RtcCmos::kPortCount, rtc.get(), "rtc");

    // HPET timers routed by INT_ROUTE_CNF reach I/O APIC pins directly.
    std::vector<IrqLine*> hpet_pins;
    for (unsigned pin = 0; pin < IrqRouter::kIoApicPins; pin++)
        hpet_pins.push_back(&irq_router_->ioapic_source(pin));
    auto hpet = std::make_unique<Hpet>(
        timers_, [hpet_pins](unsigned pin, bool level) { hpet_pins.at(pin)->set(level); },
        irq_router_->isa_source(kIrqTimer), irq_router_->isa_source(kIrqRtc),
        [this, &isa0_pit, &isa8_rtc, &pit_out, &rtc_out](bool on) {
            hpet_legacy_route_ = on;
            isa0_pit.set(!on && pit_out.level());
            isa8_rtc.set(!on && rtc_out.level());
        });
    hpet_ = hpet.get();
    memory_->map_mmio(Hpet::kMmioBase, Hpet::kMmioSize, hpet.get(), "hpet");

    // The ACPI PM block; the SCI is ISA IRQ 9 (level, active high), and S5
    // powers the machine off.
    auto pm =
        std::make_unique<AcpiPm>(timers_, irq_router_->isa_source(kIrqSci), [this] { request_shutdown(0); });
    acpi_pm_ = pm.get();
    ports_.map(AcpiPm::kPmBase, AcpiPm::kPortCount, pm.get(), "acpi-pm");
    ports_.map(AcpiPm::kGpe0Base, AcpiPm::kGpe0PortCount, &pm->gpe0(), "acpi-gpe0");

    devices_.push_back(std::move(pit));
    devices_.push_back(std::move(port61));
    devices_.push_back(std::move(rtc));
    devices_.push_back(std::move(hpet));
    devices_.push_back(std::move(pm));
}

// The i440FX/PIIX3 chipset: PCI configuration space with the host bridge,
// the ISA bridge and the PIIX4-style ACPI function; the 8042 keyboard
// controller; the reset and A20 controls; the POST port.
void Machine::build_chipset() {
    auto reset_control = std::make_unique<ResetControl>([this] { request_reset(); });
    // 0xCF9 sits inside the PCI host's 0xCF8-0xCFF: the host passes it on.
    auto host = std::make_unique<PciHost>(reset_control.get());
    ports_.map(PciHost::kPort, PciHost::kPortCount, host.get(), "pci-host");
    auto host_bridge = std::make_unique<I440fxHostBridge>();
    auto isa_bridge = std::make_unique<Piix3IsaBridge>();
    auto pm_function = std::make_unique<Piix4Acpi>(
        [this](uint16_t base, bool enabled) {
            // PMBA/PMREGMISC move or hide the ACPI PM registers.
            ports_.unmap(acpi_pm_);
            if (enabled) ports_.map(base, AcpiPm::kPortCount, acpi_pm_, "acpi-pm");
        },
        AcpiPm::kPmBase, true);
    host->attach(0, 0, *host_bridge);
    host->attach(1, 0, *isa_bridge);
    host->attach(1, 3, *pm_function);
    pci_functions_.push_back(std::move(host_bridge));
    pci_functions_.push_back(std::move(isa_bridge));
    pci_functions_.push_back(std::move(pm_function));

    // The A20 gate is open while either the 8042's output port or port
    // 0x92 says so.
    auto set_a20 = [this] {
        for (auto& cpu : vcpus_) cpu->set_a20(a20_keyboard_controller_ || a20_port92_);
    };
    auto kbc = std::make_unique<I8042>(
        irq_router_->isa_source(kIrqKeyboard), irq_router_->isa_source(kIrqMouse),
        [this] { request_reset(); },
        [this, set_a20](bool open) {
            a20_keyboard_controller_ = open;
            set_a20();
        });
    ports_.map(I8042::kDataPort, 1, &kbc->data_port(), "i8042-data");
    ports_.map(I8042::kCommandPort, 1, &kbc->command_port(), "i8042-command");
    auto port92 = std::make_unique<Port92>([this] { request_reset(); },
                                           [this, set_a20](bool open) {
                                               a20_port92_ = open;
                                               set_a20();
                                           });
    ports_.map(Port92::kPort, 1, port92.get(), "port92");
    auto post = std::make_unique<PostPort>();
    ports_.map(PostPort::kPort, 1, post.get(), "post");

    devices_.push_back(std::move(reset_control));
    devices_.push_back(std::move(host));
    devices_.push_back(std::move(kbc));
    devices_.push_back(std::move(port92));
    devices_.push_back(std::move(post));
}

// The firmware tables in the reserved tail of low RAM and the BIOS area.
void Machine::write_firmware_tables() {
    const RamLayout ram = memory_->layout();
    PcBoardDescription board;
    board.cpu_count = unsigned(vcpus_.size());
    board.cpu_signature = cpuid_signature();
    board.ram_below_4g = ram.below_4g;
    for (size_t i = 0; i < backends_.size() && i < std::size(kComPorts); i++)
        board.serial_ports.push_back({unsigned(i + 1), kComPorts[i].base, uint8_t(kComPorts[i].irq)});
    const uint32_t area = uint32_t(ram.below_4g - kFirmwareTailBytes);
    AcpiBuild acpi = build_acpi_tables(board, area, uint32_t(kRsdpAddress));
    if (acpi.tables.size() > kFirmwareTailBytes) throw std::logic_error("ACPI tables larger than their area");
    memory_->write_bytes(acpi.tables_phys, acpi.tables.data(), acpi.tables.size());
    memory_->write_bytes(acpi.rsdp_phys, acpi.rsdp.data(), acpi.rsdp.size());
    MpBuild mp = build_mp_table(board, uint32_t(kMpFloatingAddress + 16));
    memory_->write_bytes(kMpFloatingAddress, mp.floating_pointer.data(), mp.floating_pointer.size());
    memory_->write_bytes(mp.config_table_phys, mp.config_table.data(), mp.config_table.size());
}

// What the BIOS leaves before it boots an OS: each local APIC in virtual-
// wire mode (the 8259 on LINT0, NMI on LINT1), and the 8259 pair
// initialised at vectors 0x08 and 0x70 with every input masked, so nothing
// interrupts the kernel before it programs the controllers itself.
void Machine::firmware_cpu_setup() {
    for (LocalApic* lapic : lapics_) lapic->setup_virtual_wire();
    const uint8_t master[] = {0x11, 0x08, 0x04, 0x01}, slave[] = {0x11, 0x70, 0x02, 0x01};
    pic_master_->io_write(0, 1, master[0]);
    for (int i = 1; i < 4; i++) pic_master_->io_write(1, 1, master[i]);
    pic_master_->io_write(1, 1, 0xff);
    pic_slave_->io_write(0, 1, slave[0]);
    for (int i = 1; i < 4; i++) pic_slave_->io_write(1, 1, slave[i]);
    pic_slave_->io_write(1, 1, 0xff);
}

} // namespace hayate
