// Wire framing for streamed responses: Server-Sent Events for the OpenAI endpoints
// ("data: {json}\n\n", ended by "data: [DONE]\n\n") and newline-delimited JSON for Ollama.
// JSON is always dumped with invalid UTF-8 replaced, so a stray byte can never throw.
#pragma once

#include <string>
#include <string_view>

#include "server/api.h"

namespace gemrun::server {

// Compact JSON; invalid UTF-8 in strings becomes U+FFFD instead of throwing.
std::string DumpJson(const Json& j);

// "data: <json>\n\n"
std::string SseEvent(const Json& j);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
// An SSE comment line clients ignore (keeps idle proxies from closing the stream).
inline constexpr std::string_view kSsePing = ": ping\n\n";

// "<json>\n"
std::string NdjsonLine(const Json& j);

}  // namespace gemrun::server
