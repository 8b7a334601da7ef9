// Chunking: budget respected, cuts at unit and paragraph boundaries, overlap, long units split,
// every unit covered.
#include <gtest/gtest.h>

#include "ingest/chunk.h"

namespace gemrun::ingest {
namespace {

// One token per whitespace-separated word (at least 1 per non-empty text).
int64_t Words(std::string_view s) {
  int64_t n = 0;
  bool in = false;
  for (char c : s) {
    const bool w = c != ' ' && c != '\n';
    if (w && !in) ++n;
    in = w;
  }
  return n;
}

Document Lines(int n, int words_per_line) {
  Document d;
  d.name = "x.log";
  for (int i = 1; i <= n; ++i) {
    std::string l = "L" + std::to_string(i);
    for (int w = 1; w < words_per_line; ++w) l += " w";
    d.Add(l);
  }
  return d;
}

TEST(ChunkTest, BudgetOverlapAndCoverage) {
  const Document d = Lines(100, 5);  // 5 tokens a line
  const ChunkOptions o{.max_tokens = 50, .overlap_tokens = 10};
  const auto chunks = ChunkDocument(d, 0, CountUnits(d, Words), o, Words);
  ASSERT_GT(chunks.size(), 2u);
  EXPECT_EQ(chunks.front().first, 1);
  EXPECT_EQ(chunks.back().last, 100);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(chunks[i].tokens, 50);
    EXPECT_EQ(chunks[i].tokens, Words(chunks[i].text));
    EXPECT_EQ(chunks[i].label, d.Label(chunks[i].first, chunks[i].last));
    EXPECT_EQ(chunks[i].text.substr(0, 2 + std::to_string(chunks[i].first).size()),
              "L" + std::to_string(chunks[i].first) + " ");  // starts at a line boundary
    if (i > 0) {
      EXPECT_GT(chunks[i].first, chunks[i - 1].first);      // always advances
      EXPECT_LE(chunks[i].first, chunks[i - 1].last + 1);   // no gap
      EXPECT_EQ(chunks[i - 1].last - chunks[i].first + 1, 2);  // 2 lines = 10 tokens of overlap
    }
  }
  EXPECT_EQ(chunks[0].last, 10);
}

TEST(ChunkTest, PrefersParagraphBreakInLastQuarter) {
  Document d;
  d.name = "p.txt";
  for (int i = 0; i < 8; ++i) d.Add("a b c d e");  // 40 tokens
  d.Add("");                                       // line 9: paragraph break
  for (int i = 0; i < 8; ++i) d.Add("f g h i j");
  const ChunkOptions o{.max_tokens = 48, .overlap_tokens = 0};
  const auto chunks = ChunkDocument(d, 0, CountUnits(d, Words), o, Words);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].last, 9);  // cut after the blank line, not at 48 tokens (line 10)
  EXPECT_EQ(chunks[1].first, 10);
}

TEST(ChunkTest, OversizedUnitIsSplitAndKeepsItsNumber) {
  Document d;
  d.name = "big.txt";
  d.Add("short");
  std::string big;
  for (int i = 0; i < 300; ++i) big += "word ";
  d.Add(big);
  d.Add("tail");
  const ChunkOptions o{.max_tokens = 100, .overlap_tokens = 5};
  const auto chunks = ChunkDocument(d, 0, CountUnits(d, Words), o, Words);
  int64_t words_in_line2 = 0;
  for (const Chunk& c : chunks) {
    EXPECT_LE(c.tokens, 100);
    if (c.first == 2 && c.last == 2) words_in_line2 += c.tokens;
  }
  EXPECT_EQ(words_in_line2, 300);  // nothing lost, nothing duplicated
  EXPECT_EQ(chunks.back().last, 3);
}

TEST(ChunkTest, PagedLabels) {
  Document d;
  d.name = "m.pdf";
  d.paged = true;
  d.Add("page one");
  d.Add("page two");
  EXPECT_EQ(d.Label(1, 2), "m.pdf#1-2");
  EXPECT_EQ(d.Label(2, 2), "m.pdf#2");
  const auto chunks = ChunkDocument(d, 3, CountUnits(d, Words), {.max_tokens = 10, .overlap_tokens = 0}, Words);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].doc, 3u);
  EXPECT_EQ(chunks[0].label, "m.pdf#1-2");
}

}  // namespace
}  // namespace gemrun::ingest
