// Flags shared by the generating commands (run, chat): model, context, threads, sampling.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace gemrun::cli {

// --kv-type values: "f16" (llama.cpp's default), "f32", "q8_0" (K in Q8_0, V in F16).
inline const std::vector<std::string> kKvTypeNames = {"f16", "f32", "q8_0"};
inline DType KvTypeFromName(const std::string& s) {
  return s == "f32" ? DType::kF32 : s == "q8_0" ? DType::kQ8_0 : DType::kF16;
}

// --suppress-tokens values (SuppressMode, tokenizer/tokenizer.h).
inline const std::vector<std::string> kSuppressNames = {"auto", "file", "off"};
inline SuppressMode SuppressFromName(const std::string& s) {
  return s == "off" ? SuppressMode::kOff : s == "file" ? SuppressMode::kFile : SuppressMode::kAuto;
}
inline constexpr const char* kSuppressHelp =
    "tokens never sampled: auto (default: the file's tokenizer.ggml.suppress_tokens, else Gemma 4's "
    "<image|>/<audio|> when the vocabulary has them), file (only the file's list, as llama.cpp), off "
    "(none; raw greedy). Example: --suppress-tokens file";
// Registers --suppress-tokens on `app`, storing the value's name in *value.
inline CLI::Option* AddSuppressOption(CLI::App& app, std::string* value) {
  return app.add_option("--suppress-tokens", *value, kSuppressHelp)->check(CLI::IsMember(kSuppressNames));
}

// --flash-attn (alias -fa) values, as llama.cpp's: "on", "off", or "auto" (= kFlashAttnAuto).
inline const std::vector<std::string> kFlashAttnNames = {"on", "off", "auto"};
// What "auto" picks: the unfused kernel, which measured faster on the CPUs we tried (the fused
// one pays for reading the transposed V cache in blocks).
inline constexpr bool kFlashAttnAuto = false;
inline bool FlashAttnFromName(const std::string& s) { return s == "auto" ? kFlashAttnAuto : s == "on"; }
inline constexpr const char* kFlashAttnHelp =
    "attention kernel: on (fused, flash-style), off (scores, softmax, then V), auto (default: off)";
// Registers --flash-attn on `app`, storing the value's name in *value (FlashAttnFromName).
inline CLI::Option* AddFlashAttnOption(CLI::App& app, std::string* value, const char* help = kFlashAttnHelp) {
  return app.add_option("--flash-attn", *value, help)->check(CLI::IsMember(kFlashAttnNames));
}

struct GenFlags {
  std::string model;
  EngineOptions engine;
  std::string kv_type = "f16";
  std::string flash_attn = "auto";
  std::string suppress = "auto";
  GenerateParams gen;
  std::vector<std::string> logit_bias;  // "ID=BIAS"
  bool parse_special_in_content = false;  // ChatOptions::parse_special_in_content

  // Registers -m, -c, -t, -b, --kv-type, -fa and the sampling flags on `app`.
  void Register(CLI::App& app);
  // Turns the parsed strings into options; usage errors as InvalidArgument.
  Status Finish();
};

}  // namespace gemrun::cli
