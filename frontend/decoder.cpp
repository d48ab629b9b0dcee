#include "frontend/decoder.h"
#include <algorithm>
#include <cstring>
#include <fmt/core.h>

namespace hayate {

Decoder::Decoder(unsigned code_size) {
    ZydisMachineMode mm = code_size == 64   ? ZYDIS_MACHINE_MODE_LONG_64
                          : code_size == 32 ? ZYDIS_MACHINE_MODE_LEGACY_32
                                            : ZYDIS_MACHINE_MODE_LEGACY_16;
    ZydisStackWidth sw = code_size == 64   ? ZYDIS_STACK_WIDTH_64
                         : code_size == 32 ? ZYDIS_STACK_WIDTH_32
                                           : ZYDIS_STACK_WIDTH_16;
    ZydisDecoderInit(&decoder_, mm, sw);
}

bool Decoder::decode(const uint8_t* bytes, size_t available, uint64_t pc, Insn& out) const {
    if (ZYAN_FAILED(
            ZydisDecoderDecodeFull(&decoder_, bytes, std::min<size_t>(available, 15), &out.zi, out.ops)))
        return false;
    out.pc = pc;
    out.next_pc = pc + out.zi.length;
    std::memcpy(out.bytes, bytes, out.zi.length);
    if (out.zi.cpu_flags) {
        const auto* f = out.zi.cpu_flags;
        out.flags_read = f->tested & kZyArithFlags;
        out.flags_written = (f->modified | f->set_0 | f->set_1 | f->undefined) & kZyArithFlags;
    } else {
        out.flags_read = out.flags_written = 0;
    }
    return true;
}

std::string Insn::text() const {
    ZydisFormatter f;
    ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_INTEL);
    char buf[256];
    if (ZYAN_FAILED(ZydisFormatterFormatInstruction(&f, &zi, ops, zi.operand_count_visible, buf, sizeof buf,
                                                    pc, nullptr)))
        return "(unformattable)";
    return buf;
}

std::string Insn::hex_bytes() const {
    std::string s;
    for (unsigned i = 0; i < zi.length; i++) s += fmt::format("{}{:02x}", i ? " " : "", bytes[i]);
    return s;
}

} // namespace hayate
