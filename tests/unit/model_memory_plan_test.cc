// The memory plan agrees with what the engine allocates: KV cache bytes from PlanMemory equal
// those of NewKvCache, and PlanWorkspace's row buffers those of NewWorkspace, for every fixture
// architecture (sliding rings, full layers, Gemma 4 shared-KV layers, PLE, MoE), and the config
// read from the header alone equals the loader's.
#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/memory_plan.h"
#include "model/model.h"

namespace gemrun {
namespace {

std::string Fixture(const std::string& f) { return std::string(GEMRUN_TEST_DATA) + "/testdata/models/" + f; }

class MemoryPlanTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MemoryPlanTest, PlanEqualsAllocation) {
  auto m = LoadModel(Fixture(GetParam()));
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto c = ReadModelConfig((*m)->file());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->n_vocab, (*m)->config().n_vocab);
  EXPECT_EQ(c->n_layer, (*m)->config().n_layer);
  for (int il = 0; il < c->n_layer; ++il) EXPECT_EQ(c->owns_kv(il), (*m)->config().owns_kv(il)) << il;
  for (int64_t n_ctx : {int64_t{16}, int64_t{100}, int64_t{4096}})
    for (DType kv : {DType::kF16, DType::kF32, DType::kQ8_0})
      for (int64_t batch : {int64_t{1}, int64_t{8}, int64_t{512}}) {
        const MemoryPlanOptions o{.n_ctx = n_ctx, .n_seqs = 1, .kv_type = kv, .max_batch = batch};
        auto p = PlanMemory((*m)->file(), *c, o);
        ASSERT_TRUE(p.ok()) << p.status().message();
        auto cache = (*m)->NewKvCache(n_ctx, kv, batch);
        if (!cache.ok()) continue;  // q8_0 needs head sizes that are multiples of 32
        EXPECT_EQ(p->kv_bytes, static_cast<double>((*cache)->Bytes())) << n_ctx << " " << DTypeName(kv) << " " << batch;
        const int64_t rows = std::min(batch, n_ctx);
        const WorkspaceSizes want = PlanWorkspace(*c, rows);
        auto ws = (*m)->NewWorkspace(rows);
        EXPECT_EQ(ws->max_rows, rows);
        using P = std::pair<size_t, int64_t>;  // (allocated, planned) elements
        for (auto [got, n] : std::initializer_list<P>{{ws->x.size(), want.x}, {ws->xn.size(), want.xn}, {ws->proj.size(), want.proj},
                              {ws->out_rows.size(), want.out_rows}, {ws->q.size(), want.q}, {ws->attn.size(), want.attn},
                              {ws->kx.size(), want.kx}, {ws->vx.size(), want.vx}, {ws->gate.size(), want.gate},
                              {ws->up.size(), want.up}, {ws->pos.size(), want.pos}, {ws->rope_cs[0].size(), want.rope_cs},
                              {ws->rope_cs[1].size(), want.rope_cs}})
          EXPECT_EQ(got, static_cast<size_t>(n)) << rows;
        EXPECT_EQ((*m)->WorkspaceBytesEstimate(rows, n_ctx), want.Bytes() + 4.0 * c->n_vocab);
      }
  auto p = PlanMemory((*m)->file(), *c, MemoryPlanOptions{.n_ctx = 64, .n_seqs = 3});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kv_bytes, 3.0 * static_cast<double>((*(*m)->NewKvCache(64, DType::kF16, 512))->Bytes()));
  EXPECT_EQ(p->file_bytes, static_cast<double>((*m)->file().file_size()));
  EXPECT_GT(p->Total(), p->file_bytes - p->lookup_bytes);
  EXPECT_GT(p->decode_stream_bytes, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MemoryPlanTest,
                         ::testing::Values("g3-tiny-q4_0.gguf", "g4-tiny-q8_0.gguf", "g4-moe-q4_k_m.gguf",
                                           "g4u-tiny-q4_0.gguf"));

// Sliding layers keep a ring of window + batch slots, full layers n_ctx, shared layers none.
TEST(MemoryPlan, KvGroupsByLayerKind) {
  auto f = GgufFile::Open(Fixture("g4-tiny-q8_0.gguf"));
  ASSERT_TRUE(f.ok());
  auto c = ReadModelConfig(**f);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_GT(c->window, 0);
  const int64_t n_ctx = 8 * c->window + 1000;
  int sliding = 0, full = 0, shared = 0;
  for (int il = 0; il < c->n_layer; ++il)
    (!c->owns_kv(il) ? shared : c->layers[il].sliding ? sliding : full)++;
  for (const KvGroup& g : PlanKvGroups(*c, n_ctx, DType::kF16, 16)) {
    if (g.kind.rfind("sliding", 0) == 0) {
      EXPECT_EQ(g.n_layers, sliding);
      EXPECT_EQ(g.slots, c->window + 16);
    } else if (g.kind.rfind("full", 0) == 0) {
      EXPECT_EQ(g.n_layers, full);
      EXPECT_EQ(g.slots, n_ctx);
    } else {
      EXPECT_EQ(g.n_layers, shared);
      EXPECT_EQ(g.slots, 0);
      EXPECT_EQ(g.bytes, 0);
    }
  }
}

// Gemma 4's PLE rows and MoE buffers are planned when the config has them.
TEST(MemoryPlan, Gemma4Extras) {
  auto f = GgufFile::Open(Fixture("g4-moe-q4_k_m.gguf"));
  ASSERT_TRUE(f.ok());
  auto c = ReadModelConfig(**f);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_GT(c->n_expert, 0);
  const WorkspaceSizes w = PlanWorkspace(*c, 8);
  EXPECT_EQ(w.router, 8 * c->n_expert);
  EXPECT_EQ(w.contrib, 8 * c->n_expert_used * c->n_embd);
  EXPECT_EQ(w.per_layer, 8 * c->n_layer * c->n_embd_per_layer);
  EXPECT_GT(w.Bytes(), PlanWorkspace(*c, 4).Bytes());
}

TEST(MemoryPlan, RefusesBadOptions) {
  auto f = GgufFile::Open(Fixture("g3-tiny-q4_0.gguf"));
  ASSERT_TRUE(f.ok());
  auto c = ReadModelConfig(**f);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(PlanMemory(**f, *c, MemoryPlanOptions{.n_ctx = 0}).ok());
  EXPECT_FALSE(PlanMemory(**f, *c, MemoryPlanOptions{.n_ctx = 8, .n_seqs = 0}).ok());
  EXPECT_FALSE(PlanMemory(**f, *c, MemoryPlanOptions{.n_ctx = 8, .kv_type = DType::kQ4_0}).ok());
  // A huge context is a number, not an overflow.
  auto p = PlanMemory(**f, *c, MemoryPlanOptions{.n_ctx = int64_t{1} << 40});
  ASSERT_TRUE(p.ok());
  EXPECT_GT(p->kv_bytes, 1e12);
}

}  // namespace
}  // namespace gemrun
