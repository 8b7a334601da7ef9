// TokenTrie from a Tokenizer: which tokens may appear inside a constrained span, and their bytes.
#include "constrain/matcher.h"
#include "tokenizer/tokenizer.h"

namespace gemrun::constrain {

std::shared_ptr<const TokenTrie> TokenTrie::FromTokenizer(const Tokenizer& tok) {
  const Vocab& v = tok.vocab();
  std::vector<std::string> pieces(static_cast<size_t>(v.size()));
  constexpr uint32_t kExcluded = kAttrControl | kAttrUnknown | kAttrUnused | kAttrUserDefined;
  for (TokenId id = 0; id < v.size(); ++id) {
    const uint32_t a = v.attr(id);
    // Special and control tokens never appear inside a constrained span (EOG is decided apart).
    if ((a & kExcluded) || !(a & (kAttrNormal | kAttrByte))) continue;
    pieces[static_cast<size_t>(id)] = std::string(tok.Piece(id));
  }
  return Build(std::move(pieces));
}

}  // namespace gemrun::constrain
