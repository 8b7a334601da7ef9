// OpsFlags and ProgressBar implementation.
#include "cli/ops_flags.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace gemrun::cli {
namespace {

bool StdinReady(int ms) {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  int r;
  do r = poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

Status ReadStdin(uint64_t cap, std::string* out) {
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  *out = std::move(ss).str();
  if (out->size() > cap)
    return InvalidArgumentError("standard input is over the " + std::to_string(cap >> 20) + " MiB cap; raise --max-bytes");
  return OkStatus();
}

}  // namespace

void OpsFlags::Register(CLI::App& app, bool retrieve_flags) {
  app.add_option("inputs", inputs, "files and directories to read (recursively); '-' is standard input, which is "
                                   "also read when piped");
  app.add_option("--include", include, "only files matching this glob (repeatable), e.g. --include '*.log'");
  app.add_option("--exclude", exclude, "skip files and directories matching this glob (repeatable), "
                                       "e.g. --exclude 'vendor/**'");
  app.add_flag("--no-gitignore", no_gitignore, "also read files that .gitignore files exclude");
  app.add_flag("--no-stdin", no_stdin, "do not read piped standard input");
  app.add_option("--max-bytes", max_mib, "cap per input after decompression, in MiB (default 1024); larger "
                                         "inputs are an error, never cut")->check(CLI::Range(1, 1 << 20));
  app.add_option("--answer-tokens", ask.answer_tokens, "tokens reserved for the final answer (default 512)")
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--note-tokens", ask.note_tokens, "map-reduce: tokens per chunk note (default 256)")
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--chunk-tokens", ask.chunk_tokens, "tokens per chunk (default: as large as the context allows)")
      ->check(CLI::Range(64, 1 << 24));
  app.add_option("--overlap", ask.overlap_tokens, "tokens repeated between consecutive chunks (default: 1/8 of a chunk)")
      ->check(CLI::Range(0, 1 << 20));
  if (retrieve_flags) {
    app.add_flag("--retrieve", retrieve, "input too large: send the chunks a BM25 ranking finds most relevant "
                                         "instead of reading everything (map-reduce)");
    app.add_option("--top-chunks", ask.top_k, "--retrieve: at most this many chunks (default: as many as fit)")
        ->check(CLI::Range(1, 1 << 20));
  }
}

Status OpsFlags::Load(const char* cmd, ingest::IngestResult* out) const {
  ingest::IngestOptions io;
  io.include = include;
  io.exclude = exclude;
  io.gitignore = !no_gitignore;
  io.limits.max_decoded_bytes = io.limits.max_file_bytes = static_cast<uint64_t>(max_mib) << 20;
  std::vector<std::string> paths;
  bool dash = false;
  for (const std::string& p : inputs) {
    if (p == "-") dash = true;
    else paths.push_back(p);
  }
  bool piped = dash;
  if (!dash && !no_stdin && !isatty(STDIN_FILENO)) piped = StdinReady(500);
  if (piped) {
    std::string body;
    RETURN_IF_ERROR(ReadStdin(io.limits.max_decoded_bytes, &body));
    if (!body.empty()) RETURN_IF_ERROR(ingest::IngestBytes("stdin", std::move(body), io, out));
  }
  RETURN_IF_ERROR(ingest::IngestPaths(paths, io, out));
  for (const std::string& n : out->notes) std::fprintf(stderr, "gemrun %s: %s\n", cmd, n.c_str());
  if (out->docs.empty())
    return InvalidArgumentError("no input: name files or directories, or pipe text in (nothing readable was found)");
  return OkStatus();
}

ProgressBar::ProgressBar(const char* cmd) : cmd_(cmd), tty_(isatty(STDERR_FILENO)) {}

void ProgressBar::Update(const ops::AskProgress& p) {
  if (!tty_) return;
  if (p.elapsed_s - last_ < 0.2 && p.done != p.total) return;
  last_ = p.elapsed_s;
  const double rate = p.elapsed_s > 0 ? p.gen_tokens / p.elapsed_s : 0;
  char eta[32] = "";
  if (p.done > 0 && p.total > p.done) {
    const int s = static_cast<int>(p.elapsed_s / p.done * (p.total - p.done));
    std::snprintf(eta, sizeof eta, " | ETA %dm%02ds", s / 60, s % 60);
  }
  const int pct = p.total ? static_cast<int>(100.0 * p.done / p.total) : 0;
  std::fprintf(stderr, "\r\033[2Kgemrun %s: [%s %zu/%zu] %d%% | %.1f tok/s%s", cmd_, p.stage, p.done, p.total, pct,
               rate, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Done() {
  if (drawn_) std::fprintf(stderr, "\r\033[2K");
  drawn_ = false;
}

}  // namespace gemrun::cli
