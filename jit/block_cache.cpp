#include "jit/block_cache.h"
#include <algorithm>
#include <cstring>

namespace hayate::jit {

Block* BlockCache::lookup(uint64_t phys, uint64_t pc, uint64_t cs_base, uint32_t mode) const {
    Block*& slot = direct_[direct_index(phys, pc, mode)];
    if (slot && slot->phys == phys && slot->pc == pc && slot->cs_base == cs_base && slot->mode == mode)
        return slot;
    auto it = map_.find(Key{phys, pc, cs_base, mode});
    if (it == map_.end()) return nullptr;
    slot = it->second;
    return it->second;
}

Block* BlockCache::insert(std::unique_ptr<Block> block) {
    Block* b = block.get();
    map_[Key{b->phys, b->pc, b->cs_base, b->mode}] = b;
    direct_[direct_index(b->phys, b->pc, b->mode)] = b;
    by_page_[b->phys >> 12].push_back(b);
    uint64_t last_page = (b->phys + b->guest_size - 1) >> 12;
    if (last_page != b->phys >> 12) by_page_[last_page].push_back(b);
    if (b->phys_page2 != ~0ull && (b->phys_page2 >> 12) != last_page)
        by_page_[b->phys_page2 >> 12].push_back(b);
    blocks_.push_back(std::move(block));
    return b;
}

static void patch_jump(uint8_t* site, const uint8_t* target) {
    // site holds `jmp rel32` (E9 xx xx xx xx); rewrite the displacement.
    int32_t rel = int32_t(target - (site + 5));
    std::memcpy(site + 1, &rel, 4);
}

void BlockCache::chain(Block* from, int index, Block* to) {
    BlockExit& e = from->exits[size_t(index)];
    if (e.chained_to || !to->valid || !from->valid) return;
    patch_jump(e.patch_site, to->code);
    e.chained_to = to;
    to->incoming.emplace_back(from, index);
}

void BlockCache::unchain_exit(Block* from, int index) {
    BlockExit& e = from->exits[size_t(index)];
    if (!e.chained_to) return;
    patch_jump(e.patch_site, e.stub);
    e.chained_to = nullptr;
}

void BlockCache::unlink(Block* b) {
    b->valid = false;
    for (auto [from, index] : b->incoming)
        if (from->exits[size_t(index)].chained_to == b) unchain_exit(from, index);
    b->incoming.clear();
    for (size_t i = 0; i < b->exits.size(); i++) {
        Block* to = b->exits[i].chained_to;
        if (!to) continue;
        unchain_exit(b, int(i));
        std::erase_if(to->incoming, [&](auto& in) { return in.first == b; });
    }
    auto it = map_.find(Key{b->phys, b->pc, b->cs_base, b->mode});
    if (it != map_.end() && it->second == b) map_.erase(it);
    Block*& slot = direct_[direct_index(b->phys, b->pc, b->mode)];
    if (slot == b) slot = nullptr;
}

std::vector<Block*> BlockCache::invalidate_range(uint64_t addr, uint64_t len) {
    std::vector<Block*> hit;
    for (uint64_t page = addr >> 12; page <= (addr + len - 1) >> 12; page++) {
        auto it = by_page_.find(page);
        if (it == by_page_.end()) continue;
        for (Block* b : it->second) {
            if (!b->valid) continue;
            bool overlaps = addr < b->phys + b->guest_size && b->phys < addr + len;
            if (!overlaps && b->peek_hi > b->peek_lo) {
                const uint64_t page_base = b->phys & ~0xfffull;
                overlaps = addr < page_base + b->peek_hi && page_base + b->peek_lo < addr + len;
            }
            if (!overlaps && b->phys_page2 != ~0ull)
                overlaps =
                    addr < (b->phys_page2 & ~0xfffull) + 16 && (b->phys_page2 & ~0xfffull) < addr + len;
            if (overlaps) {
                unlink(b);
                hit.push_back(b);
            }
        }
        std::erase_if(it->second, [](Block* b) { return !b->valid; });
        if (it->second.empty()) by_page_.erase(it);
    }
    return hit;
}

bool BlockCache::page_has_blocks(uint64_t page) const { return by_page_.count(page >> 12) != 0; }

void BlockCache::clear() {
    std::fill(direct_.begin(), direct_.end(), nullptr);
    map_.clear();
    by_page_.clear();
    blocks_.clear();
}

} // namespace hayate::jit
