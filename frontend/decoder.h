// Zydis decoding into one compact record per guest instruction.
#pragma once
#include <Zydis/Zydis.h>
#include <cstdint>
#include <string>

namespace hayate {

struct Insn {
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    uint64_t pc = 0;      // guest RIP of the instruction
    uint64_t next_pc = 0; // guest RIP after it
    uint8_t bytes[16] = {};
    // Host-flag liveness, as Zydis CPU-flag masks restricted to OSZAPC.
    uint32_t flags_read = 0, flags_written = 0, flags_live_after = 0;

    ZydisMnemonic mnemonic() const { return zi.mnemonic; }
    unsigned length() const { return zi.length; }
    unsigned operand_width() const { return zi.operand_width; } // bits
    unsigned address_width() const { return zi.address_width; } // bits
    bool has_lock() const { return zi.attributes & ZYDIS_ATTRIB_HAS_LOCK; }
    bool has_rep() const { return zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE); }
    bool has_repe() const { return zi.attributes & ZYDIS_ATTRIB_HAS_REPE; }
    bool has_repne() const { return zi.attributes & ZYDIS_ATTRIB_HAS_REPNE; }
    unsigned visible_operands() const { return zi.operand_count_visible; }
    std::string text() const; // Intel syntax, for logs
    std::string hex_bytes() const;
};

// OSZAPC in Zydis' CPU-flag bit numbering.
constexpr uint32_t kZyArithFlags = ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF |
                                   ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF;

class Decoder {
  public:
    // code_size: 16, 32 or 64.
    explicit Decoder(unsigned code_size);
    // Decodes from `bytes` (at most `available`); false if invalid or truncated.
    bool decode(const uint8_t* bytes, size_t available, uint64_t pc, Insn& out) const;

  private:
    ZydisDecoder decoder_;
};

} // namespace hayate
