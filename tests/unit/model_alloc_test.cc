// The steady-state decode loop allocates nothing: after a warm-up step, Forward for one token
// must not call operator new (counted by replacing it in this test binary).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "model/model.h"

namespace {
std::atomic<int64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace gemrun {
namespace {

void ExpectNoDecodeAllocations(const std::string& file) {
  auto m = LoadModel(std::string(GEMRUN_TEST_DATA) + "/testdata/models/" + file);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto st = (*m)->NewState(64, 8);
  ASSERT_TRUE(st.ok());
  ThreadPool pool(2);
  std::vector<float> logits((*m)->config().n_vocab);
  std::vector<int32_t> prompt = {2, 300, 301, 302, 303, 304, 305, 306};
  ASSERT_TRUE((*m)->Forward(prompt, **st, LogitsMode::kLast, logits.data(), pool).ok());
  int32_t tok = 400;
  ASSERT_TRUE((*m)->Forward({&tok, 1}, **st, LogitsMode::kLast, logits.data(), pool).ok());  // warm-up
  const int64_t before = g_allocs.load();
  for (int i = 0; i < 20; ++i) {
    tok = 400 + i;
    ASSERT_TRUE((*m)->Forward({&tok, 1}, **st, LogitsMode::kLast, logits.data(), pool).ok());
  }
  EXPECT_EQ(g_allocs.load() - before, 0) << file << ": heap allocations in 20 decode steps";
}

TEST(DecodeLoop, NoAllocationsGemma3) { ExpectNoDecodeAllocations("g3-tiny-q4_0.gguf"); }
TEST(DecodeLoop, NoAllocationsGemma4Ple) { ExpectNoDecodeAllocations("g4-tiny-q4_k_m.gguf"); }
TEST(DecodeLoop, NoAllocationsGemma4Moe) { ExpectNoDecodeAllocations("g4-moe-q4_k_m.gguf"); }

}  // namespace
}  // namespace gemrun
