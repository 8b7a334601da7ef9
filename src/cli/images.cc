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
