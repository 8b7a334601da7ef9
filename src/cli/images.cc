// Images in chat prompts: projector loading, image segments, splicing into rendered text.
#include "cli/images.h"

namespace gemrun::cli {

std::string PlaceImages(const std::string& user, size_t n_images, ChatFormat fmt) {
  const std::string slot = ImageSlotText(fmt);
  std::string out;
  size_t used = 0, pos = 0;
  for (size_t at; used < n_images && (at = user.find("<image>", pos)) != std::string::npos; ++used) {
    out += user.substr(pos, at - pos) + slot;
    pos = at + 7;
  }
  out += user.substr(pos);
  std::string lead;
  for (; used < n_images; ++used) lead += slot;
  return lead + out;
}

void AddImageFlags(CLI::App& app, ImageOptions* o, bool needs_mmproj) {
  CLI::Option* opts[] = {
      app.add_option("--image-attention", o->attention,
                     "attention among an image's positions: bidirectional (every layer, as llama.cpp), causal, or "
                     "sliding (bidirectional on sliding-window layers only); default: the model family's reference "
                     "(Gemma 3 bidirectional, Gemma 4 E2B/E4B causal, Gemma 4 12B/26B/31B sliding). "
                     "Example: --image-attention bidirectional")
          ->check(CLI::IsMember({"bidirectional", "causal", "sliding"})),
      app.add_option("--image-min-tokens", o->budget.min_tokens,
                     "Gemma 4 (gemma4v, gemma4uv): fewest tokens per image (default 40). Example: --image-min-tokens 70"),
      app.add_option("--image-max-tokens", o->budget.max_tokens,
                     "Gemma 4 (gemma4v, gemma4uv): most tokens per image (default 280). Example: --image-max-tokens 560"),
  };
  if (needs_mmproj)
    for (CLI::Option* opt : opts) opt->needs("--mmproj");
}

StatusOr<std::unique_ptr<vision::VisionEncoder>> LoadImageEncoder(const Engine& e, const ImageOptions& o) {
  ASSIGN_OR_RETURN(auto enc, vision::VisionEncoder::Load(o.mmproj));
  RETURN_IF_ERROR(enc->CheckTextModel(e.model().config()));
  return enc;
}

StatusOr<PromptSegment> EncodeImage(const Engine& e, const vision::VisionEncoder& enc, const ImageOptions& o,
                                    const std::string& path) {
  PromptSegment seg;
  ASSIGN_OR_RETURN(seg.embd, vision::EmbedImageFile(enc, path, o.budget, e.pool(), &seg.n_rows));
  ASSIGN_OR_RETURN(const vision::ImageAttention a, vision::ParseImageAttention(o.attention, e.model().config()));
  vision::SetAttentionFlags(a, &seg.non_causal, &seg.global_causal);
  return seg;
}

}  // namespace gemrun::cli
