// gemrun embed-image: decode, preprocess and encode one image with a vision projector and
// write the projector output (the text model's input rows for the image positions) as
// float32 LE [n_tokens x n_embd]. Used by acceptance checks: keep the interface.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "model/model.h"
#include "vision/vision.h"

namespace gemrun::cli {
namespace {

// CPU seconds of the whole process (all threads): on a busy machine wall time mostly measures
// the wait for a core, CPU time the work.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace

int CmdEmbedImage(int argc, char** argv) {
  CLI::App app{"Encode one image (PNG or JPEG) with a vision projector and write the embedding rows\n"
               "that replace token embeddings at the image positions, as float32 little-endian\n"
               "[n_tokens x n_embd]; prints {\"n_tokens\":..,\"n_embd\":..}.\n\n"
               "examples:\n  gemrun embed-image -m gemma3.gguf --mmproj mmproj.gguf --image cat.jpg -o cat.bin\n"
               "  gemrun embed-image -m gemma4.gguf --mmproj mmproj.gguf --image a.png -o a.bin --image-max-tokens 560",
               "gemrun embed-image"};
  std::string model_path, mmproj_path, image_path, out_path;
  int64_t min_tokens = 0, max_tokens = 0;
  int threads = 0;
  app.add_option("-m,--model", model_path, "text model GGUF (its embedding size is checked against the projector)");
  app.add_option("--mmproj", mmproj_path, "vision projector GGUF (projector type gemma3, gemma4v or gemma4uv)")->required();
  app.add_option("--image", image_path, "PNG or JPEG image")->required();
  app.add_option("-o,--output", out_path, "output file")->required();
  app.add_option("--image-min-tokens", min_tokens, "gemma4v/gemma4uv: fewest image tokens (default 40; gemma3: ignored)");
  app.add_option("--image-max-tokens", max_tokens, "gemma4v/gemma4uv: most image tokens (default 280; gemma3: ignored)");
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  std::string act_str = "auto";
  app.add_option("--vision-gelu", act_str,
                 "tower MLP activation: auto (llama.cpp: clip.use_gelu true -> tanh-GELU, absent -> quick-GELU), "
                 "tanh (the reference for Gemma 4 files without the key) or quick")
      ->check(CLI::IsMember({"auto", "tanh", "quick"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (min_tokens < 0 || max_tokens < 0)
    return ReportError("embed-image", InvalidArgumentError("--image-min-tokens/--image-max-tokens must be >= 1"));

  const auto act = vision::ParseActivation(act_str);
  if (!act.ok()) return ReportError("embed-image", act.status());
  auto enc = vision::VisionEncoder::Load(mmproj_path, act->has_value() ? &**act : nullptr);
  if (!enc.ok()) return ReportError("embed-image", enc.status());
  if (!model_path.empty()) {
    auto model = LoadModel(model_path);
    if (!model.ok()) return ReportError("embed-image", model.status());
    if (Status s = (*enc)->CheckTextModel((*model)->config()); !s.ok()) return ReportError("embed-image", s);
  }
  auto img = vision::LoadImageFile(image_path);
  if (!img.ok()) return ReportError("embed-image", img.status());
  auto pre = (*enc)->Preprocess(*img, {.min_tokens = min_tokens, .max_tokens = max_tokens});
  if (!pre.ok()) return ReportError("embed-image", pre.status());
  ThreadPool pool(threads);
  std::vector<float> rows;
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = ProcessCpuSeconds();
  if (Status s = (*enc)->Encode(*pre, &rows, pool); !s.ok()) return ReportError("embed-image", s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  const int64_t E = (*enc)->config().proj_dim;
  std::fprintf(stderr, "gemrun embed-image: %lldx%lld image -> %lldx%lld canvas, %lld patches -> %lld tokens; encode %.3f s "
               "(%.3f s CPU, %d threads)\n",
               (long long)img->width, (long long)img->height, (long long)pre->canvas.width,
               (long long)pre->canvas.height, (long long)(pre->n_patches_x * pre->n_patches_y),
               (long long)pre->n_tokens, secs, cpu, pool.size());
  std::ofstream out(out_path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(float)));
  if (!out) return ReportError("embed-image", InternalError("cannot write " + out_path));
  std::printf("{\"n_tokens\":%lld,\"n_embd\":%lld}\n", (long long)pre->n_tokens, (long long)E);
  return kExitOk;
}

}  // namespace gemrun::cli
