// UTF-8 helpers: strict stepping, sanitising, llama.cpp's lenient round trip, Python trim.
#include "tokenizer/utf8.h"

namespace gemrun::utf8 {
namespace {

inline uint8_t At(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

// Decodes a sequence already known to be valid (Next() returned kValid with `len`).
uint32_t DecodeValid(std::string_view s, size_t i, size_t len) {
  const uint8_t b0 = At(s, i);
  switch (len) {
    case 1: return b0;
    case 2: return ((b0 & 0x1fu) << 6) | (At(s, i + 1) & 0x3fu);
    case 3: return ((b0 & 0x0fu) << 12) | ((At(s, i + 1) & 0x3fu) << 6) | (At(s, i + 2) & 0x3fu);
    default:
      return ((b0 & 0x07u) << 18) | ((At(s, i + 1) & 0x3fu) << 12) | ((At(s, i + 2) & 0x3fu) << 6) |
             (At(s, i + 3) & 0x3fu);
  }
}

inline bool IsCont(std::string_view s, size_t i) { return (At(s, i) & 0xc0) == 0x80; }

}  // namespace

Seq Next(std::string_view s, size_t i) {
  const uint8_t b0 = At(s, i);
  if (b0 < 0x80) return {SeqKind::kValid, 1};
  size_t need;
  uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    need = 1;
  } else if (b0 == 0xe0) {
    need = 2, lo = 0xa0;
  } else if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) {
    need = 2;
  } else if (b0 == 0xed) {
    need = 2, hi = 0x9f;  // no UTF-16 surrogates
  } else if (b0 == 0xf0) {
    need = 3, lo = 0x90;
  } else if (b0 >= 0xf1 && b0 <= 0xf3) {
    need = 3;
  } else if (b0 == 0xf4) {
    need = 3, hi = 0x8f;  // nothing above U+10FFFF
  } else {
    return {SeqKind::kInvalid, 1};  // continuation byte, C0/C1 (overlong), F5..FF
  }
  for (size_t j = 1; j <= need; ++j) {
    if (i + j >= s.size()) return {SeqKind::kTruncated, j};
    const uint8_t c = At(s, i + j);
    if (c < lo || c > hi) return {SeqKind::kInvalid, j};
    lo = 0x80, hi = 0xbf;
  }
  return {SeqKind::kValid, need + 1};
}

bool IsValid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Seq q = Next(s, i);
    if (q.kind != SeqKind::kValid) return false;
    i += q.len;
  }
  return true;
}

void AppendSanitized(std::string_view s, std::string* out) {
  out->reserve(out->size() + s.size());
  size_t run = 0;  // start of the pending run of valid bytes
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Seq q = Next(s, i);
    if (q.kind == SeqKind::kValid) {
      i += q.len;
      continue;
    }
    out->append(s.data() + run, i - run);
    out->append("\xEF\xBF\xBD");
    i += q.len;  // a truncated tail is invalid too: nothing follows it
    run = i;
  }
  out->append(s.data() + run, s.size() - run);
}

std::string Sanitize(std::string_view s) {
  std::string out;
  AppendSanitized(s, &out);
  return out;
}

void AppendCodePoint(uint32_t cp, std::string* out) {
  if (cp <= 0x7f) {
    out->push_back(static_cast<char>(cp));
  } else if (cp <= 0x7ff) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp <= 0xffff) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

void LlamaRoundTrip(std::string_view s, std::string* out) {
  constexpr uint32_t kReplacement = 0xfffd;
  const size_t n = s.size();
  out->reserve(out->size() + n);
  size_t i = 0;
  while (i < n) {
    const uint8_t b = At(s, i);
    uint32_t cp;
    size_t len;
    if (!(b & 0x80)) {
      cp = b, len = 1;
    } else if (!(b & 0x40)) {
      cp = kReplacement, len = 1;
    } else if (!(b & 0x20)) {
      if (i + 1 >= n || !IsCont(s, i + 1)) {
        cp = kReplacement, len = 1;
      } else {
        cp = ((b & 0x1fu) << 6) | (At(s, i + 1) & 0x3fu), len = 2;
      }
    } else if (!(b & 0x10)) {
      if (i + 2 >= n || !IsCont(s, i + 1) || !IsCont(s, i + 2)) {
        cp = kReplacement, len = 1;
      } else {
        cp = DecodeValid(s, i, 3), len = 3;
      }
    } else if (!(b & 0x08)) {
      if (i + 3 >= n || !IsCont(s, i + 1) || !IsCont(s, i + 2) || !IsCont(s, i + 3)) {
        cp = kReplacement, len = 1;
      } else {
        cp = DecodeValid(s, i, 4), len = 4;
        if (cp > 0x10ffff) cp = kReplacement;  // llama.cpp throws here
      }
    } else {
      cp = kReplacement, len = 1;
    }
    AppendCodePoint(cp, out);
    i += len;
  }
}

bool IsPyWhitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
  switch (cp) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200a;
  }
}

std::string_view TrimPy(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    const Seq q = Next(s.substr(0, e), b);
    if (q.kind != SeqKind::kValid || !IsPyWhitespace(DecodeValid(s, b, q.len))) break;
    b += q.len;
  }
  while (e > b) {
    size_t start = e - 1;  // back up to the lead byte of the last code point
    while (start > b && e - start < 4 && IsCont(s, start)) --start;
    const Seq q = Next(s.substr(0, e), start);
    if (q.kind != SeqKind::kValid || start + q.len != e ||
        !IsPyWhitespace(DecodeValid(s, start, q.len)))
      break;
    e = start;
  }
  return s.substr(b, e - b);
}

}  // namespace gemrun::utf8
