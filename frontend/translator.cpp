#include "frontend/translator.h"
#include "frontend/emit_table.h"
#include "frontend/helpers.h"
#include "jit/host_traps.h"
#include "machine/log.h"
#include <cstring>
#include <vector>

namespace hayate {

using namespace asmjit;

Translator::Translator(jit::CodeBuffer& buffer, const jit::Thunks& thunks)
    : buffer_(buffer), thunks_(thunks) {}

namespace {

class ErrorRecorder : public ErrorHandler {
  public:
    void handleError(Error err, const char* message, BaseEmitter*) override {
        if (!failed) first = fmt::format("{} ({})", message, err);
        failed = true;
    }
    bool failed = false;
    std::string first;
};

// Flags an instruction leaves unchanged in some cases (count 0) do not end
// the liveness of earlier flag results.
uint32_t flags_killed(const Insn& in) {
    switch (in.mnemonic()) {
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR:
    case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD: {
        const ZydisDecodedOperand& count =
            in.ops[in.mnemonic() == ZYDIS_MNEMONIC_SHLD || in.mnemonic() == ZYDIS_MNEMONIC_SHRD ? 2 : 1];
        if (count.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) return 0;
        unsigned mask = in.operand_width() == 64 ? 63 : 31;
        if ((count.imm.value.u & mask) == 0) return 0;
        return in.flags_written;
    }
    default: break;
    }
    if (in.zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) {
        switch (in.zi.meta.category) {
        case ZYDIS_CATEGORY_STRINGOP: return 0;
        default: break;
        }
    }
    return in.flags_written;
}

bool raises_data_fault(const Insn& in) {
    switch (in.mnemonic()) {
    case ZYDIS_MNEMONIC_DIV:
    case ZYDIS_MNEMONIC_IDIV:
    case ZYDIS_MNEMONIC_COMISS:
    case ZYDIS_MNEMONIC_COMISD:
    case ZYDIS_MNEMONIC_UCOMISS:
    case ZYDIS_MNEMONIC_UCOMISD:
    case ZYDIS_MNEMONIC_VCOMISS:
    case ZYDIS_MNEMONIC_VCOMISD:
    case ZYDIS_MNEMONIC_VUCOMISS:
    case ZYDIS_MNEMONIC_VUCOMISD: return true;
    default: return false;
    }
}

bool replaces_flags_in_interpreter(const Insn& in) {
    switch (in.mnemonic()) {
    case ZYDIS_MNEMONIC_SYSCALL:
    case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT:
    case ZYDIS_MNEMONIC_RDRAND:
    case ZYDIS_MNEMONIC_RDSEED: return true;
    default: return false;
    }
}

bool is_terminator(const Insn& in) {
    switch (in.zi.meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET: return true;
    default: break;
    }
    return emit_table()[in.mnemonic()].ends_block;
}

// Logged loudly once per mnemonic: the guest gets #UD, the user sees why.
void report_unimplemented(const Insn& in) {
    static std::vector<bool> seen(ZYDIS_MNEMONIC_MAX_VALUE + 1);
    if (seen[in.mnemonic()]) return;
    seen[in.mnemonic()] = true;
    log_warning("unimplemented instruction at RIP {:#x}: {} ({}); raising #UD", in.pc, in.text(),
                in.hex_bytes());
}

} // namespace

// -d out_asm: the host code of a block, disassembled.
static void log_host_code(uint64_t guest_pc, const uint8_t* code, size_t size) {
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    ZydisFormatter f;
    ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_INTEL);
    log_write("OUT for guest {:#x}: {} bytes at {}", guest_pc, size, static_cast<const void*>(code));
    for (size_t off = 0; off < size;) {
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, code + off, size - off, &zi, ops))) {
            log_write("  {:#x}: .byte {:#04x}", uintptr_t(code + off), code[off]);
            off++;
            continue;
        }
        char buf[256];
        ZydisFormatterFormatInstruction(&f, &zi, ops, zi.operand_count_visible, buf, sizeof buf,
                                        uint64_t(uintptr_t(code + off)), nullptr);
        log_write("  {:#x}: {}", uintptr_t(code + off), buf);
        off += zi.length;
    }
}

Translator::Result Translator::translate(uint64_t pc, uint64_t cs_base, uint32_t mode, const CodeFetch& fetch,
                                         std::unique_ptr<jit::Block>& out) {
    const unsigned code_bits = mode::is64(mode) ? 64 : mode::code_size(mode) == mode::kCode32 ? 32 : 16;
    Decoder decoder(code_bits);
    std::vector<Insn> insns;
    insns.reserve(32);

    auto block = std::make_unique<jit::Block>();
    block->pc = pc;
    block->cs_base = cs_base;
    block->mode = mode;

    // ---- decode up to the end of the block (or page) ----
    const uint64_t first_linear = mode::is64(mode) ? pc : uint32_t(cs_base + pc);
    const uint8_t* page = nullptr;
    uint64_t phys_page = 0;
    if (!fetch.map_page(first_linear, page, phys_page)) return Result::FetchFault;
    block->phys = phys_page + (first_linear & 0xfff);
    uint64_t cur = pc;
    bool invalid_first = false;
    // Single-step: one instruction, after which the dispatcher raises #DB.
    const int max_insns = (mode & mode::kStepwise) ? 1 : kMaxInsnsPerBlock;
    while (int(insns.size()) < max_insns) {
        uint64_t linear = mode::is64(mode) ? cur : uint32_t(cs_base + cur);
        if ((linear & ~0xfffull) != (first_linear & ~0xfffull)) break; // blocks stay in their page
        size_t off = linear & 0xfff;
        uint8_t bytes[16];
        size_t avail = std::min<size_t>(15, 4096 - off);
        std::memcpy(bytes, page + off, avail);
        Insn in;
        bool ok = decoder.decode(bytes, avail, cur, in);
        if (!ok && avail < 15) {
            // The instruction may straddle into the next page.
            const uint8_t* page2;
            uint64_t phys2;
            if (!fetch.map_page((linear & ~0xfffull) + 0x1000, page2, phys2)) {
                if (insns.empty()) {
                    // Let the first byte of the next page fault precisely.
                    if (decoder.decode(bytes, avail, cur, in)) break;
                    return Result::FetchFault;
                }
                break;
            }
            std::memcpy(bytes + avail, page2, 15 - avail);
            ok = decoder.decode(bytes, 15, cur, in);
            if (ok && in.length() > avail) block->phys_page2 = phys2;
        }
        if (!ok) {
            if (insns.empty()) invalid_first = true;
            break;
        }
        // Only flags an instruction always writes end their liveness (a shift by
        // zero or a REP with RCX=0 leaves them alone).
        in.flags_written = flags_killed(in);
        // #DE and #XM are faults that ordinary data raises: their frames must
        // hold the flags from before the instruction, so the flags count as
        // read (kept intact by the code before it). Page faults do not get
        // this: it would cost a flag save around most memory accesses.
        if (raises_data_fault(in)) in.flags_read |= kZyArithFlags;
        // Interpreted instructions that replace the flags see them whole first:
        // SYSCALL saves RFLAGS in R11, and their faults push the old flags.
        if (replaces_flags_in_interpreter(in)) in.flags_read |= kZyArithFlags;
        insns.push_back(in);
        cur = in.next_pc;
        if (code_bits == 16)
            cur = uint16_t(cur);
        else if (code_bits == 32)
            cur = uint32_t(cur);
        if (is_terminator(in)) break;
    }

    // ---- flags live at the block's end ----
    // The code at each static successor in this page is decoded ahead: flags
    // it overwrites before reading are dead here, which spares flag saves
    // around TLB probes and the entry check. The bytes read go into the
    // block's footprint, so a store there retranslates it.
    auto wrap_ip = [code_bits](uint64_t v) {
        return code_bits == 16 ? uint64_t(uint16_t(v)) : code_bits == 32 ? uint64_t(uint32_t(v)) : v;
    };
    unsigned peek_lo = 0x1000, peek_hi = 0;
    auto flags_needed_at = [&](uint64_t target) -> uint32_t {
        uint32_t live = 0, open = kZyArithFlags;
        uint64_t ip = target;
        for (int n = 0; n < 8 && open; n++) {
            const uint64_t linear = mode::is64(mode) ? ip : uint32_t(cs_base + ip);
            if ((linear & ~0xfffull) != (first_linear & ~0xfffull)) break;
            const size_t off = linear & 0xfff;
            Insn in;
            if (!decoder.decode(page + off, std::min<size_t>(15, 4096 - off), ip, in)) break;
            peek_lo = std::min<unsigned>(peek_lo, unsigned(off));
            peek_hi = std::max<unsigned>(peek_hi, unsigned(off + in.length()));
            uint32_t reads = in.flags_read;
            if (raises_data_fault(in) || replaces_flags_in_interpreter(in)) reads = kZyArithFlags;
            live |= reads & open;
            open &= ~flags_killed(in);
            if (is_terminator(in)) break;
            ip = wrap_ip(in.next_pc);
        }
        return live | open;
    };
    uint32_t live_out = kZyArithFlags;
    if (!insns.empty() && !(mode & mode::kStepwise)) {
        const Insn& last = insns.back();
        const ZydisDecodedOperand& op0 = last.ops[0];
        const bool direct = last.visible_operands() > 0 && op0.type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
                            last.zi.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR;
        const uint64_t target = wrap_ip(last.next_pc + uint64_t(op0.imm.value.s)) &
                                (last.operand_width() == 16 ? 0xffffull : ~0ull);
        switch (last.zi.meta.category) {
        case ZYDIS_CATEGORY_COND_BR:
            if (direct) live_out = flags_needed_at(wrap_ip(last.next_pc)) | flags_needed_at(target);
            break;
        case ZYDIS_CATEGORY_UNCOND_BR:
        case ZYDIS_CATEGORY_CALL:
            if (direct) live_out = flags_needed_at(target);
            break;
        case ZYDIS_CATEGORY_RET:
        case ZYDIS_CATEGORY_INTERRUPT:
        case ZYDIS_CATEGORY_SYSCALL:
        case ZYDIS_CATEGORY_SYSRET: break;
        default:
            // The block ends at the page end or the size limit: the next
            // instruction follows in the same mode. (An instruction that
            // leaves to the dispatcher may change the mode or the mapping.)
            if (!is_terminator(last)) live_out = flags_needed_at(cur);
            break;
        }
    }
    if (peek_hi > peek_lo) {
        block->peek_lo = uint16_t(peek_lo);
        block->peek_hi = uint16_t(peek_hi);
    }

    // ---- flag liveness (backward) ----
    uint32_t live = live_out;
    for (size_t i = insns.size(); i-- > 0;) {
        Insn& in = insns[i];
        in.flags_live_after = live;
        live = (live & ~in.flags_written) | in.flags_read;
    }
    const bool live_in = live != 0;

    // ---- emit ----
    CodeHolder code;
    code.init(Environment::host(), uint64_t(uintptr_t(buffer_.cursor())));
    ErrorRecorder errors;
    code.setErrorHandler(&errors);
    x86::Assembler a(&code);
    EmitContext c(a, thunks_, block.get(), mode);

    // Leave at block entry when another thread asked for it. (Single-step
    // blocks always return to the dispatcher, which checks it.)
    Insn entry{};
    if (!(mode & mode::kStepwise)) {
        Label stop = a.newLabel();
        entry.pc = pc;
        entry.flags_live_after = live_in ? kZyArithFlags : 0;
        c.insn = &entry;
        if (live_in) {
            // Flag-free when the guest's flags are live: JRCXZ on the word,
            // with the guest's RCX parked in T1.
            Label go_on = a.newLabel();
            a.mov(kT1, x86::rcx);
            a.mov(x86::ecx, jit::state_field(offsetof(CpuState, exit_request), 4));
            a.jecxz(x86::rcx, go_on); // JRCXZ
            a.mov(x86::rcx, kT1);
            a.jmp(stop);
            a.bind(go_on);
            a.mov(x86::rcx, kT1);
        } else {
            a.cmp(jit::state_field(offsetof(CpuState, exit_request), 4), Imm(0));
            a.jne(stop);
        }
        c.defer([&c, stop, pc]() {
            c.a.bind(stop);
            c.exit_to_dispatcher(pc);
        });
        c.block_ended = false;
    }

    const EmitTable& table = emit_table();
    if (invalid_first) {
        Insn bad{};
        bad.pc = pc;
        bad.next_pc = pc;
        c.insn = &bad;
        c.raise_ud();
        c.block_ended = true;
    }
    uint64_t end_pc = pc;
    for (const Insn& in : insns) {
        c.insn = &in;
        c.flags_in_scratch = false;
        if (log_enabled(logcat::kInAsm)) log_write("IN {:#x}: {:30s} {}", in.pc, in.hex_bytes(), in.text());
        const EmitEntry& e = table[in.mnemonic()];
        bool done = e.fn && e.fn(c);
        if (!done) {
            report_unimplemented(in);
            c.call_helper(&helper_unimplemented, uint64_t(in.mnemonic()));
            c.block_ended = true;
        }
        end_pc = in.next_pc;
        if (c.block_ended) break;
    }
    if (!c.block_ended) c.exit_direct(c.wrap_pc(end_pc));
    c.emit_deferred();

    if (errors.failed) {
        log_warning("internal error: host assembler refused code for the block at {:#x}: {}", pc,
                    errors.first);
        return Result::InternalError;
    }
    uint8_t* host = buffer_.commit(code);
    if (!host) return Result::BufferFull;
    block->code = host;
    block->code_size = uint32_t(code.codeSize());
    block->guest_size = uint32_t(std::max<uint64_t>(1, (end_pc - pc) & (code_bits == 16 ? 0xffff : ~0ull)));
    if (insns.empty()) block->guest_size = 1;
    for (const auto& e : c.pending_exit_labels) {
        block->exits[size_t(e.index)].patch_site = host + code.labelOffsetFromBase(e.site);
        block->exits[size_t(e.index)].stub = host + code.labelOffsetFromBase(e.stub);
    }
    if (log_enabled(logcat::kOutAsm)) log_host_code(pc, host, block->code_size);
    for (const auto& t : c.host_trap_labels)
        jit::add_host_trap(host + code.labelOffsetFromBase(t.site),
                           host + code.labelOffsetFromBase(t.resume));
    out = std::move(block);
    return Result::Ok;
}

} // namespace hayate
