// Images in chat prompts: projector loading, image segments, splicing into rendered text.
#include "cli/images.h"

namespace gemrun::cli {
namespace {
constexpr std::string_view kImageMarker = "\x1fgemrun-image\x1f";
}  // namespace

// Each image becomes the family's begin marker, a slot and the end marker (HF processors put
// blank lines around them).
std::string PlaceImages(const std::string& user, size_t n_images, ChatFormat fmt) {
  const std::string begin = fmt == ChatFormat::kGemma3 ? "\n\n<start_of_image>" : "\n\n<|image>";
  const std::string end = fmt == ChatFormat::kGemma3 ? "<end_of_image>\n\n" : "<image|>\n\n";
  const std::string slot = begin + std::string(kImageMarker) + end;
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

Status BuildSegments(const Engine& e, const std::string& text, std::vector<PromptSegment> images,
                     std::vector<PromptSegment>* out) {
  size_t pos = 0, k = 0;
  for (;;) {
    const size_t at = text.find(kImageMarker, pos);
    PromptSegment seg;
    seg.ids = e.tokenizer().Encode(text.substr(pos, at == std::string::npos ? std::string::npos : at - pos),
                                   EncodeOptions{.add_special = pos == 0, .parse_special = true});
    if (!seg.ids.empty()) out->push_back(std::move(seg));
    if (at == std::string::npos) break;
    if (k >= images.size()) return InternalError("more image slots than images");
    out->push_back(std::move(images[k++]));
    pos = at + kImageMarker.size();
  }
  return OkStatus();
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
  seg.non_causal = o.attention.empty() ? vision::DefaultImageBidirectional(e.model().config())
                                       : o.attention == "bidirectional";
  return seg;
}

}  // namespace gemrun::cli
