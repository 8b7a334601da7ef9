// Word splitting and the per-call word cache that make encoding fast on real text.
#include <algorithm>

#include "tokenizer/tokenizer_internal.h"

namespace gemrun::tokenizer_internal {
namespace {
constexpr std::string_view kMarker = "\xE2\x96\x81";  // U+2581
constexpr size_t kMaxCross = 64;                      // beyond this, process fragments whole
constexpr size_t kMaxCachedIds = size_t{1} << 20;     // bound the cache: 4 MiB of ids
constexpr size_t kMaxCachedWords = size_t{1} << 13;   // and a small index that stays in cache
constexpr size_t kMaxCachedWordBytes = 256;
}  // namespace

bool WordCache::Lookup(std::string_view word, std::vector<TokenId>* out) const {
  const int32_t e = index_.Find(word);
  if (e < 0) return false;
  out->insert(out->end(), ids_.begin() + begin_[e], ids_.begin() + begin_[e + 1]);
  return true;
}

void WordCache::Insert(std::string_view word, const TokenId* ids, size_t n) {
  if (word.size() > kMaxCachedWordBytes) return;  // long words rarely repeat
  if (ids_.size() + n > kMaxCachedIds || index_.size() >= kMaxCachedWords) {
    index_.Clear();
    begin_.clear();
    ids_.clear();
  }
  if (begin_.empty()) begin_.push_back(0);
  if (!index_.Insert(word, static_cast<int32_t>(begin_.size() - 1))) return;
  ids_.insert(ids_.end(), ids, ids + n);
  begin_.push_back(static_cast<uint32_t>(ids_.size()));
}

void WordSplitter::Build(const std::vector<std::string_view>& pieces) {
  cross_.clear();
  enabled_ = true;
  for (std::string_view p : pieces) {
    size_t lead = 0;  // the leading run of markers never spans a cut
    while (p.substr(lead, kMarker.size()) == kMarker) lead += kMarker.size();
    for (size_t k = p.find(kMarker, lead); k != std::string_view::npos; k = p.find(kMarker, k + 1)) {
      if (cross_.size() == kMaxCross) {
        enabled_ = false;
        cross_.clear();
        return;
      }
      cross_.push_back(Cross{std::string(p), k});
    }
  }
}

bool WordSplitter::CrossAt(std::string_view text, size_t pos) const {
  for (const Cross& c : cross_)
    if (pos >= c.marker && text.substr(pos - c.marker, c.text.size()) == c.text) return true;
  return false;
}

}  // namespace gemrun::tokenizer_internal
