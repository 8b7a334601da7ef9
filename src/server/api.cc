// Shared request plumbing: error objects, the depth-limited JSON body reader, typed getters.
#include "server/api.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace gemrun::server {

ApiError ApiError::Of(int status, std::string type, std::string message, std::string code) {
  return ApiError{.status = status, .type = std::move(type), .message = std::move(message), .param = "",
                  .code = std::move(code)};
}

ApiError ApiError::BadRequest(std::string message, std::string param, std::string code) {
  return ApiError{.status = 400, .type = "invalid_request_error", .message = std::move(message),
                  .param = std::move(param), .code = std::move(code)};
}

ApiError ApiError::Unsupported(const std::string& param, const std::string& why) {
  return BadRequest("'" + param + "' is not supported by this server" + (why.empty() ? "" : ": " + why), param,
                    "unsupported_parameter");
}

Json OpenAIErrorJson(const ApiError& e) {
  Json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  return Json{{"error", err}};
}

Json OllamaErrorJson(const ApiError& e) { return Json{{"error", e.message}}; }

namespace {

// Maximum [ / { nesting outside strings; stops counting once over `limit`.
int NestingDepth(std::string_view s, int limit) {
  int depth = 0, max_depth = 0;
  bool in_str = false, esc = false;
  for (char c : s) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if (c == ']' || c == '}') --depth;
  }
  return max_depth;
}

const char* TypeName(const Json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

ApiError WrongType(const std::string& path, const char* want, const Json& got) {
  return ApiError::BadRequest("'" + path + "' must be " + want + ", got " + TypeName(got), path, "invalid_type");
}

const Json* Field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

std::optional<ApiError> ParseJsonBody(std::string_view body, Json* out) {
  if (NestingDepth(body, kMaxJsonDepth) > kMaxJsonDepth)
    return ApiError::BadRequest("request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    *out = Json::parse(body.begin(), body.end());
  } catch (const Json::parse_error& e) {
    return ApiError::BadRequest("request body is not valid JSON (at byte " + std::to_string(e.byte) +
                                "); send a JSON object with Content-Type: application/json");
  } catch (const Json::out_of_range&) {  // a number beyond double's range, e.g. 1e400 (found by server_json_fuzz)
    return ApiError::BadRequest("request body holds a number too large to represent");
  }
  if (!out->is_object()) return ApiError::BadRequest(std::string("request body must be a JSON object, got ") + TypeName(*out));
  return std::nullopt;
}

std::optional<ApiError> GetBool(const Json& obj, const char* key, const std::string& path, bool* out) {
  const Json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) return WrongType(path, "a boolean", *v);
  *out = v->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> GetString(const Json& obj, const char* key, const std::string& path, std::string* out) {
  const Json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) return WrongType(path, "a string", *v);
  *out = v->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> GetInt(const Json& obj, const char* key, const std::string& path, int64_t lo, int64_t hi,
                               int64_t* out) {
  const Json* v = Field(obj, key);
  if (!v) return std::nullopt;
  int64_t x = 0;
  if (v->is_number_integer() && !(v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
    x = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
             std::fabs(v->get<double>()) < 9e18) {
    x = static_cast<int64_t>(v->get<double>());  // 16.0 is an integer in JSON's eyes
  } else if (v->is_number()) {
    return ApiError::BadRequest("'" + path + "' must be an integer between " + std::to_string(lo) + " and " +
                                std::to_string(hi), path, "invalid_value");
  } else {
    return WrongType(path, "an integer", *v);
  }
  if (x < lo || x > hi)
    return ApiError::BadRequest("'" + path + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                ", got " + std::to_string(x), path, "invalid_value");
  *out = x;
  return std::nullopt;
}

std::optional<ApiError> GetFloat(const Json& obj, const char* key, const std::string& path, double lo, double hi,
                                 float* out) {
  const Json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) return WrongType(path, "a number", *v);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    Json lo_j = lo, hi_j = hi;
    return ApiError::BadRequest("'" + path + "' must be between " + lo_j.dump() + " and " + hi_j.dump() + ", got " +
                                v->dump(), path, "invalid_value");
  }
  *out = static_cast<float>(x);
  return std::nullopt;
}

std::optional<ApiError> GetStop(const Json& obj, const char* key, const std::string& path, size_t max_n,
                                std::vector<std::string>* out) {
  const Json* v = Field(obj, key);
  if (!v) return std::nullopt;
  std::vector<std::string> stops;
  auto check = [&](const Json& s, const std::string& p) -> std::optional<ApiError> {
    if (!s.is_string()) return WrongType(p, "a string", s);
    const std::string& str = s.get_ref<const std::string&>();
    if (str.empty() || str.size() > 256)
      return ApiError::BadRequest("'" + p + "' must be 1 to 256 bytes long", p, "invalid_value");
    stops.push_back(str);
    return std::nullopt;
  };
  if (v->is_string()) {
    if (auto e = check(*v, path)) return e;
  } else if (v->is_array()) {
    if (v->size() > max_n)
      return ApiError::BadRequest("'" + path + "' holds at most " + std::to_string(max_n) + " stop sequences", path,
                                  "invalid_value");
    for (size_t i = 0; i < v->size(); ++i)
      if (auto e = check((*v)[i], path + "[" + std::to_string(i) + "]")) return e;
  } else {
    return WrongType(path, "a string or an array of strings", *v);
  }
  *out = std::move(stops);
  return std::nullopt;
}

std::optional<std::string> FirstUnknownKey(const Json& obj, std::initializer_list<std::string_view> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) return it.key();
  return std::nullopt;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer length so the time does not reveal the position of a mismatch.
  const size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

bool BearerMatches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view kScheme = "bearer ";
  if (key.empty() || authorization.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  return ConstantTimeEquals(token, key);
}

}  // namespace gemrun::server
