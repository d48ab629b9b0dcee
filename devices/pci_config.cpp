#include "devices/pci_config.h"
#include "machine/log.h"
#include <bit>
#include <stdexcept>

namespace hayate {

PciFunction::PciFunction(std::string name, const PciIds& ids, MappingChanged on_mapping_changed)
    : name_(std::move(name)), on_mapping_changed_(std::move(on_mapping_changed)) {
    // The whole predefined header is decoded; its reserved and unimplemented
    // fields are read-only zeros (PCI 3.0 6.1), so writes there are normal.
    for (unsigned i = 0; i < kDeviceSpecific; i++) declared_[i] = true;
    define_register(kVendorId, 2, ids.vendor, 0);
    define_register(kDeviceId, 2, ids.device, 0);
    define_register(kCommand, 2, ids.command_reset, ids.command_writable);
    define_register(kStatus, 2, ids.status_reset, 0, kStatusW1c);
    define_register(kRevision, 1, ids.revision, 0);
    define_register(kClassCode, 3,
                    uint32_t(ids.prog_if) | uint32_t(ids.sub_class) << 8 | uint32_t(ids.base_class) << 16, 0);
    define_register(kCacheLineSize, 1, 0, 0xff);
    // The latency timer is read-only zero for functions that are never bus masters.
    define_register(kLatencyTimer, 1, 0, (ids.command_writable & PciIds::kCommandMaster) ? 0xff : 0);
    define_register(kHeaderType, 1, ids.header_type, 0);
    define_register(kSubsystemVendor, 2, ids.subsystem_vendor, 0);
    define_register(kSubsystemId, 2, ids.subsystem, 0);
    define_register(kInterruptLine, 1, ids.interrupt_line, 0xff);
    define_register(kInterruptPin, 1, ids.interrupt_pin, 0);
}

void PciFunction::define_register(unsigned offset, unsigned size, uint32_t reset_value, uint32_t writable,
                                  uint32_t write1_clear) {
    if (size < 1 || size > 4 || offset + size > kConfigSize)
        throw std::logic_error(fmt::format("pci {}: register {:#x}+{} out of range", name_, offset, size));
    for (unsigned i = 0; i < size; i++) {
        const unsigned o = offset + i;
        config_[o] = reset_image_[o] = uint8_t(reset_value >> (8 * i));
        writable_[o] = reset_writable_[o] = uint8_t(writable >> (8 * i));
        w1c_[o] = uint8_t(write1_clear >> (8 * i));
        declared_[o] = true;
    }
}

void PciFunction::define_bar(unsigned index, PciBarKind kind, uint64_t size, bool prefetchable) {
    const bool is64 = kind == PciBarKind::Memory64;
    const uint64_t min_size = kind == PciBarKind::Io ? 4 : 16;
    if (index >= kBarCount || (is64 && index + 1 >= kBarCount) || size < min_size ||
        !std::has_single_bit(size) || (kind != PciBarKind::Memory64 && size > (1ull << 31)) ||
        (kind == PciBarKind::Io && size > 256))
        throw std::logic_error(fmt::format("pci {}: bad BAR {} of size {:#x}", name_, index, size));
    if (bars_[index].size || bars_[index].upper_half ||
        (is64 && (bars_[index + 1].size || bars_[index + 1].upper_half)))
        throw std::logic_error(fmt::format("pci {}: BAR {} defined twice", name_, index));
    bars_[index] = Bar{kind, size, prefetchable, false};
    const uint64_t address_mask = ~(size - 1);
    const unsigned offset = kBar0 + 4 * index;
    if (kind == PciBarKind::Io) {
        define_register(offset, 4, 0x1, uint32_t(address_mask) & ~0x3u);
        return;
    }
    const uint32_t type = (is64 ? 0x4u : 0x0u) | (prefetchable ? 0x8u : 0x0u);
    define_register(offset, 4, type, uint32_t(address_mask) & ~0xfu);
    if (is64) {
        bars_[index + 1].upper_half = true;
        define_register(offset + 4, 4, 0, uint32_t(address_mask >> 32));
    }
}

uint64_t PciFunction::bar_address(unsigned index) const {
    if (!bar_defined(index)) return 0;
    const uint32_t low = raw(kBar0 + 4 * index, 4);
    switch (bars_[index].kind) {
    case PciBarKind::Io: return low & ~0x3u;
    case PciBarKind::Memory32: return low & ~0xfu;
    case PciBarKind::Memory64: return (low & ~0xfull) | uint64_t(raw(kBar0 + 4 * index + 4, 4)) << 32;
    }
    return 0;
}

uint32_t PciFunction::raw(unsigned offset, unsigned size) const {
    uint32_t v = 0;
    for (unsigned i = 0; i < size && offset + i < kConfigSize; i++)
        v |= uint32_t(config_[offset + i]) << (8 * i);
    return v;
}

void PciFunction::set_raw(unsigned offset, unsigned size, uint32_t value) {
    for (unsigned i = 0; i < size && offset + i < kConfigSize; i++)
        config_[offset + i] = uint8_t(value >> (8 * i));
}

void PciFunction::clear_writable(unsigned offset, unsigned size, uint32_t bits) {
    for (unsigned i = 0; i < size && offset + i < kConfigSize; i++)
        writable_[offset + i] &= uint8_t(~(bits >> (8 * i)));
}

void PciFunction::set_status_bits(uint16_t bits, bool on) {
    const uint16_t s = status();
    set_raw(kStatus, 2, on ? uint16_t(s | bits) : uint16_t(s & ~bits));
}

static bool access_ok(unsigned offset, unsigned size) {
    return (size == 1 || size == 2 || size == 4) && offset < PciFunction::kConfigSize &&
           (offset & 3) + size <= 4;
}

uint32_t PciFunction::config_read(unsigned offset, unsigned size) {
    if (!access_ok(offset, size)) {
        log_guest_error("pci {}: bad config read of {} bytes at {:#x}", name_, size, offset);
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
    before_config_read(offset, size);
    return raw(offset, size);
}

void PciFunction::config_write(unsigned offset, unsigned size, uint32_t value) {
    if (!access_ok(offset, size)) {
        log_guest_error("pci {}: bad config write of {:#x} ({} bytes) at {:#x}", name_, value, size, offset);
        return;
    }
    const MappingState before = mapping_state();
    const uint32_t old_value = raw(offset, size);
    for (unsigned i = 0; i < size; i++) {
        const unsigned o = offset + i;
        const uint8_t v = uint8_t(value >> (8 * i));
        if (!declared_[o]) {
            if (!warned_[o]) {
                warned_[o] = true;
                log_warning(
                    "pci {}: write of {:#04x} to config register {:#04x}, which is not modelled (reads 0)",
                    name_, v, o);
            }
            continue;
        }
        uint8_t b = uint8_t((config_[o] & ~writable_[o]) | (v & writable_[o]));
        b &= uint8_t(~(v & w1c_[o]));
        config_[o] = b;
    }
    config_written(offset, size, old_value);
    notify_mapping(before);
}

PciFunction::MappingState PciFunction::mapping_state() const {
    MappingState s{};
    s.enables = uint16_t(command() & (PciIds::kCommandIo | PciIds::kCommandMemory));
    for (unsigned i = 0; i < kBarCount; i++) s.bases[i] = bar_address(i);
    return s;
}

void PciFunction::notify_mapping(const MappingState& before) {
    if (on_mapping_changed_ && !(mapping_state() == before)) on_mapping_changed_(*this);
}

void PciFunction::reset() {
    const MappingState before = mapping_state();
    config_ = reset_image_;
    writable_ = reset_writable_;
    state_restored();
    notify_mapping(before);
}

void PciFunction::save(StateWriter& out) const {
    out.put_bytes(config_.data(), config_.size());
    out.put_bytes(writable_.data(), writable_.size());
}

void PciFunction::load(StateReader& in) {
    const MappingState before = mapping_state();
    std::array<uint8_t, kConfigSize> config, writable;
    in.get_bytes(config.data(), config.size());
    in.get_bytes(writable.data(), writable.size());
    config_ = config;
    // Lock bits can only have made writable bits read-only.
    for (unsigned o = 0; o < kConfigSize; o++) writable_[o] = uint8_t(writable[o] & reset_writable_[o]);
    state_restored();
    notify_mapping(before);
}

} // namespace hayate
