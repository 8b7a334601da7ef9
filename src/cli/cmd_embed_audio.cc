// gemrun embed-audio: decode one audio clip (16 kHz mono as llama.cpp decodes it), run the audio
// projector and write its output (the text model's input rows for the audio positions) as
// float32 LE [n_tokens x n_embd]. Used by acceptance checks: keep the interface.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "audio/projector.h"
#include "audio/wav.h"
#include "cli/commands.h"
#include "model/model.h"

namespace gemrun::cli {

int CmdEmbedAudio(int argc, char** argv) {
  CLI::App app{"Encode one audio clip with an audio projector (Gemma 4 12B's gemma4ua) and write the embedding\n"
               "rows that replace token embeddings at the audio positions, as float32 little-endian\n"
               "[n_tokens x n_embd] (one token per 40 ms); prints {\"n_tokens\":..,\"n_embd\":..}.\n"
               "Clips: WAV (PCM 8/16/24/32-bit, float), any rate and channel count, up to 600 s.\n\n"
               "example:\n  gemrun embed-audio -m gemma-4-12b.gguf --mmproj mmproj.gguf --audio speech.wav -o speech.bin",
               "gemrun embed-audio"};
  std::string model_path, mmproj_path, audio_path, out_path;
  int threads = 0;
  app.add_option("-m,--model", model_path, "text model GGUF (its embedding size is checked against the projector)");
  app.add_option("--mmproj", mmproj_path, "projector GGUF with an audio encoder (clip.audio.projector_type gemma4ua)")->required();
  app.add_option("--audio", audio_path, "audio clip (WAV)")->required();
  app.add_option("-o,--output", out_path, "output file")->required();
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  auto enc = audio::AudioEncoder::Load(mmproj_path);
  if (!enc.ok()) return ReportError("embed-audio", enc.status());
  if (!model_path.empty()) {
    auto model = LoadModel(model_path);
    if (!model.ok()) return ReportError("embed-audio", model.status());
    if (Status s = (*enc)->CheckTextModel((*model)->config()); !s.ok()) return ReportError("embed-audio", s);
  }
  audio::AudioInfo info;
  auto samples = audio::LoadAudioFile(audio_path, &info);
  if (!samples.ok()) return ReportError("embed-audio", samples.status());
  ThreadPool pool(threads);
  std::vector<float> rows;
  const auto t0 = std::chrono::steady_clock::now();
  if (Status s = (*enc)->Encode(*samples, &rows, pool); !s.ok()) return ReportError("embed-audio", s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t n = (*enc)->TokensFor(static_cast<int64_t>(samples->size())), E = (*enc)->config().proj_dim;
  std::fprintf(stderr, "gemrun embed-audio: %s, %d Hz, %d channel(s), %lld frames -> %zu samples at 16 kHz -> %lld tokens; "
               "encode %.3f s (%d threads)\n", info.format.c_str(), info.sample_rate, info.channels,
               (long long)info.frames, samples->size(), (long long)n, secs, pool.size());
  std::ofstream out(out_path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(float)));
  if (!out) return ReportError("embed-audio", InternalError("cannot write " + out_path));
  std::printf("{\"n_tokens\":%lld,\"n_embd\":%lld}\n", (long long)n, (long long)E);
  return kExitOk;
}

}  // namespace gemrun::cli
