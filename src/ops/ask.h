// `ask`: a question over inputs of any size. Counts tokens first and plans: the whole input in
// one prompt when it fits the context; otherwise map-reduce (per-chunk notes that carry their
// source ranges, merged in rounds until they fit, then the answer) or, with --retrieve, the
// chunks BM25 ranks highest that fit. Nothing is truncated silently: the plan says what is read.
// Citations in the answer are checked against the inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest/chunk.h"
#include "ingest/ingest.h"
#include "ops/citations.h"
#include "ops/llm.h"

namespace gemrun::ops {

struct AskOptions {
  std::string question;
  bool retrieve = false;         // rank chunks with BM25 and send the best that fit (else map-reduce)
  int64_t answer_tokens = 512;   // reserved for the final answer
  int64_t note_tokens = 256;     // per chunk note / merged note
  int64_t chunk_tokens = 0;      // 0: as large as the context allows (retrieval: a quarter of that)
  int64_t overlap_tokens = -1;   // -1: an eighth of a chunk
  int top_k = 0;                 // retrieval: at most this many chunks (0: as many as fit)
  std::shared_ptr<const constrain::Grammar> answer_grammar;  // check: the verdict's schema
  std::string answer_instructions;  // replaces the default answer instructions (check)
};

struct Plan {
  size_t files = 0;
  int64_t lines = 0, pages = 0, tokens = 0, n_ctx = 0;
  std::string strategy;        // "whole", "map-reduce", "retrieve"
  size_t chunks = 0;
  int64_t chunk_tokens = 0;    // budget per chunk
  int rounds = 0;              // map-reduce: estimated synthesis rounds (incl. the final answer)
  size_t retrieved = 0;        // retrieve: chunks sent
  int64_t retrieved_tokens = 0;
  std::string Describe() const;  // one line for stderr
  nlohmann::json ToJson() const;
};

struct AskProgress {
  const char* stage = "";   // "map", "merge", "answer"
  size_t done = 0, total = 0;
  int64_t gen_tokens = 0;   // generated so far, all calls
  double elapsed_s = 0;
};
using ProgressFn = std::function<void(const AskProgress&)>;

struct AskResult {
  std::string answer;      // invalid citations flagged "[not in the input]"
  std::string raw_answer;  // as generated
  Plan plan;
  std::vector<Citation> citations;
  LlmReply final_reply;
  int rounds = 0;          // synthesis rounds actually run (incl. the final answer)
};

class Ask {
 public:
  Ask(Llm& llm, const std::vector<ingest::Document>& docs, AskOptions opts)
      : llm_(llm), docs_(docs), o_(std::move(opts)) {}
  // Counts tokens and decides the strategy (no generation). Errors: a context too small for
  // the question and one chunk (naming -c).
  StatusOr<Plan> MakePlan();
  // Runs the plan (MakePlan first). `esc` may be null (local only).
  StatusOr<AskResult> Run(const ProgressFn& progress, Escalator* esc);

 private:
  struct Note {
    std::string text;
    std::vector<std::pair<size_t, std::pair<int64_t, int64_t>>> ranges;  // doc -> (first, last)
  };
  std::string Render(const ingest::Chunk& c) const;
  std::string RangesLabel(const Note& n) const;
  std::string ClampNote(std::string text) const;
  std::string WholeUser(const std::string& sources) const;
  std::string MapUser(const std::string& source) const;
  std::string MergeUser(const std::vector<Note>& notes) const;
  std::string FinalUser(const std::vector<Note>& notes) const;
  LlmRequest Request(std::string user, int64_t max_tokens, bool final) const;
  Status MapChunk(const ingest::Chunk& c, std::vector<Note>* notes, int depth);
  StatusOr<std::vector<Note>> MergeRound(std::vector<Note> notes);
  StatusOr<LlmReply> Final(const std::string& user);
  StatusOr<LlmReply> Call(const LlmRequest& r);
  std::vector<ingest::Chunk> MakeChunks(int64_t max_tokens) const;
  ingest::Chunk SubChunk(const ingest::Chunk& c, int64_t first, int64_t last) const;
  void Tick(const char* stage, size_t done, size_t total);
  StatusOr<LlmReply> RunRetrieve();
  StatusOr<LlmReply> RunMapReduce(int* rounds);

  Llm& llm_;
  const std::vector<ingest::Document>& docs_;
  AskOptions o_;
  Plan plan_;
  std::vector<std::vector<int64_t>> unit_tokens_;  // per document, line numbers included
  std::vector<ingest::Chunk> chunks_;
  ProgressFn progress_;
  Escalator* esc_ = nullptr;
  int64_t whole_overhead_ = 0, map_overhead_ = 0;
  AskProgress prog_;
  double t0_ = 0;
};

// The default instructions for a final answer (ask).
extern const char* const kAnswerInstructions;

}  // namespace gemrun::ops
