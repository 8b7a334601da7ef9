// Images in chat prompts (run, chat): load the projector, encode images into prompt segments,
// and splice them into the rendered chat text at the family's image markers.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "tokenizer/chat_template.h"
#include "vision/vision.h"

namespace gemrun::cli {

struct ImageOptions {
  std::string mmproj;
  std::string attention;  // "bidirectional", "causal" or "" (the family's default)
  vision::TokenBudget budget;
};

// Loads the projector and checks it against the text model.
StatusOr<std::unique_ptr<vision::VisionEncoder>> LoadImageEncoder(const Engine& e, const ImageOptions& o);
// Decodes, preprocesses and encodes one image file into an image segment.
StatusOr<PromptSegment> EncodeImage(const Engine& e, const vision::VisionEncoder& enc, const ImageOptions& o,
                                    const std::string& path);
// Where images go in the user text: each "<image>" takes the next image; the rest come first.
std::string PlaceImages(const std::string& user, size_t n_images, ChatFormat fmt);
// Splits rendered chat text at the image slots into text and image segments (BOS once, first).
Status BuildSegments(const Engine& e, const std::string& text, std::vector<PromptSegment> images,
                     std::vector<PromptSegment>* out);

}  // namespace gemrun::cli
