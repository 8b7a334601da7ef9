// Tool calling around a generation: the declarations written into the prompt, earlier calls and
// results written into the history, the vocabulary a call may use, and the answer parsed back
// into content + calls. The grammar itself is constrain/tool_grammar.h; the formats per model
// family are described in docs/TOOLS.md.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "constrain/tool_grammar.h"
#include "tokenizer/chat_template.h"

namespace gemrun {

struct ToolCall {
  std::string id;                     // "call_<n>" (assigned by the front end)
  std::string name;
  nlohmann::ordered_json arguments;   // a JSON object
};

struct ParsedAnswer {
  std::string content;             // text outside the calls (trimmed)
  std::vector<ToolCall> calls;
};

constrain::ToolSyntax ToolSyntaxFor(ChatFormat f);

// The declarations as the model's prompt expects them (ChatOptions::tools_text).
std::string RenderToolDeclarations(const std::vector<constrain::ToolDecl>& decls, constrain::ToolSyntax syntax);
// An assistant message's calls, in the syntax the model writes them (ChatMessage::tool_text).
std::string RenderToolCalls(const std::vector<ToolCall>& calls, constrain::ToolSyntax syntax);
// A tool result (`content` is JSON text or plain text) for function `name`.
std::string RenderToolResult(const std::string& name, const std::string& content, constrain::ToolSyntax syntax);

// Gemma 3 has no tool role: each run of "tool" messages becomes one user message (merged with
// a following user message) so the conversation still alternates. Gemma 4 keeps them (the
// template writes them inside the model turn).
std::vector<ChatMessage> FoldToolMessages(std::vector<ChatMessage> msgs, ChatFormat f);

// Splits a generated answer into content and calls. Malformed calls are an error (a call
// decoded under the tool grammar always parses).
StatusOr<ParsedAnswer> ParseToolCalls(std::string_view text, constrain::ToolSyntax syntax);

// Gemma 4 argument text ({key:value,...} with <|"|> strings) -> JSON. String contents are read
// as JSON string bodies (escapes decoded) when they are valid ones, else taken verbatim.
StatusOr<nlohmann::ordered_json> Gemma4ArgsToJson(std::string_view text);

// The constrained-span vocabulary for tool calls: the normal tokens plus, for Gemma 4, the
// special tokens that spell the call syntax (<|tool_call>, <tool_call|>, <|"|>) and, with
// `thought`, the thought channel markers (<|channel>, <channel|>).
std::shared_ptr<const constrain::TokenTrie> ToolCallVocab(const Tokenizer& tok, constrain::ToolSyntax syntax,
                                                          bool thought = false);

}  // namespace gemrun
