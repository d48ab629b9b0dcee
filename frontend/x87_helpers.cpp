#include "frontend/x87_helpers.h"
#include "frontend/emit_context.h"
#include "frontend/helpers.h"
#include "machine/le_bytes.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/vcpu.h"
#include "machine/x87.h"
#include <cstring>

namespace hayate {

namespace {

constexpr uint32_t kMxcsrMask = 0xffff; // as LDMXCSR (frontend/emit_sse.cpp): DAZ is supported

using le::get16;
using le::get32;
using le::get64;
using le::put16;
using le::put32;
using le::put64;

uint8_t empty_mask(const CpuState& s) {
    uint8_t m = 0;
    for (unsigned phys = 0; phys < 8; phys++)
        if (((x87::ftw(s) >> (2 * phys)) & 3) == 3) m |= uint8_t(1u << phys);
    return m;
}

// Real-address and virtual-8086 mode store 20-bit linear pointers (selector * 16 + offset).
bool real_layout(const CpuState& s) { return !(s.cr0 & cr0::PE) || (s.eflags & flag::VM); }

// The environment (SDM vol. 1, figures 8-9 to 8-12): 14 bytes with a 16-bit
// operand size, 28 with a 32-bit one (64-bit mode uses the 32-bit layout).
unsigned store_env(const CpuState& s, uint8_t* out, bool op16) {
    const uint16_t tags = x87::full_tag_word(s, empty_mask(s));
    const uint16_t fop = s.x87_fop & 0x7ff;
    if (real_layout(s)) {
        const uint32_t ip = uint32_t(s.x87_fcs) * 16 + uint32_t(s.x87_fip);
        const uint32_t dp = uint32_t(s.x87_fds) * 16 + uint32_t(s.x87_fdp);
        if (op16) {
            put16(out + 0, x87::fcw(s));
            put16(out + 2, x87::fsw(s));
            put16(out + 4, tags);
            put16(out + 6, uint16_t(ip));
            put16(out + 8, uint16_t(((ip >> 16) & 0xf) << 12 | fop));
            put16(out + 10, uint16_t(dp));
            put16(out + 12, uint16_t(((dp >> 16) & 0xf) << 12));
            return 14;
        }
        put32(out + 0, 0xffff0000u | x87::fcw(s));
        put32(out + 4, 0xffff0000u | x87::fsw(s));
        put32(out + 8, 0xffff0000u | tags);
        put32(out + 12, 0xffff0000u | (ip & 0xffff));
        put32(out + 16, (ip >> 16) << 12 | fop);
        put32(out + 20, 0xffff0000u | (dp & 0xffff));
        put32(out + 24, (dp >> 16) << 12);
        return 28;
    }
    if (op16) {
        put16(out + 0, x87::fcw(s));
        put16(out + 2, x87::fsw(s));
        put16(out + 4, tags);
        put16(out + 6, uint16_t(s.x87_fip));
        put16(out + 8, s.x87_fcs);
        put16(out + 10, uint16_t(s.x87_fdp));
        put16(out + 12, s.x87_fds);
        return 14;
    }
    put32(out + 0, 0xffff0000u | x87::fcw(s));
    put32(out + 4, 0xffff0000u | x87::fsw(s));
    put32(out + 8, 0xffff0000u | tags);
    put32(out + 12, uint32_t(s.x87_fip));
    put32(out + 16, uint32_t(fop) << 16 | s.x87_fcs);
    put32(out + 20, uint32_t(s.x87_fdp));
    put32(out + 24, 0xffff0000u | s.x87_fds);
    return 28;
}

// Loads FCW, FSW, the empty bits of FTW and the pointers; the caller sets
// the tags once the registers are in place.
uint8_t load_env(CpuState& s, const uint8_t* in, bool op16) {
    uint16_t tags;
    if (op16) {
        x87::set_fcw(s, get16(in + 0));
        x87::set_fsw(s, get16(in + 2));
        x87::sync_error_summary(s);
        tags = get16(in + 4);
        if (real_layout(s)) {
            s.x87_fip = get16(in + 6) | uint32_t(get16(in + 8) >> 12) << 16;
            s.x87_fop = get16(in + 8) & 0x7ff;
            s.x87_fdp = get16(in + 10) | uint32_t(get16(in + 12) >> 12) << 16;
            s.x87_fcs = s.x87_fds = 0;
        } else {
            s.x87_fip = get16(in + 6);
            s.x87_fcs = get16(in + 8);
            s.x87_fdp = get16(in + 10);
            s.x87_fds = get16(in + 12);
            s.x87_fop = 0; // not part of the 16-bit protected-mode layout
        }
    } else {
        x87::set_fcw(s, get16(in + 0));
        x87::set_fsw(s, get16(in + 4));
        x87::sync_error_summary(s);
        tags = get16(in + 8);
        if (real_layout(s)) {
            s.x87_fip = (get32(in + 12) & 0xffff) | ((get32(in + 16) >> 12) & 0xffff) << 16;
            s.x87_fop = get32(in + 16) & 0x7ff;
            s.x87_fdp = (get32(in + 20) & 0xffff) | ((get32(in + 24) >> 12) & 0xffff) << 16;
            s.x87_fcs = s.x87_fds = 0;
        } else {
            s.x87_fip = get32(in + 12);
            s.x87_fcs = get16(in + 16);
            s.x87_fop = (get32(in + 16) >> 16) & 0x7ff;
            s.x87_fdp = get32(in + 20);
            s.x87_fds = get16(in + 24);
        }
    }
    uint8_t empty = 0;
    for (unsigned phys = 0; phys < 8; phys++)
        if (((tags >> (2 * phys)) & 3) == 3) empty |= uint8_t(1u << phys);
    return empty;
}

} // namespace

// FXSAVE (SDM vol. 1, table 10-2/10-3): REX.W stores 64-bit FIP/FDP instead
// of FCS/FDS. XMM8-15 only in 64-bit mode. Reserved bytes from 160 on
// (beyond the XMM registers) are left alone.
unsigned fxsave_image(const CpuState& s, uint8_t* out, bool rex_w, bool mode64) {
    std::memset(out, 0, 160);
    put16(out + 0, x87::fcw(s));
    put16(out + 2, x87::fsw(s));
    out[4] = x87::abridged_tag(x87::full_tag_word(s, empty_mask(s)));
    put16(out + 6, s.x87_fop & 0x7ff);
    if (rex_w) {
        put64(out + 8, s.x87_fip);
        put64(out + 16, s.x87_fdp);
    } else {
        put32(out + 8, uint32_t(s.x87_fip));
        put16(out + 12, s.x87_fcs);
        put32(out + 16, uint32_t(s.x87_fdp));
        put16(out + 20, s.x87_fds);
    }
    put32(out + 24, s.mxcsr);
    put32(out + 28, kMxcsrMask);
    for (unsigned i = 0; i < 8; i++) std::memcpy(out + 32 + 16 * i, x87::st(s, i), 10);
    const unsigned xmms = mode64 ? 16 : 8;
    std::memcpy(out + 160, s.xmm, 16 * xmms);
    return 160 + 16 * xmms;
}

void fxrstor_x87(CpuState& s, const uint8_t* buf, bool rex_w) {
    x87::set_fcw(s, get16(buf + 0));
    x87::set_fsw(s, get16(buf + 2));
    x87::sync_error_summary(s);
    s.x87_fop = get16(buf + 6) & 0x7ff;
    if (rex_w) {
        s.x87_fip = get64(buf + 8);
        s.x87_fdp = get64(buf + 16);
    } else {
        s.x87_fip = get32(buf + 8);
        s.x87_fcs = get16(buf + 12);
        s.x87_fdp = get32(buf + 16);
        s.x87_fds = get16(buf + 20);
    }
    for (unsigned i = 0; i < 8; i++) std::memcpy(x87::st(s, i), buf + 32 + 16 * i, 10);
    x87::set_tags(s, uint8_t(~buf[4]));
}

namespace {

uint64_t finish_store(Vcpu& cpu) {
    if (cpu.current_block_invalidated) {
        cpu.current_block_invalidated = false;
        return kHelperExitNext;
    }
    return kHelperContinue;
}

} // namespace

uint64_t helper_x87_pending(CpuState* s, uint64_t, uint64_t) {
    if (!(s->cr0 & cr0::NE)) {
        // MS-DOS compatibility mode (SDM vol. 1, 8.7): FERR# goes to IRQ 13
        // and the waiting instruction waits; it runs again once the IRQ 13
        // handler has cleared the error (FNCLEX) or asserted IGNNE# (port
        // 0xF0), in which case the pending error is ignored: the status word
        // drops its summary bits so that the host unit does not trap again.
        Vcpu& cpu = vcpu_of(s);
        if (cpu.machine.signal_fpu_error()) x87::set_fsw(*s, uint16_t(x87::fsw(*s) & ~0x8080));
        return kHelperExitHere; // RIP still at the waiting instruction
    }
    vcpu_of(s).raise(16);
    return kHelperExitHere;
}

uint64_t helper_x87_wait_ts(CpuState* s, uint64_t, uint64_t) {
    if (s->cr0 & cr0::MP) {
        vcpu_of(s).raise(7);
        return kHelperExitHere;
    }
    return kHelperContinue;
}

uint64_t helper_x87_image(CpuState* s, uint64_t arg1, uint64_t linear) {
    Vcpu& cpu = vcpu_of(s);
    const auto kind = X87Image(arg1 & 0xff);
    const bool op16 = arg1 & 0x100, rex_w = arg1 & 0x200;
    const bool user = s->cpl() == 3;
    const bool mode64 = (s->efer & efer::LMA) && s->seg[CS].is_long();
    if (!mode64) linear = uint32_t(linear);
    const unsigned env_size = op16 ? 14 : 28;
    alignas(16) uint8_t buf[512];

    switch (kind) {
    case X87Image::Fnstenv: {
        const unsigned n = store_env(*s, buf, op16);
        if (!cpu.write_linear(linear, buf, n, user)) return kHelperExitHere;
        // FNSTENV then masks every exception (SDM vol. 2, FSTENV).
        x87::set_fcw(*s, x87::fcw(*s) | x87::kFcwMasks);
        return finish_store(cpu);
    }
    case X87Image::Fnsave: {
        const unsigned n = store_env(*s, buf, op16);
        for (unsigned i = 0; i < 8; i++) std::memcpy(buf + n + 10 * i, x87::st(*s, i), 10);
        if (!cpu.write_linear(linear, buf, n + 80, user)) return kHelperExitHere;
        x87::init(*s);
        return finish_store(cpu);
    }
    case X87Image::Fldenv:
    case X87Image::Frstor: {
        // Waiting instructions: a pending unmasked exception comes first.
        if (x87::fsw(*s) & x87::kFswEs) return helper_x87_pending(s, 0, 0);
        const unsigned n = env_size + (kind == X87Image::Frstor ? 80 : 0);
        if (!cpu.read_linear(linear, buf, n, user)) return kHelperExitHere;
        const uint8_t empty = load_env(*s, buf, op16);
        if (kind == X87Image::Frstor)
            for (unsigned i = 0; i < 8; i++) std::memcpy(x87::st(*s, i), buf + env_size + 10 * i, 10);
        x87::set_tags(*s, empty);
        return kHelperContinue;
    }
    case X87Image::Fxsave: {
        if (linear & 15) {
            cpu.raise(13, true, 0);
            return kHelperExitHere;
        }
        // The whole 512-byte area must be writable, also what is not written.
        uint64_t phys;
        if (!cpu.translate(linear, Vcpu::Access::Write, user, phys) ||
            !cpu.translate(linear + 511, Vcpu::Access::Write, user, phys))
            return kHelperExitHere;
        const unsigned n = fxsave_image(*s, buf, rex_w, mode64);
        if (!cpu.write_linear(linear, buf, n, user)) return kHelperExitHere;
        return finish_store(cpu);
    }
    case X87Image::Fxrstor: {
        if (linear & 15) {
            cpu.raise(13, true, 0);
            return kHelperExitHere;
        }
        const unsigned xmms = mode64 ? 16 : 8;
        uint64_t phys;
        if (!cpu.translate(linear, Vcpu::Access::Read, user, phys) ||
            !cpu.translate(linear + 511, Vcpu::Access::Read, user, phys))
            return kHelperExitHere;
        if (!cpu.read_linear(linear, buf, 160 + 16 * xmms, user)) return kHelperExitHere;
        const uint32_t mxcsr = get32(buf + 24);
        if (mxcsr & ~kMxcsrMask) {
            cpu.raise(13, true, 0);
            return kHelperExitHere;
        }
        fxrstor_x87(*s, buf, rex_w);
        s->mxcsr = mxcsr;
        std::memcpy(s->xmm, buf + 160, 16 * xmms);
        return kHelperContinue;
    }
    }
    return kHelperContinue;
}

} // namespace hayate
