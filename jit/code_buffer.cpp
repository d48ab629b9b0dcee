#include "jit/code_buffer.h"
#include <cstring>
#include <stdexcept>
#include <sys/mman.h>

namespace hayate::jit {

CodeBuffer::CodeBuffer(size_t bytes) : size_(bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("cannot map memory for the translation cache");
    base_ = static_cast<uint8_t*>(p);
}

CodeBuffer::~CodeBuffer() { munmap(base_, size_); }

uint8_t* CodeBuffer::commit(asmjit::CodeHolder& code) {
    code.flatten();
    code.resolveUnresolvedLinks();
    size_t n = code.codeSize();
    if (n + 64 > remaining()) return nullptr;
    uint8_t* at = cursor();
    if (code.relocateToBase(uint64_t(uintptr_t(at))) != asmjit::kErrorOk) return nullptr;
    code.copyFlattenedData(at, n, asmjit::CopySectionFlags::kPadSectionBuffer);
    used_ += (n + 15) & ~size_t(15);
    return at;
}

} // namespace hayate::jit
