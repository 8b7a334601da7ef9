// SSE and NDJSON framing.
#include "server/framing.h"

namespace gemrun::server {

std::string DumpJson(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string SseEvent(const Json& j) { return "data: " + DumpJson(j) + "\n\n"; }

std::string NdjsonLine(const Json& j) { return DumpJson(j) + "\n"; }

}  // namespace gemrun::server
