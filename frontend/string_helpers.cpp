// String instructions in C++: REP forms run page chunk by page chunk on host
// memory (one translation per page, then memmove/memset/compare loops);
// elements that straddle pages, MMIO pages and offset wrap-arounds go one
// element at a time through the Vcpu's linear-memory functions.
#include "frontend/string_helpers.h"
#include "frontend/emit_context.h"
#include "frontend/mode.h"
#include "machine/debug_regs.h"
#include "machine/machine.h"
#include "machine/memory.h"
#include "machine/vcpu.h"
#include <algorithm>

namespace hayate {

namespace {

using namespace strop;

// A long REP gives pending events a chance after this much work (bytes),
// or as soon as another thread asks the vCPU to leave generated code.
constexpr uint64_t kWorkBudget = 8u << 20;

class StringOp {
  public:
    StringOp(CpuState* s, uint64_t arg)
        : s_(s), cpu_(*static_cast<Vcpu*>(s->vcpu)), mem_(cpu_.machine.memory()), op_(op_of(arg)),
          n_(elem_of(arg)), ab_(addr_of(arg)), seg_(seg_of(arg)), rep_(rep_of(arg)),
          amask_(ab_ == 8 ? ~0ull : (1ull << (8 * ab_)) - 1), back_(s->eflags & flag::DF),
          user_(cpu_.user_mode()), stepwise_(s->mode & mode::kStepwise) {
        si_ = s->gpr[RSI] & amask_;
        di_ = s->gpr[RDI] & amask_;
        cx_ = rep_ != kNone ? s->gpr[RCX] & amask_ : 1;
        acc_ = s->gpr[RAX] & elem_mask();
    }

    uint64_t run() {
        bool ok = true;
        while (cx_ != 0 && ok) {
            if (done_ != 0) {
                // Stepwise (TF, DR7 breakpoints): one iteration per execution,
                // so the #DB trap comes after each one with RIP at the instruction.
                if (stepwise_ || work_ >= kWorkBudget ||
                    __atomic_load_n(&s_->exit_request, __ATOMIC_RELAXED)) {
                    commit();
                    return kHelperExitHere;
                }
                // A fault below delivers the exception with the state of the
                // completed iterations.
                commit();
            }
            switch (op_) {
            case kMovs: ok = step_movs(); break;
            case kStos: ok = step_stos(); break;
            case kLods: ok = step_lods(); break;
            case kCmps: ok = step_cmps(); break;
            case kScas: ok = step_scas(); break;
            }
            if (stop_) break;
        }
        if (!ok) return kHelperExitHere; // state committed before the faulting step
        commit();
        return wrote_code_ ? kHelperExitNext : kHelperContinue;
    }

  private:
    uint64_t elem_mask() const { return n_ == 8 ? ~0ull : (1ull << (8 * n_)) - 1; }

    // Whole elements from offset `off` (linear `lin`) in the current direction
    // that stay inside the page and do not wrap the offset; 0 if the first
    // element itself straddles.
    uint64_t span(uint64_t lin, uint64_t off) const {
        if (stepwise_) return 0; // element by element: data breakpoints see each access
        const uint64_t in_page = lin & 0xfff;
        if (in_page + n_ > 0x1000) return 0;
        if (ab_ != 8 && off + n_ - 1 > amask_) return 0;
        if (!back_) {
            uint64_t room = 0x1000 - in_page;
            if (ab_ != 8) room = std::min(room, amask_ - off + 1);
            return room / n_;
        }
        uint64_t k = in_page / n_ + 1;
        if (ab_ != 8) k = std::min(k, off / n_ + 1);
        return k;
    }

    // Host pointer and physical address of `lin` from map_linear's answer.
    static uint8_t* at(uint8_t* host, uint64_t lin) {
        return reinterpret_cast<uint8_t*>((uintptr_t(host) & ~uintptr_t(0xfff)) + (lin & 0xfff));
    }
    static uint64_t phys_at(uint64_t phys, uint64_t lin) { return (phys & kPageMask) | (lin & 0xfff); }

    // Lowest byte of a chunk of `k` elements whose first element is at `p`.
    uint8_t* low(uint8_t* p, uint64_t k) const { return back_ ? p - (k - 1) * n_ : p; }
    uint64_t low_phys(uint64_t p, uint64_t k) const { return back_ ? p - (k - 1) * n_ : p; }

    // map_linear, answered from the soft TLB when the page is there (the
    // same hits generated code takes; write hits are never code pages).
    bool map(uint64_t lin, Vcpu::Access acc, uint8_t*& host, uint64_t& phys) {
        uint64_t page = lin & kPageMask;
        if (!(s_->efer & efer::LMA)) page = uint32_t(page);
        const TlbEntry& e = s_->tlb[mode::mmu_index(compute_mode(*s_))][(lin >> 12) & (kTlbEntries - 1)];
        if ((acc == Vcpu::Access::Write ? e.tag_write : e.tag_read) == page && e.host_page) {
            host = e.host_page + (lin & 0xfff);
            phys = e.phys_page | (lin & 0xfff);
            return true;
        }
        return cpu_.map_linear(lin, acc, user_, host, phys);
    }

    void note_write(uint64_t phys, uint64_t len) {
        if (mem_.is_code_page(phys)) {
            mem_.notify_write(phys, len);
            wrote_code_ = true;
        }
    }

    void advance(uint64_t k, bool src, bool dst) {
        const uint64_t delta = back_ ? uint64_t(0) - k * n_ : k * n_;
        if (src) si_ = (si_ + delta) & amask_;
        if (dst) di_ = (di_ + delta) & amask_;
        cx_ -= k;
        done_ += k;
        work_ += k * n_;
        if (src) si_moved_ = true;
        if (dst) di_moved_ = true;
    }

    uint64_t src_linear() const { return cpu_.linear_of(seg_, si_, ab_); }
    uint64_t dst_linear() const { return cpu_.linear_of(ES, di_, ab_); }

    // ---- single elements (straddling, MMIO) ----
    bool read_elem(uint64_t lin, uint64_t& v) {
        if (debug_breakpoints_enabled(*s_))
            s_->pending_data_breakpoints |= data_breakpoint_hits(*s_, lin, n_, false);
        v = 0;
        return cpu_.read_linear(lin, &v, n_, user_);
    }

    bool write_elem(uint64_t lin, uint64_t v) {
        if (debug_breakpoints_enabled(*s_))
            s_->pending_data_breakpoints |= data_breakpoint_hits(*s_, lin, n_, true);
        uint64_t phys[2];
        unsigned first = std::min<unsigned>(n_, unsigned(0x1000 - (lin & 0xfff)));
        // Check every page before anything is written.
        if (!cpu_.translate(lin, Vcpu::Access::Write, user_, phys[0])) return false;
        if (first < n_ && !cpu_.translate(lin + first, Vcpu::Access::Write, user_, phys[1])) return false;
        if (!cpu_.write_linear(lin, &v, n_, user_)) return false;
        // write_linear told PhysicalMemory; remember that translated code changed.
        if (mem_.is_code_page(phys[0]) || (first < n_ && mem_.is_code_page(phys[1]))) wrote_code_ = true;
        return true;
    }

    // ---- one chunk (or one element) of each operation ----
    bool step_movs() {
        const uint64_t ls = src_linear(), ld = dst_linear();
        const uint64_t k = std::min({cx_, span(ls, si_), span(ld, di_)});
        if (k != 0) {
            uint8_t *hs, *hd;
            uint64_t ps, pd;
            if (!map(ls, Vcpu::Access::Read, hs, ps)) return false;
            if (!map(ld, Vcpu::Access::Write, hd, pd)) return false;
            if (hs && hd) {
                const uint64_t bytes = k * n_;
                strmem::move_elements(low(at(hd, ld), k), low(at(hs, ls), k), bytes, n_, back_);
                note_write(low_phys(phys_at(pd, ld), k), bytes);
                advance(k, true, true);
                return true;
            }
        }
        uint64_t v;
        if (!read_elem(ls, v) || !write_elem(ld, v)) return false;
        advance(1, true, true);
        return true;
    }

    bool step_stos() {
        const uint64_t ld = dst_linear();
        const uint64_t k = std::min(cx_, span(ld, di_));
        if (k != 0) {
            uint8_t* hd;
            uint64_t pd;
            if (!map(ld, Vcpu::Access::Write, hd, pd)) return false;
            if (hd) {
                const uint64_t bytes = k * n_;
                strmem::fill_elements(low(at(hd, ld), k), bytes, acc_, n_);
                note_write(low_phys(phys_at(pd, ld), k), bytes);
                advance(k, false, true);
                return true;
            }
        }
        if (!write_elem(ld, acc_)) return false;
        advance(1, false, true);
        return true;
    }

    bool step_lods() {
        const uint64_t ls = src_linear();
        const uint64_t k = std::min(cx_, span(ls, si_));
        if (k != 0) {
            uint8_t* hs;
            uint64_t ps;
            if (!map(ls, Vcpu::Access::Read, hs, ps)) return false;
            if (hs) {
                // Only the last element loaded is visible.
                uint8_t* last = at(hs, ls) + (back_ ? -int64_t((k - 1) * n_) : int64_t((k - 1) * n_));
                loaded_ = 0;
                std::memcpy(&loaded_, last, n_);
                have_loaded_ = true;
                advance(k, true, false);
                return true;
            }
        }
        uint64_t v;
        if (!read_elem(ls, v)) return false;
        loaded_ = v;
        have_loaded_ = true;
        advance(1, true, false);
        return true;
    }

    // Compares a chunk: `a` the first operand's elements, `b` the second's.
    // Returns the number of elements consumed (stops after a terminating one).
    uint64_t compare_run(const uint8_t* a, const uint8_t* b, uint64_t k) {
        const int64_t step = back_ ? -int64_t(n_) : int64_t(n_);
        uint64_t x = 0, y = 0;
        uint64_t i = 0;
        while (i < k) {
            if (a)
                std::memcpy(&x, a + int64_t(i) * step, n_);
            else
                x = acc_;
            std::memcpy(&y, b + int64_t(i) * step, n_);
            i++;
            if (terminates(x == y)) {
                stop_ = true;
                break;
            }
        }
        last_a_ = x;
        last_b_ = y;
        compared_ = true;
        return i;
    }

    bool terminates(bool equal) const {
        if (rep_ == kRepe) return !equal;
        if (rep_ == kRepne) return equal;
        return false;
    }

    bool step_cmps() {
        const uint64_t ls = src_linear(), ld = dst_linear();
        const uint64_t k = std::min({cx_, span(ls, si_), span(ld, di_)});
        if (k != 0) {
            uint8_t *hs, *hd;
            uint64_t ps, pd;
            if (!map(ls, Vcpu::Access::Read, hs, ps)) return false;
            if (!map(ld, Vcpu::Access::Read, hd, pd)) return false;
            if (hs && hd) {
                uint64_t used = compare_run(at(hs, ls), at(hd, ld), k);
                advance(used, true, true);
                return true;
            }
        }
        uint64_t x, y;
        if (!read_elem(ls, x) || !read_elem(ld, y)) return false;
        last_a_ = x;
        last_b_ = y;
        compared_ = true;
        advance(1, true, true);
        if (terminates(x == y)) stop_ = true;
        return true;
    }

    bool step_scas() {
        const uint64_t ld = dst_linear();
        const uint64_t k = std::min(cx_, span(ld, di_));
        if (k != 0) {
            uint8_t* hd;
            uint64_t pd;
            if (!map(ld, Vcpu::Access::Read, hd, pd)) return false;
            if (hd) {
                const uint8_t* p = at(hd, ld);
                uint64_t used;
                if (n_ == 1 && !back_ && rep_ == kRepne) {
                    // The strlen idiom: find the byte.
                    const void* hit = std::memchr(p, int(acc_), k);
                    used = hit ? uint64_t(static_cast<const uint8_t*>(hit) - p) + 1 : k;
                    last_a_ = acc_;
                    last_b_ = p[used - 1];
                    compared_ = true;
                    if (hit) stop_ = true;
                } else {
                    used = compare_run(nullptr, p, k);
                }
                advance(used, false, true);
                return true;
            }
        }
        uint64_t y;
        if (!read_elem(ld, y)) return false;
        last_a_ = acc_;
        last_b_ = y;
        compared_ = true;
        advance(1, false, true);
        if (terminates(acc_ == y)) stop_ = true;
        return true;
    }

    // Writes the registers (and flags) back as the completed iterations left them.
    void commit() {
        if (done_ == 0) return;
        auto put = [this](int r, uint64_t v) {
            if (ab_ == 8)
                s_->gpr[r] = v;
            else if (ab_ == 4)
                s_->gpr[r] = uint32_t(v);
            else
                s_->gpr[r] = (s_->gpr[r] & ~0xffffull) | (v & 0xffff);
        };
        if (si_moved_) put(RSI, si_);
        if (di_moved_) put(RDI, di_);
        if (rep_ != kNone) put(RCX, cx_);
        if (have_loaded_) {
            if (n_ == 8)
                s_->gpr[RAX] = loaded_;
            else if (n_ == 4)
                s_->gpr[RAX] = uint32_t(loaded_);
            else
                s_->gpr[RAX] = (s_->gpr[RAX] & ~elem_mask()) | (loaded_ & elem_mask());
        }
        if (compared_) s_->eflags = (s_->eflags & ~flag::kArith) | strmem::sub_flags(last_a_, last_b_, n_);
    }

    CpuState* s_;
    Vcpu& cpu_;
    PhysicalMemory& mem_;
    const Op op_;
    const unsigned n_, ab_;
    const int seg_;
    const Rep rep_;
    const uint64_t amask_;
    const bool back_, user_;
    const bool stepwise_; // single-step or breakpoints: one element, one iteration at a time
    uint64_t si_, di_, cx_, acc_;
    uint64_t done_ = 0, work_ = 0;
    uint64_t loaded_ = 0, last_a_ = 0, last_b_ = 0;
    bool si_moved_ = false, di_moved_ = false, have_loaded_ = false, compared_ = false;
    bool stop_ = false, wrote_code_ = false;
};

} // namespace

uint64_t helper_string(CpuState* s, uint64_t arg1, uint64_t) { return StringOp(s, arg1).run(); }

} // namespace hayate
