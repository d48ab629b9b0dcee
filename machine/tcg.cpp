// The translating accelerator's dispatcher: find or translate the block at
// CS:RIP, chain direct exits, run generated code, handle what made it stop.
#include "machine/tcg.h"
#include "frontend/mode.h"
#include "frontend/translator.h"
#include "jit/block_cache.h"
#include "jit/code_buffer.h"
#include "jit/host_traps.h"
#include "jit/trampoline.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/segments.h"
#include "machine/vcpu.h"
#include <atomic>

namespace hayate {

struct TcgEngine::Impl {
    Vcpu& cpu;
    PhysicalMemory& memory;
    IoBus& ports;
    jit::CodeBuffer buffer{size_t(256) << 20};
    jit::Thunks thunks;
    size_t thunks_end;
    Translator translator;
    jit::BlockCache cache;

    Impl(Vcpu& c, PhysicalMemory& m, IoBus& p)
        : cpu(c), memory(m), ports(p), thunks(jit::build_thunks(buffer)), thunks_end(buffer.used()),
          translator(buffer, thunks) {
        memory.set_code_write_hook([this](uint64_t addr, uint64_t len) { on_code_write(addr, len); });
        jit::install_host_trap_handler();
    }
    ~Impl() {
        memory.set_code_write_hook(nullptr);
        jit::forget_host_traps(buffer.base(), buffer.base() + buffer.used() + buffer.remaining());
    }

    void forget_jump_cache_entries(const jit::Block* b) {
        JumpCacheEntry& e = cpu.state.jump_cache[jump_cache_index(b->pc)];
        if (e.code == b->code) e = kEmptyJumpCacheEntry;
    }

    void on_code_write(uint64_t addr, uint64_t len) {
        auto hit = cache.invalidate_range(addr, len);
        log_cat(logcat::kMmu, "code write {:#x}+{} invalidates {} blocks", addr, len, hit.size());
        if (!hit.empty()) {
            cpu.current_block_invalidated = true;
            cpu.code_write_count++;
            for (const jit::Block* b : hit) forget_jump_cache_entries(b);
        }
        for (uint64_t p = addr & kPageMask; p < addr + len; p += kPageSize)
            if (!cache.page_has_blocks(p)) memory.set_code_page(p, false);
    }

    void mark_code_page(uint64_t phys) {
        if (memory.is_code_page(phys)) return;
        memory.set_code_page(phys, true);
        cpu.flush_tlb_phys_page_write(phys);
    }

    void flush() {
        log_cat(logcat::kMmu, "translation cache flush ({} bytes used)", buffer.used());
        for (uint64_t p = 0; p < memory.address_end(); p += kPageSize)
            if (memory.is_code_page(p)) memory.set_code_page(p, false);
        cache.clear();
        jit::forget_host_traps(buffer.base() + thunks_end,
                               buffer.base() + buffer.used() + buffer.remaining());
        buffer.reset_to(thunks_end);
        cpu.flush_jump_cache();
        cpu.state.chain_block = nullptr;
    }

    // The block for the current CS:RIP, translating it if needed; nullptr
    // when fetching raised an exception (the loop goes on at the handler).
    jit::Block* find_block(uint32_t mode) {
        CpuState& s = cpu.state;
        const uint64_t pc = s.rip;
        const uint64_t cs_base = mode::is64(mode) ? 0 : s.seg[CS].base;
        const bool flat = mode & mode::kFlat;
        JumpCacheEntry& jc = s.jump_cache[jump_cache_index(pc)];
        // The jump cache is flushed with the TLB and loses a block's entry
        // when the block is invalidated, so a hit needs no page walk (the
        // same trust the generated code's indirect exits place in it).
        if (flat && jc.pc == pc && jc.mode == mode && jc.block)
            return static_cast<jit::Block*>(const_cast<void*>(jc.block));
        const uint64_t linear = mode::is64(mode) ? pc : uint32_t(cs_base + pc);
        const bool user = mode::cpl(mode) == 3;
        uint64_t phys;
        if (!cpu.probe_translate(linear, Vcpu::Access::Execute, user, phys)) {
            cpu.translate(linear, Vcpu::Access::Execute, user, phys); // raises the fault
            return nullptr;
        }
        const bool global_page = cpu.last_translation_global;
        if (flat && jc.pc == pc && jc.mode == kJumpCacheStale && jc.block) {
            // A stale entry (from before a CR3 write) whose block the PC
            // still maps to: the block is the one a lookup would find.
            auto* stale = static_cast<jit::Block*>(const_cast<void*>(jc.block));
            if (stale->valid && stale->mode == mode && stale->phys == phys && stale->cs_base == cs_base) {
                jc.mode = mode;
                cpu.jump_cache_global[jump_cache_index(pc)] = global_page;
                return stale;
            }
        }
        // The page after the block's first one, for a last instruction that straddles into it.
        const uint64_t linear2 =
            mode::is64(mode) ? (linear & kPageMask) + kPageSize : uint32_t((linear & kPageMask) + kPageSize);
        jit::Block* b = cache.lookup(phys, pc, cs_base, mode);
        if (b && b->phys_page2 != ~0ull) {
            // That page may have been remapped or unmapped since: translate
            // again (the new block then stops before the instruction that
            // cannot be fetched whole, which faults as the next block's first).
            uint64_t phys2;
            if (!cpu.probe_translate(linear2, Vcpu::Access::Execute, user, phys2) ||
                (phys2 & kPageMask) != (b->phys_page2 & kPageMask))
                b = nullptr;
        }
        if (!b) {
            if (!memory.host_page(phys)) {
                log_warning("guest executes from {:#x}, which is not RAM: not supported", phys);
                cpu.machine.request_shutdown(1);
                return nullptr;
            }
            CodeFetch fetch;
            fetch.map_page = [&](uint64_t lin, const uint8_t*& host, uint64_t& ph) {
                if (!cpu.probe_translate(lin, Vcpu::Access::Execute, user, ph)) return false;
                ph &= kPageMask;
                host = memory.host_page(ph);
                return host != nullptr;
            };
            std::unique_ptr<jit::Block> nb;
            auto r = translator.translate(pc, cs_base, mode, fetch, nb);
            if (r == Translator::Result::BufferFull) {
                flush();
                r = translator.translate(pc, cs_base, mode, fetch, nb);
            }
            if (r == Translator::Result::FetchFault) {
                // The first page, or the next one the first instruction straddles into.
                if (cpu.translate(linear, Vcpu::Access::Execute, user, phys))
                    cpu.translate(linear2, Vcpu::Access::Execute, user, phys);
                return nullptr;
            }
            if (r != Translator::Result::Ok) {
                log_warning("cannot translate the block at {:#x}; stopping\n{}", pc, cpu.dump_state());
                cpu.machine.request_shutdown(1);
                return nullptr;
            }
            b = cache.insert(std::move(nb));
            log_cat(logcat::kMmu, "translated {:#x} phys {:#x} mode {:#x} size {}", pc, phys, mode,
                    b->guest_size);
            mark_code_page(b->phys);
            if (((b->phys + b->guest_size - 1) ^ b->phys) & kPageMask)
                mark_code_page(b->phys + b->guest_size - 1);
            if (b->phys_page2 != ~0ull) mark_code_page(b->phys_page2);
        }
        // A block reaching into a second page is entered through here only,
        // where that page's translation is checked (no jump cache, no chaining).
        if (flat && b->phys_page2 == ~0ull) {
            jc = JumpCacheEntry{pc, mode, b->code, b};
            cpu.jump_cache_global[jump_cache_index(pc)] = global_page;
            cpu.note_jump_cache_fill(jump_cache_index(pc));
        }
        return b;
    }

    // EFLAGS.TF was set when the instruction began: #DB (a trap, DR6.BS) once
    // it has completed, unless it ended in an exception or interrupt of its
    // own, halted, or set the MOV SS / POP SS shadow that holds debug traps
    // back for one instruction.
    void single_step_trap(uint64_t events_before) {
        CpuState& s = cpu.state;
        if (cpu.event_count != events_before || cpu.triple_faulted || s.halted || s.interrupt_shadow) return;
        s.dr[6] |= 1u << 14;
        cpu.raise(1);
    }

    // DR7-enabled instruction breakpoints (R/W = 00) at the linear address of
    // the next instruction: DR6.Bn bits, or 0.
    uint32_t instruction_breakpoint_hits(uint32_t mode) const {
        const CpuState& s = cpu.state;
        const uint64_t linear = mode::is64(mode) ? s.rip : uint32_t(s.seg[CS].base + s.rip);
        const uint64_t dr7 = s.dr[7];
        uint32_t hits = 0;
        for (unsigned i = 0; i < 4; i++) {
            const bool enabled = (dr7 >> (2 * i)) & 3;
            const unsigned rw = unsigned(dr7 >> (16 + 4 * i)) & 3;
            if (enabled && rw == 0 && s.dr[i] == linear) hits |= 1u << i;
        }
        return hits;
    }

    // Data breakpoints the instruction hit (noted by the memory slow path):
    // a #DB trap once it has completed.
    void data_breakpoint_trap(uint64_t events_before) {
        CpuState& s = cpu.state;
        const uint32_t hits = s.pending_data_breakpoints;
        s.pending_data_breakpoints = 0;
        if (!hits || cpu.event_count != events_before || cpu.triple_faulted) return;
        s.dr[6] |= hits;
        cpu.raise(1);
    }

    // A new DR0-DR3/DR7 setting: TLB entries of pages that hold a data
    // breakpoint now must go, so that accesses take the slow path.
    void follow_debug_registers() {
        const CpuState& s = cpu.state;
        bool same = true;
        for (int i : {0, 1, 2, 3, 7}) same &= seen_dr[i] == s.dr[i];
        if (same) return;
        for (int i : {0, 1, 2, 3, 7}) seen_dr[i] = s.dr[i];
        cpu.state.pending_data_breakpoints = 0;
        cpu.flush_tlb();
    }
    uint64_t seen_dr[8] = {0, 0, 0, 0, 0, 0, 0, 0x400};

    // RF holds instruction breakpoints back for one instruction: it clears
    // once an instruction completes, unless that instruction loaded it (IRET).
    void clear_resume_flag(uint64_t events_before, bool rf_before) {
        CpuState& s = cpu.state;
        if (cpu.event_count != events_before) return;
        if (rf_before || !(s.eflags & flag::RF)) s.eflags &= ~flag::RF;
    }

    StopReason run() {
        CpuState& s = cpu.state;
        for (;;) {
            if (cpu.machine.shutdown_requested()) return StopReason::Shutdown;
            if (cpu.triple_faulted) {
                log_warning("triple fault; CPU state:\n{}", cpu.dump_state());
                return StopReason::Reset;
            }
            if (cpu.machine.reset_requested()) return StopReason::Reset;
            if (std::atomic_ref<uint32_t>(s.exit_request).exchange(0)) return StopReason::Kicked;
            if (s.halted) return StopReason::Halted;
            // External interrupts are taken between instructions when IF=1,
            // except right after STI or MOV SS/POP SS: then exactly one more
            // instruction runs first.
            // An NMI goes before INTR; the MOV SS/STI shadow holds it too,
            // and a delivered one blocks the next until IRET.
            if (s.nmi_pending && !s.nmi_blocked && !s.interrupt_shadow &&
                std::atomic_ref<uint32_t>(s.nmi_pending).exchange(0)) {
                s.nmi_blocked = true;
                cpu.deliver_interrupt(2);
                continue;
            }
            const bool intr = (s.eflags & flag::IF) && cpu.machine.interrupt_requested();
            if (intr && !s.interrupt_shadow) {
                cpu.deliver_interrupt(cpu.machine.acknowledge_interrupt());
                continue;
            }
            const bool shadow_step = intr && s.interrupt_shadow;
            s.interrupt_shadow = false;

            const uint32_t mode = compute_mode(s) | (shadow_step ? mode::kShadowStep : 0);
            if (!mode::is64(mode)) refresh_segment_bounds(s);
            s.mode = mode;
            jit::Block* from = static_cast<jit::Block*>(s.chain_block);
            const int exit_index = int(s.chain_exit);
            s.chain_block = nullptr;
            follow_debug_registers();
            if ((mode & mode::kDebugRegs) && !(s.eflags & flag::RF)) {
                if (uint32_t hits = instruction_breakpoint_hits(mode)) {
                    s.dr[6] |= hits; // a fault: RIP stays at the instruction
                    cpu.raise(1);
                    continue;
                }
            }
            jit::Block* b = find_block(mode);
            if (!b) continue;
            // Chain a direct exit that led here when both blocks share a page
            // and mode (their translation cannot diverge without a TLB flush).
            if (from && from->valid && b->valid && from->mode == b->mode && !(mode & mode::kStepwise) &&
                b->phys_page2 == ~0ull && (from->pc >> 12) == (b->pc >> 12) && from->cs_base == b->cs_base &&
                size_t(exit_index) < from->exits.size() && from->exits[size_t(exit_index)].target_pc == b->pc)
                jit::BlockCache::chain(from, exit_index, b);
            if (log_enabled(logcat::kExec)) {
                log_write("Trace {:#x} [{:04x}:{:#x}] mode {:#x}", uintptr_t(b->code), s.seg[CS].selector,
                          s.rip, mode);
                if (log_enabled(logcat::kCpu)) log_write("{}", cpu.dump_state());
            }
            const uint64_t events = cpu.event_count;
            const bool rf_before = s.eflags & flag::RF;
            thunks.enter(&s, b->code);
            if (s.eflags & flag::RF) clear_resume_flag(events, rf_before);
            if (mode & mode::kDebugRegs) data_breakpoint_trap(events);
            if (mode & mode::kSingleStep) single_step_trap(events);
        }
    }
};

TcgEngine::TcgEngine(Vcpu& cpu, PhysicalMemory& memory, IoBus& ports)
    : impl_(std::make_unique<Impl>(cpu, memory, ports)) {
    cpu.tcg = this;
}

TcgEngine::~TcgEngine() = default;

StopReason TcgEngine::run() { return impl_->run(); }

void TcgEngine::flush_translations() { impl_->flush(); }

} // namespace hayate
