// PCI configuration mechanism #1 on the i440FX board and the generic
// type-0 configuration space: identification of 00:00.0, 00:01.0 and
// 00:01.3, absent functions, byte/word offsets, BAR sizing, read-only and
// W1C fields, PMBA relocation, chipset registers, save/load.
#include "devices/pci_host.h"
#include "devices/reset_control.h"
#include <catch2/catch.hpp>
#include <utility>
#include <vector>

using namespace hayate;

namespace {

uint32_t address(unsigned bus, unsigned dev, unsigned fn, unsigned reg) {
    return PciHost::kEnable | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

struct Board {
    int resets = 0;
    std::vector<std::pair<uint16_t, bool>> pm_reports;
    ResetControl rc{[this] { resets++; }};
    PciHost host{&rc};
    I440fxHostBridge i440fx;
    Piix3IsaBridge piix3;
    Piix4Acpi acpi{[this](uint16_t base, bool on) { pm_reports.emplace_back(base, on); }, 0x600, true};
    Board() {
        host.attach(0, 0, i440fx);
        host.attach(1, 0, piix3);
        host.attach(1, 3, acpi);
    }
    uint32_t read(unsigned dev, unsigned fn, unsigned reg, unsigned size = 4, unsigned bus = 0) {
        host.io_write(0, 4, address(bus, dev, fn, reg));
        return uint32_t(host.io_read(4 + (reg & 3), size));
    }
    void write(unsigned dev, unsigned fn, unsigned reg, unsigned size, uint32_t value) {
        host.io_write(0, 4, address(0, dev, fn, reg));
        host.io_write(4 + (reg & 3), size, value);
    }
};

// A function with one BAR of each kind, to size them.
struct TestFunction final : PciFunction {
    int mapping_changes = 0;
    static PciIds ids() {
        PciIds i;
        i.vendor = 0x1af4;
        i.device = 0x1000;
        i.base_class = 0x02;
        i.interrupt_pin = 1;
        return i;
    }
    TestFunction() : PciFunction("test", ids(), [this](PciFunction&) { mapping_changes++; }) {
        define_bar(0, PciBarKind::Io, 32);
        define_bar(1, PciBarKind::Memory32, 0x1000);
        define_bar(2, PciBarKind::Memory64, 0x100000, true);
    }
};

} // namespace

TEST_CASE("pci: identification of the three chipset functions", "[pci]") {
    Board b;
    // Vendor (low word) and device (high word).
    CHECK(b.read(0, 0, 0x00) == 0x12378086);
    CHECK(b.read(1, 0, 0x00) == 0x70008086);
    CHECK(b.read(1, 3, 0x00) == 0x71138086);
    // Revision (byte 8) and class code (bytes 9-11: prog-if, sub-class, base class).
    CHECK(b.read(0, 0, 0x08) == 0x06000002);
    CHECK(b.read(1, 0, 0x08) == 0x06010000);
    CHECK(b.read(1, 3, 0x08) == 0x06800003);
    // Header type: only the PIIX3's function 0 announces more functions.
    CHECK(b.read(0, 0, 0x0e, 1) == 0x00);
    CHECK(b.read(1, 0, 0x0e, 1) == 0x80);
    CHECK(b.read(1, 3, 0x0e, 1) == 0x00);
    // The ACPI function's interrupt: pin INTA#, line 9 (the SCI).
    CHECK(b.read(1, 3, 0x3c, 2) == 0x0109);
    // PIRQ route control registers: not routed after reset.
    CHECK(b.read(1, 0, 0x60) == 0x80808080);
}

TEST_CASE("pci: byte and word accesses at CONFIG_DATA offsets", "[pci]") {
    Board b;
    CHECK(b.read(0, 0, 0x00, 2) == 0x8086);
    CHECK(b.read(0, 0, 0x02, 2) == 0x1237); // word at 0xCFE
    CHECK(b.read(1, 0, 0x03, 1) == 0x70);   // byte at 0xCFF
    CHECK(b.read(1, 0, 0x01, 1) == 0x80);   // byte at 0xCFD
    CHECK(b.read(1, 3, 0x0b, 1) == 0x06);
    CHECK(b.read(1, 3, 0x0a, 1) == 0x80);
}

TEST_CASE("pci: absent functions, other buses, disabled cycles float", "[pci]") {
    Board b;
    CHECK(b.read(2, 0, 0x00) == 0xffffffff);
    CHECK(b.read(1, 1, 0x00) == 0xffffffff);
    CHECK(b.read(31, 7, 0x00) == 0xffffffff);
    CHECK(b.read(0, 0, 0x00, 4, 1) == 0xffffffff); // bus 1: no bridge
    CHECK(b.read(2, 0, 0x02, 2) == 0xffff);
    b.host.io_write(0, 4, 0x00000000); // enable bit clear
    CHECK(b.host.io_read(4, 4) == 0xffffffff);
    // Writes to an absent function go nowhere.
    b.write(5, 0, 0x04, 2, 0xffff);
    CHECK(b.read(5, 0, 0x04, 2) == 0xffff);
}

TEST_CASE("pci: CONFIG_ADDRESS is a dword register; 0xCF9 reaches the reset control", "[pci]") {
    Board b;
    b.host.io_write(0, 4, 0xffffffff);
    CHECK(b.host.io_read(0, 4) == PciHost::kAddressWritable); // bits 30-24 and 1-0 read 0
    b.host.io_write(0, 4, 0x80000800);
    b.host.io_write(0, 1, 0x00); // a byte write is no configuration access
    b.host.io_write(2, 2, 0x0000);
    CHECK(b.host.config_address() == 0x80000800);
    CHECK(b.host.io_read(0, 1) == 0xff);
    CHECK(b.host.io_read(4, 4) == 0x70008086);

    b.host.io_write(1, 1, 0x02); // reset control: hard reset selected
    CHECK(b.host.io_read(1, 1) == 0x02);
    CHECK(b.resets == 0);
    b.host.io_write(1, 1, 0x06);
    CHECK(b.resets == 1);
    CHECK(b.host.config_address() == 0x80000800);
}

TEST_CASE("pci: read-only identification ignores writes; command writable bits", "[pci]") {
    Board b;
    b.write(1, 3, 0x00, 4, 0xffffffff);
    CHECK(b.read(1, 3, 0x00) == 0x71138086);
    b.write(1, 3, 0x08, 4, 0xffffffff);
    CHECK(b.read(1, 3, 0x08) == 0x06800003);
    b.write(1, 0, 0x0e, 1, 0x00);
    CHECK(b.read(1, 0, 0x0e, 1) == 0x80);
    b.write(1, 3, 0x3d, 1, 0x04); // interrupt pin is read-only
    CHECK(b.read(1, 3, 0x3d, 1) == 0x01);
    b.write(1, 3, 0x3c, 1, 0x0b); // interrupt line is storage
    CHECK(b.read(1, 3, 0x3c, 1) == 0x0b);
    // The i440FX: memory and bus master hardwired on, parity/SERR writable.
    CHECK(b.read(0, 0, 0x04, 2) == 0x0006);
    b.write(0, 0, 0x04, 2, 0xffff);
    CHECK(b.read(0, 0, 0x04, 2) == 0x0146);
    b.write(0, 0, 0x04, 2, 0x0000);
    CHECK(b.read(0, 0, 0x04, 2) == 0x0006);
    // No BARs on the chipset functions.
    b.write(1, 3, 0x10, 4, 0xffffffff);
    CHECK(b.read(1, 3, 0x10) == 0);
}

TEST_CASE("pci: status error bits are write-1-to-clear", "[pci]") {
    Board b;
    CHECK(b.read(0, 0, 0x06, 2) == 0x0280);
    b.i440fx.set_status_bits(0x3000, true); // received target and master abort
    CHECK(b.read(0, 0, 0x06, 2) == 0x3280);
    b.write(0, 0, 0x06, 2, 0x0000); // writing 0 changes nothing
    CHECK(b.read(0, 0, 0x06, 2) == 0x3280);
    b.write(0, 0, 0x06, 2, 0x2000 | 0x0280); // clears only master abort; RO bits stay
    CHECK(b.read(0, 0, 0x06, 2) == 0x1280);
    b.write(0, 0, 0x04, 4, 0xffff0000); // dword write of command+status
    CHECK(b.read(0, 0, 0x06, 2) == 0x0280);
}

TEST_CASE("pci: BAR sizing and the mapping callback", "[pci]") {
    Board b;
    TestFunction t;
    b.host.attach(3, 0, t);
    // Reset values: type bits only.
    CHECK(b.read(3, 0, 0x10) == 0x00000001);
    CHECK(b.read(3, 0, 0x14) == 0x00000000);
    CHECK(b.read(3, 0, 0x18) == 0x0000000c); // 64-bit, prefetchable
    // Sizing: all ones read back the size mask with the type bits.
    for (unsigned reg = 0x10; reg <= 0x24; reg += 4) b.write(3, 0, reg, 4, 0xffffffff);
    CHECK(b.read(3, 0, 0x10) == 0xffffffe1); // 32 bytes of I/O
    CHECK(b.read(3, 0, 0x14) == 0xfffff000); // 4 KiB of memory
    CHECK(b.read(3, 0, 0x18) == 0xfff0000c); // 1 MiB, 64-bit, prefetchable
    CHECK(b.read(3, 0, 0x1c) == 0xffffffff); // upper half
    CHECK(b.read(3, 0, 0x20) == 0x00000000); // BARs 4, 5 unimplemented
    CHECK(b.read(3, 0, 0x24) == 0x00000000);

    const int before = t.mapping_changes;
    CHECK(before > 0); // the sizing writes moved the BARs
    b.write(3, 0, 0x10, 4, 0xc040);
    b.write(3, 0, 0x14, 4, 0xfebf1000);
    b.write(3, 0, 0x18, 4, 0xfe000000);
    b.write(3, 0, 0x1c, 4, 0x00000001);
    CHECK(t.bar_address(0) == 0xc040);
    CHECK(t.bar_address(1) == 0xfebf1000);
    CHECK(t.bar_address(2) == 0x1fe000000ull);
    CHECK(t.mapping_changes == before + 4);
    b.write(3, 0, 0x04, 2, PciIds::kCommandIo | PciIds::kCommandMemory);
    CHECK(t.io_enabled());
    CHECK(t.memory_enabled());
    CHECK(t.mapping_changes == before + 5);
    b.write(3, 0, 0x3c, 1, 11); // not a mapping change
    CHECK(t.mapping_changes == before + 5);
    b.write(3, 0, 0x10, 4, 0xc040); // same value: no change
    CHECK(t.mapping_changes == before + 5);
    b.host.reset();
    CHECK(t.bar_address(0) == 0);
    CHECK_FALSE(t.io_enabled());
    CHECK(t.mapping_changes == before + 6);
}

TEST_CASE("pci: PMBA relocation and PMIOSE reach the board", "[pci]") {
    Board b;
    CHECK(b.acpi.pm_base() == 0x600);
    CHECK(b.acpi.pm_enabled());
    CHECK(b.read(1, 3, 0x40) == 0x601); // bit 0: I/O space indicator
    CHECK(b.read(1, 3, 0x80, 1) == 0x01);

    b.write(1, 3, 0x40, 4, 0xb03f); // bits 5-1 are read-only 0, bit 0 stays 1
    CHECK(b.read(1, 3, 0x40) == 0xb001);
    REQUIRE(b.pm_reports.size() == 1);
    CHECK(b.pm_reports.back() == std::make_pair(uint16_t(0xb000), true));
    b.write(1, 3, 0x40, 4, 0xffff0000 | 0xb001); // bits 31-16 are reserved
    CHECK(b.read(1, 3, 0x40) == 0xb001);
    CHECK(b.pm_reports.size() == 1); // nothing changed

    b.write(1, 3, 0x80, 1, 0x00);
    CHECK(b.pm_reports.back() == std::make_pair(uint16_t(0xb000), false));
    b.write(1, 3, 0x80, 1, 0xff);
    CHECK(b.read(1, 3, 0x80, 1) == 0x01);
    CHECK(b.pm_reports.back() == std::make_pair(uint16_t(0xb000), true));
    b.write(1, 3, 0x41, 1, 0x06); // byte write of the base's high byte
    CHECK(b.pm_reports.back() == std::make_pair(uint16_t(0x0600), true));
    CHECK(b.pm_reports.size() == 4);

    // SMBus base: bits 15-4, bit 0 reads 1.
    b.write(1, 3, 0x90, 4, 0xffffffff);
    CHECK(b.read(1, 3, 0x90) == 0xfff1);

    // Reset returns to the initial base and announces it.
    b.host.reset();
    CHECK(b.pm_reports.back() == std::make_pair(uint16_t(0x600), true));
    CHECK(b.read(1, 3, 0x90) == 0x0001);
}

TEST_CASE("pci: i440FX PAM and SMRAM, PIIX3 PIRQ routing", "[pci]") {
    Board b;
    CHECK(b.read(0, 0, 0x58) == 0x00000000); // PAM0-2 after reset (byte 0x58 is not modelled)
    b.write(0, 0, 0x59, 1, 0xff);
    CHECK(b.read(0, 0, 0x59, 1) == 0x30); // low nibble reserved, cache-enable bits reserved
    b.write(0, 0, 0x5a, 1, 0xff);
    CHECK(b.read(0, 0, 0x5a, 1) == 0x33);

    CHECK(b.read(0, 0, 0x72, 1) == 0x02); // C_BASE_SEG = 0xA0000
    b.write(0, 0, 0x72, 1, 0x48);         // D_OPEN, G_SMRAME
    CHECK(b.read(0, 0, 0x72, 1) == 0x4a);
    b.write(0, 0, 0x72, 1, 0x58); // D_LCK closes D_OPEN and locks it
    CHECK(b.read(0, 0, 0x72, 1) == 0x1a);
    b.write(0, 0, 0x72, 1, 0x40);
    CHECK(b.read(0, 0, 0x72, 1) == 0x1a);
    b.host.reset();
    CHECK(b.read(0, 0, 0x72, 1) == 0x02);

    CHECK(b.piix3.pirq_route(0) == -1);
    b.write(1, 0, 0x60, 4, 0x0a0b8f05);
    CHECK(b.read(1, 0, 0x60) == 0x0a0b8f05);
    CHECK(b.piix3.pirq_route(0) == 5);
    CHECK(b.piix3.pirq_route(1) == -1); // bit 7: not routed
    CHECK(b.piix3.pirq_route(2) == 11);
    CHECK(b.piix3.pirq_route(3) == 10);
    b.write(1, 0, 0x60, 1, 0x70); // reserved bits 6-4 read 0
    CHECK(b.read(1, 0, 0x60, 1) == 0x00);
    CHECK(b.piix3.pirq_route(0) == -1); // IRQ 0 is reserved
}

TEST_CASE("pci: save/load round trip of the bus", "[pci]") {
    Board b;
    b.write(1, 3, 0x40, 4, 0xb001);
    b.write(0, 0, 0x5f, 1, 0x33);
    b.write(1, 0, 0x61, 1, 0x0b);
    b.host.io_write(0, 4, address(0, 1, 3, 0x40));
    StateWriter w;
    b.host.save(w);

    Board c;
    StateReader r(w.bytes());
    c.host.load(r);
    CHECK(c.host.config_address() == address(0, 1, 3, 0x40));
    CHECK(c.host.io_read(4, 4) == 0xb001);
    CHECK(c.read(0, 0, 0x5f, 1) == 0x33);
    CHECK(c.piix3.pirq_route(1) == 11);
    CHECK(c.pm_reports.back() == std::make_pair(uint16_t(0xb000), true));

    Board other; // a board with another function layout refuses the state
    TestFunction t;
    other.host.attach(3, 0, t);
    StateReader r2(w.bytes());
    CHECK_THROWS(other.host.load(r2));
}
