// Translates one block of guest code into host code.
#pragma once
#include "frontend/decoder.h"
#include "jit/block_cache.h"
#include "jit/code_buffer.h"
#include "jit/trampoline.h"
#include <functional>
#include <memory>

namespace hayate {

struct CodeFetch {
    // Maps the page holding linear address `linear` for execution: host
    // pointer to the page start and its guest-physical address. False if
    // the page cannot be fetched (the caller raises the fault when it matters).
    std::function<bool(uint64_t linear, const uint8_t*& host_page, uint64_t& phys_page)> map_page;
};

class Translator {
  public:
    Translator(jit::CodeBuffer& buffer, const jit::Thunks& thunks);

    enum class Result { Ok, FetchFault, BufferFull, InternalError };
    // Translates the block at (cs_base + pc) in `mode`; fills `out`.
    Result translate(uint64_t pc, uint64_t cs_base, uint32_t mode, const CodeFetch& fetch,
                     std::unique_ptr<jit::Block>& out);

    static constexpr int kMaxInsnsPerBlock = 96;

  private:
    jit::CodeBuffer& buffer_;
    const jit::Thunks& thunks_;
};

} // namespace hayate
