// libFuzzer target for the GGUF reader: any byte string must parse to a Status or to a file
// whose every getter works and every tensor view lies inside the input. Built by
// tests/fuzz/CMakeLists.txt with -fsanitize=fuzzer,address,undefined; run via tools/fuzz_smoke.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>

#include "gguf/gguf.h"

namespace {

// Everything read is summed here and published through a volatile store, so the optimizer
// cannot discard the reads.
uint64_t g_sum = 0;
volatile uint64_t g_sink = 0;

void Fail(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: invariant violated: %s\n", what);
  std::abort();
}

void TouchMetadata(const gemrun::GgufFile& f) {
  for (const auto& [key, v] : f.metadata()) {
    if (f.Find(key) != &v) Fail("Find does not return the listed value");
    // Each getter must return a value or a Status, whatever the stored type.
    if (auto r = f.GetInt(key); r.ok()) g_sum += static_cast<uint64_t>(*r);
    if (auto r = f.GetFloat(key); r.ok()) g_sum += static_cast<uint64_t>(*r != 0);
    if (auto r = f.GetBoolOr(key, false); r.ok()) g_sum += *r;
    if (auto r = f.GetString(key); r.ok()) g_sum += r->size();
    if (auto r = f.GetIntArray(key); r.ok()) {
      if (r->size() != v.count) Fail("int array size");
      for (int64_t x : *r) g_sum += static_cast<uint64_t>(x);
    }
    if (auto r = f.GetFloatArray(key); r.ok()) {
      if (r->size() != v.count) Fail("float array size");
      for (float x : *r) g_sum += x > 0;
    }
    if (auto r = f.GetBoolArray(key); r.ok()) g_sum += r->size();
    if (auto r = f.GetStringArray(key); r.ok()) {
      if (r->size() != v.count) Fail("string array size");
      for (std::string_view s : *r) {
        if (!s.empty()) g_sum += static_cast<uint8_t>(s.front()) + static_cast<uint8_t>(s.back());
      }
    }
    for (int64_t n : {int64_t{0}, int64_t{1}, static_cast<int64_t>(v.count), int64_t{-1}}) {
      if (auto r = f.GetPerLayerInt(key, n); r.ok() && static_cast<int64_t>(r->size()) != n) Fail("per-layer size");
    }
    if (v.type == gemrun::GgufType::kString && !v.str.empty()) g_sum += static_cast<uint8_t>(v.str.back());
  }
  // Absent keys: NotFound or the default, never a crash. The fuzzer can spell any key, so the
  // probe key is only checked when the input does not hold it.
  constexpr const char* kProbe = "fuzz.absent";
  if (f.Find(kProbe) == nullptr) {
    if (f.GetInt(kProbe).ok()) Fail("absent key found");
    auto fallback = f.GetIntOr(kProbe, 7);
    if (!fallback.ok() || *fallback != 7) Fail("absent key default");
  }
}

void TouchTensors(const gemrun::GgufFile& f, const uint8_t* data, size_t size) {
  if (f.data_offset() % f.alignment() != 0) Fail("data offset not aligned");
  for (const gemrun::GgufTensorInfo& t : f.tensors()) {
    if (f.FindTensor(t.name) != &t) Fail("FindTensor");
    if (t.n_dims < 1 || t.n_dims > 4) Fail("n_dims");
    const gemrun::TensorView v = f.View(t);
    // Strides and counts must be computable without overflow (UBSan checks the arithmetic).
    const int64_t elements = v.elements();
    const int64_t rows = v.rows();
    if (static_cast<uint64_t>(v.nb[1]) * static_cast<uint64_t>(rows) != t.nbytes && elements != 0)
      Fail("nbytes != row bytes * rows");
    if (t.nbytes == 0) continue;
    if (v.data < data || v.data + t.nbytes > data + size) Fail("tensor view outside the input");
    if (t.offset % f.alignment() != 0) Fail("tensor offset not aligned");
    // ASan reports any byte outside the fuzzer's buffer.
    g_sum += v.data[0] + v.data[t.nbytes - 1];
    g_sum += *v.Row(rows - 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = gemrun::GgufFile::Parse(data, size, "fuzz.gguf");
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) Fail("error without a message");
    return 0;
  }
  const gemrun::GgufFile& f = **parsed;
  if (f.file_size() != size) Fail("file_size");
  TouchMetadata(f);
  TouchTensors(f, data, size);
  g_sink = g_sum;
  return 0;
}
