// Audio decoding with libsndfile over an in-memory buffer: format checks and limits, integer
// samples scaled as miniaudio scales them, channel averaging, then resample.h.
#include "audio/wav.h"

#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>

#include "audio/resample.h"

namespace gemrun::audio {
namespace {

// libsndfile virtual I/O over a byte span (read-only).
struct MemFile {
  std::span<const uint8_t> data;
  sf_count_t pos = 0;
};

sf_count_t MemLength(void* u) { return static_cast<sf_count_t>(static_cast<MemFile*>(u)->data.size()); }
sf_count_t MemSeek(sf_count_t off, int whence, void* u) {
  auto* m = static_cast<MemFile*>(u);
  const sf_count_t size = static_cast<sf_count_t>(m->data.size());
  sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : size + off;
  if (p < 0) return -1;
  m->pos = std::min(p, size);
  return m->pos;
}
sf_count_t MemRead(void* dst, sf_count_t n, void* u) {
  auto* m = static_cast<MemFile*>(u);
  const sf_count_t left = static_cast<sf_count_t>(m->data.size()) - m->pos;
  const sf_count_t k = std::max<sf_count_t>(0, std::min(n, left));
  if (k > 0) std::memcpy(dst, m->data.data() + m->pos, static_cast<size_t>(k));
  m->pos += k;
  return k;
}
sf_count_t MemWrite(const void*, sf_count_t, void*) { return 0; }
sf_count_t MemTell(void* u) { return static_cast<MemFile*>(u)->pos; }

struct SfCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

// How integer samples become floats: miniaudio's scalings (x / 2^(bits-1); u8 x*(2/255)-1).
enum class Scaling { kFloat, kU8, kS8, kS16, kS24, kS32 };

Scaling ScalingFor(int format, std::string* label) {
  const int major = format & SF_FORMAT_TYPEMASK, sub = format & SF_FORMAT_SUBMASK;
  SF_FORMAT_INFO fi{};
  fi.format = major;
  const char* container = sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) == 0 && fi.extension ? fi.extension : "audio";
  std::string c = container;
  for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto set = [&](const char* s, Scaling sc) { *label = c + " " + s; return sc; };
  switch (sub) {
    case SF_FORMAT_PCM_U8: return set("u8", Scaling::kU8);
    case SF_FORMAT_PCM_S8: return set("s8", Scaling::kS8);
    case SF_FORMAT_PCM_16: return set("s16", Scaling::kS16);
    case SF_FORMAT_PCM_24: return set("s24", Scaling::kS24);
    case SF_FORMAT_PCM_32: return set("s32", Scaling::kS32);
    case SF_FORMAT_FLOAT: return set("float32", Scaling::kFloat);
    case SF_FORMAT_DOUBLE: return set("float64", Scaling::kFloat);
    default:
      // Compressed encodings (FLAC, Vorbis, MP3, A-law, ADPCM...): libsndfile's own floats.
      return set("compressed", Scaling::kFloat);
  }
}

float ScaleInt(int32_t v, Scaling s) {
  // sf_readf_int returns samples left-aligned in 32 bits; shift back to the file's width.
  switch (s) {
    case Scaling::kU8: return static_cast<float>((v >> 24) + 128) * 0.00784313725490196078f - 1.0f;
    case Scaling::kS8: return static_cast<float>(v >> 24) * (1.0f / 128.0f);
    case Scaling::kS16: return static_cast<float>(v >> 16) * (1.0f / 32768.0f);
    case Scaling::kS24: return static_cast<float>(v >> 8) * (1.0f / 8388608.0f);
    default: return static_cast<float>(static_cast<double>(v) / 2147483648.0);
  }
}

// Reads every frame, averaging the channels (sum in channel order, then / channels, in float as
// miniaudio's mono mixer). Stops early at a truncated data chunk, as decoders do.
Status ReadMono(SNDFILE* f, const SF_INFO& info, Scaling sc, std::vector<float>* mono) {
  constexpr sf_count_t kChunk = 4096;
  const int ch = info.channels;
  std::vector<float> fbuf;
  std::vector<int32_t> ibuf;
  if (sc == Scaling::kFloat) fbuf.resize(static_cast<size_t>(kChunk * ch)); else ibuf.resize(static_cast<size_t>(kChunk * ch));
  mono->reserve(static_cast<size_t>(std::max<sf_count_t>(0, info.frames)));
  for (;;) {
    const sf_count_t got = sc == Scaling::kFloat ? sf_readf_float(f, fbuf.data(), kChunk) : sf_readf_int(f, ibuf.data(), kChunk);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      float t = 0;
      for (int c = 0; c < ch; ++c) {
        const size_t j = static_cast<size_t>(i * ch + c);
        t += sc == Scaling::kFloat ? fbuf[j] : ScaleInt(ibuf[j], sc);
      }
      mono->push_back(ch == 1 ? t : t / static_cast<float>(ch));
    }
    if (static_cast<double>(mono->size()) > kMaxSeconds * info.samplerate + kChunk) break;
  }
  if (sf_error(f) != SF_ERR_NO_ERROR && mono->empty())
    return DataLossError(std::string("cannot decode the samples: ") + sf_strerror(f));
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<float>> DecodeAudio(std::span<const uint8_t> bytes, const std::string& name, AudioInfo* info) {
  if (bytes.empty()) return DataLossError(name + ": empty audio file");
  if (bytes.size() > kMaxFileBytes)
    return UnimplementedError(name + ": " + std::to_string(bytes.size() >> 20) + " MiB audio file; the limit is " +
                              std::to_string(kMaxFileBytes >> 20) + " MiB");
  MemFile mem{bytes, 0};
  SF_VIRTUAL_IO io{MemLength, MemSeek, MemRead, MemWrite, MemTell};
  SF_INFO si{};
  std::unique_ptr<SNDFILE, SfCloser> f(sf_open_virtual(&io, SFM_READ, &si, &mem));
  if (!f)
    return DataLossError(name + ": not a readable audio file (" + sf_strerror(nullptr) +
                         "); expected a WAV (PCM 8/16/24/32-bit or float) or another format libsndfile reads");
  std::string label;
  const Scaling sc = ScalingFor(si.format, &label);
  if (si.channels < 1 || si.channels > kMaxChannels)
    return UnimplementedError(name + ": " + std::to_string(si.channels) + " channels; at most " +
                              std::to_string(kMaxChannels) + " are supported");
  if (si.samplerate < kMinSourceRate || si.samplerate > kMaxSourceRate)
    return UnimplementedError(name + ": sample rate " + std::to_string(si.samplerate) + " Hz is outside " +
                              std::to_string(kMinSourceRate) + ".." + std::to_string(kMaxSourceRate) + " Hz");
  if (si.frames > 0 && static_cast<double>(si.frames) > kMaxSeconds * si.samplerate)
    return UnimplementedError(name + ": " + std::to_string(static_cast<int64_t>(si.frames / si.samplerate)) +
                              " s of audio; clips up to " + std::to_string(static_cast<int>(kMaxSeconds)) +
                              " s are supported (cut it, e.g. with sox IN OUT trim 0 600)");
  std::vector<float> mono;
  if (Status s = ReadMono(f.get(), si, sc, &mono); !s.ok()) return DataLossError(name + ": " + s.message());
  if (mono.empty()) return DataLossError(name + ": the audio file holds no samples");
  if (static_cast<double>(mono.size()) > kMaxSeconds * si.samplerate)
    return UnimplementedError(name + ": more than " + std::to_string(static_cast<int>(kMaxSeconds)) +
                              " s of audio; cut it to at most that");
  if (info) *info = AudioInfo{label, si.samplerate, si.channels, static_cast<int64_t>(mono.size())};
  return Resample(std::move(mono), si.samplerate, kSampleRate);
}

StatusOr<std::vector<float>> LoadAudioFile(const std::string& path, AudioInfo* info) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return NotFoundError(path + ": cannot open audio file");
  const std::streamoff size = in.tellg();
  if (size < 0) return NotFoundError(path + ": cannot read audio file");
  if (static_cast<uint64_t>(size) > kMaxFileBytes)
    return UnimplementedError(path + ": " + std::to_string(static_cast<uint64_t>(size) >> 20) + " MiB audio file; the limit is " +
                              std::to_string(kMaxFileBytes >> 20) + " MiB");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) return NotFoundError(path + ": cannot read audio file");
  return DecodeAudio(bytes, path, info);
}

}  // namespace gemrun::audio
