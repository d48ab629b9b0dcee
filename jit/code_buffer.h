// Executable memory for translated code: one RWX region, bump-allocated and
// flushed as a whole when full (blocks are small and short-lived enough that a
// free list does not pay).
#pragma once
#include <asmjit/core.h>
#include <cstddef>
#include <cstdint>

namespace hayate::jit {

class CodeBuffer {
  public:
    explicit CodeBuffer(size_t bytes);
    ~CodeBuffer();
    CodeBuffer(const CodeBuffer&) = delete;
    CodeBuffer& operator=(const CodeBuffer&) = delete;

    uint8_t* cursor() const { return base_ + used_; }
    size_t remaining() const { return size_ - used_; }
    // Copies finished code (relocated to `cursor()`) in; returns its address or
    // nullptr when the buffer is full.
    uint8_t* commit(asmjit::CodeHolder& code);
    void reset_to(size_t mark) { used_ = mark; }
    size_t used() const { return used_; }
    bool contains(const void* p) const { return p >= base_ && p < base_ + size_; }
    uint8_t* base() const { return base_; }

  private:
    uint8_t* base_ = nullptr;
    size_t size_ = 0;
    size_t used_ = 0;
};

} // namespace hayate::jit
