// Audio clips and mixed media in chat prompts: encoder loading, clip segments, slot placement.
#include "cli/media.h"

#include "audio/wav.h"

namespace gemrun::cli {

StatusOr<std::unique_ptr<audio::AudioEncoder>> LoadAudioEncoder(const Engine& e, const std::string& mmproj) {
  ASSIGN_OR_RETURN(auto enc, audio::AudioEncoder::Load(mmproj));
  RETURN_IF_ERROR(enc->CheckTextModel(e.model().config()));
  return enc;
}

StatusOr<PromptSegment> EncodeAudio(const Engine& e, const audio::AudioEncoder& enc, const std::string& path) {
  PromptSegment seg;
  ASSIGN_OR_RETURN(seg.embd, audio::EmbedAudioFile(enc, path, e.pool(), &seg.n_rows));
  seg.non_causal = false;  // audio positions are causal (llama.cpp decodes gemma4ua so)
  return seg;
}

namespace {

// The next marker of either kind at or after pos: its offset, length and kind.
bool NextMarker(const std::string& s, size_t pos, size_t* at, size_t* len, MediaKind* kind) {
  static const std::pair<const char*, MediaKind> kMarkers[] = {
      {"<image>", MediaKind::kImage}, {"<audio>", MediaKind::kAudio}, {"<|audio|>", MediaKind::kAudio}};
  *at = std::string::npos;
  for (const auto& [m, k] : kMarkers) {
    const size_t f = s.find(m, pos);
    if (f < *at) *at = f, *len = std::char_traits<char>::length(m), *kind = k;
  }
  return *at != std::string::npos;
}

}  // namespace

std::string PlaceMedia(const std::string& user, const std::vector<MediaItem>& items, ChatFormat fmt,
                       std::vector<PromptSegment>* segs) {
  auto slot = [fmt](MediaKind k) { return k == MediaKind::kImage ? ImageSlotText(fmt) : AudioSlotText(fmt); };
  std::vector<bool> used(items.size(), false);
  std::vector<size_t> order;  // item indices in the order their slots appear in the text
  std::string body;
  size_t pos = 0, at = 0, len = 0;
  MediaKind kind{};
  while (NextMarker(user, pos, &at, &len, &kind)) {
    size_t i = 0;
    while (i < items.size() && (used[i] || items[i].kind != kind)) ++i;
    body += user.substr(pos, at - pos);
    if (i < items.size()) {
      used[i] = true;
      order.push_back(i);
      body += slot(kind);
    } else {
      body += user.substr(at, len);  // more markers than items: keep the text as typed
    }
    pos = at + len;
  }
  body += user.substr(pos);
  std::string lead;
  std::vector<size_t> lead_order;
  for (size_t i = 0; i < items.size(); ++i)
    if (!used[i]) lead += slot(items[i].kind), lead_order.push_back(i);
  for (size_t i : lead_order) segs->push_back(items[i].seg);
  for (size_t i : order) segs->push_back(items[i].seg);
  return lead + body;
}

}  // namespace gemrun::cli
