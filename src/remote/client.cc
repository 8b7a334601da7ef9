// OpenAI-compatible chat client over libcurl: one POST per attempt, bounded response size,
// retries only where a second try can help (429, 5xx, no connection), never after a timeout
// (the wait would double) or a 4xx (the request itself is wrong).
#include "remote/client.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

namespace gemrun::remote {
namespace {

constexpr size_t kMaxResponseBytes = size_t{16} << 20;

struct Sink {
  std::string body;
  bool too_big = false;
};

size_t WriteCb(char* p, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  if (s->body.size() + size * n > kMaxResponseBytes) {
    s->too_big = true;
    return 0;  // aborts the transfer
  }
  s->body.append(p, size * n);
  return size * n;
}

std::string Head(const std::string& s) { return s.size() <= 200 ? s : s.substr(0, 200) + "..."; }

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// An SSE stream of chat.completion.chunk events, joined into one response.
StatusOr<ChatResponse> ParseStream(const std::string& body) {
  ChatResponse r;
  size_t pos = 0;
  bool any = false;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    std::string line = body.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data:", 0) != 0) continue;
    std::string data = line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
    if (data == "[DONE]") break;
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return InternalError("remote sent an invalid stream event: " + Head(data));
    any = true;
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      const auto& c = j["choices"][0];
      if (c.contains("delta") && c["delta"].contains("content") && c["delta"]["content"].is_string())
        r.text += c["delta"]["content"].get<std::string>();
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) r.finish_reason = c["finish_reason"];
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      r.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{-1});
      r.completion_tokens = j["usage"].value("completion_tokens", int64_t{-1});
    }
  }
  if (!any) return InternalError("remote sent an empty stream");
  return r;
}

}  // namespace

std::string BuildChatBody(const ChatRequest& req) {
  nlohmann::json msgs = nlohmann::json::array();
  for (const Message& m : req.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::json body = {{"model", req.model.empty() ? "default" : req.model}, {"messages", msgs}};
  if (req.max_tokens > 0) body["max_tokens"] = req.max_tokens;
  if (req.response_format) body["response_format"] = *req.response_format;
  if (req.stream) body["stream"] = true;
  // Invalid UTF-8 in a log would make dump() throw: replace it instead.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ChatEndpoint(const std::string& url) {
  std::string u = url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  if (u.size() >= 17 && u.compare(u.size() - 17, 17, "/chat/completions") == 0) return u;
  if (u.size() >= 3 && u.compare(u.size() - 3, 3, "/v1") == 0) return u + "/chat/completions";
  return u + "/v1/chat/completions";
}

StatusOr<ChatResponse> ParseChatResponse(const std::string& body) {
  size_t first = body.find_first_not_of(" \r\n\t");
  if (first != std::string::npos && body.compare(first, 5, "data:") == 0) return ParseStream(body);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return InternalError("remote answered invalid JSON: " + Head(body));
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty())
    return InternalError("remote answer has no choices: " + Head(body));
  const auto& c = j["choices"][0];
  if (!c.contains("message") || !c["message"].is_object() || !c["message"].contains("content") ||
      !c["message"]["content"].is_string())
    return InternalError("remote answer has no choices[0].message.content: " + Head(body));
  ChatResponse r;
  r.text = c["message"]["content"].get<std::string>();
  if (c.contains("finish_reason") && c["finish_reason"].is_string()) r.finish_reason = c["finish_reason"];
  if (j.contains("usage") && j["usage"].is_object()) {
    const auto& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) r.prompt_tokens = u["prompt_tokens"];
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      r.completion_tokens = u["completion_tokens"];
  }
  return r;
}

StatusOr<std::string> LoadRemoteKey(const std::string& key_file) {
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) return NotFoundError("cannot open --remote-key-file " + key_file);
    std::string key;
    std::getline(in, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key.empty()) return InvalidArgumentError("--remote-key-file " + key_file + " is empty");
    return key;
  }
  const char* env = std::getenv("GEMRUN_REMOTE_KEY");
  return std::string(env ? env : "");
}

StatusOr<ChatResponse> Client::Chat(const std::string& body, int* attempts_out) const {
  InitCurlOnce();
  const std::string endpoint = ChatEndpoint(opts_.url);
  const auto t0 = std::chrono::steady_clock::now();
  Status last = InternalError("no attempt made");
  int attempts = 0;
  for (int attempt = 0; attempt <= opts_.retries; ++attempt) {
    if (attempt > 0) {
      int64_t wait = std::min<int64_t>(opts_.backoff_ms << (attempt - 1), 8000);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
    ++attempts;
    CURL* h = curl_easy_init();
    if (!h) return InternalError("curl_easy_init failed");
    Sink sink;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    std::string auth = "Authorization: Bearer " + opts_.key;
    if (!opts_.key.empty()) headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(h, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // a redirect could carry the body elsewhere
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout_ms));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(opts_.timeout_ms));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteCb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (attempts_out) *attempts_out = attempts;
    if (rc != CURLE_OK) {
      if (sink.too_big) return InternalError("remote answer exceeds 16 MiB");
      last = InternalError(std::string("remote ") + endpoint + ": " + curl_easy_strerror(rc));
      if (rc == CURLE_OPERATION_TIMEDOUT) return InternalError("remote " + endpoint + " timed out after " +
                                                               std::to_string(opts_.timeout_ms) + " ms");
      const bool retriable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                             rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR;
      if (!retriable) return last;
      continue;
    }
    if (status == 429 || status >= 500) {
      last = InternalError("remote " + endpoint + " answered HTTP " + std::to_string(status) + ": " + Head(sink.body));
      continue;
    }
    if (status != 200) return InternalError("remote " + endpoint + " answered HTTP " + std::to_string(status) + ": " +
                                            Head(sink.body));
    auto parsed = ParseChatResponse(sink.body);
    if (!parsed.ok()) return parsed.status();
    parsed->http_status = status;
    parsed->attempts = attempts;
    parsed->latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return parsed;
  }
  return Status(last.code(), last.message() + " (after " + std::to_string(attempts) + " attempts)");
}

}  // namespace gemrun::remote
