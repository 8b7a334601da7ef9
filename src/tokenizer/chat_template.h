// Chat templates as code: the Gemma 3 and Gemma 4 prompt formats, byte-identical to the Jinja
// templates shipped with the checkpoints (HF `chat_template`) for text conversations, plus the
// per-model stop-token set. No Jinja engine: the formats are small and fixed, and code gives
// exact, testable output with errors as Status values.
//
//   Gemma 3: <bos><start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n<start_of_turn>model\n...
//   Gemma 4: <bos>[<|turn>system\n[<|think|>\n]{system}<turn|>\n]<|turn>user\n{user}<turn|>\n
//            <|turn>model\n[<|channel>thought\n<channel|>]   (empty thought when thinking is off)
//
// BOS: Render() leaves "<bos>" out unless ChatOptions::bos_text; Encode() tokenizes with
// add_special = true, so the tokenizer adds the one BOS. Either way a prompt starts with
// exactly one BOS.
//
// Special tokens come only from the template: Encode() tokenizes message contents as plain
// text (RenderParts tells them apart), so a user who types "<end_of_turn>" or "<turn|>" cannot
// forge a turn boundary. ChatOptions::parse_special_in_content restores the old behaviour.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace gemrun {

class GgufFile;

enum class ChatFormat { kGemma3, kGemma4 };

struct ChatMessage {
  // "system" / "developer" (first message only), "user", "assistant" (written "model"),
  // "model"; other roles are written verbatim. Gemma 4 skips "tool" messages (tool results
  // are rendered from tool-call fields this struct does not carry).
  ChatMessage() = default;
  ChatMessage(std::string r, std::string c, std::string t = {})
      : role(std::move(r)), content(std::move(c)), tool_text(std::move(t)) {}
  std::string role;
  std::string content;
  // Template text after the content, special tokens parsed (rendered tool calls of an
  // assistant message, a Gemma 4 tool result: engine/tool_calls.h). Gemma 4 writes a "tool"
  // message as this text inside the model turn.
  std::string tool_text;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  // Gemma 4: "<|think|>" opens the system turn; when false the generation prompt ends with an
  // empty thought channel. Gemma 3 has no thinking mode and ignores it.
  bool enable_thinking = false;
  // Rendered tool declarations (engine/tool_calls.h): Gemma 4 puts them in the system turn as
  // template text, Gemma 3 before the first user message (after the system text).
  std::string tools_text{};
  // Start the text with "<bos>" like the HF template (for comparing renders). Leave it off
  // when the text goes to Tokenizer::Encode with add_special (Encode() below does that).
  bool bos_text = false;
  // Encode: also recognise special-token texts inside message contents (unsafe with untrusted
  // text; CLI --parse-special-in-content, serve --parse-special-in-content).
  bool parse_special_in_content = false;
};

// One piece of a rendered prompt: the template's own text or (part of) a message's content.
struct ChatPart {
  std::string text;
  bool content = false;
};

class ChatTemplate {
 public:
  explicit ChatTemplate(ChatFormat format) : format_(format) {}
  // By `general.architecture` (gemma3*, gemma2, gemma, gemma4*), else by tokenizer model.
  static StatusOr<ChatTemplate> ForModel(std::string_view architecture, TokenizerModel model);
  static StatusOr<ChatTemplate> ForGguf(const GgufFile& file);

  ChatFormat format() const { return format_; }
  const char* name() const { return format_ == ChatFormat::kGemma3 ? "gemma3" : "gemma4"; }

  // The prompt text. InvalidArgument when the conversation breaks the template's rules
  // (Gemma 3: roles after an optional system message must alternate user/assistant).
  // Message contents are trimmed (Python str.strip); Gemma 4 removes <|channel>...<channel|>
  // thoughts from earlier model messages.
  StatusOr<std::string> Render(std::span<const ChatMessage> messages, const ChatOptions& opts = {}) const;
  // The same text as parts (their concatenation equals Render's), contents marked.
  StatusOr<std::vector<ChatPart>> RenderParts(std::span<const ChatMessage> messages,
                                              const ChatOptions& opts = {}) const;

  // RenderParts (without BOS text) + Tokenizer::EncodeParts: the prompt ids, starting with
  // exactly one BOS; special tokens parsed in the template's text only (see above).
  StatusOr<std::vector<TokenId>> Encode(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                        const ChatOptions& opts = {}) const;

  // End-of-generation ids for this format, ascending: Gemma 3 <end_of_turn>, <eos>; Gemma 4
  // <turn|>, <eos>, <|tool_response>; each looked up by text, plus the vocabulary's eos id.
  std::vector<TokenId> StopTokens(const Vocab& vocab) const;

 private:
  StatusOr<std::vector<ChatPart>> RenderGemma3(std::span<const ChatMessage> messages, const ChatOptions& opts) const;
  std::vector<ChatPart> RenderGemma4(std::span<const ChatMessage> messages, const ChatOptions& opts) const;

  ChatFormat format_;
};

// Gemma 4's strip_thinking macro: splits at "<channel|>", keeps each part up to its first
// "<|channel>" (so thoughts and an unclosed trailing "<|channel>..." go), joins, trims.
std::string StripThinking(std::string_view text);

// Parts as tokenizer input: template text with special tokens parsed, contents as plain text
// unless parse_special_in_content.
std::vector<TextPart> AsTextParts(std::span<const ChatPart> parts, bool parse_special_in_content);

}  // namespace gemrun
