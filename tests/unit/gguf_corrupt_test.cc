// GGUF reader robustness: every malformed header, metadata record and tensor table entry
// must come back as a specific Status naming the field and value (never a crash, never an
// out-of-bounds read), plus the positive cases the getters and the fixture files rely on.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf_test_util.h"

namespace gemrun {
namespace {

using testing::GgufBuilder;
using testing::ParseCopy;
using testing::Tag;

constexpr uint64_t kP40 = uint64_t{1} << 40;

const char* CodeName(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kDataLoss: return "DataLoss";
    case StatusCode::kUnimplemented: return "Unimplemented";
    case StatusCode::kOutOfRange: return "OutOfRange";
    case StatusCode::kInternal: return "Internal";
    case StatusCode::kInvalidModel: return "InvalidModel";
  }
  return "?";
}

// The status has `code` and a message containing every needle.
::testing::AssertionResult IsError(const Status& st, StatusCode code,
                                   std::initializer_list<std::string_view> needles) {
  if (st.ok()) return ::testing::AssertionFailure() << "expected " << CodeName(code) << ", got OK";
  if (st.code() != code)
    return ::testing::AssertionFailure() << "expected " << CodeName(code) << ", got " << CodeName(st.code())
                                         << ": " << st.message();
  for (std::string_view n : needles)
    if (st.message().find(n) == std::string::npos)
      return ::testing::AssertionFailure() << "message lacks \"" << n << "\": " << st.message();
  return ::testing::AssertionSuccess();
}

// Parse must fail with `code`; the message names the buffer and contains every needle.
::testing::AssertionResult ParseFails(const std::vector<uint8_t>& image, StatusCode code,
                                      std::initializer_list<std::string_view> needles) {
  auto p = ParseCopy(image, "corrupt.gguf");
  if (p.file.ok()) return ::testing::AssertionFailure() << "parse succeeded";
  auto r = IsError(p.file.status(), code, needles);
  if (r && p.file.status().message().rfind("corrupt.gguf", 0) != 0)
    return ::testing::AssertionFailure() << "message does not start with the file name: "
                                         << p.file.status().message();
  return r;
}

// A small valid file: a few keys of different types and two tensors.
GgufBuilder Valid() {
  GgufBuilder b;
  b.Str("general.architecture", "gemma3").U32("gemma3.block_count", 2);
  b.AddTensor("a", {32, 2}, DType::kF32);
  b.AddTensor("b", {64}, DType::kQ4_0);
  return b;
}

// ------------------------------------------------------------------------------- header

TEST(GgufCorrupt, ValidBaselineParses) {
  auto p = ParseCopy(Valid().Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  EXPECT_EQ((*p.file)->tensors().size(), 2u);
}

TEST(GgufCorrupt, BadMagic) {
  EXPECT_TRUE(ParseFails(Valid().Magic(0x58554747u).Build(), StatusCode::kDataLoss, {"magic", "GGUX"}));
  EXPECT_TRUE(ParseFails(Valid().Magic(0).Build(), StatusCode::kDataLoss, {"not a GGUF file"}));
}

TEST(GgufCorrupt, EmptyAndTinyBuffers) {
  auto p = GgufFile::Parse(nullptr, 0, "corrupt.gguf");
  EXPECT_TRUE(IsError(p.status(), StatusCode::kDataLoss, {"truncated", "magic"}));
  EXPECT_TRUE(ParseFails({'G', 'G', 'U', 'F'}, StatusCode::kDataLoss, {"version"}));
}

TEST(GgufCorrupt, UnsupportedVersions) {
  for (uint32_t v : {0u, 1u, 4u, 1000u}) {
    SCOPED_TRACE(v);
    EXPECT_TRUE(ParseFails(Valid().Version(v).Build(), StatusCode::kUnimplemented,
                           {"version " + std::to_string(v), "need 2 or 3"}));
  }
  auto p = ParseCopy(Valid().Version(2).Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  EXPECT_EQ((*p.file)->version(), 2u);
}

TEST(GgufCorrupt, BigEndian) {
  // A big-endian writer stores version 3 as bytes 00 00 00 03.
  EXPECT_TRUE(ParseFails(Valid().Version(0x03000000u).Build(), StatusCode::kUnimplemented,
                         {"big-endian", "50331648"}));
  EXPECT_TRUE(ParseFails(Valid().Version(0x02000000u).Build(), StatusCode::kUnimplemented, {"big-endian"}));
}

TEST(GgufCorrupt, AbsurdCounts) {
  EXPECT_TRUE(ParseFails(Valid().KvCount(uint64_t{1} << 62).Build(), StatusCode::kDataLoss,
                         {"kv_count 4611686018427387904", "impossible"}));
  EXPECT_TRUE(ParseFails(Valid().KvCount(~uint64_t{0}).Build(), StatusCode::kDataLoss, {"kv_count -1"}));
  EXPECT_TRUE(ParseFails(Valid().TensorCount(uint64_t{1} << 62).Build(), StatusCode::kDataLoss,
                         {"tensor_count 4611686018427387904", "impossible"}));
  EXPECT_TRUE(ParseFails(Valid().TensorCount(~uint64_t{0}).Build(), StatusCode::kDataLoss, {"tensor_count -1"}));
  // Plausible for the file size but more than the records present.
  EXPECT_FALSE(ParseCopy(Valid().KvCount(3).Build()).file.ok());
  EXPECT_FALSE(ParseCopy(Valid().TensorCount(3).Build()).file.ok());
}

// ------------------------------------------------------------------------------ truncation

// A valid file that exercises every record kind; its last tensor ends exactly at EOF, so
// every proper prefix is invalid.
GgufBuilder Rich() {
  GgufBuilder b;
  b.Str("general.architecture", "gemma4").U8("u8", 1).I8("i8", -1).U16("u16", 2).I16("i16", -2);
  b.U32("u32", 3).I32("i32", -3).U64("u64", 4).I64("i64", -4).F32("f32", 0.5f).F64("f64", 0.25);
  b.Bool("bool", true).Str("empty", "");
  b.StrArray("tokens", {"<pad>", "", "hello", "\xe2\x96\x81world"});
  b.BoolArray("pattern", {true, false, true});
  b.Array<float>("scores", GgufType::kF32, {0.f, -1.f, 2.5f});
  b.Array<uint32_t>("empty_arr", GgufType::kU32, {});
  b.AddTensor("token_embd.weight", {32, 3}, DType::kQ8_0);
  b.AddTensor("norm", {5}, DType::kF32);
  b.AddTensor("blk.0.w", {6, 2, 2}, DType::kF16);  // 48 bytes: not a multiple of 32
  return b;
}

TEST(GgufCorrupt, TruncationAtEveryByte) {
  const std::vector<uint8_t> image = Rich().Build();
  ASSERT_TRUE(ParseCopy(image).file.ok()) << ParseCopy(image).file.status().message();
  for (uint64_t len = 0; len < image.size(); ++len) {
    auto p = ParseCopy(image, len, "prefix.gguf");
    ASSERT_FALSE(p.file.ok()) << "prefix of " << len << " of " << image.size() << " bytes parsed";
    ASSERT_EQ(p.file.status().code(), StatusCode::kDataLoss) << len << ": " << p.file.status().message();
    ASSERT_EQ(p.file.status().message().rfind("prefix.gguf: ", 0), 0u) << p.file.status().message();
  }
}

TEST(GgufCorrupt, TruncationOnlyOfTailPaddingIsAccepted) {
  GgufBuilder b = Rich();
  b.PadTail(true);
  const std::vector<uint8_t> image = b.Build();
  const auto& t = b.tensors().back();
  const uint64_t data_end = b.data_start() + b.offsets().back() + *testing::TensorBytes(t.type, t.ne);
  ASSERT_LT(data_end, image.size());
  for (uint64_t len = 0; len <= image.size(); ++len)
    ASSERT_EQ(ParseCopy(image, len).file.ok(), len >= data_end) << len;
}

// -------------------------------------------------------------------------------- metadata

TEST(GgufCorrupt, StringLengthBeyondFile) {
  GgufBuilder b;
  b.Kv("name", Tag(GgufType::kString), testing::Le<uint64_t>(kP40));
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"value of key 'name'", "length 1099511627776"}));
  GgufBuilder k;  // the key's own length
  k.RawRecord(testing::Bytes().Put<uint64_t>(1000).Put<uint32_t>(0).data());
  EXPECT_TRUE(ParseFails(k.Build(), StatusCode::kDataLoss, {"metadata key #0", "length 1000"}));
  GgufBuilder m;  // max u64 length must not wrap around
  m.Kv("s", Tag(GgufType::kString), testing::Le<uint64_t>(~uint64_t{0}));
  EXPECT_TRUE(ParseFails(m.Build(), StatusCode::kDataLoss, {"'s'", "18446744073709551615"}));
}

TEST(GgufCorrupt, ArrayCountBeyondFile) {
  GgufBuilder b;
  b.Array<uint32_t>("arr", GgufType::kU32, {1, 2, 3}, 1000);
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"'arr'", "1000 elements of u32"}));
  GgufBuilder w;  // count * 8 overflows u64
  w.Array<uint64_t>("arr", GgufType::kU64, {1}, uint64_t{1} << 62);
  EXPECT_TRUE(ParseFails(w.Build(), StatusCode::kDataLoss, {"'arr'", "4611686018427387904"}));
  GgufBuilder s;
  s.StrArray("toks", {"a", "b"}, kP40);
  EXPECT_TRUE(ParseFails(s.Build(), StatusCode::kDataLoss, {"'toks'", "1099511627776 strings"}));
  GgufBuilder t;  // plausible count, but the strings run out (no padding after the header)
  t.LayoutAlignment(1).StrArray("toks", {std::string(16, 'a'), "b"}, 3);
  EXPECT_TRUE(ParseFails(t.Build(), StatusCode::kDataLoss, {"element 2 of key 'toks'"}));
}

TEST(GgufCorrupt, NestedArray) {
  GgufBuilder b;
  b.Kv("nested", Tag(GgufType::kArray),
       testing::Bytes().Put(Tag(GgufType::kArray)).Put<uint64_t>(1).Put(Tag(GgufType::kU8)).Put<uint64_t>(1)
           .Put<uint8_t>(7).data());
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kUnimplemented, {"'nested'", "nested array"}));
}

TEST(GgufCorrupt, UnknownValueType) {
  for (uint32_t vt : {13u, 100u, 0xFFFFFFFFu}) {
    GgufBuilder b;
    b.Kv("k", vt, testing::Le<uint64_t>(0));
    EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"'k'", "unknown value type " + std::to_string(vt)}));
  }
  GgufBuilder a;
  a.Kv("arr", Tag(GgufType::kArray), testing::Bytes().Put<uint32_t>(13).Put<uint64_t>(0).data());
  EXPECT_TRUE(ParseFails(a.Build(), StatusCode::kDataLoss, {"'arr'", "unknown element type 13"}));
}

TEST(GgufCorrupt, DuplicateKeys) {
  GgufBuilder b;
  b.U32("a", 1).Str("b", "x").U32("a", 2);
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"duplicate metadata key 'a'"}));
}

TEST(GgufCorrupt, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u, 1000u}) {
    GgufBuilder b = Valid();
    b.U32("general.alignment", a);
    EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss,
                           {"general.alignment", "power of two", "got " + std::to_string(a)}));
  }
  GgufBuilder huge = Valid();
  huge.U64("general.alignment", uint64_t{1} << 40);
  EXPECT_TRUE(ParseFails(huge.Build(), StatusCode::kDataLoss, {"general.alignment", "1099511627776"}));
  GgufBuilder neg = Valid();
  neg.I32("general.alignment", std::numeric_limits<int32_t>::min());
  EXPECT_TRUE(ParseFails(neg.Build(), StatusCode::kDataLoss, {"general.alignment", "-2147483648"}));
  GgufBuilder str = Valid();
  str.Str("general.alignment", "32");
  EXPECT_TRUE(ParseFails(str.Build(), StatusCode::kDataLoss, {"general.alignment", "string"}));
}

// ---------------------------------------------------------------------------- tensor table

// One tensor named "t" with the given fields, `data_bytes` of data.
std::vector<uint8_t> OneTensor(std::vector<int64_t> ne, uint32_t type, uint64_t data_bytes = 64,
                               std::optional<uint32_t> n_dims = std::nullopt) {
  GgufBuilder b;
  auto& t = b.AddTensorId("t", std::move(ne), type);
  t.data_bytes = data_bytes;
  t.n_dims = n_dims;
  return b.Build();
}

TEST(GgufCorrupt, UnknownTensorType) {
  for (uint32_t id : {42u, 1000u, 0xFFFFFFFFu}) {
    EXPECT_TRUE(ParseFails(OneTensor({32}, id), StatusCode::kUnimplemented,
                           {"tensor 't'", "unknown tensor type id " + std::to_string(id)}));
  }
}

TEST(GgufCorrupt, RemovedTensorTypes) {
  const std::pair<uint32_t, const char*> kRemoved[] = {{4, "Q4_2"},       {5, "Q4_3"},       {31, "Q4_0_4_4"},
                                                       {32, "Q4_0_4_8"},  {33, "Q4_0_8_8"},  {36, "IQ4_NL_4_4"},
                                                       {37, "IQ4_NL_4_8"}, {38, "IQ4_NL_8_8"}};
  for (const auto& [id, name] : kRemoved) {
    EXPECT_TRUE(ParseFails(OneTensor({32}, id), StatusCode::kUnimplemented,
                           {"tensor 't'", "type id " + std::to_string(id), name, "removed"}));
  }
}

TEST(GgufCorrupt, BadNDims) {
  EXPECT_TRUE(ParseFails(OneTensor({}, 0, 0), StatusCode::kDataLoss, {"tensor 't'", "n_dims 0"}));
  EXPECT_TRUE(ParseFails(OneTensor({1, 1, 1, 1, 1}, 0, 4), StatusCode::kDataLoss, {"tensor 't'", "n_dims 5"}));
  EXPECT_TRUE(ParseFails(OneTensor({}, 0, 0, 0xFFFFFFFFu), StatusCode::kDataLoss, {"n_dims 4294967295"}));
}

TEST(GgufCorrupt, NegativeDims) {
  EXPECT_TRUE(ParseFails(OneTensor({32, -1}, 0), StatusCode::kDataLoss,
                         {"tensor 't'", "dimension 1 is negative (-1)"}));
  EXPECT_TRUE(ParseFails(OneTensor({std::numeric_limits<int64_t>::min()}, 0), StatusCode::kDataLoss,
                         {"dimension 0 is negative (-9223372036854775808)"}));
}

TEST(GgufCorrupt, ElementCountOverflow) {
  const int64_t p40 = static_cast<int64_t>(kP40);
  EXPECT_TRUE(ParseFails(OneTensor({p40, p40}, 0), StatusCode::kDataLoss,
                         {"tensor 't'", "element count overflows", "1099511627776, 1099511627776"}));
  // 2^63 fits in u64 but not in the int64 TensorView uses.
  EXPECT_TRUE(ParseFails(OneTensor({int64_t{1} << 32, int64_t{1} << 31}, 0), StatusCode::kDataLoss,
                         {"element count overflows"}));
  // A zero dimension must not hide an overflow of the others (rows() would overflow).
  EXPECT_TRUE(ParseFails(OneTensor({0, p40, p40}, 0), StatusCode::kDataLoss, {"element count overflows"}));
}

TEST(GgufCorrupt, ByteSizeOverflow) {
  // 2^62 F32 elements: the count fits, 2^64 bytes do not (once wrapped to 0 bytes and parsed).
  EXPECT_TRUE(ParseFails(OneTensor({int64_t{1} << 62}, 0), StatusCode::kDataLoss,
                         {"tensor 't'", "byte size overflows", "F32"}));
  EXPECT_TRUE(ParseFails(OneTensor({int64_t{1} << 61}, static_cast<uint32_t>(DType::kF64)), StatusCode::kDataLoss,
                         {"byte size overflows", "F64"}));
  EXPECT_TRUE(ParseFails(OneTensor({int64_t{1} << 30, int64_t{1} << 31}, 0), StatusCode::kDataLoss,
                         {"byte size overflows"}));
  // Strides of an empty tensor must still fit: nb[2] = 2^33 * 2^31.
  EXPECT_TRUE(ParseFails(OneTensor({int64_t{1} << 31, int64_t{1} << 31, 1, 0}, 0), StatusCode::kDataLoss,
                         {"byte size overflows"}));
}

TEST(GgufCorrupt, RowLengthNotMultipleOfBlock) {
  EXPECT_TRUE(ParseFails(OneTensor({48, 2}, static_cast<uint32_t>(DType::kQ4_0)), StatusCode::kDataLoss,
                         {"tensor 't'", "row length 48", "Q4_0", "block size 32"}));
  EXPECT_TRUE(ParseFails(OneTensor({128}, static_cast<uint32_t>(DType::kQ4_K)), StatusCode::kDataLoss,
                         {"row length 128", "Q4_K", "block size 256"}));
}

TEST(GgufCorrupt, MisalignedOffset) {
  GgufBuilder b;
  b.AddTensor("t", {4}, DType::kF32).offset = 16;
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"tensor 't'", "offset 16", "alignment 32"}));
  GgufBuilder c;
  c.Alignment(64);
  c.AddTensor("t", {4}, DType::kF32).offset = 32;
  EXPECT_TRUE(ParseFails(c.Build(), StatusCode::kDataLoss, {"offset 32", "alignment 64"}));
}

TEST(GgufCorrupt, TensorDataOutOfBounds) {
  GgufBuilder far;
  auto& t = far.AddTensor("t", {8}, DType::kF32);
  t.offset = kP40;
  t.data_bytes = 0;
  EXPECT_TRUE(ParseFails(far.Build(), StatusCode::kDataLoss, {"tensor 't'", "1099511627776", "outside the data section"}));
  GgufBuilder wrap;  // offset + nbytes wraps around u64
  auto& w = wrap.AddTensor("t", {8}, DType::kF32);
  w.offset = ~uint64_t{31};
  w.data_bytes = 0;
  EXPECT_TRUE(ParseFails(wrap.Build(), StatusCode::kDataLoss, {"outside the data section"}));
  GgufBuilder shortd;  // 32 bytes declared, 31 present
  shortd.AddTensor("t", {8}, DType::kF32).data_bytes = 31;
  EXPECT_TRUE(ParseFails(shortd.Build(), StatusCode::kDataLoss, {"tensor 't'", "+32", "31 bytes"}));
}

TEST(GgufCorrupt, DataSectionStartsPastEof) {
  GgufBuilder b;
  b.Str("k", "v");
  b.AddTensor("t", {0}, DType::kF32);  // empty: the file ends at the data section start
  const std::vector<uint8_t> image = b.Build();
  ASSERT_TRUE(ParseCopy(image).file.ok());
  ASSERT_LT(b.header_end(), b.data_start());
  EXPECT_TRUE(ParseFails(std::vector<uint8_t>(image.begin(), image.begin() + b.header_end()),
                         StatusCode::kDataLoss, {"data section would start at " + std::to_string(b.data_start())}));
}

TEST(GgufCorrupt, OverlappingTensors) {
  GgufBuilder b;
  b.AddTensor("a", {32}, DType::kF32);               // [0, 128)
  b.AddTensor("b", {32}, DType::kF32).offset = 64;   // [64, 192)
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"'a' [0, 128) overlaps tensor 'b' [64, 192)"}));
  GgufBuilder same;
  same.AddTensor("a", {8}, DType::kF32);
  same.AddTensor("b", {8}, DType::kF32).offset = 0;
  EXPECT_TRUE(ParseFails(same.Build(), StatusCode::kDataLoss, {"overlaps"}));
  // A tensor overlapping an earlier, longer one but not its immediate predecessor.
  GgufBuilder nest;
  nest.AddTensor("big", {64}, DType::kF32);          // [0, 256)
  nest.AddTensor("small", {8}, DType::kF32).offset = 64;
  nest.AddTensor("late", {8}, DType::kF32).offset = 128;
  EXPECT_TRUE(ParseFails(nest.Build(), StatusCode::kDataLoss, {"'big'", "overlaps"}));
  // Empty tensors occupy no bytes.
  GgufBuilder empty;
  empty.AddTensor("big", {64}, DType::kF32);
  empty.AddTensor("none", {0, 4}, DType::kF32).offset = 64;
  auto p = ParseCopy(empty.Build());
  ASSERT_TRUE(p.file.ok()) << p.file.status().message();
  EXPECT_EQ((*p.file)->FindTensor("none")->nbytes, 0u);
}

TEST(GgufCorrupt, DuplicateTensorNames) {
  GgufBuilder b;
  b.AddTensor("w", {8}, DType::kF32);
  b.AddTensor("w", {8}, DType::kF32);
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"duplicate tensor name 'w'"}));
}

TEST(GgufCorrupt, OverLongTensorName) {
  GgufBuilder b;
  b.AddTensor(std::string(64, 'n'), {8}, DType::kF32);
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"64-byte name", "shorter than 64"}));
  GgufBuilder ok;
  ok.AddTensor(std::string(63, 'n'), {8}, DType::kF32);
  EXPECT_TRUE(ParseCopy(ok.Build()).file.ok());
  GgufBuilder lie;  // name length beyond the file
  lie.AddTensor("t", {8}, DType::kF32);
  std::vector<uint8_t> image = lie.Build();
  const uint64_t name_len_at = 24;  // no metadata: the first tensor info follows the counts
  image[name_len_at + 5] = 0x01;    // length 1 + 2^40
  EXPECT_TRUE(ParseFails(image, StatusCode::kDataLoss, {"name of tensor #0", "1099511627777"}));
}

TEST(GgufCorrupt, BinaryNamesAreEscapedInMessages) {
  GgufBuilder b;
  b.AddTensor(std::string("\x01\xff\n", 3), {8}, DType::kF32);
  b.AddTensor(std::string("\x01\xff\n", 3), {8}, DType::kF32);
  EXPECT_TRUE(ParseFails(b.Build(), StatusCode::kDataLoss, {"'\\x01\\xff\\x0a'"}));
}

}  // namespace
}  // namespace gemrun
