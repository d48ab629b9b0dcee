// A small builder for ACPI Machine Language (ACPI 6.x chapter 20): the
// handful of terms a PC DSDT needs (Name, Scope, Device, Method, Package,
// Buffer, integers, strings, EISAID) and the resource descriptors of
// chapter 6.4 for _CRS. Every function returns the encoded bytes; callers
// concatenate them. Invalid input (a bad name segment, an EISA id that is
// not three letters and four hex digits, a window whose length does not
// match its bounds) throws std::invalid_argument: these are programming
// errors, never guest-controlled.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace hayate::aml {

using Bytes = std::vector<uint8_t>;

// Concatenation of several encoded terms (a TermList).
Bytes concat(std::initializer_list<Bytes> parts);
void append(Bytes& out, const Bytes& part);

// PkgLength (20.2.4) for a package whose contents after the PkgLength are
// body_length bytes; the encoded length counts the PkgLength bytes too.
Bytes pkg_length(size_t body_length);

// NameString (20.2.2): "\\_SB.PCI0", "^ISA", "_HID", "" (NullName).
// Segments shorter than four characters are padded with '_'.
Bytes name_string(std::string_view path);

// Integer constants in their shortest form: ZeroOp, OneOp, BytePrefix,
// WordPrefix, DWordPrefix, QWordPrefix.
Bytes integer(uint64_t value);
// String (StringPrefix, ASCII 0x01-0x7F, NUL terminated).
Bytes string(std::string_view text);
// EISAID("PNP0A03"): the compressed 32-bit EISA id as a DWord constant.
uint32_t eisa_id_value(std::string_view id);
Bytes eisa_id(std::string_view id);

Bytes name(std::string_view name, const Bytes& value);
Bytes package(const std::vector<Bytes>& elements);
Bytes scope(std::string_view name, const Bytes& term_list);
Bytes device(std::string_view name, const Bytes& term_list);
// Method (20.2.5.2): arg_count 0-7, SerializeFlag, SyncLevel 0-15.
Bytes method(std::string_view name, unsigned arg_count, bool serialized, const Bytes& term_list,
             unsigned sync_level = 0);
Bytes return_value(const Bytes& value);
Bytes buffer(const Bytes& data);

// Resource descriptors (6.4). Small items: IO, IRQNoFlags, End Tag; large
// items: Memory32Fixed and the Word/DWord Address Space descriptors.
namespace res {

// Address Space descriptor general flags (6.4.3.5.5): the device produces
// and consumes (bridge window) or only consumes the range.
enum class Usage { producer, consumer };

// IO(Decode16 or Decode10, min, max, alignment, length).
Bytes io(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length, bool decode16 = true);
// IRQNoFlags() {irqs...}: edge, active-high, exclusive ISA interrupts.
Bytes irq_no_flags(std::initializer_list<unsigned> irqs);
// Memory32Fixed(ReadWrite or ReadOnly, base, length).
Bytes memory32_fixed(bool read_write, uint32_t base, uint32_t length);
// WordBusNumber(usage, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, max-min+1).
Bytes word_bus_number(Usage usage, uint16_t min, uint16_t max);
// DWordIO(usage, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, max-min+1).
Bytes dword_io(Usage usage, uint32_t min, uint32_t max);
// DWordMemory(usage, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, 0, min, max, 0, max-min+1).
enum class Cacheability : uint8_t { non_cacheable = 0, cacheable = 1, write_combining = 2, prefetchable = 3 };
Bytes dword_memory(Usage usage, Cacheability cacheability, bool read_write, uint32_t min, uint32_t max);

} // namespace res

// ResourceTemplate(): a Buffer of the descriptors followed by the End Tag
// (checksum byte 0: "the checksum is treated as correct").
Bytes resource_template(const std::vector<Bytes>& descriptors);

} // namespace hayate::aml
