// Audio decoding: every WAV sample format scaled as llama.cpp's miniaudio scales it, channel
// averaging, the rate conversion against a plain-loop model of miniaudio's resampler (and the
// samples llama.cpp decoded from the bundled clips, bit for bit), and every refusal with its
// message.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "audio/resample.h"
#include "audio/wav.h"
#include "audio_test_util.h"
#include "vision_test_util.h"

namespace gemrun::audio {
namespace {

using testing::MakeWav;
using testing::ReferenceResample;
namespace fs = std::filesystem;

const fs::path kData = fs::path(GEMRUN_TEST_DATA) / "audio";

std::vector<float> DecodeOk(const std::vector<uint8_t>& wav, AudioInfo* info = nullptr) {
  auto r = DecodeAudio(wav, "test.wav", info);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::vector<float>();
}

// Expects a refusal with `code` whose message holds `want`; prints it (the user sees this).
void ExpectError(const StatusOr<std::vector<float>>& r, StatusCode code, const std::string& want) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), code);
  EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
  std::printf("  error: %s\n", r.status().message().c_str());
}

TEST(AudioWav, S16MonoIsXOver32768) {
  const std::vector<double> v = {0, 1, -1, 32767, -32768, 12345};
  AudioInfo info;
  const auto got = DecodeOk(MakeWav(1, 16, 1, 16000, v), &info);
  ASSERT_EQ(got.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(got[i], static_cast<float>(v[i] / 32768.0)) << i;
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.format, "WAV s16");
}

TEST(AudioWav, U8IsMiniaudiosScaleNotXMinus128Over128) {
  std::vector<double> v;
  for (int x = 0; x < 256; ++x) v.push_back(x);
  const auto got = DecodeOk(MakeWav(1, 8, 1, 16000, v));
  ASSERT_EQ(got.size(), 256u);
  for (int x = 0; x < 256; ++x) EXPECT_EQ(got[x], static_cast<float>(x) * 0.00784313725490196078f - 1.0f) << x;
  EXPECT_NE(got[64], (64 - 128) / 128.0f);  // not libsndfile's own (x - 128) / 128
  EXPECT_EQ(got[255], 255 * 0.00784313725490196078f - 1.0f);
}

TEST(AudioWav, S24AndS32) {
  const std::vector<double> v24 = {0, 8388607, -8388608, 4660, -1};
  const auto g24 = DecodeOk(MakeWav(1, 24, 1, 16000, v24));
  ASSERT_EQ(g24.size(), v24.size());
  for (size_t i = 0; i < v24.size(); ++i) EXPECT_EQ(g24[i], static_cast<float>(v24[i] / 8388608.0)) << i;
  const std::vector<double> v32 = {0, 2147483647.0, -2147483648.0, 305419896, -7};
  const auto g32 = DecodeOk(MakeWav(1, 32, 1, 16000, v32));
  ASSERT_EQ(g32.size(), v32.size());
  for (size_t i = 0; i < v32.size(); ++i) EXPECT_EQ(g32[i], static_cast<float>(v32[i] / 2147483648.0)) << i;
}

TEST(AudioWav, Float32AsIs) {
  const std::vector<double> v = {0.0, 1.0, -1.0, 0.123456789, -0.5, 1.5};
  const auto got = DecodeOk(MakeWav(3, 32, 1, 16000, v));
  ASSERT_EQ(got.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(got[i], static_cast<float>(v[i])) << i;
}

TEST(AudioWav, ChannelsAreAveraged) {
  // stereo: (L + R) / 2 in float; three channels: (a + b + c) / 3.
  const std::vector<double> st = {1000, 3000, -32768, 32767, 5, 6};
  const auto g2 = DecodeOk(MakeWav(1, 16, 2, 16000, st));
  ASSERT_EQ(g2.size(), 3u);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(g2[i], (static_cast<float>(st[2 * i] / 32768.0) + static_cast<float>(st[2 * i + 1] / 32768.0)) / 2.0f);
  const std::vector<double> v3 = {0.25, 0.5, 1.0, -1.0, 0.0, 0.125};
  const auto g3 = DecodeOk(MakeWav(3, 32, 3, 16000, v3));
  ASSERT_EQ(g3.size(), 2u);
  EXPECT_EQ(g3[0], (0.25f + 0.5f + 1.0f) / 3.0f);
  EXPECT_EQ(g3[1], (-1.0f + 0.0f + 0.125f) / 3.0f);
}

std::vector<float> Sine(int rate, int64_t n, double hz) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(0.5 * std::sin(2 * std::numbers::pi * hz * i / rate) + 0.1 * std::sin(0.37 * static_cast<double>(i * i % 1000)));
  return x;
}

TEST(AudioResample, MatchesMiniaudiosResamplerUpAndDown) {
  for (int rate : {44100, 48000, 22050, 8000, 11025, 32000, 24000, 96000, 12000, 7999}) {
    SCOPED_TRACE(rate);
    const auto x = Sine(rate, rate / 3 + 7, 440);
    auto got = Resample(x, rate, 16000);
    ASSERT_TRUE(got.ok()) << got.status().message();
    const auto ref = ReferenceResample(x, rate, 16000);
    ASSERT_EQ(static_cast<int64_t>(got->size()), ResampledLength(static_cast<int64_t>(x.size()), rate, 16000));
    // llama.cpp keeps min(what the resampler produces, miniaudio's length estimate) samples and
    // zeros after them.
    const size_t common = std::min(got->size(), ref.size());
    double worst = 0;
    for (size_t i = 0; i < common; ++i) worst = std::max(worst, std::fabs(double((*got)[i]) - ref[i]));
    EXPECT_LE(worst, 1e-6);  // libsamplerate interpolates in double, miniaudio in float: ~1 ulp
    for (size_t i = common; i < got->size(); ++i) EXPECT_EQ((*got)[i], 0.0f);
  }
}

TEST(AudioResample, LengthIsMiniaudios) {
  EXPECT_EQ(ResampledLength(66150, 44100, 16000), 24000);
  EXPECT_EQ(ResampledLength(16000, 16000, 16000), 16000);
  EXPECT_EQ(ResampledLength(8000, 8000, 16000), 16000);
  EXPECT_EQ(ResampledLength(48000, 48000, 16000), 16001);  // miniaudio's estimate promises one more
  EXPECT_EQ(ResampledLength(0, 44100, 16000), 0);
  const auto got = DecodeOk(MakeWav(1, 16, 2, 44100, std::vector<double>(2 * 4410, 100)));
  EXPECT_EQ(got.size(), 1600u);
}

// A 16 kHz clip decodes to the samples llama.cpp decoded (manifest decoded.sha256) bit for bit;
// the 44.1 kHz stereo one to miniaudio's resampler output within float rounding (the embeddings
// against llama.cpp's are in audio_projector_test).
TEST(AudioWav, BundledClipsDecodeAsLlamaCpp) {
  auto got = LoadAudioFile((kData / "short-0.3s-16k-mono-s16.wav").string());
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(vision::testing::Sha256Hex(reinterpret_cast<const uint8_t*>(got->data()), got->size() * 4),
            "62ad86ea5aac2bf5e464db9eaa0289d8a7c9cb8b6bea35e0195897ded9766af9");
  const auto bytes = vision::testing::ReadBytes(kData / "tone-44k1-stereo-s16.wav");
  auto tone = DecodeAudio(bytes, "tone");
  ASSERT_TRUE(tone.ok()) << tone.status().message();
  ASSERT_EQ(tone->size(), 24000u);
  const std::string raw(bytes.begin(), bytes.end());
  const size_t at = raw.find("data");
  ASSERT_NE(at, std::string::npos);
  std::vector<float> mono;
  for (size_t i = at + 8; i + 3 < bytes.size(); i += 4) {
    const int16_t l = static_cast<int16_t>(bytes[i] | bytes[i + 1] << 8), r = static_cast<int16_t>(bytes[i + 2] | bytes[i + 3] << 8);
    mono.push_back((l / 32768.0f + r / 32768.0f) / 2.0f);
  }
  const auto ref = ReferenceResample(mono, 44100, 16000);
  ASSERT_EQ(ref.size(), 24000u);
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(double((*tone)[i]) - ref[i]));
  EXPECT_LE(worst, 1e-6);
}

TEST(AudioWav, RefusesTruncatedHeader) {
  auto wav = MakeWav(1, 16, 1, 16000, std::vector<double>(100, 7));
  for (size_t cut : {4, 12, 20, 30, 36, 43}) {
    SCOPED_TRACE(cut);
    std::vector<uint8_t> part(wav.begin(), wav.begin() + cut);
    ExpectError(DecodeAudio(part, "cut.wav"), StatusCode::kDataLoss, "cut.wav");
  }
}

TEST(AudioWav, RefusesEmptyDataEmptyFileAndGarbage) {
  ExpectError(DecodeAudio(MakeWav(1, 16, 1, 16000, {}), "empty-data.wav"), StatusCode::kDataLoss, "no samples");
  ExpectError(DecodeAudio({}, "zero.wav"), StatusCode::kDataLoss, "empty audio file");
  std::vector<uint8_t> junk(4000);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 131 + 7);
  ExpectError(DecodeAudio(junk, "junk.bin"), StatusCode::kDataLoss, "not a readable audio file");
  const std::string text = "this is a text file, not audio\n";
  ExpectError(DecodeAudio(std::vector<uint8_t>(text.begin(), text.end()), "notes.txt"), StatusCode::kDataLoss,
              "not a readable audio file");
}

TEST(AudioWav, RefusesBeyondTheLimits) {
  ExpectError(DecodeAudio(MakeWav(1, 8, 1, 500, std::vector<double>(100, 128)), "slow.wav"), StatusCode::kUnimplemented,
              "sample rate 500 Hz");
  // 1 kHz u8: 601 s of audio in 601 kB.
  ExpectError(DecodeAudio(MakeWav(1, 8, 1, 1000, std::vector<double>(601000, 128)), "long.wav"), StatusCode::kUnimplemented,
              "clips up to 600 s");
  auto many = DecodeAudio(MakeWav(1, 16, 65, 16000, std::vector<double>(65 * 4, 1)), "many.wav");
  ASSERT_FALSE(many.ok());
  std::printf("  error: %s\n", many.status().message().c_str());
  EXPECT_NE(many.status().message().find("many.wav"), std::string::npos);
}

TEST(AudioWav, MissingFileIsNotFound) {
  auto r = LoadAudioFile("/nonexistent/clip.wav");
  ExpectError(r, StatusCode::kNotFound, "/nonexistent/clip.wav: cannot open audio file");
}

}  // namespace
}  // namespace gemrun::audio
