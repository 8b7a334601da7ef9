// libFuzzer target for audio decoding (libsndfile + rate conversion + framing): any byte string
// must decode to 16 kHz samples or to a Status, never crash, hang or read out of bounds. Built by
// tests/fuzz/CMakeLists.txt with -fsanitize=fuzzer,address,undefined; run via tools/fuzz_smoke.sh.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "audio/wav.h"

namespace {
volatile float g_sink = 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = gemrun::audio::DecodeAudio(std::span<const uint8_t>(data, size), "fuzz.wav");
  if (!r.ok()) {
    if (r.status().message().empty()) {
      std::fprintf(stderr, "audio_fuzz: error without a message\n");
      std::abort();
    }
    return 0;
  }
  if (r->empty()) {
    std::fprintf(stderr, "audio_fuzz: success without samples\n");
    std::abort();
  }
  float s = 0;
  for (float v : *r) s += v;  // touch every sample (ASan sees any overrun)
  g_sink = s;
  return 0;
}
