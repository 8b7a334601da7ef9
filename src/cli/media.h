// Audio clips and mixed media in chat prompts (run --audio, chat /audio): the audio projector,
// clip segments, and the placement of image and audio slots in the user text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "audio/projector.h"
#include "engine/engine.h"
#include "engine/image_prompt.h"
#include "tokenizer/chat_template.h"

namespace gemrun::cli {

// Loads the audio part of a projector file and checks it against the text model.
StatusOr<std::unique_ptr<audio::AudioEncoder>> LoadAudioEncoder(const Engine& e, const std::string& mmproj);
// Decodes and encodes one clip file into a (causal) segment of embedding rows.
StatusOr<PromptSegment> EncodeAudio(const Engine& e, const audio::AudioEncoder& enc, const std::string& path);

enum class MediaKind { kImage, kAudio };
struct MediaItem {
  MediaKind kind = MediaKind::kImage;
  PromptSegment seg;
};

// Where the items go in the user text: each "<image>" takes the next image's ImageSlotText, each
// "<audio>" (or Gemma 4's "<|audio|>") the next clip's AudioSlotText; the items left over come
// first, in their order. Appends the segments to *segs in slot order (for SplitAtImageSlots).
std::string PlaceMedia(const std::string& user, const std::vector<MediaItem>& items, ChatFormat fmt,
                       std::vector<PromptSegment>* segs);

}  // namespace gemrun::cli
