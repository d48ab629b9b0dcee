// AML encodings after ACPI 6.x sections 20.2 (grammar) and 6.4 (resource
// descriptors).
#include "machine/aml.h"
#include <stdexcept>
#include <string>

namespace hayate::aml {

namespace {

// Opcodes (ACPI 6.x 20.3).
constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0A, kWordPrefix = 0x0B,
                  kDWordPrefix = 0x0C, kStringPrefix = 0x0D, kQWordPrefix = 0x0E, kScopeOp = 0x10,
                  kBufferOp = 0x11, kPackageOp = 0x12, kMethodOp = 0x14, kExtOpPrefix = 0x5B,
                  kDeviceOp = 0x82, kReturnOp = 0xA4;
constexpr uint8_t kRootChar = '\\', kParentPrefixChar = '^', kDualNamePrefix = 0x2E, kMultiNamePrefix = 0x2F,
                  kNullName = 0x00;

void put_le(Bytes& out, uint64_t value, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i) out.push_back(uint8_t(value >> (8 * i)));
}

[[noreturn]] void invalid(const std::string& what) { throw std::invalid_argument("aml: " + what); }

// NameSeg: LeadNameChar ('A'-'Z', '_') then three NameChars (also '0'-'9').
void put_name_seg(Bytes& out, std::string_view seg) {
    if (seg.empty() || seg.size() > 4)
        invalid("name segment '" + std::string(seg) + "' is not 1-4 characters");
    for (size_t i = 0; i < 4; ++i) {
        char c = i < seg.size() ? seg[i] : '_';
        bool lead_ok = (c >= 'A' && c <= 'Z') || c == '_';
        bool ok = lead_ok || (i > 0 && c >= '0' && c <= '9');
        if (!ok) invalid("bad character in name segment '" + std::string(seg) + "'");
        out.push_back(uint8_t(c));
    }
}

// Opcode, PkgLength, then the body.
Bytes with_pkg_length(std::initializer_list<uint8_t> opcode, const Bytes& body) {
    Bytes out(opcode);
    append(out, pkg_length(body.size()));
    append(out, body);
    return out;
}

} // namespace

void append(Bytes& out, const Bytes& part) { out.insert(out.end(), part.begin(), part.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) append(out, p);
    return out;
}

// One byte holds lengths up to 63 (bits 5:0). Longer ones: bits 7:6 of the
// lead byte count the following bytes (1-3), the lead byte's bits 3:0 are the
// low nibble and each following byte adds eight more bits.
Bytes pkg_length(size_t body_length) {
    for (unsigned extra = 0; extra <= 3; ++extra) {
        size_t total = body_length + 1 + extra;
        size_t limit = extra == 0 ? 0x40 : size_t(1) << (4 + 8 * extra);
        if (total >= limit) continue;
        if (extra == 0) return {uint8_t(total)};
        Bytes out{uint8_t(extra << 6 | (total & 0x0F))};
        put_le(out, total >> 4, extra);
        return out;
    }
    invalid("package of " + std::to_string(body_length) + " bytes exceeds the 28-bit PkgLength");
}

Bytes name_string(std::string_view path) {
    Bytes out;
    size_t pos = 0;
    if (pos < path.size() && path[pos] == kRootChar)
        out.push_back(path[pos++]);
    else
        while (pos < path.size() && path[pos] == kParentPrefixChar) out.push_back(path[pos++]);
    std::vector<std::string_view> segs;
    while (pos < path.size()) {
        size_t dot = path.find('.', pos);
        if (dot == std::string_view::npos) dot = path.size();
        segs.push_back(path.substr(pos, dot - pos));
        pos = dot + 1;
        if (dot + 1 == path.size()) invalid("name '" + std::string(path) + "' ends with a dot");
    }
    if (segs.empty())
        out.push_back(kNullName);
    else if (segs.size() == 2)
        out.push_back(kDualNamePrefix);
    else if (segs.size() > 2) {
        if (segs.size() > 255) invalid("too many name segments");
        out.push_back(kMultiNamePrefix);
        out.push_back(uint8_t(segs.size()));
    }
    for (auto s : segs) put_name_seg(out, s);
    return out;
}

Bytes integer(uint64_t value) {
    if (value == 0) return {kZeroOp};
    if (value == 1) return {kOneOp};
    Bytes out;
    if (value <= 0xFF) {
        out.push_back(kBytePrefix);
        put_le(out, value, 1);
    } else if (value <= 0xFFFF) {
        out.push_back(kWordPrefix);
        put_le(out, value, 2);
    } else if (value <= 0xFFFFFFFF) {
        out.push_back(kDWordPrefix);
        put_le(out, value, 4);
    } else {
        out.push_back(kQWordPrefix);
        put_le(out, value, 8);
    }
    return out;
}

Bytes string(std::string_view text) {
    Bytes out{kStringPrefix};
    for (char c : text) {
        if (c < 0x01 || uint8_t(c) > 0x7F) invalid("string character outside ASCII 0x01-0x7F");
        out.push_back(uint8_t(c));
    }
    out.push_back(0);
    return out;
}

// EISA id: three letters, five bits each ('A' = 1), and a 16-bit product
// number from four hex digits; the four bytes are stored most significant
// first, i.e. the DWord reads byte-swapped.
uint32_t eisa_id_value(std::string_view id) {
    auto hex = [&](char c) -> unsigned {
        if (c >= '0' && c <= '9') return unsigned(c - '0');
        if (c >= 'A' && c <= 'F') return unsigned(c - 'A' + 10);
        invalid("EISA id '" + std::string(id) + "' needs four uppercase hex digits");
    };
    if (id.size() != 7) invalid("EISA id '" + std::string(id) + "' is not 7 characters");
    unsigned vendor = 0;
    for (int i = 0; i < 3; ++i) {
        if (id[i] < 'A' || id[i] > 'Z')
            invalid("EISA id '" + std::string(id) + "' needs three uppercase letters");
        vendor = vendor << 5 | unsigned(id[i] - 'A' + 1);
    }
    unsigned product = 0;
    for (int i = 3; i < 7; ++i) product = product << 4 | hex(id[i]);
    uint8_t b[4] = {uint8_t(vendor >> 8), uint8_t(vendor), uint8_t(product >> 8), uint8_t(product)};
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

Bytes eisa_id(std::string_view id) {
    Bytes out{kDWordPrefix};
    put_le(out, eisa_id_value(id), 4);
    return out;
}

Bytes name(std::string_view name, const Bytes& value) {
    Bytes out{kNameOp};
    append(out, name_string(name));
    append(out, value);
    return out;
}

Bytes package(const std::vector<Bytes>& elements) {
    if (elements.size() > 255) invalid("Package of more than 255 elements needs VarPackage");
    Bytes body{uint8_t(elements.size())};
    for (const auto& e : elements) append(body, e);
    return with_pkg_length({kPackageOp}, body);
}

Bytes scope(std::string_view name, const Bytes& term_list) {
    return with_pkg_length({kScopeOp}, concat({name_string(name), term_list}));
}

Bytes device(std::string_view name, const Bytes& term_list) {
    return with_pkg_length({kExtOpPrefix, kDeviceOp}, concat({name_string(name), term_list}));
}

Bytes method(std::string_view name, unsigned arg_count, bool serialized, const Bytes& term_list,
             unsigned sync_level) {
    if (arg_count > 7) invalid("a method takes at most 7 arguments");
    if (sync_level > 15) invalid("SyncLevel is 0-15");
    uint8_t flags = uint8_t(arg_count | (serialized ? 1u << 3 : 0u) | sync_level << 4);
    Bytes body = name_string(name);
    body.push_back(flags);
    append(body, term_list);
    return with_pkg_length({kMethodOp}, body);
}

Bytes return_value(const Bytes& value) { return concat({Bytes{kReturnOp}, value}); }

Bytes buffer(const Bytes& data) { return with_pkg_length({kBufferOp}, concat({integer(data.size()), data})); }

namespace res {

namespace {
// Large item header: tag byte then a 16-bit length of the data that follows.
Bytes large_item(uint8_t tag, const Bytes& data) {
    Bytes out{tag};
    put_le(out, data.size(), 2);
    append(out, data);
    return out;
}

constexpr uint8_t kSmallIo = 0x08 << 3 | 7, kSmallIrqNoFlags = 0x04 << 3 | 2;
constexpr uint8_t kLargeMemory32Fixed = 0x86, kLargeDWordAddressSpace = 0x87, kLargeWordAddressSpace = 0x88;
constexpr uint8_t kResourceTypeMemory = 0, kResourceTypeIo = 1, kResourceTypeBusNumber = 2;
// General flags: bit 3 _MAF, bit 2 _MIF, bit 1 _DEC (0 = positive), bit 0 consumer.
uint8_t general_flags(Usage usage) {
    return uint8_t(1u << 3 | 1u << 2 | (usage == Usage::consumer ? 1u : 0u));
}

// An address space descriptor with fixed bounds: granularity 0, translation
// 0 and the length exactly covering [min, max] (6.4.3.5, fixed size, fixed
// location).
Bytes address_space(uint8_t tag, unsigned width, uint8_t type, uint8_t general, uint8_t specific,
                    uint64_t min, uint64_t max) {
    if (max < min) invalid("address window with max below min");
    Bytes data{type, general, specific};
    put_le(data, 0, width); // granularity
    put_le(data, min, width);
    put_le(data, max, width);
    put_le(data, 0, width); // translation offset
    put_le(data, max - min + 1, width);
    return large_item(tag, data);
}
} // namespace

Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length, bool decode16) {
    if (max < min) invalid("IO descriptor with max below min");
    Bytes out{kSmallIo, uint8_t(decode16 ? 1 : 0)};
    put_le(out, min, 2);
    put_le(out, max, 2);
    out.push_back(alignment);
    out.push_back(length);
    return out;
}

Bytes irq_no_flags(std::initializer_list<unsigned> irqs) {
    unsigned mask = 0;
    for (unsigned irq : irqs) {
        if (irq > 15) invalid("IRQ descriptor names an IRQ above 15");
        mask |= 1u << irq;
    }
    Bytes out{kSmallIrqNoFlags};
    put_le(out, mask, 2);
    return out;
}

Bytes memory32_fixed(bool read_write, uint32_t base, uint32_t length) {
    Bytes data{uint8_t(read_write ? 1 : 0)};
    put_le(data, base, 4);
    put_le(data, length, 4);
    return large_item(kLargeMemory32Fixed, data);
}

Bytes word_bus_number(Usage usage, uint16_t min, uint16_t max) {
    return address_space(kLargeWordAddressSpace, 2, kResourceTypeBusNumber, general_flags(usage), 0, min,
                         max);
}

Bytes dword_io(Usage usage, uint32_t min, uint32_t max) {
    if (uint64_t(max) - min + 1 > 0xFFFFFFFF) invalid("DWordIO window longer than 4 GiB - 1");
    // Type-specific flags: _RNG = 3 (entire range: ISA and non-ISA ports).
    return address_space(kLargeDWordAddressSpace, 4, kResourceTypeIo, general_flags(usage), 3, min, max);
}

Bytes dword_memory(Usage usage, Cacheability cacheability, bool read_write, uint32_t min, uint32_t max) {
    if (uint64_t(max) - min + 1 > 0xFFFFFFFF) invalid("DWordMemory window longer than 4 GiB - 1");
    // Type-specific flags: bit 0 _RW, bits 2:1 _MEM, bits 4:3 _MTP = 0 (AddressRangeMemory).
    uint8_t specific = uint8_t((read_write ? 1 : 0) | unsigned(cacheability) << 1);
    return address_space(kLargeDWordAddressSpace, 4, kResourceTypeMemory, general_flags(usage), specific, min,
                         max);
}

} // namespace res

Bytes resource_template(const std::vector<Bytes>& descriptors) {
    Bytes data;
    for (const auto& d : descriptors) append(data, d);
    // End Tag: small item 0x0F, length 1, checksum 0.
    data.push_back(0x0F << 3 | 1);
    data.push_back(0);
    return buffer(data);
}

} // namespace hayate::aml
