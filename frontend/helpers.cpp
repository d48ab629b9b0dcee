// Helpers of the memory slow path and other mechanisms every emitter uses.
#include "frontend/helpers.h"
#include "frontend/emit_context.h"
#include "machine/debug_regs.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/vcpu.h"
#include <cstring>
#include <vector>

namespace hayate {

void tlb_fill(Vcpu& cpu, int mmu_index, uint64_t linear, uint64_t phys, bool writable);

uint8_t* helper_mem_slow(CpuState* s, uint64_t linear, uint64_t info) {
    Vcpu& cpu = vcpu_of(s);
    const unsigned size = MemInfo::size(uint32_t(info));
    const MemAccess acc = MemInfo::access(uint32_t(info));
    const int mmu_index = MemInfo::mmu_index(uint32_t(info));
    const bool user = mmu_index == 1;
    const bool write = uint8_t(acc) & uint8_t(MemAccess::Write);
    const bool read = uint8_t(acc) & uint8_t(MemAccess::Read);
    if (!(s->efer & efer::LMA)) linear = uint32_t(linear);
    if (MemInfo::align(uint32_t(info)) && (linear & (size - 1))) {
        cpu.raise(13, true, 0);
        return nullptr;
    }
    // 64-bit mode: a non-canonical address raises #SS(0) when the access goes
    // through SS (RSP/RBP bases), #GP(0) otherwise (SDM vol. 3, 6.15).
    if (s->efer & efer::LMA) {
        const uint64_t last = linear + size - 1;
        auto canonical = [](uint64_t v) { return int64_t(v << 16) >> 16 == int64_t(v); };
        if (!canonical(linear) || !canonical(last)) {
            cpu.raise(MemInfo::seg(uint32_t(info)) == SS ? 12 : 13, true, 0);
            return nullptr;
        }
    }
    // Translate every page the access touches before anything happens.
    const Vcpu::Access kind = write ? Vcpu::Access::Write : Vcpu::Access::Read;
    uint64_t phys0, phys1 = 0;
    unsigned first = std::min<unsigned>(size, unsigned(kPageSize - (linear & 0xfff)));
    if (!cpu.translate(linear, kind, user, phys0)) return nullptr;
    if (first < size && !cpu.translate(linear + first, kind, user, phys1)) return nullptr;
    PhysicalMemory& mem = cpu.machine.memory();
    // Data breakpoints: note the hit (a #DB trap after the instruction) and
    // keep watched pages out of the TLB so that every access comes here.
    bool cacheable = true;
    if (debug_breakpoints_enabled(*s)) {
        s->pending_data_breakpoints |= data_breakpoint_hits(*s, linear, size, write);
        cacheable = !page_has_data_breakpoint(*s, linear);
    }
    if (first == size) {
        uint8_t* host = mem.host_range(phys0, size);
        if (host && !(write && mem.is_code_page(phys0))) {
            if (cacheable) tlb_fill(cpu, mmu_index, linear, phys0, write);
            return host;
        }
        if (host && read && !write) {
            if (cacheable) tlb_fill(cpu, mmu_index, linear, phys0, false);
            return host;
        }
    }
    // Bounce: MMIO, a page-straddling access, or a store to translated code.
    s->bounce_addr = linear;
    s->bounce_size = size;
    s->bounce_flags = uint32_t(write);
    std::memset(s->bounce, 0, sizeof s->bounce);
    if (read && !cpu.read_linear(linear, s->bounce, size, user)) return nullptr;
    // Keep the physical pages for the write-back (the translation cannot change in between).
    s->bounce_phys[0] = phys0;
    s->bounce_phys[1] = phys1;
    return s->bounce;
}

uint64_t helper_mem_writeback(CpuState* s, uint64_t, uint64_t) {
    Vcpu& cpu = vcpu_of(s);
    PhysicalMemory& mem = cpu.machine.memory();
    const unsigned size = s->bounce_size;
    const uint64_t linear = s->bounce_addr;
    unsigned first = std::min<unsigned>(size, unsigned(kPageSize - (linear & 0xfff)));
    uint64_t code_writes_before = cpu.code_write_count;
    for (unsigned i = 0; i < size;) {
        uint64_t p = i < first ? s->bounce_phys[0] + i : s->bounce_phys[1] + (i - first);
        unsigned chunk = i < first ? first - i : size - i;
        if (uint8_t* h = mem.host_range(p, chunk)) {
            std::memcpy(h, s->bounce + i, chunk);
            mem.notify_write(p, chunk);
            i += chunk;
            continue;
        }
        unsigned n = chunk >= 8 && !(p & 7) ? 8 : chunk >= 4 && !(p & 3) ? 4 : chunk >= 2 && !(p & 1) ? 2 : 1;
        uint64_t v = 0;
        std::memcpy(&v, s->bounce + i, n);
        mem.write(p, n, v);
        i += n;
    }
    if (cpu.current_block_invalidated) {
        cpu.current_block_invalidated = false;
        return kHelperExitNext;
    }
    (void)code_writes_before;
    if (cpu.machine.shutdown_requested() || s->exit_request) return kHelperExitNext;
    return kHelperContinue;
}

uint64_t helper_raise_exception(CpuState* s, uint64_t arg1, uint64_t) {
    Vcpu& cpu = vcpu_of(s);
    cpu.raise(uint8_t(arg1), arg1 & 0x100, uint32_t(arg1 >> 32));
    return kHelperExitHere;
}

uint64_t helper_simd_exception(CpuState* s, uint64_t, uint64_t) {
    // The MXCSR flags the host instruction set are already in s->mxcsr.
    vcpu_of(s).raise((s->cr4 & cr4::OSXMMEXCPT) ? 19 : 6);
    return kHelperExitHere;
}

uint64_t helper_unimplemented(CpuState* s, uint64_t mnemonic, uint64_t) {
    // The translator named the instruction; the first execution of each
    // mnemonic also shows the guest state it met (before the #UD).
    static std::vector<bool> seen(ZYDIS_MNEMONIC_MAX_VALUE + 1);
    if (mnemonic < seen.size() && !seen[mnemonic]) {
        seen[mnemonic] = true;
        log_warning("unimplemented instruction {} executed; #UD. Guest state:\n{}",
                    ZydisMnemonicGetString(ZydisMnemonic(mnemonic)), vcpu_of(s).dump_state());
    }
    vcpu_of(s).raise(6);
    return kHelperExitHere;
}

uint64_t helper_divide(CpuState* s, uint64_t arg1, uint64_t divisor_bits) {
    // Only IDIV with a dividend wider than one operand width comes here.
    const unsigned size = arg1 & 0xff;
    Vcpu& cpu = vcpu_of(s);
    uint64_t* r = s->gpr;
    switch (size) {
    case 1: {
        int16_t dividend = int16_t(r[RAX] & 0xffff);
        int8_t d = int8_t(divisor_bits);
        int32_t q = dividend / d, rem = dividend % d;
        if (q > 127 || q < -128) break;
        r[RAX] = (r[RAX] & ~0xffffull) | uint8_t(q) | (uint64_t(uint8_t(rem)) << 8);
        return kHelperContinue;
    }
    case 2: {
        int32_t dividend = int32_t(uint32_t(r[RDX] & 0xffff) << 16 | uint32_t(r[RAX] & 0xffff));
        int16_t d = int16_t(divisor_bits);
        int32_t q = dividend / d, rem = dividend % d;
        if (q > 32767 || q < -32768) break;
        r[RAX] = (r[RAX] & ~0xffffull) | uint16_t(q);
        r[RDX] = (r[RDX] & ~0xffffull) | uint16_t(rem);
        return kHelperContinue;
    }
    case 4: {
        int64_t dividend = int64_t(uint64_t(uint32_t(r[RDX])) << 32 | uint32_t(r[RAX]));
        int32_t d = int32_t(divisor_bits);
        int64_t q = dividend / d, rem = dividend % d;
        if (q > INT32_MAX || q < INT32_MIN) break;
        r[RAX] = uint32_t(q);
        r[RDX] = uint32_t(rem);
        return kHelperContinue;
    }
    default: {
        __int128 dividend = (__int128)((unsigned __int128)r[RDX] << 64 | r[RAX]);
        int64_t d = int64_t(divisor_bits);
        __int128 q = dividend / d, rem = dividend % d;
        if (q > INT64_MAX || q < INT64_MIN) break;
        r[RAX] = uint64_t(int64_t(q));
        r[RDX] = uint64_t(int64_t(rem));
        return kHelperContinue;
    }
    }
    cpu.raise(0);
    return kHelperExitHere;
}

} // namespace hayate
