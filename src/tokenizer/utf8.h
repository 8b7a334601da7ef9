// UTF-8 helpers for the tokenizers, the streaming decoder, chat templates and the CLI:
// llama.cpp's lenient lead-byte length and code-point round trip (which the goldens embody),
// strict validation with U+FFFD replacement for output, and Python-style whitespace trimming
// (Jinja's `trim`, used by the Gemma chat templates). All functions take arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gemrun::utf8 {

// llama.cpp's unicode_len_utf8: the sequence length a lead byte announces (1..4). Continuation
// and invalid bytes count as 1. The SPM symbol split uses exactly this, so a lead byte followed
// by ASCII forms one (non-vocabulary) symbol that falls back to byte tokens.
inline size_t LeadLength(uint8_t b) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[b >> 4];
}

// One strict decoding step at s[i] (no overlongs, no surrogates, at most U+10FFFF).
enum class SeqKind {
  kValid,      // `len` bytes form one code point
  kTruncated,  // `len` bytes are a valid prefix cut off by the end of `s`
  kInvalid,    // `len` bytes are a maximal invalid subpart (Unicode's rule, as Python's
               // errors="replace"): replace them by one U+FFFD and continue after them
};
struct Seq {
  SeqKind kind;
  size_t len;
};
Seq Next(std::string_view s, size_t i);  // requires i < s.size()

bool IsValid(std::string_view s);

// Appends `s` with every maximal invalid subpart replaced by U+FFFD (EF BF BD).
void AppendSanitized(std::string_view s, std::string* out);
std::string Sanitize(std::string_view s);

// llama.cpp's unicode_cpts_from_utf8 followed by unicode_cpt_to_utf8 (the Gemma 4 BPE
// pre-tokenizer re-encodes its words this way): invalid lead/continuation bytes become U+FFFD
// one byte at a time; overlong forms decode to their (small) code point and re-encode short;
// code points above U+10FFFF (where llama.cpp throws) become U+FFFD. Appends to *out.
void LlamaRoundTrip(std::string_view in, std::string* out);

// Appends the UTF-8 encoding of code point `cp` (cp must be <= 0x10FFFF).
void AppendCodePoint(uint32_t cp, std::string* out);

// Python's str.isspace() for one code point.
bool IsPyWhitespace(uint32_t cp);

// Python's str.strip(): removes leading and trailing whitespace code points. Invalid bytes
// are never whitespace, so trimming stops at them.
std::string_view TrimPy(std::string_view s);

}  // namespace gemrun::utf8
