// The side under test: runs a snippet through Hayate's translator.
//
// A Machine with a little RAM is built around a stub multiboot kernel, then
// the vCPU is put straight into 64-bit long mode: page tables mapping the
// snippet and the data buffer at the same linear addresses as natively, a
// GDT with a 64-bit code segment and a TSS whose IST1 stack takes every
// exception (so a snippet with a wild RSP still reports its fault), and an
// IDT whose handler for vector v stores v into a result word and halts.
#include "tests/difftest/difftest.h"

#ifdef DIFFTEST_HAVE_GUEST
#include "frontend/mode.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/tcg.h"
#include "machine/vcpu.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace difftest {

namespace {

using namespace hayate;

// Guest-physical layout (low memory is identity-mapped).
constexpr uint64_t kPml4 = 0x1000;
constexpr uint64_t kTablesStart = 0x2000, kTablesEnd = 0x20000;
constexpr uint64_t kGdt = 0x20000, kIdt = 0x21000, kTss = 0x22000, kHandlers = 0x23000;
constexpr uint64_t kResult = 0x24000; // vector word
constexpr uint64_t kIstTop = 0x38000; // IST1 stack top; the exception frame ends here
constexpr uint64_t kSnippetPhys = 0x100000;
constexpr uint64_t kDataPhys = 0x200000;
constexpr uint64_t kRamBytes = 4 << 20;
constexpr uint32_t kNoVector = 0xffffffff;

// Vectors that push an error code.
bool has_error_code(unsigned v) {
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

class GuestRunner final : public Runner {
  public:
    GuestRunner() {
        // A stub a.out-kludge multiboot kernel, only so the Machine can be built.
        char path[] = "/tmp/difftest-kernel-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) throw std::runtime_error("difftest: mkstemp failed");
        uint32_t hdr[9] = {0x1BADB002, 0x10000, 0, 0x100000, 0x100000, 0, 0, 0x100024, 0};
        hdr[2] = uint32_t(-(hdr[0] + hdr[1]));
        uint8_t image[40] = {};
        std::memcpy(image, hdr, 36);
        image[36] = 0xf4; // hlt
        bool ok = write(fd, image, sizeof image) == ssize_t(sizeof image);
        close(fd);
        if (!ok) throw std::runtime_error("difftest: cannot write the stub kernel");
        MachineOptions opt;
        opt.ram_bytes = kRamBytes;
        opt.kernel = path;
        opt.serial = {SerialOption{SerialOption::Kind::None, {}}};
        opt.nodefaults = true;
        try {
            machine_ = std::make_unique<Machine>(opt);
        } catch (...) {
            unlink(path);
            throw;
        }
        unlink(path);
        build_system_tables();
        // HAYATE_LOG=in_asm,out_asm... logs the Hayate side (for debugging a mismatch).
        if (const char* spec = std::getenv("HAYATE_LOG")) {
            unsigned mask = 0;
            if (parse_log_mask(spec, mask).empty()) log_config().mask = mask;
        }
        engine_ = std::make_unique<TcgEngine>(machine_->vcpu(0), machine_->memory(), machine_->ports());
        watchdog_ = std::thread([this] { watch(); });
    }

    ~GuestRunner() override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            quit_ = true;
        }
        cv_.notify_all();
        watchdog_.join();
        engine_.reset();
        machine_.reset();
    }

    RunResult run(const Case& c) override {
        RunResult out;
        PhysicalMemory& mem = machine_->memory();
        Vcpu& cpu = machine_->vcpu(0);
        CpuState& s = cpu.state;

        if (g_guest_fuzz.fresh_tables) {
            // Random code may also have programmed the devices (PIC, UART):
            // power-on state again, so no interrupt lingers into the next run.
            machine_->reset_devices();
            next_table_ = kTablesStart;
            build_system_tables();
        }
        std::vector<uint8_t> code(c.code);
        code.push_back(0xf4); // hlt
        mem.write_bytes(kSnippetPhys, code.data(), code.size());
        mem.write_bytes(kDataPhys, c.data.data(), kDataSize);
        uint32_t none = kNoVector;
        mem.write_bytes(kResult, &none, 4);
        engine_->flush_translations();

        set_long_mode(cpu);
        std::memcpy(s.gpr, c.init.gpr, sizeof s.gpr);
        s.rip = kSnippetAddr;
        s.eflags = (c.init.rflags & kFlagMask) | 0x202; // IF=1, as the native side runs (PUSHF sees it)
        std::memcpy(s.xmm, c.init.xmm, sizeof s.xmm);
        s.mxcsr = c.init.mxcsr;
        // The YMM upper halves (CpuState keeps them in ymm_high while
        // ymm_dirty is set, and they are all zero while it is clear).
        std::memcpy(s.ymm_high, c.init.ymm_high, sizeof s.ymm_high);
        s.ymm_dirty = 0;
        for (const auto& half : c.init.ymm_high)
            for (uint8_t byte : half) s.ymm_dirty |= byte != 0;
        std::memcpy(s.x87_image, c.init.x87, sizeof s.x87_image);
        s.x87_fip = s.x87_fdp = 0;
        s.x87_fcs = s.x87_fds = s.x87_fop = 0;
        s.halted = false;
        s.exit_request = 0;
        s.mode = compute_mode(s);

        StopReason why = StopReason::Kicked;
        {
            std::lock_guard<std::mutex> lock(mu_);
            running_ = true;
            timed_out_ = false;
            started_ = std::chrono::steady_clock::now();
        }
        cv_.notify_all();
        std::string crash;
        bool survived = run_protected([&] { why = engine_->run(); }, crash);
        bool timed_out;
        {
            std::lock_guard<std::mutex> lock(mu_);
            running_ = false;
            timed_out = timed_out_;
        }
        if (!survived) {
            broken_ = true;
            out.error = "hayate crashed: " + crash;
            return out;
        }
        if (timed_out) {
            out.error = "timeout (the guest did not halt in time)";
            return out;
        }
        if (why != StopReason::Halted) {
            out.error = why == StopReason::Reset      ? "triple fault / reset"
                        : why == StopReason::Shutdown ? "shutdown"
                                                      : "kicked";
            out.error += "\n" + cpu.dump_state();
            // A shutdown request stays: the next run needs a new machine.
            if (why == StopReason::Shutdown) broken_ = true;
            return out;
        }
        uint32_t vec = kNoVector;
        mem.read_bytes(kResult, &vec, 4);
        out.data.resize(kDataSize);
        mem.read_bytes(kDataPhys, out.data.data(), kDataSize);
        if (vec != kNoVector) {
            out.vector = int(vec);
            uint64_t frame[6];
            mem.read_bytes(kIstTop - 40, frame, 40); // rip, cs, rflags, rsp, ss
            out.fault_rip = frame[0];
            out.fault_rflags = frame[2];
            std::memcpy(out.fault_gpr, s.gpr, sizeof s.gpr);
            out.fault_gpr[RSP] = frame[3];
            out.fault_mxcsr = s.mxcsr;
            std::memcpy(out.fault_xmm, s.xmm, sizeof s.xmm);
            read_ymm_high(s, out.fault_ymm_high);
            return out;
        }
        uint64_t end = kSnippetAddr + code.size();
        if (s.rip != end) {
            char buf[128];
            std::snprintf(buf, sizeof buf, "halted at rip=%#llx, expected %#llx", (unsigned long long)s.rip,
                          (unsigned long long)end);
            out.error = buf;
            return out;
        }
        std::memcpy(out.regs.gpr, s.gpr, sizeof s.gpr);
        out.regs.rflags = s.eflags;
        std::memcpy(out.regs.xmm, s.xmm, sizeof s.xmm);
        out.regs.mxcsr = s.mxcsr;
        std::memcpy(out.regs.x87, s.x87_image, sizeof out.regs.x87);
        read_ymm_high(s, out.regs.ymm_high);
        return out;
    }

    static void read_ymm_high(const CpuState& s, uint8_t out[16][16]) {
        if (s.ymm_dirty)
            std::memcpy(out, s.ymm_high, sizeof s.ymm_high);
        else
            std::memset(out, 0, sizeof s.ymm_high);
    }

    bool broken() const override { return broken_; }

  private:
    bool broken_ = false;
    void w64(uint64_t addr, uint64_t v) { machine_->memory().write_bytes(addr, &v, 8); }

    uint64_t next_table_ = kTablesStart;
    uint64_t table_entry(uint64_t table, unsigned index) {
        uint64_t e = 0;
        machine_->memory().read_bytes(table + index * 8, &e, 8);
        if (!(e & 1)) {
            uint64_t t = next_table_;
            next_table_ += 0x1000;
            if (next_table_ > kTablesEnd) throw std::runtime_error("difftest: out of page-table pages");
            std::vector<uint8_t> zero(0x1000);
            machine_->memory().write_bytes(t, zero.data(), zero.size());
            e = t | 3;
            w64(table + index * 8, e);
        }
        return e & ~0xfffull;
    }
    void map_page(uint64_t linear, uint64_t phys) {
        uint64_t t = kPml4;
        for (int level = 3; level > 0; level--)
            t = table_entry(t, unsigned(linear >> (12 + 9 * level)) & 511);
        w64(t + ((linear >> 12) & 511) * 8, phys | 3);
    }

    void build_system_tables() {
        PhysicalMemory& mem = machine_->memory();
        std::vector<uint8_t> zero(kTablesEnd);
        mem.write_bytes(0, zero.data(), zero.size());
        for (uint64_t p = 0x1000; p < 0x100000; p += 0x1000) map_page(p, p);
        for (uint64_t p = 0; p < 0x2000; p += 0x1000) map_page(kSnippetAddr + p, kSnippetPhys + p);
        for (uint64_t p = 0; p < kDataSize; p += 0x1000) map_page(kDataAddr + p, kDataPhys + p);

        // GDT: null, 64-bit code 0x08, data 0x10, TSS 0x18 (16 bytes).
        w64(kGdt + 0, 0);
        w64(kGdt + 8, 0x00af9b000000ffffull);
        w64(kGdt + 16, 0x00cf93000000ffffull);
        uint64_t tss_lo = 0x67 | ((kTss & 0xffffff) << 16) | (0x89ull << 40) | (((kTss >> 24) & 0xff) << 56);
        w64(kGdt + 24, tss_lo);
        w64(kGdt + 32, kTss >> 32);
        // TSS: RSP0 and IST1.
        w64(kTss + 4, kIstTop);
        w64(kTss + 0x24, kIstTop);
        // IDT: 64-bit interrupt gates, IST1, each to its handler.
        for (unsigned v = 0; v < 256; v++) {
            uint64_t h = kHandlers + v * 16;
            uint64_t lo =
                (h & 0xffff) | (0x08ull << 16) | (1ull << 32) | (0x8eull << 40) | ((h >> 16 & 0xffff) << 48);
            w64(kIdt + v * 16, lo);
            w64(kIdt + v * 16 + 8, h >> 32);
            // mov dword [abs kResult], v ; hlt ; jmp $-1 (stay halted)
            uint8_t stub[16] = {0xc7, 0x04, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0xf4, 0xeb, 0xfd, 0x90, 0x90};
            uint32_t res = uint32_t(kResult);
            std::memcpy(stub + 3, &res, 4);
            std::memcpy(stub + 7, &v, 4);
            mem.write_bytes(h, stub, sizeof stub);
        }
        (void)has_error_code;
    }

    void set_long_mode(Vcpu& cpu) {
        CpuState& s = cpu.state;
        s.cr0 = cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::PG;
        s.cr3 = kPml4;
        s.cr4 = cr4::PAE | cr4::OSFXSR | cr4::OSXMMEXCPT;
        // As the host's OS does: VEX instructions run where the host has AVX.
        if (host_has_avx()) {
            s.cr4 |= cr4::OSXSAVE;
            s.xcr0 = 7; // x87 | SSE | AVX
        } else {
            s.xcr0 = 1;
        }
        s.efer = efer::LME | efer::LMA | efer::NXE;
        cpu.set_segment(CS, 0x08, 0, 0xffffffff, 0x9b | segattr::kLong | segattr::kGran);
        for (SegReg r : {SS, DS, ES})
            cpu.set_segment(r, 0x10, 0, 0xffffffff, 0x93 | segattr::kBig | segattr::kGran);
        cpu.set_segment(FS, 0, 0, 0xffffffff, 0x93 | segattr::kBig | segattr::kGran);
        cpu.set_segment(GS, 0, 0, 0xffffffff, 0x93 | segattr::kBig | segattr::kGran);
        s.gdtr = {kGdt, 0x27};
        s.idtr = {kIdt, 256 * 16 - 1};
        s.tr = SegmentCache{kTss, 0x67, 0x18, 0x8b};
        s.ldtr = SegmentCache{0, 0, 0, 0x82};
    }

    // Kicks the vCPU out of a snippet that runs away (a translator bug).
    void watch() {
        std::unique_lock<std::mutex> lock(mu_);
        while (!quit_) {
            if (!running_) {
                cv_.wait(lock);
                continue;
            }
            auto deadline = started_ + std::chrono::milliseconds(g_guest_fuzz.watchdog_ms);
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && running_ &&
                std::chrono::steady_clock::now() >= deadline) {
                timed_out_ = true;
                std::atomic_ref<uint32_t>(machine_->vcpu(0).state.exit_request).store(1);
            }
        }
    }

    std::unique_ptr<Machine> machine_;
    std::unique_ptr<TcgEngine> engine_;
    std::thread watchdog_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool quit_ = false, running_ = false, timed_out_ = false;
    std::chrono::steady_clock::time_point started_;
};

} // namespace

std::unique_ptr<Runner> make_guest_runner(std::string& why) {
    try {
        return std::make_unique<GuestRunner>();
    } catch (const std::exception& e) {
        why = e.what();
        return nullptr;
    }
}

GuestFuzzSettings g_guest_fuzz;

} // namespace difftest

#else

namespace difftest {
GuestFuzzSettings g_guest_fuzz;
std::unique_ptr<Runner> make_guest_runner(std::string& why) {
    why = "this build has no TCG engine yet (machine/tcg.cpp, machine/vcpu.cpp)";
    return nullptr;
}
} // namespace difftest

#endif
