#include "devices/pci_host.h"
#include "machine/log.h"
#include <stdexcept>

namespace hayate {

namespace {

bool overlaps(unsigned offset, unsigned size, unsigned reg, unsigned reg_size) {
    return offset < reg + reg_size && reg < offset + size;
}

// Byte `o` of a config write starting at `offset`, before the write.
uint8_t old_byte(unsigned offset, uint32_t old_value, unsigned o) {
    return uint8_t(old_value >> (8 * (o - offset)));
}

} // namespace

// ---------------------------------------------------------------------------
// Configuration mechanism #1

void PciHost::attach(unsigned device, unsigned function, PciFunction& fn) {
    if (device >= 32 || function >= 8)
        throw std::logic_error(
            fmt::format("pci-host: bad slot {:02x}.{} for {}", device, function, fn.name()));
    const unsigned slot = device * 8 + function;
    if (functions_[slot])
        throw std::logic_error(fmt::format("pci-host: slot 00:{:02x}.{} of {} already holds {}", device,
                                           function, fn.name(), functions_[slot]->name()));
    functions_[slot] = &fn;
    attached_.push_back(slot);
}

PciFunction* PciHost::function_at(unsigned bus, unsigned device, unsigned function) const {
    if (bus != 0 || device >= 32 || function >= 8) return nullptr;
    return functions_[device * 8 + function];
}

PciFunction* PciHost::target() const {
    if (!(address_ & kEnable)) return nullptr;
    return function_at((address_ >> 16) & 0xff, (address_ >> 11) & 0x1f, (address_ >> 8) & 0x7);
}

void PciHost::reset() {
    address_ = 0;
    for (unsigned slot : attached_) functions_[slot]->reset();
}

void PciHost::save(StateWriter& out) const {
    out.put(address_);
    out.put(uint32_t(attached_.size()));
    for (unsigned slot : attached_) {
        out.put(uint16_t(slot));
        functions_[slot]->save(out);
    }
}

void PciHost::load(StateReader& in) {
    uint32_t address, count;
    in.get(address);
    in.get(count);
    if (count != attached_.size()) throw std::runtime_error("pci-host: saved state has other functions");
    for (unsigned slot : attached_) {
        uint16_t saved_slot;
        in.get(saved_slot);
        if (saved_slot != slot) throw std::runtime_error("pci-host: saved state has other functions");
        functions_[slot]->load(in);
    }
    address_ = address & kAddressWritable;
}

void PciHost::report_legacy_access(unsigned offset, unsigned size, bool write) {
    if (legacy_reported_) return;
    legacy_reported_ = true;
    log_guest_error(
        "pci-host: {}-byte {} at {:#x} is not a configuration cycle (CONFIG_ADDRESS is dword-only; "
        "mechanism #2 does not exist on the i440FX); further such accesses are not logged",
        size, write ? "write" : "read", kPort + offset);
}

uint8_t PciHost::read_byte(unsigned offset) {
    if (offset == 1 && port_cf9_) return uint8_t(port_cf9_->io_read(0, 1));
    if (offset >= 4 && offset < 8) {
        PciFunction* fn = target();
        return fn ? uint8_t(fn->config_read((address_ & 0xfc) + (offset - 4), 1)) : 0xff;
    }
    return 0xff;
}

void PciHost::write_byte(unsigned offset, uint8_t value) {
    if (offset == 1 && port_cf9_) {
        port_cf9_->io_write(0, 1, value);
        return;
    }
    if (offset >= 4 && offset < 8) {
        if (PciFunction* fn = target()) fn->config_write((address_ & 0xfc) + (offset - 4), 1, value);
    }
}

uint64_t PciHost::io_read(uint64_t offset, unsigned size) {
    if (offset == 0 && size == 4) return address_;
    if (offset >= 4 && offset - 4 + size <= 4) {
        // Nothing claims the cycle (disabled, other bus, empty slot): all ones.
        PciFunction* fn = target();
        return fn ? fn->config_read((address_ & 0xfc) + unsigned(offset - 4), size)
                  : (size >= 4 ? 0xffffffffull : (1ull << (8 * size)) - 1);
    }
    if (offset < 4 && !(offset == 1 && size == 1)) report_legacy_access(unsigned(offset), size, false);
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= uint64_t(offset + i < kPortCount ? read_byte(unsigned(offset + i)) : 0xff) << (8 * i);
    return v;
}

void PciHost::io_write(uint64_t offset, unsigned size, uint64_t value) {
    if (offset == 0 && size == 4) {
        address_ = uint32_t(value) & kAddressWritable;
        return;
    }
    if (offset >= 4 && offset - 4 + size <= 4) {
        if (PciFunction* fn = target())
            fn->config_write((address_ & 0xfc) + unsigned(offset - 4), size, uint32_t(value));
        return;
    }
    if (offset < 4 && !(offset == 1 && size == 1)) report_legacy_access(unsigned(offset), size, true);
    for (unsigned i = 0; i < size && offset + i < kPortCount; i++)
        write_byte(unsigned(offset + i), uint8_t(value >> (8 * i)));
}

// ---------------------------------------------------------------------------
// 00:00.0 i440FX (82441FX PMC)

namespace {
PciIds i440fx_ids() {
    PciIds ids;
    ids.vendor = 0x8086;
    ids.device = 0x1237;
    ids.revision = 0x02;
    ids.base_class = 0x06; // bridge
    ids.sub_class = 0x00;  // host bridge
    // Memory access and bus master are always on (read-only 1); parity
    // error response and SERR# are the writable enables.
    ids.command_reset = PciIds::kCommandMemory | PciIds::kCommandMaster;
    ids.command_writable = PciIds::kCommandParity | PciIds::kCommandSerr;
    ids.status_reset = 0x0280; // medium DEVSEL timing, fast back-to-back capable
    return ids;
}
} // namespace

I440fxHostBridge::I440fxHostBridge() : PciFunction("00:00.0 i440fx", i440fx_ids()) {
    // PAM0's low nibble is reserved; each other nibble has RE (bit 0/4) and
    // WE (bit 1/5); bits 2/6 (cache enable on older parts) are reserved on
    // the 82441FX, where the MTRRs set cacheability.
    define_register(kPam0, 1, 0x00, 0x30);
    for (unsigned i = 1; i < kPamCount; i++) define_register(kPam0 + i, 1, 0x00, 0x33);
    define_register(kSmram, 1, kSmramBaseSeg, kSmramOpen | kSmramClose | kSmramLock | kSmramEnable);
}

void I440fxHostBridge::config_written(unsigned offset, unsigned size, uint32_t old_value) {
    if (overlaps(offset, size, kPam0, kPamCount) && !pam_warned_) {
        for (unsigned o = std::max(offset, kPam0); o < std::min(offset + size, kPam0 + kPamCount); o++) {
            if (raw(o, 1) == old_byte(offset, old_value, o)) continue;
            pam_warned_ = true;
            log_warning("i440fx: PAM{} set to {:#04x}: shadow RAM remapping is not modelled, 0xC0000-0xFFFFF "
                        "stays plain RAM (logged once)",
                        o - kPam0, raw(o, 1));
            break;
        }
    }
    if (overlaps(offset, size, kSmram, 1)) {
        uint8_t v = uint8_t(raw(kSmram, 1));
        if (v & kSmramLock) {
            // D_LCK: D_OPEN goes to 0, and D_OPEN, D_LCK and G_SMRAME are
            // read-only until the next reset.
            v &= uint8_t(~kSmramOpen);
            set_raw(kSmram, 1, v);
            clear_writable(kSmram, 1, kSmramOpen | kSmramLock | kSmramEnable);
        }
        if ((v & (kSmramOpen | kSmramClose)) == (kSmramOpen | kSmramClose))
            log_guest_error("i440fx: SMRAM {:#04x} sets both D_OPEN and D_CLS", v);
        if ((v & (kSmramEnable | kSmramOpen)) && !smram_warned_) {
            smram_warned_ = true;
            log_warning(
                "i440fx: SMRAM control {:#04x} enables SMRAM, but SMM is not modelled: 0xA0000-0xBFFFF "
                "is unaffected (logged once)",
                v);
        }
    }
}

// ---------------------------------------------------------------------------
// 00:01.0 PIIX3 ISA bridge (82371SB function 0)

namespace {
PciIds piix3_ids(uint8_t revision) {
    PciIds ids;
    ids.vendor = 0x8086;
    ids.device = 0x7000;
    ids.revision = revision;
    ids.base_class = 0x06;  // bridge
    ids.sub_class = 0x01;   // ISA bridge
    ids.header_type = 0x80; // multi-function: IDE, USB, PM functions follow
    // I/O, memory and bus master are hardwired on; special cycles is the
    // writable enable.
    ids.command_reset = PciIds::kCommandIo | PciIds::kCommandMemory | PciIds::kCommandMaster;
    ids.command_writable = PciIds::kCommandSpecialCycles;
    ids.status_reset = 0x0200; // medium DEVSEL timing
    return ids;
}
} // namespace

Piix3IsaBridge::Piix3IsaBridge(uint8_t revision) : PciFunction("00:01.0 piix3", piix3_ids(revision)) {
    define_register(0x4c, 1, 0x4d, 0xff);     // IORT: ISA I/O recovery timer
    define_register(0x4e, 2, 0x0003, 0xffff); // XBCS: X-bus chip selects
    for (unsigned i = 0; i < 4; i++) define_register(kPirqRoute + i, 1, kPirqDisabled, 0x8f); // PIRQRC[A-D]
    define_register(kTopOfMemory, 1, 0x02, 0xff);                                             // TOM
    define_register(0x6a, 2, 0x0000, 0xffff);                                                 // MSTAT
    define_register(kMbirq0, 1, 0x80, 0xff);                                                  // MBIRQ0
    define_register(kMbirq0 + 1, 1, 0x80, 0xff);                                              // MBIRQ1
    define_register(0x76, 1, 0x0c, 0xff);                                                     // MBDMA0
    define_register(0x77, 1, 0x0c, 0xff);                                                     // MBDMA1
    define_register(0x78, 2, 0x0002, 0xffff);       // PCSC: programmable chip select
    define_register(kApicBase, 1, 0x00, 0x7f);      // APICBASE: I/O APIC base relocation
    define_register(0x82, 1, 0x00, 0x0f);           // DLC: deterministic latency control
    define_register(kSmiControl, 1, 0x08, 0x1f);    // SMICNTL
    define_register(kSmiEnable, 2, 0x0000, 0x00ff); // SMIEN
    define_register(0xa4, 4, 0, 0xffffffff);        // SEE: system event enable
    define_register(0xa8, 1, 0x0f, 0xff);           // FTMR: fast-off timer
    define_register(0xaa, 2, 0x0000, 0x01ff);       // SMIREQ
    define_register(0xac, 1, 0x00, 0xff);           // CTLTMR
    define_register(0xae, 1, 0x00, 0xff);           // CTHTMR
}

int Piix3IsaBridge::pirq_route(unsigned pirq) const {
    if (pirq >= 4) return -1;
    const uint8_t v = uint8_t(raw(kPirqRoute + pirq, 1));
    if (v & kPirqDisabled) return -1;
    const int irq = v & 0x0f;
    return (irq <= 2 || irq == 8 || irq == 13) ? -1 : irq;
}

void Piix3IsaBridge::config_written(unsigned offset, unsigned size, uint32_t old_value) {
    if (overlaps(offset, size, kPirqRoute, 4)) {
        for (unsigned o = std::max(offset, kPirqRoute); o < std::min(offset + size, kPirqRoute + 4); o++) {
            const uint8_t v = uint8_t(raw(o, 1));
            const unsigned irq = v & 0x0f;
            if (!(v & kPirqDisabled) && (irq <= 2 || irq == 8 || irq == 13))
                log_guest_error("piix3: PIRQ{} routed to reserved IRQ {}", char('A' + (o - kPirqRoute)), irq);
        }
    }
    if (overlaps(offset, size, kApicBase, 1) && raw(kApicBase, 1) != 0 && !apic_warned_) {
        apic_warned_ = true;
        log_warning("piix3: APICBASE {:#04x} relocates the I/O APIC, which is not modelled (it stays at "
                    "0xFEC00000; logged once)",
                    raw(kApicBase, 1));
    }
    if (overlaps(offset, size, kMbirq0, 2) && !mbirq_warned_ && ((~raw(kMbirq0, 2)) & 0x8080)) {
        mbirq_warned_ = true;
        log_warning("piix3: motherboard IRQ routing (MBIRQ {:#06x}) is not modelled (logged once)",
                    raw(kMbirq0, 2));
    }
    if ((overlaps(offset, size, kSmiControl, 1) || overlaps(offset, size, kSmiEnable, 2)) && !smi_warned_ &&
        ((raw(kSmiControl, 1) & 0x01) || raw(kSmiEnable, 2))) {
        smi_warned_ = true;
        log_warning("piix3: SMI generation (SMICNTL {:#04x}, SMIEN {:#06x}) is not modelled: no SMI# is ever "
                    "raised (logged once)",
                    raw(kSmiControl, 1), raw(kSmiEnable, 2));
    }
    (void)old_value;
}

// ---------------------------------------------------------------------------
// 00:01.3 PIIX4 power management (82371AB function 3)

namespace {
PciIds piix4_acpi_ids(uint8_t interrupt_line) {
    PciIds ids;
    ids.vendor = 0x8086;
    ids.device = 0x7113;
    ids.revision = 0x03;
    ids.base_class = 0x06; // bridge
    ids.sub_class = 0x80;  // other
    ids.interrupt_pin = 1; // INTA# (the SCI)
    ids.interrupt_line = interrupt_line;
    // Only I/O space enable exists (it gates the SMBus I/O space).
    ids.command_writable = PciIds::kCommandIo;
    ids.status_reset = 0x0280;
    return ids;
}
} // namespace

Piix4Acpi::Piix4Acpi(PmBaseChanged on_pm_base_changed, uint16_t initial_pm_base, bool initial_pm_enabled,
                     uint8_t interrupt_line)
    : PciFunction("00:01.3 piix4-acpi", piix4_acpi_ids(interrupt_line)),
      on_pm_base_changed_(std::move(on_pm_base_changed)) {
    if (!on_pm_base_changed_) throw std::invalid_argument("piix4-acpi: needs a PM base callback");
    if (initial_pm_base & ~kPmBaseMask)
        throw std::invalid_argument(
            fmt::format("piix4-acpi: PM base {:#x} is not 64-byte aligned", initial_pm_base));
    define_register(kPmBase, 4, uint32_t(initial_pm_base) | 0x1, kPmBaseMask);
    // CNTA, CNTB, GPICTL, DEVRESD, DEVACTA/B, DEVRESA-C, E-J.
    for (unsigned o = 0x44; o < 0x80; o += 4) {
        if (o == 0x50 || o == 0x70) {
            define_register(o, 2, 0, 0xffff); // DEVRESD, DEVRESG are 16 bits; the next two bytes are reserved
            define_register(o + 2, 2, 0, 0);
        } else {
            define_register(o, 4, 0, 0xffffffff);
        }
    }
    define_register(kPmRegMisc, 1, initial_pm_enabled ? 1 : 0, 0x01);
    define_register(kSmbBase, 4, 0x1, 0xfff0);
    define_register(kSmbHostConfig, 1, 0x00, 0x0f);
    define_register(0xd3, 1, 0x00, 0xff); // SMBSLVC
    define_register(0xd4, 1, 0x00, 0xff); // SMBSHDW1
    define_register(0xd5, 1, 0x00, 0xff); // SMBSHDW2
    define_register(0xd6, 1, 0x00, 0x00); // SMBREV
    reported_base_ = pm_base();
    reported_enabled_ = pm_enabled();
}

void Piix4Acpi::report_pm() {
    reported_base_ = pm_base();
    reported_enabled_ = pm_enabled();
    on_pm_base_changed_(reported_base_, reported_enabled_);
}

void Piix4Acpi::state_restored() { report_pm(); }

void Piix4Acpi::config_written(unsigned offset, unsigned size, uint32_t old_value) {
    if ((overlaps(offset, size, kPmBase, 2) || overlaps(offset, size, kPmRegMisc, 1)) &&
        (pm_base() != reported_base_ || pm_enabled() != reported_enabled_))
        report_pm();
    if (overlaps(offset, size, 0x44, 0x80 - 0x44) && !devres_warned_ && raw(offset, size) != old_value) {
        devres_warned_ = true;
        log_warning(
            "piix4-acpi: config register {:#04x} set to {:#x}: the counters, device resource and activity "
            "registers are not modelled (legacy decodes stay on; logged once)",
            offset, raw(offset, size));
    }
    if ((overlaps(offset, size, kCommand, 1) || overlaps(offset, size, kSmbHostConfig, 1)) &&
        !smbus_warned_ && io_enabled() && (raw(kSmbHostConfig, 1) & 0x01)) {
        smbus_warned_ = true;
        log_warning(
            "piix4-acpi: the guest enabled the SMBus host controller at {:#x}, which is not implemented "
            "(its ports float; logged once)",
            raw(kSmbBase, 2) & 0xfff0);
    }
}

} // namespace hayate
