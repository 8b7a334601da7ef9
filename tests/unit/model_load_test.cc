// Model loading errors name the culprit: wrong architecture, a missing tensor, an unsupported
// tensor type, a mis-shaped tensor — made by patching bytes of a real fixture file.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "model/model.h"

namespace gemrun {
namespace {

const std::string kFixture = std::string(GEMRUN_TEST_DATA) + "/testdata/models/g3-tiny-q8_0.gguf";

std::vector<char> ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Writes a patched copy and returns LoadModel's status message (empty when it loads).
std::string LoadPatched(const std::vector<char>& bytes, const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name + ".gguf";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto m = LoadModel(path);
  return m.ok() ? std::string() : m.status().message();
}

size_t Find(const std::vector<char>& b, const std::string& s, size_t from = 0) {
  auto it = std::search(b.begin() + static_cast<std::ptrdiff_t>(from), b.end(), s.begin(), s.end());
  EXPECT_NE(it, b.end()) << s;
  return static_cast<size_t>(it - b.begin());
}

TEST(ModelLoad, FixtureLoads) { EXPECT_EQ(LoadPatched(ReadFile(kFixture), "ok"), ""); }

TEST(ModelLoad, WrongArchitectureIsNamed) {
  auto b = ReadFile(kFixture);
  const size_t key = Find(b, "general.architecture");
  const size_t val = Find(b, "gemma3", key);  // the value follows its key
  std::memcpy(&b[val], "gemmaX", 6);
  const std::string msg = LoadPatched(b, "arch");
  EXPECT_NE(msg.find("architecture 'gemmaX' is not supported"), std::string::npos) << msg;
}

TEST(ModelLoad, MissingTensorIsNamed) {
  auto b = ReadFile(kFixture);
  std::memcpy(&b[Find(b, "blk.2.attn_q.weight")], "blk.2.attn_X", 12);
  const std::string msg = LoadPatched(b, "missing");
  EXPECT_NE(msg.find("required tensor 'blk.2.attn_q.weight' is missing"), std::string::npos) << msg;
}

// The tensor-info record after the name: n_dims (u32), ne[n_dims] (u64), type (u32), offset.
size_t TypeField(const std::vector<char>& b, const std::string& name) {
  const size_t at = Find(b, name) + name.size();
  uint32_t n_dims;
  std::memcpy(&n_dims, &b[at], 4);
  return at + 4 + 8 * n_dims;
}

TEST(ModelLoad, UnsupportedTensorTypeIsNamed) {
  auto b = ReadFile(kFixture);
  const uint32_t iq2_xxs = 16;  // smaller blocks than Q8_0: still inside its slot in the file
  std::memcpy(&b[TypeField(b, "blk.1.ffn_up.weight")], &iq2_xxs, 4);
  const std::string msg = LoadPatched(b, "type");
  EXPECT_NE(msg.find("'blk.1.ffn_up.weight' has type IQ2_XXS (16)"), std::string::npos) << msg;
}

TEST(ModelLoad, MisShapedTensorIsNamed) {
  auto b = ReadFile(kFixture);
  const std::string name = "blk.0.ffn_norm.weight";  // [256] F32 -> [128]: smaller, still in place
  const size_t ne0 = Find(b, name) + name.size() + 4;
  const uint64_t half = 128;
  std::memcpy(&b[ne0], &half, 8);
  const std::string msg = LoadPatched(b, "shape");
  EXPECT_NE(msg.find("tensor 'blk.0.ffn_norm.weight' has shape [128], expected [256]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace gemrun
