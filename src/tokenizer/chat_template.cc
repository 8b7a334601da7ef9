// Gemma 3 / Gemma 4 chat templates as code (mirrors of the shipped Jinja templates).
#include "tokenizer/chat_template.h"

#include <algorithm>

#include "gguf/gguf.h"
#include "tokenizer/utf8.h"

namespace gemrun {
namespace {

constexpr std::string_view kGemma3Start = "<start_of_turn>";
constexpr std::string_view kGemma3End = "<end_of_turn>\n";
constexpr std::string_view kGemma4Start = "<|turn>";
constexpr std::string_view kGemma4End = "<turn|>\n";
constexpr std::string_view kEmptyThought = "<|channel>thought\n<channel|>";

// Collects a prompt as parts; `+=` is template text, Content() a message's text.
class PartsBuilder {
 public:
  PartsBuilder& operator+=(std::string_view t) {
    Add(t, false);
    return *this;
  }
  PartsBuilder& operator+=(char c) { return *this += std::string_view(&c, 1); }
  void Content(std::string_view t) { Add(t, true); }
  std::vector<ChatPart> parts;

 private:
  void Add(std::string_view t, bool content) {
    if (t.empty()) return;
    if (!parts.empty() && parts.back().content == content) {
      parts.back().text += t;
    } else {
      parts.push_back(ChatPart{std::string(t), content});
    }
  }
};

}  // namespace

std::string StripThinking(std::string_view text) {
  constexpr std::string_view kOpen = "<|channel>", kClose = "<channel|>";
  std::string kept;
  for (size_t from = 0;;) {  // Python: for part in text.split(kClose)
    const size_t end = text.find(kClose, from);
    const std::string_view part = text.substr(from, end == std::string_view::npos ? std::string_view::npos : end - from);
    kept.append(part.substr(0, part.find(kOpen)));
    if (end == std::string_view::npos) break;
    from = end + kClose.size();
  }
  return std::string(utf8::TrimPy(kept));
}

StatusOr<ChatTemplate> ChatTemplate::ForModel(std::string_view arch, TokenizerModel model) {
  if (arch.substr(0, 6) == "gemma4") return ChatTemplate(ChatFormat::kGemma4);
  if (arch.substr(0, 5) == "gemma") return ChatTemplate(ChatFormat::kGemma3);  // gemma, gemma2, gemma3, gemma3n
  if (model == TokenizerModel::kGemma4Bpe) return ChatTemplate(ChatFormat::kGemma4);
  return UnimplementedError("no chat template for architecture '" + std::string(arch) +
                            "': gemrun knows the Gemma 3 and Gemma 4 formats");
}

StatusOr<ChatTemplate> ChatTemplate::ForGguf(const GgufFile& file) {
  auto arch = file.GetStringOr("general.architecture", "");
  if (!arch.ok()) return DataLossError(arch.status().message());
  auto model = file.GetStringOr("tokenizer.ggml.model", "");
  if (!model.ok()) return DataLossError(model.status().message());
  return ForModel(*arch, *model == "gemma4" ? TokenizerModel::kGemma4Bpe : TokenizerModel::kSpm);
}

StatusOr<std::vector<ChatPart>> ChatTemplate::RenderParts(std::span<const ChatMessage> messages,
                                                          const ChatOptions& opts) const {
  if (format_ == ChatFormat::kGemma3) return RenderGemma3(messages, opts);
  return RenderGemma4(messages, opts);
}

StatusOr<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages, const ChatOptions& opts) const {
  ASSIGN_OR_RETURN(std::vector<ChatPart> parts, RenderParts(messages, opts));
  std::string out;
  for (const ChatPart& p : parts) out += p.text;
  return out;
}

std::vector<TextPart> AsTextParts(std::span<const ChatPart> parts, bool parse_special_in_content) {
  std::vector<TextPart> out;
  out.reserve(parts.size());
  for (const ChatPart& p : parts) out.push_back(TextPart{p.text, !p.content || parse_special_in_content});
  return out;
}

// HF Gemma 3 template: a leading system message becomes a prefix of the first user turn
// (followed by a blank line, NOT trimmed); the rest must alternate user/assistant.
StatusOr<std::vector<ChatPart>> ChatTemplate::RenderGemma3(std::span<const ChatMessage> messages,
                                                           const ChatOptions& opts) const {
  PartsBuilder out;
  if (opts.bos_text) out += "<bos>";
  const ChatMessage* system = nullptr;
  std::span<const ChatMessage> loop = messages;
  if (!messages.empty() && messages[0].role == "system") {
    system = &messages[0];
    loop = messages.subspan(1);
  }
  for (size_t i = 0; i < loop.size(); ++i) {
    const ChatMessage& m = loop[i];
    if ((m.role == "user") != (i % 2 == 0))
      return InvalidArgumentError("Gemma 3 chat: conversation roles must alternate user/assistant/user/assistant/... "
                                  "after an optional system message; message " +
                                  std::to_string(i + (loop.size() < messages.size())) + " has role '" + m.role + "'");
    out += kGemma3Start;
    out += m.role == "assistant" ? "model" : m.role;
    out += '\n';
    if (i == 0 && system) {
      out.Content(system->content);
      out += "\n\n";
    }
    if (i == 0 && !opts.tools_text.empty()) out.Content(opts.tools_text + "\n\n");
    out.Content(utf8::TrimPy(m.content));
    if (!m.tool_text.empty()) out.Content((m.content.empty() ? "" : "\n") + m.tool_text);
    out += kGemma3End;
  }
  if (opts.add_generation_prompt) {
    out += kGemma3Start;
    out += "model\n";
  }
  return std::move(out.parts);
}

// HF Gemma 4 template, text-only path (no tools / tool calls / media parts).
std::vector<ChatPart> ChatTemplate::RenderGemma4(std::span<const ChatMessage> messages, const ChatOptions& opts) const {
  PartsBuilder out;
  if (opts.bos_text) out += "<bos>";
  std::span<const ChatMessage> loop = messages;
  const bool first_is_system =
      !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
  if (opts.enable_thinking || first_is_system || !opts.tools_text.empty()) {
    out += kGemma4Start;
    out += "system\n";
    if (opts.enable_thinking) out += "<|think|>\n";
    if (first_is_system) {
      out.Content(utf8::TrimPy(messages[0].content));
      loop = messages.subspan(1);
    }
    out += opts.tools_text;
    out += kGemma4End;
  }
  // Tool results stay inside the model turn that called the tools (no <turn|> after the calls,
  // no new header after the results).
  auto is_tool = [&](size_t i) { return i < loop.size() && loop[i].role == "tool"; };
  for (size_t i = 0; i < loop.size(); ++i) {
    const ChatMessage& m = loop[i];
    if (m.role == "tool") {
      out += m.tool_text;
      continue;
    }
    const bool model = m.role == "assistant" || m.role == "model";
    // The template writes no new header for a model message whose previous non-tool message
    // has the (raw) role "assistant".
    const std::string* prev_role = nullptr;
    for (size_t j = i; j-- > 0;)
      if (loop[j].role != "tool") {
        prev_role = &loop[j].role;
        break;
      }
    if (!(model && prev_role && *prev_role == "assistant")) {
      out += kGemma4Start;
      out += model ? "model" : m.role;
      out += '\n';
    }
    if (model) {
      out.Content(StripThinking(m.content));
      out += m.tool_text;
    } else {
      out.Content(utf8::TrimPy(m.content));
    }
    // A model message that called tools stays open for the results that follow it.
    if (!(model && !m.tool_text.empty() && is_tool(i + 1))) out += kGemma4End;
  }
  const bool after_tools = !loop.empty() && loop.back().role == "tool" && !loop.back().tool_text.empty();
  if (opts.add_generation_prompt && !after_tools) {
    out += kGemma4Start;
    out += "model\n";
    if (!opts.enable_thinking) out += kEmptyThought;
  }
  return std::move(out.parts);
}

StatusOr<std::vector<TokenId>> ChatTemplate::Encode(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                                    const ChatOptions& opts) const {
  ChatOptions o = opts;
  o.bos_text = false;
  ASSIGN_OR_RETURN(std::vector<ChatPart> parts, RenderParts(messages, o));
  std::vector<TokenId> ids;
  tokenizer.EncodeParts(AsTextParts(parts, opts.parse_special_in_content), /*add_special=*/true, &ids);
  const Vocab& v = tokenizer.vocab();
  if (!v.add_bos() && v.bos() != kNoToken) ids.insert(ids.begin(), v.bos());  // a conversion without add_bos
  return ids;
}

std::vector<TokenId> ChatTemplate::StopTokens(const Vocab& vocab) const {
  std::vector<TokenId> ids;
  const std::vector<std::string_view> texts =
      format_ == ChatFormat::kGemma3 ? std::vector<std::string_view>{"<end_of_turn>", "<eos>"}
                                     : std::vector<std::string_view>{"<turn|>", "<eos>", "<|tool_response>"};
  for (std::string_view t : texts)
    if (const TokenId id = vocab.Find(t); id != kNoToken) ids.push_back(id);
  if (vocab.eos() != kNoToken) ids.push_back(vocab.eos());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace gemrun
