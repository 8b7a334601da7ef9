// Images in server prompts: the projector as a service shared by HTTP threads (token counts
// from image headers, decode + preprocess + encode on its own thread pool, one image at a time)
// and the prompt layout: each kImageSlot becomes the family's image tokens around the image's
// embedding rows, exactly as `gemrun run --image` lays them out.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/image_prompt.h"
#include "tokenizer/chat_template.h"
#include "vision/vision.h"

namespace gemrun::server {

struct ImageEncoderOptions {
  vision::TokenBudget budget;  // gemma4v tokens per image (0: the projector's defaults)
  bool non_causal = true;      // attention within an image (the family default unless overridden)
  bool global_causal = false;  // ... on sliding-window layers only (vision::ImageAttention::kSliding)
  int threads = 0;             // the encoder's own pool (0: all cores), used without `pool`
  // A pool to share (the engine's): a second full-size pool would oversubscribe the cores
  // while a request decodes. Must outlive the encoder.
  ThreadPool* pool = nullptr;
};

class ImageEncoder {
 public:
  // Checks the budget against the projector; InvalidArgument when it is unusable.
  static StatusOr<std::unique_ptr<ImageEncoder>> Create(std::unique_ptr<vision::VisionEncoder> enc,
                                                        const ImageEncoderOptions& opts);

  // Most rows one image can produce under the budget (what one forward batch must hold).
  int64_t max_tokens() const { return max_tokens_; }
  bool non_causal() const { return opts_.non_causal; }

  // Rows `bytes` will take, from the header alone (structure checked, no pixels decoded).
  // DataLoss / InvalidArgument / Unimplemented for a corrupt, oversized or unsupported image.
  StatusOr<int64_t> CountTokens(std::span<const uint8_t> bytes, const std::string& name) const;

  // Decodes, preprocesses and encodes one image into an image segment ([n_rows][n_embd]).
  // Thread-safe: calls run one at a time (each uses the whole pool); `wait_ms` (optional) gets
  // the time spent waiting for the encoder, `encode_ms` the time spent encoding.
  StatusOr<PromptSegment> Encode(std::span<const uint8_t> bytes, const std::string& name, double* wait_ms,
                                 double* encode_ms) const;

 private:
  ImageEncoder() = default;

  std::unique_ptr<vision::VisionEncoder> enc_;
  ImageEncoderOptions opts_;
  int64_t max_tokens_ = 0;
  std::unique_ptr<ThreadPool> own_pool_;  // when no pool was given
  ThreadPool* pool_ = nullptr;
  mutable std::mutex mu_;  // one encode at a time on pool_
};

// Replaces each kImageSlot in a message with the family's ImageSlotText.
std::string ExpandImageSlots(const std::string& content, ChatFormat fmt);

// Renders `messages` (contents holding kImageSlot) and splits the prompt at the slots
// (EncodeChatPrompt: BOS once, first; special tokens from the template only unless
// opts.parse_special_in_content), image slot k becomes a segment of image_rows[k] rows with
// no data yet. InvalidArgument when the number of slots differs from image_rows.size() or the
// conversation breaks the template's rules.
Status LayoutImagePrompt(const Tokenizer& tok, const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                         std::span<const int64_t> image_rows, std::vector<PromptSegment>* out,
                         const ChatOptions& opts = {});

}  // namespace gemrun::server
