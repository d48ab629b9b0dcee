// Translated blocks: lookup by (guest-physical address, PC, CS base, mode),
// per-physical-page lists for invalidation, and direct-jump chaining.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace hayate::jit {

struct Block;

// A direct exit of a block: a `jmp rel32` at `patch_site` that goes to the
// exit stub until it is chained to the target block's code.
struct BlockExit {
    uint8_t* patch_site = nullptr; // address of the jmp instruction (5 bytes)
    uint8_t* stub = nullptr;       // where it jumps while unchained
    uint64_t target_pc = 0;
    Block* chained_to = nullptr;
};

struct Block {
    uint64_t pc = 0; // guest RIP of the first instruction
    uint64_t cs_base = 0;
    uint64_t phys = 0;           // guest-physical address of the first byte
    uint64_t phys_page2 = ~0ull; // second physical page when the last instruction straddles
    uint32_t mode = 0;
    uint32_t guest_size = 0; // bytes of guest code covered
    uint8_t* code = nullptr; // host entry
    uint32_t code_size = 0;
    bool valid = true;
    // Bytes of the start page read ahead to decide which flags are live at
    // the block's end (offsets [peek_lo, peek_hi)): stores there invalidate it.
    uint16_t peek_lo = 0, peek_hi = 0;
    std::vector<BlockExit> exits;
    std::vector<std::pair<Block*, int>> incoming; // chained jumps into this block
    // Storage that helpers called from this block's code point at (kept decoded instructions).
    std::vector<std::unique_ptr<uint8_t[]>> helper_data;
};

class BlockCache {
  public:
    Block* lookup(uint64_t phys, uint64_t pc, uint64_t cs_base, uint32_t mode) const;
    Block* insert(std::unique_ptr<Block> block);
    // Invalidates every block overlapping guest-physical [addr, addr+len).
    // Returns the blocks invalidated (still allocated until clear()).
    std::vector<Block*> invalidate_range(uint64_t addr, uint64_t len);
    bool page_has_blocks(uint64_t page) const;
    void clear();
    size_t size() const { return blocks_.size(); }

    // Chain exit `index` of `from` to `to` (patches host code).
    static void chain(Block* from, int index, Block* to);

  private:
    static void unchain_exit(Block* from, int index);
    void unlink(Block* b);
    // A direct-mapped table in front of the hash map: one probe, usually
    // one cache miss, for the lookups that follow every jump-cache flush
    // (each CR3 write empties the non-global part of the jump cache).
    static constexpr size_t kDirectEntries = size_t(1) << 16;
    static size_t direct_index(uint64_t phys, uint64_t pc, uint32_t mode) {
        uint64_t h = (phys ^ (pc << 7) ^ (uint64_t(mode) << 40)) * 0x9E3779B97F4A7C15ull;
        return size_t(h >> 48) & (kDirectEntries - 1);
    }
    mutable std::vector<Block*> direct_ = std::vector<Block*>(kDirectEntries, nullptr);
    struct Key {
        uint64_t phys, pc, cs_base;
        uint32_t mode;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const {
            // Every field folded in, then a full avalanche (splitmix64's
            // finaliser), so keys that differ in a few bits spread evenly.
            uint64_t h = k.phys * 0x9E3779B97F4A7C15ull;
            h ^= k.pc + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
            h ^= k.cs_base + (uint64_t(k.mode) << 32) + (h << 6) + (h >> 2);
            h ^= h >> 30;
            h *= 0xBF58476D1CE4E5B9ull;
            h ^= h >> 27;
            h *= 0x94D049BB133111EBull;
            h ^= h >> 31;
            return size_t(h);
        }
    };
    std::unordered_map<Key, Block*, KeyHash> map_;
    std::unordered_map<uint64_t, std::vector<Block*>> by_page_;
    std::vector<std::unique_ptr<Block>> blocks_;
};

} // namespace hayate::jit
