// gemrun bench-grammar: constrained-decoding cost on a real vocabulary, without a model.
// Per constraint file: compile time, then a simulated generation (a seeded random allowed token
// per step) timing each token mask: mean, p50, p99 and max microseconds (thread CPU time) per token.
// One vocabulary trie, so one mask cache, serves every file in turn, as a server's would.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "cli/commands.h"
#include "constrain/constrain.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include <CLI/CLI.hpp>

namespace gemrun::cli {
namespace {

// Thread CPU time: on a shared, oversubscribed machine wall time mostly measures the queue.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
  }
};
double Us(double a, double b) { return b - a; }

struct Stats {
  double mean = 0, p50 = 0, p99 = 0, max = 0;
};
Stats Summarize(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  s.p50 = v[v.size() / 2];
  s.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  s.max = v.back();
  return s;
}

// Generations until `tokens` masks are timed; each answer ends at a random complete point.
std::vector<double> SimulateMasks(constrain::GrammarPtr g, std::shared_ptr<const constrain::TokenTrie> trie, int tokens,
                                  uint32_t seed, int* answers) {
  std::mt19937 rng(seed);
  std::vector<double> us;
  constrain::TokenMask mask;
  std::vector<int32_t> allowed;
  while (static_cast<int>(us.size()) < tokens) {
    constrain::Matcher m(g, trie);
    ++*answers;
    for (int step = 0; step < 2000 && static_cast<int>(us.size()) < tokens; ++step) {
      const auto t0 = Clock::now();
      m.ComputeMask(&mask);
      us.push_back(Us(t0, Clock::now()));
      allowed.clear();
      for (size_t w = 0; w < mask.size(); ++w)
        for (uint64_t bits = mask[w]; bits; bits &= bits - 1)
          allowed.push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits))));
      if (allowed.empty() || (m.CanEnd() && rng() % 4 == 0)) break;
      if (!m.Accept(allowed[rng() % allowed.size()]).ok()) break;
    }
  }
  return us;
}

}  // namespace

int CmdBenchGrammar(int argc, char** argv) {
  CLI::App app{"Measure constrained decoding on a vocabulary: compile time and token-mask time per token.\n\n"
               "example:\n"
               "  gemrun bench-grammar --vocab gemma3-vocab.gguf --schema schemas/*.json --tokens 300\n"
               "  gemrun bench-grammar --vocab gemma3-vocab.gguf --schema schemas/*.json --passes 2   # pass 2: warm mask cache",
               "gemrun bench-grammar"};
  std::string vocab;
  std::vector<std::string> schemas, grammars;
  int tokens = 200;
  uint32_t seed = 1;
  app.add_option("--vocab", vocab, "GGUF file with a tokenizer (a model or a vocab-only file)")->required();
  app.add_option("--schema", schemas, "JSON Schema file(s)");
  app.add_option("--grammar", grammars, "GBNF grammar file(s)");
  app.add_option("--tokens", tokens, "masks timed per file (default 200)")->check(CLI::Range(1, 1000000));
  app.add_option("--seed", seed, "seed of the simulated token choices");
  int passes = 1;
  app.add_option("--passes", passes,
                 "run the file list this many times over one vocabulary (its mask cache stays warm; each pass uses "
                 "seed + pass, and prints its own ALL line)")
      ->check(CLI::Range(1, 100));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  auto f = GgufFile::Open(vocab);
  if (!f.ok()) return ReportError("bench-grammar", f.status());
  auto tok = Tokenizer::FromGguf(**f);
  if (!tok.ok()) return ReportError("bench-grammar", tok.status());
  auto t0 = Clock::now();
  auto trie = constrain::TokenTrie::FromTokenizer(**tok);
  std::printf("vocab: %d tokens, trie %d nodes, built in %.1f ms\n", trie->n_vocab, trie->n_nodes(), Us(t0, Clock::now()) / 1000);
  std::printf("%-34s %9s %7s %9s %9s %9s %9s\n", "file", "compile", "tokens", "mean_us", "p50_us", "p99_us", "max_us");
  std::vector<std::pair<std::string, bool>> files;
  for (const auto& s : schemas) files.push_back({s, true});
  for (const auto& g : grammars) files.push_back({g, false});
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<double> all, compiles;
    for (const auto& [path, is_schema] : files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) return ReportError("bench-grammar", NotFoundError("cannot open " + path));
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      t0 = Clock::now();
      auto g = is_schema ? constrain::CompileJsonSchema(text) : constrain::CompileGbnf(text);
      const double compile_ms = Us(t0, Clock::now()) / 1000;
      const std::string name = path.substr(path.find_last_of('/') + 1);
      if (!g.ok()) {
        std::printf("%-34s refused: %s\n", name.c_str(), g.status().message().c_str());
        continue;
      }
      compiles.push_back(compile_ms);
      int answers = 0;
      std::vector<double> us = SimulateMasks(*g, trie, tokens, seed + static_cast<uint32_t>(pass), &answers);
      all.insert(all.end(), us.begin(), us.end());
      const Stats st = Summarize(us);
      std::printf("%-34s %7.2fms %7zu %9.1f %9.1f %9.1f %9.0f\n", name.c_str(), compile_ms, us.size(), st.mean, st.p50, st.p99,
                  st.max);
    }
    const Stats st = Summarize(all);
    const Stats cs = Summarize(compiles);
    const constrain::MaskCache::Stats mc = trie->mask_cache->stats();
    std::printf("mask cache (shared by all files): %zu entries, %zu folded tries, %.1f MiB, %llu hits, %llu misses\n",
                mc.entries, mc.class_tries, static_cast<double>(mc.bytes) / (1 << 20),
                static_cast<unsigned long long>(mc.hits), static_cast<unsigned long long>(mc.misses));
    if (passes > 1) std::printf("pass %d ", pass + 1);
    std::printf("ALL: %zu masks: mean %.1f us, p50 %.1f us, p99 %.1f us, max %.0f us; compile mean %.2f ms, p50 %.2f ms, "
                "max %.2f ms\n", all.size(), st.mean, st.p50, st.p99, st.max, cs.mean, cs.p50, cs.max);
  }
  return kExitOk;
}

}  // namespace gemrun::cli
