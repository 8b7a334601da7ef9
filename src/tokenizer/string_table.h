// Hash tables for the tokenizer hot loops: byte string -> int32 (token texts, BPE pieces) and
// (int32, int32) -> payload (BPE merge pairs). Open addressing with linear probing over a
// power-of-two array; keys are copied into one arena, so lookups by std::string_view never
// allocate. Built once at load, then read-only (safe to share between threads).
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace gemrun::tokenizer_internal {

// 64-bit hash of a short byte string: 8-byte words through a multiply-xorshift mixer.
inline uint64_t HashBytes(const char* p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    p += 8, n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
  }
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

inline uint64_t HashPair(uint32_t a, uint32_t b) {
  uint64_t h = (static_cast<uint64_t>(a) << 32 | b) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

// Byte string -> non-negative int32. Find() returns -1 when absent.
class StringTable {
 public:
  void Reserve(size_t n_keys, size_t n_bytes) {
    size_t cap = 16;
    while (cap < n_keys * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    arena_.reserve(n_bytes);
  }

  // Inserts key -> value (value >= 0). Returns false, leaving the table unchanged, if the key
  // is already present. The table doubles before it gets more than half full.
  bool Insert(std::string_view key, int32_t value) {
    filter_.clear();
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    const uint64_t h = HashBytes(key.data(), key.size());
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.value < 0) {
        s.tag = static_cast<uint32_t>(h);
        s.len = static_cast<uint32_t>(key.size());
        s.offset = static_cast<uint32_t>(arena_.size());
        s.value = value;
        std::memset(s.head, 0, sizeof s.head);
        std::memcpy(s.head, key.data(), std::min(key.size(), sizeof s.head));
        arena_.append(key);
        ++count_;
        return true;
      }
      if (Matches(s, h, key)) return false;
    }
  }

  int32_t Find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = HashBytes(key.data(), key.size());
    if (!filter_.empty()) {  // most absent keys stop here, in a table that fits in L2
      const uint64_t m = FilterBits(h);
      if ((filter_[(h >> 20) & filter_mask_] & m) != m) return -1;
    }
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value < 0) return -1;
      if (Matches(s, h, key)) return s.value;
    }
  }

  size_t size() const { return count_; }
  size_t arena_bytes() const { return arena_.size(); }

  void Clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    arena_.clear();
    count_ = 0;
    filter_.clear();
  }

  // Adds a blocked Bloom filter (3 bits in one 64-bit word per key, >= 16 bits per key: about
  // 0.5% false positives; 512 KiB for Gemma's 262144 tokens) over the current keys, so that
  // Find() of an absent key usually costs no table probe. Insert() drops the filter.
  void BuildFilter() {
    size_t words = 64;
    while (words * 64 < count_ * 16) words <<= 1;
    filter_.assign(words, 0);
    filter_mask_ = words - 1;
    for (const Slot& s : slots_) {
      if (s.value < 0) continue;
      const uint64_t h = HashBytes(arena_.data() + s.offset, s.len);
      filter_[(h >> 20) & filter_mask_] |= FilterBits(h);
    }
  }

 private:
  // 32 bytes: the first 16 bytes of the key live in the slot, so a probe for a short key (most
  // vocabulary pieces) touches one cache line and never the arena.
  static constexpr size_t kHead = 16;
  struct Slot {
    uint32_t tag = 0;  // low 32 bits of the hash
    uint32_t len = 0;
    uint32_t offset = 0;  // into arena_
    int32_t value = -1;   // -1: empty
    char head[kHead] = {};
  };

  bool Matches(const Slot& s, uint64_t h, std::string_view key) const {
    if (s.tag != static_cast<uint32_t>(h) || s.len != key.size()) return false;
    if (key.size() <= kHead) return std::memcmp(s.head, key.data(), key.size()) == 0;
    return std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0;
  }

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    const size_t cap = old.empty() ? 16 : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.value < 0) continue;
      const std::string_view key(arena_.data() + s.offset, s.len);
      for (size_t i = HashBytes(key.data(), key.size()) & mask_;; i = (i + 1) & mask_) {
        if (slots_[i].value < 0) {
          slots_[i] = s;
          break;
        }
      }
    }
  }

  static uint64_t FilterBits(uint64_t h) {
    return (uint64_t{1} << ((h >> 40) & 63)) | (uint64_t{1} << ((h >> 46) & 63)) | (uint64_t{1} << ((h >> 52) & 63));
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
  std::string arena_;
  std::vector<uint64_t> filter_;
  size_t filter_mask_ = 0;
};

// (a, b) -> Payload, for BPE merges keyed by the interned ids of the two sides.
template <typename Payload>
class PairTable {
 public:
  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }

  // Inserts if absent (first insertion wins, like std::map::emplace).
  bool Insert(uint32_t a, uint32_t b, const Payload& p) {
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    for (size_t i = HashPair(a, b) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) {
        s = Slot{a, b, true, p};
        ++count_;
        return true;
      }
      if (s.a == a && s.b == b) return false;
    }
  }

  const Payload* Find(uint32_t a, uint32_t b) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = HashPair(a, b) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.a == a && s.b == b) return &s.payload;
    }
  }

 private:
  struct Slot {
    uint32_t a = 0, b = 0;
    bool used = false;
    Payload payload{};
  };

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    const size_t cap = old.empty() ? 16 : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (!s.used) continue;
      for (size_t i = HashPair(s.a, s.b) & mask_;; i = (i + 1) & mask_) {
        if (!slots_[i].used) {
          slots_[i] = s;
          break;
        }
      }
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace gemrun::tokenizer_internal
