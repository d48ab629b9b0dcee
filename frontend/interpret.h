// The interpreter of system and other rare instructions (helper_interpret):
// one Interp per executed instruction, working on the guest state in
// CpuState. Families of instructions live in frontend/interpret*.cpp, each
// adding its member functions here and its cases to Interp::run().
#pragma once
#include "frontend/decoder.h"
#include "frontend/emit_context.h"
#include "frontend/helpers.h"
#include "frontend/mode.h"
#include "machine/vcpu.h"

namespace hayate {

struct Descriptor;
struct StackCursor;

struct Interp {
    Vcpu& cpu;
    CpuState& s;
    const Insn& in;
    uint64_t t0;

    bool user() const { return s.cpl() == 3; }

    static uint64_t mask(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1; }

    bool read(unsigned i, uint64_t& v, unsigned bytes = 0) {
        const ZydisDecodedOperand& o = in.ops[i];
        if (!bytes) bytes = o.size / 8;
        switch (o.type) {
        case ZYDIS_OPERAND_TYPE_REGISTER: {
            GuestOperand g;
            if (!lower_gpr(o.reg.value, g)) return false;
            v = g.high_byte ? (s.gpr[g.guest] >> 8) & 0xff : s.gpr[g.guest] & mask(g.size);
            return true;
        }
        case ZYDIS_OPERAND_TYPE_MEMORY: v = 0; return cpu.read_linear(t0, &v, bytes, user());
        case ZYDIS_OPERAND_TYPE_IMMEDIATE: v = o.imm.value.u; return true;
        default: return false;
        }
    }

    bool write(unsigned i, uint64_t v, unsigned bytes = 0) {
        const ZydisDecodedOperand& o = in.ops[i];
        if (!bytes) bytes = o.size / 8;
        if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) return cpu.write_linear(t0, &v, bytes, user());
        GuestOperand g;
        if (o.type != ZYDIS_OPERAND_TYPE_REGISTER || !lower_gpr(o.reg.value, g)) return false;
        write_gpr(g.guest, g.size, v, g.high_byte);
        return true;
    }

    void write_gpr(int guest, unsigned size, uint64_t v, bool high = false) {
        uint64_t& r = s.gpr[guest];
        if (high)
            r = (r & ~0xff00ull) | ((v & 0xff) << 8);
        else if (size == 4)
            r = uint32_t(v);
        else if (size == 8)
            r = v;
        else
            r = (r & ~mask(size)) | (v & mask(size));
    }

    // ENTER imm16, imm8 (SDM vol. 2 pseudocode): frame pointers of the outer
    // levels are copied from [rBP - i*size]; registers change only once every
    // store has succeeded, so a fault restarts the instruction cleanly.
    uint64_t enter() {
        const unsigned w = in.operand_width() / 8;
        const unsigned sb = stack_bytes();
        const uint64_t alloc = in.ops[0].imm.value.u & 0xffff;
        const unsigned level = unsigned(in.ops[1].imm.value.u) % 32;
        uint64_t sp = s.gpr[RSP];
        uint64_t bp = s.gpr[RBP];
        if (!push(bp, w, sp)) return kHelperExitHere;
        const uint64_t frame = sp & mask(sb);
        for (unsigned i = 1; i < level; ++i) {
            bp = (bp & ~mask(sb)) | ((bp - w) & mask(sb));
            uint64_t v = 0;
            if (!cpu.read_linear(cpu.linear_of(SS, bp & mask(sb), sb), &v, w, user())) return kHelperExitHere;
            if (!push(v, w, sp)) return kHelperExitHere;
        }
        if (level > 0 && !push(frame, w, sp)) return kHelperExitHere;
        write_gpr(RBP, w, frame);
        set_sp(sp - alloc);
        return kHelperContinue;
    }

    unsigned stack_bytes() const { return mode::stack_bytes(compute_mode(s)); }
    uint64_t stack_linear(uint64_t sp) const {
        unsigned sb = stack_bytes();
        return cpu.linear_of(SS, sp, sb);
    }
    bool pop(uint64_t& v, unsigned bytes, uint64_t& sp) {
        v = 0;
        if (!cpu.read_linear(stack_linear(sp), &v, bytes, user())) return false;
        sp += bytes;
        return true;
    }
    bool push(uint64_t v, unsigned bytes, uint64_t& sp) {
        sp -= bytes;
        return cpu.write_linear(stack_linear(sp), &v, bytes, user());
    }
    void set_sp(uint64_t sp) {
        unsigned sb = stack_bytes();
        write_gpr(RSP, sb == 8 ? 8 : sb, sp);
    }

    uint64_t gp(uint32_t code = 0) {
        cpu.raise(13, true, code);
        return kHelperExitHere;
    }
    uint64_t ud() {
        cpu.raise(6);
        return kHelperExitHere;
    }
    bool privileged() const { return s.cpl() == 0; }

    uint64_t run();
    uint64_t mov_special();
    uint64_t descriptor_table();
    uint64_t far_transfer();
    uint64_t far_return();
    uint64_t iret();
    uint64_t port_io();
    uint64_t popf();
    uint64_t lldt_ltr();
    uint64_t access_check();
    // Further families (their own files) declare their members below.

    // System instructions: CR/DR moves, fast system calls, FSGSBASE, RDRAND/RDSEED,
    // RDPID, RDPMC, XGETBV/XSETBV (interpret_sysinsn.cpp).
    uint64_t mov_control();
    uint64_t mov_debug();
    uint64_t fast_system_call();
    uint64_t system_instruction();

    // Paging: STAC/CLAC, INVPCID (interpret_paging.cpp).
    uint64_t stac_clac();
    uint64_t invpcid();

    // Privilege and task transfers, IOPL-sensitive instructions (interpret_transfer.cpp).
    bool inner_stack(unsigned new_cpl, SegmentCache& ss, uint64_t& sp);
    uint64_t call_gate_transfer(uint16_t gate_sel, const Descriptor& gate, bool is_call);
    uint64_t task_transfer(uint16_t sel, const Descriptor& d, bool is_call);
    uint64_t iret_to_vm86(StackCursor& stack, uint64_t ip, uint64_t cs, uint64_t fl);
    uint64_t task_return();
    bool io_permitted(uint16_t port, unsigned size);
    uint64_t string_io();
    uint64_t arpl();
    uint64_t cli_sti();
    uint64_t pushf();
};

} // namespace hayate
