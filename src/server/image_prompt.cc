// Image encoding service and the prompt layout around images.
#include "server/image_prompt.h"

#include <chrono>

#include "server/api.h"
#include "server/audio_input.h"

namespace gemrun::server {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// Rows for a canvas of `s` pixels: the patch grid pooled by the projector's kernel.
int64_t RowsFor(const vision::VisionConfig& c, vision::Size s) {
  return (s.width / c.patch_size / c.pool) * (s.height / c.patch_size / c.pool);
}

}  // namespace

StatusOr<std::unique_ptr<ImageEncoder>> ImageEncoder::Create(std::unique_ptr<vision::VisionEncoder> enc,
                                                             const ImageEncoderOptions& opts) {
  std::unique_ptr<ImageEncoder> e(new ImageEncoder());
  const vision::VisionConfig& c = enc->config();
  // Validates the budget once, so a bad --image-*-tokens fails at start-up, not per request.
  ASSIGN_OR_RETURN(vision::Size probe, enc->CanvasSize(512, 512, opts.budget));
  if (c.type == vision::ProjectorType::kGemma3) {
    e->max_tokens_ = RowsFor(c, probe);
  } else {
    // Smart resize keeps the area within the budget's maximum (as CanvasSize resolves it).
    const int64_t lo = opts.budget.min_tokens > 0 ? opts.budget.min_tokens : c.default_min_tokens;
    int64_t hi = opts.budget.max_tokens > 0 ? opts.budget.max_tokens : c.default_max_tokens;
    if (opts.budget.max_tokens <= 0 && hi < lo) hi = lo;
    e->max_tokens_ = hi;
  }
  e->enc_ = std::move(enc);
  e->opts_ = opts;
  if (opts.pool) {
    e->pool_ = opts.pool;
  } else {
    e->own_pool_ = std::make_unique<ThreadPool>(opts.threads);
    e->pool_ = e->own_pool_.get();
  }
  return e;
}

StatusOr<int64_t> ImageEncoder::CountTokens(std::span<const uint8_t> bytes, const std::string& name) const {
  ASSIGN_OR_RETURN(vision::ImageInfo info, vision::ProbeImage(bytes, name));
  ASSIGN_OR_RETURN(vision::Size s, enc_->CanvasSize(info.width, info.height, opts_.budget));
  return RowsFor(enc_->config(), s);
}

StatusOr<PromptSegment> ImageEncoder::Encode(std::span<const uint8_t> bytes, const std::string& name, double* wait_ms,
                                             double* encode_ms) const {
  const auto t0 = Clock::now();
  std::lock_guard<std::mutex> l(mu_);  // also bounds decoded-pixel memory to one image
  const auto t1 = Clock::now();
  if (wait_ms) *wait_ms = Ms(t0, t1);
  ASSIGN_OR_RETURN(vision::Image img, vision::DecodeImage(bytes, name));
  ASSIGN_OR_RETURN(vision::Preprocessed p, enc_->Preprocess(img, opts_.budget));
  img = vision::Image{};
  PromptSegment seg;
  RETURN_IF_ERROR(enc_->Encode(p, &seg.embd, *pool_));
  seg.n_rows = p.n_tokens;
  seg.non_causal = opts_.non_causal;
  seg.global_causal = opts_.global_causal;
  if (encode_ms) *encode_ms = Ms(t1, Clock::now());
  return seg;
}

std::string ExpandImageSlots(const std::string& content, ChatFormat fmt) {
  const std::string slot = ImageSlotText(fmt);
  std::string out;
  size_t pos = 0;
  for (size_t at; (at = content.find(kImageSlot, pos)) != std::string::npos; pos = at + kImageSlot.size())
    out += content.substr(pos, at - pos) + slot;
  return out + content.substr(pos);
}

Status LayoutImagePrompt(const Tokenizer& tok, const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                         std::span<const int64_t> image_rows, std::vector<PromptSegment>* out,
                         const ChatOptions& opts) {
  std::vector<ChatMessage> msgs(messages.begin(), messages.end());
  for (ChatMessage& m : msgs) m.content = ExpandAudioSlots(ExpandImageSlots(m.content, tmpl.format()));
  std::vector<PromptSegment> images(image_rows.size());
  for (size_t k = 0; k < images.size(); ++k) images[k].n_rows = image_rows[k];
  out->clear();
  return EncodeChatPrompt(tok, tmpl, msgs, opts, std::move(images), out);
}

}  // namespace gemrun::server
