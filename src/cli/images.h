// Images in chat prompts (run, chat): load the projector, encode images into prompt segments,
// and splice them into the rendered chat text at the family's image markers.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/image_prompt.h"
#include "tokenizer/chat_template.h"
#include "vision/vision.h"

namespace gemrun::cli {

struct ImageOptions {
  std::string mmproj;
  std::string attention;  // "bidirectional", "causal", "sliding" or "" (the family's default)
  vision::TokenBudget budget;
};

// Registers --image-attention, --image-min-tokens and --image-max-tokens (run, chat, serve);
// with `needs_mmproj` each requires --mmproj.
void AddImageFlags(CLI::App& app, ImageOptions* o, bool needs_mmproj);

// Loads the projector and checks it against the text model.
StatusOr<std::unique_ptr<vision::VisionEncoder>> LoadImageEncoder(const Engine& e, const ImageOptions& o);
// Decodes, preprocesses and encodes one image file into an image segment.
StatusOr<PromptSegment> EncodeImage(const Engine& e, const vision::VisionEncoder& enc, const ImageOptions& o,
                                    const std::string& path);
// Where images go in the user text: each "<image>" takes the next image's ImageSlotText; the
// rest come first. The rendered chat text is then split with SplitAtImageSlots.
std::string PlaceImages(const std::string& user, size_t n_images, ChatFormat fmt);

}  // namespace gemrun::cli
