// Engine start-up and run-time guards: a model file truncated while in use (a clean file error,
// never SIGBUS) and the up-front memory check for huge contexts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace gemrun {
namespace {

namespace fs = std::filesystem;
const std::string kModel = std::string(GEMRUN_TEST_DATA) + "/testdata/models/g3-tiny-q4_0.gguf";

std::string Copy(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name;
  fs::copy_file(kModel, path, fs::copy_options::overwrite_existing);
  return path;
}

StatusOr<GenerateResult> RunTwoTokens(Session& s) {
  GenerateParams p;
  p.sampling.temperature = 0;
  p.max_tokens = 2;
  p.ignore_eog = true;
  const std::vector<int32_t> prompt = {2, 300, 301};
  return s.Generate(prompt, p, nullptr);
}

TEST(TruncatedModel, NewSessionReportsTheShrink) {
  const std::string path = Copy("trunc-a.gguf");
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = 32;
  auto e = Engine::Load(path, o);
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  auto s = (*e)->NewSession();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find("shrank"), std::string::npos) << s.status().message();
}

// Before the SIGBUS handler a decode over the truncated weights killed the process (signal 7).
TEST(TruncatedModelDeathTest, DecodeOverTruncatedWeightsExitsWithAFileError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = Copy("trunc-b.gguf");
  EXPECT_EXIT(
      {
        EngineOptions o;
        o.threads = 1;
        o.n_ctx = 32;
        auto e = Engine::Load(path, o);
        if (!e.ok()) std::exit(9);
        auto s = (*e)->NewSession();
        if (!s.ok()) std::exit(8);
        if (::truncate(path.c_str(), 4096) != 0) std::exit(7);
        auto r = RunTwoTokens(**s);
        std::exit(r.ok() ? 6 : 5);
      },
      ::testing::ExitedWithCode(2), "trunc-b.gguf: the file was truncated");
}

TEST(MemoryCheck, HugeContextIsRefusedUpFront) {
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = int64_t{1} << 40;
  auto e = Engine::Load(kModel, o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(e.status().message().find("(-c)"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("bytes"), std::string::npos) << e.status().message();
}

TEST(MemoryCheck, MessageNamesFlagsAndBytes) {
  MemoryNeed need{100000, 4, 8e9, 1e8};
  const Status st = CheckMemory(need, uint64_t{1} << 30);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("--parallel"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("8100000000 bytes"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("1073741824 bytes"), std::string::npos) << st.message();
  EXPECT_TRUE(CheckMemory(need, uint64_t{16} << 30).ok());
  EXPECT_TRUE(CheckMemory(need, std::nullopt).ok());  // unknown: no check
}

}  // namespace
}  // namespace gemrun
