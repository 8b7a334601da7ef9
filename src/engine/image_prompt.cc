// ImageSlotText, AudioSlotText and SplitAtImageSlots.
#include "engine/image_prompt.h"

namespace gemrun {

std::string ImageSlotText(ChatFormat fmt) {
  const std::string begin = fmt == ChatFormat::kGemma3 ? "\n\n<start_of_image>" : "\n\n<|image>";
  const std::string end = fmt == ChatFormat::kGemma3 ? "<end_of_image>\n\n" : "<image|>\n\n";
  return begin + std::string(kImageSlot) + end;
}

std::string AudioSlotText(ChatFormat fmt) {
  (void)fmt;  // only Gemma 4 has an audio projector (AudioEncoder::CheckTextModel)
  return "<|audio>" + std::string(kImageSlot) + "<audio|>";
}

Status SplitAtImageSlots(const Tokenizer& tok, std::string_view text, std::vector<PromptSegment> images,
                         std::vector<PromptSegment>* out) {
  size_t pos = 0, k = 0;
  for (;;) {
    const size_t at = text.find(kImageSlot, pos);
    PromptSegment seg;
    seg.ids = tok.Encode(text.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos),
                         EncodeOptions{.add_special = pos == 0, .parse_special = true});
    if (!seg.ids.empty()) out->push_back(std::move(seg));
    if (at == std::string_view::npos) break;
    if (k >= images.size()) return InvalidArgumentError("the prompt holds more image slots than images");
    out->push_back(std::move(images[k++]));
    pos = at + kImageSlot.size();
  }
  if (k != images.size())
    return InvalidArgumentError("the prompt holds " + std::to_string(k) + " image slots for " +
                                std::to_string(images.size()) + " images");
  return OkStatus();
}

}  // namespace gemrun
