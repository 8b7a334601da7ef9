// gemrun tokenize: text -> token ids with a model's vocabulary. Three modes:
//   human   gemrun tokenize -m MODEL "text"       one line per token: id and piece
//   batch   gemrun tokenize -m MODEL --jsonl IN   {"text","add_special","parse_special"} per line
//                                                 -> {"ids":[...],"detok":"..."} per line
//   bench   gemrun tokenize -m MODEL --bench FILE single-core encode throughput in MB/s
// The batch mode is the contract of shared/tools/check_tokenizer.py: "detok" is
// llama_detokenize(ids, remove_special = true, unparse_special = false), made valid UTF-8.
#include <CLI/CLI.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gemrun::cli {
namespace {

constexpr char kCmd[] = "tokenize";

// JSON-style quoting for the human listing: control and invalid bytes as escapes.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const utf8::Seq q = utf8::Next(s, i);
      if (q.kind == utf8::SeqKind::kValid) {
        out.append(s.substr(i, q.len));
        i += q.len;
        continue;
      }
    }
    char buf[8];
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out + "'";
}

// JSON string literal for valid UTF-8 `s`. Besides what JSON requires, U+0085, U+2028 and
// U+2029 are escaped: they are line breaks to many line-oriented readers (Python's
// str.splitlines among them), and every output record must stay on one line.
void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    char buf[8];
    switch (c) {
      case '"': *out += "\\\""; continue;
      case '\\': *out += "\\\\"; continue;
      case '\n': *out += "\\n"; continue;
      case '\r': *out += "\\r"; continue;
      case '\t': *out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      *out += buf;
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      *out += "\\u0085";
      ++i;
    } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      *out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

bool ReadFile(const std::string& path, std::string* out) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    *out = ss.str();
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return static_cast<bool>(in) || in.eof();
}

// One JSONL record -> one output line; returns false (after writing an "error" line) when the
// record cannot be processed.
bool ProcessRecord(const Tokenizer& tok, std::string_view line, std::vector<TokenId>* ids, std::string* out) {
  nlohmann::json rec;
  std::string error;
  try {
    rec = nlohmann::json::parse(line.begin(), line.end());
    if (!rec.is_object() || !rec.contains("text") || !rec["text"].is_string()) {
      error = "record needs a string field \"text\"";
    } else if ((rec.contains("add_special") && !rec["add_special"].is_boolean()) ||
               (rec.contains("parse_special") && !rec["parse_special"].is_boolean())) {
      error = "\"add_special\" and \"parse_special\" must be booleans";
    }
  } catch (const nlohmann::json::exception& e) {
    error = std::string("invalid JSON: ") + e.what();
  }
  if (!error.empty()) {
    *out += "{\"error\":";
    AppendJsonString(utf8::Sanitize(error), out);
    *out += "}\n";
    return false;
  }
  EncodeOptions opts;
  opts.add_special = rec.value("add_special", true);
  opts.parse_special = rec.value("parse_special", false);
  const std::string& text = rec["text"].get_ref<const std::string&>();
  ids->clear();
  tok.Encode(text, opts, ids);
  DecodeOptions dopts;
  dopts.remove_special = true;
  dopts.unparse_special = false;
  dopts.llama_clean_spaces = true;  // what llama_detokenize does (Gemma 4 only)
  const std::string detok = utf8::Sanitize(tok.Decode(*ids, dopts));
  *out += "{\"ids\":[";
  for (size_t i = 0; i < ids->size(); ++i) {
    if (i) *out += ',';
    *out += std::to_string((*ids)[i]);
  }
  *out += "],\"detok\":";
  AppendJsonString(detok, out);
  *out += "}\n";
  return true;
}

int RunJsonl(const Tokenizer& tok, const std::string& path) {
  std::string data;
  if (!ReadFile(path, &data)) {
    std::fprintf(stderr, "gemrun %s: error: cannot read %s\n", kCmd, path.c_str());
    return kExitModel;
  }
  std::string out;
  std::vector<TokenId> ids;
  size_t bad = 0, line_no = 0;
  for (size_t pos = 0; pos < data.size();) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string_view line(data.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (!ProcessRecord(tok, line, &ids, &out)) {
      ++bad;
      std::fprintf(stderr, "gemrun %s: %s line %zu: bad record\n", kCmd, path.c_str(), line_no);
    }
    if (out.size() > (1u << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (bad) {
    std::fprintf(stderr, "gemrun %s: %zu record(s) could not be processed\n", kCmd, bad);
    return kExitRuntime;
  }
  return kExitOk;
}

int RunBench(const Tokenizer& tok, const std::string& path, const EncodeOptions& opts, double seconds) {
  std::string data;
  if (!ReadFile(path, &data)) {
    std::fprintf(stderr, "gemrun %s: error: cannot read %s\n", kCmd, path.c_str());
    return kExitModel;
  }
  // CPU time of this thread: on a shared machine wall time measures the neighbours too.
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  };
  using Clock = std::chrono::steady_clock;
  std::vector<TokenId> ids;
  tok.Encode(data, opts, &ids);  // warm-up (page cache, allocator)
  int runs = 0;
  double best = 1e30, total = 0, wall = 0;
  while (runs < 3 || total < seconds) {
    ids.clear();
    const auto w0 = Clock::now();
    const double t0 = cpu_now();
    tok.Encode(data, opts, &ids);
    const double dt = cpu_now() - t0;
    wall += std::chrono::duration<double>(Clock::now() - w0).count();
    best = std::min(best, dt);
    total += dt;
    ++runs;
  }
  const double d0 = cpu_now();
  const std::string text = tok.Decode(ids);
  const double dec = cpu_now() - d0;
  const double mb = data.size() / 1e6;
  std::printf("file            %s\n", path.c_str());
  std::printf("tokenizer       %s, %d tokens\n", TokenizerModelName(tok.model()), tok.vocab().size());
  std::printf("input           %.2f MB, %zu tokens, %.2f bytes/token\n", mb, ids.size(),
              ids.empty() ? 0.0 : data.size() / static_cast<double>(ids.size()));
  std::printf("encode (1 core) %.1f MB/s best, %.1f MB/s mean over %d runs (thread CPU time; wall %.1f MB/s)\n",
              mb / best, mb * runs / total, runs, mb * runs / wall);
  std::printf("decode          %.1f MB/s (%zu bytes out)\n", text.size() / 1e6 / std::max(dec, 1e-9), text.size());
  return kExitOk;
}

int RunHuman(const Tokenizer& tok, const std::string& text, const EncodeOptions& opts, bool ids_only) {
  const std::vector<TokenId> ids = tok.Encode(text, opts);
  if (ids_only) {
    std::printf("%s\n", nlohmann::json(ids).dump().c_str());
    return kExitOk;
  }
  std::printf("%zu tokens\n", ids.size());
  for (TokenId id : ids) std::printf("%8d  %s\n", id, Quote(tok.Piece(id, /*special=*/true)).c_str());
  return kExitOk;
}

}  // namespace

int CmdTokenize(int argc, char** argv) {
  CLI::App app{"Tokenize text with a model's vocabulary (Gemma 3 SentencePiece or Gemma 4 BPE), "
               "exactly as llama.cpp does.",
               "gemrun tokenize"};
  app.footer(
      "examples:\n"
      "  gemrun tokenize -m gemma-3-1b-it.gguf \"Hello world\"\n"
      "  gemrun tokenize -m model.gguf --parse-special \"<start_of_turn>user\\nHi<end_of_turn>\"\n"
      "  echo 'some text' | gemrun tokenize -m model.gguf --ids -\n"
      "  gemrun tokenize -m model.gguf --jsonl in.jsonl > out.jsonl\n"
      "      in:  {\"text\": \"Hello\", \"add_special\": true, \"parse_special\": false}\n"
      "      out: {\"ids\": [2, 9259], \"detok\": \"Hello\"}   (detok leaves out control tokens)\n"
      "  gemrun tokenize -m model.gguf --bench big.log      (single-core MB/s)\n\n"
      "exit codes: 0 ok, 1 usage error, 2 model/file error, 3 runtime error (bad JSONL record)");
  std::string model, jsonl, bench;
  std::vector<std::string> words;
  bool no_bos = false, parse_special = false, ids_only = false, g4_bytes = false, g4_drop = false;
  double bench_seconds = 2.0;
  app.add_option("-m,--model", model, "GGUF file with tokenizer.ggml.* metadata")->required()->type_name("FILE");
  app.add_option("text", words, "text to tokenize (several words are joined by spaces; '-' reads stdin)");
  app.add_option("--jsonl", jsonl, "batch mode: one JSON record per line ('-' = stdin)")->type_name("FILE");
  app.add_option("--bench", bench, "measure encode throughput on the contents of FILE")->type_name("FILE");
  app.add_option("--bench-seconds", bench_seconds, "minimum timing duration for --bench (default 2)")
      ->type_name("SECONDS");
  app.add_flag("--no-bos", no_bos, "do not add BOS (add_special = false)");
  app.add_flag("--parse-special", parse_special, "recognise control tokens such as <start_of_turn>");
  app.add_flag("--ids", ids_only, "print only the id list as JSON");
  app.add_flag("--g4-drop-bytes", g4_drop,
               "Gemma 4: drop characters missing from the vocabulary, as llama.cpp d1f82e382 (April 2026) "
               "did, instead of encoding them as <0xXX> byte tokens (llama.cpp 3f545becc and HF, the default)");
  app.add_flag("--g4-byte-tokens", g4_bytes, "Gemma 4: <0xXX> byte fallback (the default; kept for old scripts)")
      ->excludes("--g4-drop-bytes");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  const int modes = !jsonl.empty() + !bench.empty() + !words.empty();
  if (modes != 1) {
    std::fprintf(stderr, "gemrun %s: give exactly one of TEXT, --jsonl FILE or --bench FILE (see --help)\n", kCmd);
    return kExitUsage;
  }

  auto file = GgufFile::Open(model);
  if (!file.ok()) {
    ReportError(kCmd, file.status());
    return kExitModel;
  }
  TokenizerOptions topts;
  topts.gemma4_fallback = g4_drop ? Gemma4Fallback::kDropBytes : Gemma4Fallback::kByteTokens;
  auto tok = Tokenizer::FromGguf(**file, topts);
  if (!tok.ok()) {
    ReportError(kCmd, tok.status());
    return kExitModel;
  }
  EncodeOptions opts;
  opts.add_special = !no_bos;
  opts.parse_special = parse_special;
  try {
    if (!jsonl.empty()) return RunJsonl(**tok, jsonl);
    if (!bench.empty()) return RunBench(**tok, bench, opts, bench_seconds);
    std::string text;
    if (words.size() == 1 && words[0] == "-") {
      ReadFile("-", &text);
    } else {
      for (size_t i = 0; i < words.size(); ++i) text += (i ? " " : "") + words[i];
    }
    return RunHuman(**tok, text, opts, ids_only);
  } catch (const std::exception& e) {  // allocation failure and the like
    std::fprintf(stderr, "gemrun %s: error: %s\n", kCmd, e.what());
    return kExitRuntime;
  }
}

}  // namespace gemrun::cli
