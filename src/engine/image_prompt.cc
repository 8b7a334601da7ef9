// ImageSlotText, AudioSlotText, SplitAtImageSlots and EncodeChatPrompt.
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

Status EncodeChatPrompt(const Tokenizer& tok, const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                        const ChatOptions& opts, std::vector<PromptSegment> images, std::vector<PromptSegment>* out) {
  ChatOptions o = opts;
  o.bos_text = false;
  ASSIGN_OR_RETURN(std::vector<ChatPart> parts, tmpl.RenderParts(messages, o));
  const bool content_special = opts.parse_special_in_content;
  // The control tokens ImageSlotText / AudioSlotText put around a slot (blank lines are plain
  // text and may have been trimmed): template text, although they sit inside a message's content.
  const bool g3 = tmpl.format() == ChatFormat::kGemma3;
  struct Markers {
    std::string_view open, close;
  };
  const Markers kinds[] = {{g3 ? "<start_of_image>" : "<|image>", g3 ? "<end_of_image>" : "<image|>"},
                           {"<|audio>", "<audio|>"}};
  std::vector<TextPart> cur;  // views into `parts`
  bool first = true;
  auto emit = [&] {
    PromptSegment seg;
    tok.EncodeParts(cur, /*add_special=*/first, &seg.ids);
    first = false;
    cur.clear();
    if (!seg.ids.empty()) out->push_back(std::move(seg));
  };
  size_t k = 0;
  for (const ChatPart& p : parts) {
    std::string_view t = p.text;
    if (!p.content) {
      cur.push_back(TextPart{t, true});
      continue;
    }
    for (size_t at; (at = t.find(kImageSlot)) != std::string_view::npos;) {
      std::string_view before = t.substr(0, at);
      const Markers* m = nullptr;
      for (const Markers& c : kinds)
        if (before.ends_with(c.open)) m = &c;
      if (m) before.remove_suffix(m->open.size());
      cur.push_back(TextPart{before, content_special});
      if (m) cur.push_back(TextPart{m->open, true});
      emit();
      if (k >= images.size()) return InvalidArgumentError("the prompt holds more image slots than images");
      out->push_back(std::move(images[k++]));
      t.remove_prefix(at + kImageSlot.size());
      if (m && t.starts_with(m->close)) {
        cur.push_back(TextPart{m->close, true});
        t.remove_prefix(m->close.size());
      }
    }
    cur.push_back(TextPart{t, content_special});
  }
  emit();
  if (k != images.size())
    return InvalidArgumentError("the prompt holds " + std::to_string(k) + " image slots for " +
                                std::to_string(images.size()) + " images");
  return OkStatus();
}

}  // namespace gemrun
