// What an instruction emitter works with: the decoded instruction, the
// assembler, and the shared mechanisms (guest operands, the inline TLB probe
// with its slow path, flag preservation, helper calls, block exits).
#pragma once
#include "frontend/decoder.h"
#include "frontend/mode.h"
#include "jit/host_regs.h"
#include "jit/trampoline.h"
#include <asmjit/x86.h>
#include <functional>
#include <vector>

namespace hayate {

namespace jit {
struct Block;
}

namespace x86 = asmjit::x86;
using jit::kState;
using jit::kT0;
using jit::kT1;

enum class MemAccess : uint8_t { Read = 1, Write = 2, ReadWrite = 3 };

// Results of helpers called from generated code.
enum HelperStatus : uint64_t {
    kHelperContinue = 0,
    kHelperExitNext = 1, // instruction done; leave generated code at the next instruction
    kHelperExitHere = 2, // CpuState.rip already says where to go (exception raised, mode change...)
};

// Information passed to the memory slow path, packed in one word.
struct MemInfo {
    static uint32_t make(unsigned size, MemAccess acc, bool align, int mmu_index, int seg) {
        return size | (uint32_t(acc) << 8) | (align ? 1u << 10 : 0) | (uint32_t(mmu_index) << 11) |
               (uint32_t(seg & 7) << 13);
    }
    static unsigned size(uint32_t i) { return i & 0xff; }
    static MemAccess access(uint32_t i) { return MemAccess((i >> 8) & 3); }
    static bool align(uint32_t i) { return i & (1u << 10); }
    static int mmu_index(uint32_t i) { return int((i >> 11) & 3); }
    static int seg(uint32_t i) { return int((i >> 13) & 7); }
};

// One guest operand lowered to a host operand.
struct GuestOperand {
    asmjit::Operand op;
    int guest = -1;         // guest GPR index, or -1
    unsigned size = 0;      // bytes
    bool in_state = false;  // a GPR that lives in CpuState (op is a memory operand)
    bool high_byte = false; // AH/CH/DH/BH
    bool is_guest_mem = false;
    bool read = false, written = false;
};

class EmitContext {
  public:
    EmitContext(x86::Assembler& a, const jit::Thunks& thunks, jit::Block* block, uint32_t mode);

    x86::Assembler& a;
    const jit::Thunks& thunks;
    jit::Block* block;
    const uint32_t mode;
    const Insn* insn = nullptr; // the instruction being emitted
    bool block_ended = false;   // set by emitters that end the block (jumps, mode changes)
    bool x87_loaded = false;    // the block's x87 instructions have loaded the guest x87 state (emit_x87.cpp)
    bool ymm_dirty_marked = false; // CpuState.ymm_dirty is known set at this point (emit_avx.cpp)

    // --- registers ---
    // The host operand of a Zydis GPR (host register or CpuState slot).
    GuestOperand gpr(ZydisRegister reg) const;
    // Loads a guest GPR of `size` bytes zero-extended into host register `dst`.
    void load_gpr(x86::Gp dst, int guest, unsigned size);
    // Writes `src` (`size` bytes) into a guest GPR with x86 width semantics
    // (32-bit writes zero-extend, 8/16-bit writes merge).
    void store_gpr(int guest, x86::Gp src, unsigned size);
    x86::Gp host_gpr(int guest, unsigned size) const; // only for guests in host registers

    // --- flags ---
    // True if the guest's arithmetic flags must survive host code emitted
    // before this instruction's own flag work (e.g. a TLB probe).
    bool flags_live_before() const;
    bool flags_live_after() const;
    void save_flags(); // host RFLAGS -> CpuState.scratch[0] (clobbers T1); sets flags_in_scratch
    // scratch[0] holds this instruction's incoming flags (an emitter saved
    // them before clobbering the host's). Reset for every instruction.
    bool flags_in_scratch = false;
    void restore_flags(); // CpuState.scratch[0] -> host RFLAGS (clobbers T1)

    // --- memory ---
    // Linear address of a memory operand into `dst`; uses T1. Outside 64-bit
    // mode the offset is checked against the segment for an `acc` access of
    // the operand's size (#GP(0), #SS(0) for SS); MemAccess{} skips the check
    // (the caller checks, e.g. the interpreter).
    void linear_address(const ZydisDecodedOperand& mem, x86::Gp dst, MemAccess acc);
    // Effective address (offset, no segment) of a memory operand into `dst`.
    void effective_address(const ZydisDecodedOperand& mem, x86::Gp dst);
    // Adds the base of segment `seg` to the offset in `dst`, wrapping as the
    // mode requires (uses T1). Outside 64-bit mode, for size > 0, first checks
    // the `size`-byte `acc` access at that offset against the segment
    // (limit, expand-down, type, null): #GP(0), or #SS(0) for SS.
    void add_segment_base(x86::Gp dst, int seg, unsigned size, MemAccess acc);
    // Probes the TLB for the linear address in T0 and runs `body` with a host
    // memory operand; `body` runs again on the bounce buffer for MMIO,
    // page-straddling accesses and stores to pages holding translated code.
    using MemBody = std::function<void(const x86::Mem&)>;
    void access_linear(unsigned size, MemAccess acc, int seg, MemBody body, bool align = false,
                       bool keep_flags = true);
    void access_memory(const ZydisDecodedOperand& mem, MemAccess acc, MemBody body, bool align = false);

    // --- the generic path: run the guest instruction as the same host instruction ---
    // Returns false if it cannot (the caller raises #UD).
    bool emit_native(asmjit::InstId id, bool align = false);

    // --- helpers ---
    // Calls `uint64_t fn(CpuState*, uint64_t arg1, uint64_t arg2)` with the
    // guest state synced to CpuState and rip = this instruction. arg2 may be
    // taken from T0 (pass_t0). Generated code then follows HelperStatus.
    void call_helper(const void* fn, uint64_t arg1, bool pass_t0 = false);
    template <typename F> void call_helper(F* fn, uint64_t arg1, bool pass_t0 = false) {
        call_helper(reinterpret_cast<const void*>(fn), arg1, pass_t0);
    }
    // Copies the current instruction into the block so a helper can read it.
    const Insn* keep_insn();
    // The instruction interpreted by helper_interpret (system instructions); a
    // memory operand's linear address is computed into T0 first.
    void call_interpreter(bool memory_address = true);
    void raise_exception(uint8_t vector, uint32_t error_code = 0, bool has_error = false);
    void raise_ud();

    // --- block exits ---
    void exit_direct(uint64_t target_pc); // chainable jump to a known guest RIP
    void exit_indirect();                 // target guest RIP in T0 (already truncated)
    void exit_to_dispatcher(uint64_t pc); // no chaining (mode may change)
    // Keeps the RIP value `v` truncated to the code size.
    uint64_t wrap_pc(uint64_t v) const;

    // --- deferred cold code (slow paths), emitted after the block body ---
    // The current instruction is restored while deferred code is emitted.
    // So is `host_traps`, for bodies emitted again on a slow path.
    void defer(std::function<void()> fn) { deferred_.push_back({insn, host_traps, std::move(fn)}); }
    void emit_deferred();

    // Direct exits whose host addresses are resolved once the block is committed.
    struct ExitLabels {
        int index;
        asmjit::Label site, stub;
    };
    std::vector<ExitLabels> pending_exit_labels;

    // Host instructions that may trap for a guest exception (SIMD floating
    // point under an unmasked guest MXCSR; see jit/host_traps.h). While
    // `host_traps` is set, the native forms mark each host instruction they
    // emit; its resume stub raises the guest exception for this instruction.
    struct HostTrapLabels {
        asmjit::Label site, resume;
    };
    bool host_traps = false;
    std::vector<HostTrapLabels> host_trap_labels;
    void mark_host_trap_site(); // call right before emitting the host instruction

    // Guest RIP bookkeeping for precise faults.
    void store_rip(uint64_t pc); // CpuState.rip = pc (clobbers T1)

    unsigned stack_bytes() const { return mode::stack_bytes(mode); }
    bool is64() const { return mode::is64(mode); }
    int mmu_index() const { return mode::mmu_index(mode); }

  private:
    void check_segment_bounds(x86::Gp offset, int seg, unsigned size, MemAccess acc);
    bool emit_native_form(asmjit::InstId id, bool align, bool all_surrogates);
    struct Deferred {
        const Insn* insn;
        bool host_traps;
        std::function<void()> fn;
    };
    std::vector<Deferred> deferred_;
};

MemAccess access_of(const ZydisDecodedOperand& op);
// Fills GuestOperand for a Zydis register (GPR classes only); false otherwise.
bool lower_gpr(ZydisRegister reg, GuestOperand& out);
int zydis_seg_index(ZydisRegister seg);

} // namespace hayate
