// GGUF reader, positive side: every value type, the typed getters' conversions and errors,
// alignment and tensor views, Open() on real fixture files, missing paths and split shards.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf_test_util.h"

namespace gemrun {
namespace {

using testing::GgufBuilder;
using testing::ParseCopy;

constexpr uint64_t kBigU64 = (uint64_t{1} << 63) + 5;

bool Contains(const Status& s, std::string_view needle) { return s.message().find(needle) != std::string::npos; }

// ------------------------------------------------------------------------- scalar values

GgufBuilder Scalars() {
  GgufBuilder b;
  b.U8("u8", 200).I8("i8", -5).U16("u16", 60000).I16("i16", -30000).U32("u32", 4000000000u);
  b.I32("i32", -2000000000).U64("u64", kBigU64).I64("i64", -(int64_t{1} << 40));
  b.U64("u64_small", 7).F32("f32", 1.5f).F64("f64", -2.25).Bool("yes", true).Bool("no", false);
  b.Str("str", "h\xc3\xa9llo").Str("empty", "");
  return b;
}

TEST(GgufReader, EveryScalarType) {
  auto p = ParseCopy(Scalars().Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  const GgufFile& f = **p.file;
  ASSERT_EQ(f.metadata().size(), 15u);
  EXPECT_EQ(f.metadata()[0].first, "u8");  // file order kept
  EXPECT_EQ(f.metadata()[14].first, "empty");
  EXPECT_EQ(f.Find("u8")->type, GgufType::kU8);
  EXPECT_EQ(f.Find("f64")->type, GgufType::kF64);
  EXPECT_EQ(f.Find("str")->type, GgufType::kString);
  EXPECT_EQ(*f.GetInt("u8"), 200);
  EXPECT_EQ(*f.GetInt("i8"), -5);
  EXPECT_EQ(*f.GetInt("u16"), 60000);
  EXPECT_EQ(*f.GetInt("i16"), -30000);
  EXPECT_EQ(*f.GetInt("u32"), 4000000000);
  EXPECT_EQ(*f.GetInt("i32"), -2000000000);
  EXPECT_EQ(*f.GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*f.GetInt("u64_small"), 7);
  EXPECT_EQ(f.Find("u64")->u, kBigU64);
  EXPECT_EQ(*f.GetFloat("f32"), 1.5);
  EXPECT_EQ(*f.GetFloat("f64"), -2.25);
  EXPECT_EQ(*f.GetFloat("i16"), -30000.0);  // integers convert
  EXPECT_EQ(*f.GetFloat("u64"), static_cast<double>(kBigU64));  // not sign-flipped
  EXPECT_TRUE(*f.GetBoolOr("yes", false));
  EXPECT_FALSE(*f.GetBoolOr("no", true));
  EXPECT_TRUE(*f.GetBoolOr("missing", true));
  EXPECT_EQ(*f.GetString("str"), "h\xc3\xa9llo");
  EXPECT_EQ(*f.GetString("empty"), "");
  EXPECT_EQ(*f.GetStringOr("missing", "def"), "def");
  EXPECT_EQ(*f.GetIntOr("missing", 42), 42);
  EXPECT_EQ(*f.GetFloatOr("missing", 0.5), 0.5);
  EXPECT_EQ(*f.GetIntOr("u8", 42), 200);
}

TEST(GgufReader, GetterErrors) {
  auto p = ParseCopy(Scalars().Build());
  ASSERT_TRUE(p.file.ok());
  const GgufFile& f = **p.file;
  auto big = f.GetInt("u64");  // > INT64_MAX: range-checked, not wrapped
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(big.status(), "'u64'") && Contains(big.status(), "9223372036854775813") &&
              Contains(big.status(), "out of range"));
  auto fl = f.GetInt("f32");
  EXPECT_EQ(fl.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(fl.status(), "'f32'") && Contains(fl.status(), "integer") && Contains(fl.status(), "found f32"));
  EXPECT_EQ(f.GetIntOr("str", 1).status().code(), StatusCode::kInvalidModel);
  auto missing = f.GetInt("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status(), "'nope'"));
  auto s = f.GetString("u8");
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(s.status(), "'u8'") && Contains(s.status(), "found u8"));
  EXPECT_EQ(f.GetFloat("str").status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetBoolOr("f64", false).status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetString("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(f.GetIntArray("u8").status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetIntArray("nope").status().code(), StatusCode::kNotFound);
}

// -------------------------------------------------------------------------------- arrays

TEST(GgufReader, EveryArrayType) {
  GgufBuilder b;
  b.Array<uint8_t>("u8", GgufType::kU8, {0, 255});
  b.Array<int8_t>("i8", GgufType::kI8, {-128, 127});
  b.Array<uint16_t>("u16", GgufType::kU16, {0, 65535});
  b.Array<int16_t>("i16", GgufType::kI16, {-32768, 32767});
  b.Array<uint32_t>("u32", GgufType::kU32, {0, 4294967295u});
  b.Array<int32_t>("i32", GgufType::kI32, {std::numeric_limits<int32_t>::min(), 1});
  b.Array<uint64_t>("u64", GgufType::kU64, {1, uint64_t{1} << 62});
  b.Array<int64_t>("i64", GgufType::kI64, {std::numeric_limits<int64_t>::min(), -1});
  b.Array<uint64_t>("u64_big", GgufType::kU64, {1, kBigU64});
  b.Array<float>("f32", GgufType::kF32, {0.5f, -1.0f, 1e30f});
  b.Array<double>("f64", GgufType::kF64, {0.25, -3.0});
  b.BoolArray("bools", {true, false, false, true});
  b.Array<uint8_t>("bool_raw", GgufType::kBool, {0, 1, 2, 255});  // nonzero is true
  b.StrArray("strs", {"", "a", std::string("\0b", 2), "\xe2\x96\x81x"});
  b.StrArray("no_strs", {});
  b.Array<uint32_t>("no_u32", GgufType::kU32, {});
  auto p = ParseCopy(b.Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  const GgufFile& f = **p.file;

  EXPECT_EQ(*f.GetIntArray("u8"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(*f.GetIntArray("i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(*f.GetIntArray("u16"), (std::vector<int64_t>{0, 65535}));
  EXPECT_EQ(*f.GetIntArray("i16"), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(*f.GetIntArray("u32"), (std::vector<int64_t>{0, 4294967295}));
  EXPECT_EQ(*f.GetIntArray("i32"), (std::vector<int64_t>{std::numeric_limits<int32_t>::min(), 1}));
  EXPECT_EQ(*f.GetIntArray("u64"), (std::vector<int64_t>{1, int64_t{1} << 62}));
  EXPECT_EQ(*f.GetIntArray("i64"), (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1}));
  auto big = f.GetIntArray("u64_big");
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(big.status(), "element 1") && Contains(big.status(), "out of range"));
  EXPECT_EQ((*f.GetFloatArray("u64_big"))[1], static_cast<float>(kBigU64));
  EXPECT_EQ(*f.GetFloatArray("f32"), (std::vector<float>{0.5f, -1.0f, 1e30f}));
  EXPECT_EQ(*f.GetFloatArray("f64"), (std::vector<float>{0.25f, -3.0f}));
  EXPECT_EQ(*f.GetFloatArray("i8"), (std::vector<float>{-128.f, 127.f}));
  EXPECT_EQ(*f.GetBoolArray("bools"), (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(*f.GetBoolArray("bool_raw"), (std::vector<bool>{false, true, true, true}));
  auto strs = *f.GetStringArray("strs");
  ASSERT_EQ(strs.size(), 4u);
  EXPECT_EQ(strs[0], "");
  EXPECT_EQ(strs[2], std::string_view("\0b", 2));
  EXPECT_EQ(strs[3], "\xe2\x96\x81x");
  EXPECT_TRUE(f.GetStringArray("no_strs")->empty());
  EXPECT_TRUE(f.GetIntArray("no_u32")->empty());
  EXPECT_EQ(f.Find("strs")->count, 4u);
  EXPECT_EQ(f.Find("bools")->elem_type, GgufType::kBool);

  // Wrong element types name the key and the stored type.
  auto s = f.GetIntArray("strs");
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(s.status(), "'strs'"));
  auto fi = f.GetIntArray("f32");
  EXPECT_TRUE(Contains(fi.status(), "'f32'") && Contains(fi.status(), "holds f32"));
  EXPECT_EQ(f.GetStringArray("u8").status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetBoolArray("f32").status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetFloatArray("strs").status().code(), StatusCode::kInvalidModel);
}

TEST(GgufReader, PerLayerInt) {
  GgufBuilder b;
  b.U32("scalar", 8).Array<uint16_t>("arr", GgufType::kU16, {1, 2, 3, 4});
  b.Array<float>("farr", GgufType::kF32, {1, 2, 3, 4}).F32("f", 1.0f).StrArray("sarr", {"a", "b", "c", "d"});
  auto p = ParseCopy(b.Build());
  ASSERT_TRUE(p.file.ok());
  const GgufFile& f = **p.file;
  EXPECT_EQ(*f.GetPerLayerInt("scalar", 4), (std::vector<int64_t>{8, 8, 8, 8}));
  EXPECT_TRUE(f.GetPerLayerInt("scalar", 0)->empty());
  EXPECT_EQ(*f.GetPerLayerInt("arr", 4), (std::vector<int64_t>{1, 2, 3, 4}));
  auto wrong = f.GetPerLayerInt("arr", 5);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(wrong.status(), "'arr'") && Contains(wrong.status(), "has 4 entries") &&
              Contains(wrong.status(), "(5)"));
  EXPECT_EQ(f.GetPerLayerInt("farr", 4).status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetPerLayerInt("sarr", 4).status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetPerLayerInt("f", 4).status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(f.GetPerLayerInt("missing", 4).status().code(), StatusCode::kNotFound);
  // n comes from the file (block_count): a negative or absurd count is an error, not a crash.
  auto neg = f.GetPerLayerInt("scalar", -1);
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(neg.status(), "layer count -1"));
  EXPECT_EQ(f.GetPerLayerInt("scalar", int64_t{1} << 40).status().code(), StatusCode::kInvalidModel);
}

// --------------------------------------------------------------------- tensors and layout

// A crafted file with a huge u8 array must not make a getter allocate 8 bytes per element.
TEST(GgufReader, HugeNumericArraysAreRefused) {
  const uint64_t limit = GgufFile::kMaxArrayElements;
  GgufBuilder b;
  b.Array<uint8_t>("big", GgufType::kU8, std::vector<uint8_t>(limit + 1, 7));
  b.Array<uint8_t>("ok", GgufType::kU8, std::vector<uint8_t>(1000, 1));
  auto p = ParseCopy(b.Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  const GgufFile& f = **p.file;
  for (const Status& st : {f.GetIntArray("big").status(), f.GetFloatArray("big").status()}) {
    EXPECT_EQ(st.code(), StatusCode::kInvalidModel);
    EXPECT_TRUE(Contains(st, "'big'") && Contains(st, std::to_string(limit + 1))) << st.message();
  }
  auto small = f.GetIntArray("ok");
  ASSERT_TRUE(small.ok()) << small.status().message();
  EXPECT_EQ(small->size(), 1000u);
  EXPECT_EQ(f.GetIntArray("ok", 999).status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(f.GetFloatArray("ok", 1000).ok());
}

TEST(GgufReader, DefaultAlignmentAndViews) {
  GgufBuilder b;
  b.AddTensor("q", {64, 3, 2}, DType::kQ4_0);
  b.AddTensor("f", {5}, DType::kF32);
  b.AddTensor("h", {3, 2}, DType::kF16);
  const std::vector<uint8_t> image = b.Build();
  auto p = ParseCopy(image);
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  const GgufFile& f = **p.file;
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), b.data_start());
  EXPECT_EQ(f.data_offset() % 32, 0u);
  const GgufTensorInfo* q = f.FindTensor("q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->n_dims, 3u);
  EXPECT_EQ(q->ne[3], 1);
  EXPECT_EQ(q->nbytes, 2u * 18 * 3 * 2);
  TensorView v = f.View(*q);
  EXPECT_EQ(v.nb[0], 18);
  EXPECT_EQ(v.nb[1], 36);
  EXPECT_EQ(v.nb[2], 108);
  EXPECT_EQ(v.nb[3], 216);
  EXPECT_EQ(v.rows(), 6);
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.offset, b.offsets()[i]);
    EXPECT_EQ(t.offset % 32, 0u);
    TensorView tv = f.View(t);
    EXPECT_EQ(tv.data, f.base() + f.data_offset() + t.offset);
    EXPECT_EQ(tv.data[0], b.tensors()[i].fill);  // the bytes the writer put there
    EXPECT_EQ(tv.data[t.nbytes - 1], static_cast<uint8_t>(b.tensors()[i].fill + t.nbytes - 1));
  }
  EXPECT_EQ(f.FindTensor("nope"), nullptr);
}

TEST(GgufReader, AlignmentHonored) {
  for (uint32_t align : {1u, 8u, 64u, 4096u}) {
    SCOPED_TRACE(align);
    GgufBuilder b;
    b.Alignment(align);
    b.AddTensor("a", {3}, DType::kF32);  // 12 bytes: the next tensor needs padding
    b.AddTensor("b", {32}, DType::kQ8_0);
    auto p = ParseCopy(b.Build());
    ASSERT_TRUE(p.file.ok()) << p.file.status().message();
    const GgufFile& f = **p.file;
    EXPECT_EQ(f.alignment(), align);
    EXPECT_EQ(f.data_offset() % align, 0u);
    EXPECT_EQ(f.data_offset(), b.data_start());
    EXPECT_EQ(f.FindTensor("b")->offset, testing::AlignUp(12, align));
    EXPECT_EQ(f.View(*f.FindTensor("b")).data[0], b.tensors()[1].fill);
  }
  // Offsets need only be aligned, not packed (llama.cpp is stricter).
  GgufBuilder gap;
  gap.AddTensor("a", {4}, DType::kF32);
  gap.AddTensor("b", {4}, DType::kF32).offset = 96;
  EXPECT_TRUE(ParseCopy(gap.Build()).file.ok());
}

TEST(GgufReader, EmptyFileAndVersion2) {
  GgufBuilder b;
  const auto image = b.LayoutAlignment(1).Build();
  EXPECT_EQ(image.size(), 24u);
  auto p = ParseCopy(image);
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  EXPECT_TRUE((*p.file)->metadata().empty());
  EXPECT_TRUE((*p.file)->tensors().empty());
  GgufBuilder v2 = b;
  EXPECT_EQ((*ParseCopy(v2.Version(2).Build()).file)->version(), 2u);
}

TEST(GgufReader, AllTensorTypesInTable) {
  // Every id the DType table knows parses with a one-block row.
  GgufBuilder b;
  uint32_t n = 0;
  for (uint32_t id = 0; id < kDTypeCount; ++id) {
    if (!IsKnownDType(id)) continue;
    b.AddTensorId("t" + std::to_string(id), {Traits(static_cast<DType>(id)).block_size, 2}, id);
    ++n;
  }
  auto p = ParseCopy(b.Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  ASSERT_EQ((*p.file)->tensors().size(), n);
  for (const auto& t : (*p.file)->tensors())
    EXPECT_EQ(t.nbytes, 2u * Traits(t.type).type_size) << t.name;
}

// ----------------------------------------------------------------------------- Open()

std::string TempPath(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "gguf_reader_test";
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

TEST(GgufOpen, MissingPathIsNotFound) {
  const std::string path = TempPath("does-not-exist.gguf");
  std::filesystem::remove(path);
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(f.status(), path));
}

TEST(GgufOpen, DirectoryAndEmptyFileAreErrors) {
  EXPECT_FALSE(GgufFile::Open(::testing::TempDir()).ok());
  const std::string empty = TempPath("empty.gguf");
  WriteFile(empty, {});
  auto f = GgufFile::Open(empty);
  EXPECT_EQ(f.status().code(), StatusCode::kDataLoss);
}

TEST(GgufOpen, RoundTripThroughFile) {
  GgufBuilder b;
  b.Str("general.architecture", "gemma3");
  b.AddTensor("w", {32, 4}, DType::kQ8_0);
  const std::string path = TempPath("round.gguf");
  WriteFile(path, b.Build());
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->path(), path);
  EXPECT_EQ(*(*f)->GetString("general.architecture"), "gemma3");
  EXPECT_EQ((*f)->View((*f)->tensors()[0]).data[0], b.tensors()[0].fill);
}

TEST(GgufOpen, SplitShardRejected) {
  GgufBuilder b;
  b.Str("general.architecture", "gemma3").U16("split.no", 0).U16("split.count", 3).I32("split.tensors.count", 3);
  b.AddTensor("w", {8}, DType::kF32);
  const std::string path = TempPath("x-00001-of-00003.gguf");
  WriteFile(path, b.Build());
  auto f = GgufFile::Open(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(Contains(f.status(), "split.count = 3")) << f.status().message();
  EXPECT_TRUE(Contains(f.status(), "split.no = 0")) << f.status().message();
  EXPECT_TRUE(Contains(f.status(), "llama-gguf-split --merge")) << f.status().message();
  // A merged (or never split) file may carry split.count = 1.
  GgufBuilder one;
  one.U16("split.count", 1);
  const std::string one_path = TempPath("y-00001-of-00001.gguf");
  WriteFile(one_path, one.Build());
  EXPECT_TRUE(GgufFile::Open(one_path).ok());
  // A split.count that is not an integer is an error naming the key, not ignored.
  GgufBuilder bad;
  bad.Str("split.count", "3");
  const std::string bad_path = TempPath("z-00001-of-00003.gguf");
  WriteFile(bad_path, bad.Build());
  auto g = GgufFile::Open(bad_path);
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidModel);
  EXPECT_TRUE(Contains(g.status(), "'split.count'")) << g.status().message();
}

// ------------------------------------------------------------------- real fixture files

TEST(GgufFixtures, AllParseAndViewsLieInsideTheFile) {
  const std::filesystem::path dir = std::filesystem::path(GEMRUN_SHARED_TESTDATA) / "models";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no fixtures at " << dir;
  int n_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(entry.path().string());
    ++n_files;
    auto opened = GgufFile::Open(entry.path().string());
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    const GgufFile& f = **opened;
    EXPECT_EQ(f.version(), 3u);
    auto arch = f.GetString("general.architecture");
    ASSERT_TRUE(arch.ok()) << arch.status().message();
    const std::string p = *arch + ".";
    auto n_layer = f.GetInt(p + "block_count");
    ASSERT_TRUE(n_layer.ok()) << n_layer.status().message();
    auto n_ff = f.GetPerLayerInt(p + "feed_forward_length", *n_layer);
    EXPECT_TRUE(n_ff.ok()) << n_ff.status().message();
    auto tokens = f.GetStringArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << tokens.status().message();
    EXPECT_EQ(f.GetFloatArray("tokenizer.ggml.scores")->size(), tokens->size());
    ASSERT_FALSE(f.tensors().empty());
    EXPECT_EQ(f.data_offset() % f.alignment(), 0u);
    for (const GgufTensorInfo& t : f.tensors()) {
      const TensorView v = f.View(t);
      EXPECT_GE(v.data, f.base() + f.data_offset()) << t.name;
      EXPECT_LE(v.data + t.nbytes, f.base() + f.file_size()) << t.name;
      EXPECT_EQ(static_cast<uint64_t>(v.nb[1] * v.rows()), t.nbytes) << t.name;
      EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
      EXPECT_EQ(f.FindTensor(t.name), &t);
    }
    EXPECT_NE(f.FindTensor("token_embd.weight"), nullptr);
  }
  EXPECT_GT(n_files, 0);
}

// The fuzz seeds (tests/fuzz/corpus/make_corpus.py) must stay valid, or the fuzzer starts
// from rejected inputs and covers little.
TEST(GgufFixtures, FuzzSeedCorpusParses) {
  const std::filesystem::path dir = std::filesystem::path(GEMRUN_TEST_DATA) / ".." / "fuzz" / "corpus" / "gguf";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int n_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    ++n_files;
    EXPECT_LT(entry.file_size(), 50000u);
    auto f = GgufFile::Open(entry.path().string());
    ASSERT_TRUE(f.ok()) << f.status().message();
    if (entry.path().filename() == "probe-key.gguf") EXPECT_EQ(*(*f)->GetInt("fuzz.absent"), 3);
    if (entry.path().filename() != "all-types.gguf") continue;
    EXPECT_EQ((*f)->alignment(), 64u);
    EXPECT_EQ(*(*f)->GetInt("scalar.int6"), 7);
    EXPECT_EQ(*(*f)->GetBoolArray("array.bool"), (std::vector<bool>{true, false, true}));
    EXPECT_EQ((*f)->GetStringArray("array.str")->size(), 4u);
    EXPECT_EQ((*f)->tensors().size(), 10u);
  }
  EXPECT_EQ(n_files, 4);
}

}  // namespace
}  // namespace gemrun
