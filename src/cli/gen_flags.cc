// GenFlags implementation.
#include "cli/gen_flags.h"

namespace gemrun::cli {

void GenFlags::Register(CLI::App& app) {
  app.add_option("-m,--model", model, "GGUF model file")->required();
  app.add_option("-c,--ctx-size", engine.n_ctx, "context size in tokens (default: the model's, at most 8192)");
  app.add_option("-t,--threads", engine.threads, "threads (default: all cores)");
  app.add_option("-b,--batch-size", engine.max_batch, "prompt tokens per forward pass")->check(CLI::Range(1, 1 << 16));
  app.add_option("--kv-type", kv_type, "KV cache type: f16 (default), f32, or q8_0 (K in q8_0: less memory)")
      ->check(CLI::IsMember(kKvTypeNames));
  AddFlashAttnOption(app, &flash_attn);
  app.add_option("--draft-model", engine.draft_model,
                 "speculative decoding: a smaller model with the same tokenizer drafts tokens that this model "
                 "verifies in one batched pass (same output, faster), e.g. --draft-model gemma-3-270m-it-Q8_0.gguf");
  app.add_option("--draft-max", engine.draft_max, "with --draft-model: at most N drafted tokens per pass (default 8; "
                                                  "adapted to the acceptance rate)")
      ->check(CLI::Range(1, 64));
  auto& s = gen.sampling;
  app.add_option("-n,--max-tokens", gen.max_tokens, "maximum tokens to generate (default: until the context is full)");
  app.add_option("--temp,--temperature", s.temperature, "sampling temperature; 0 = greedy (default 0.8)");
  app.add_option("--top-k", s.top_k, "top-k (0 = off, default 40)");
  app.add_option("--top-p", s.top_p, "top-p nucleus (1 = off, default 0.95)");
  app.add_option("--min-p", s.min_p, "min-p (0 = off, default 0.05)");
  app.add_option("--repeat-penalty", s.repeat_penalty, "repetition penalty (1 = off)");
  app.add_option("--repeat-last-n", s.repeat_last_n, "tokens the penalties look back over (default 64)");
  app.add_option("--presence-penalty", s.presence_penalty, "presence penalty (0 = off)");
  app.add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty (0 = off)");
  app.add_option("-s,--seed", s.seed, "random seed (same seed, same output)");
  app.add_option("--logit-bias", logit_bias, "bias a token: ID=BIAS (repeatable)");
  AddSuppressOption(app, &suppress);
  app.add_option("--stop", gen.stop, "stop string (repeatable; not included in the output)");
  app.add_flag("--parse-special-in-content", parse_special_in_content,
               "let control-token texts typed in the prompt (e.g. <end_of_turn>) act as control tokens; by "
               "default message text is plain text and only the chat template adds control tokens");
}

Status GenFlags::Finish() {
  engine.kv_type = KvTypeFromName(kv_type);
  engine.flash_attn = FlashAttnFromName(flash_attn);
  engine.suppress = SuppressFromName(suppress);
  for (const std::string& b : logit_bias) {
    const size_t eq = b.find('=');
    char* end = nullptr;
    if (eq == std::string::npos) return InvalidArgumentError("--logit-bias '" + b + "': expected ID=BIAS");
    const long id = std::strtol(b.substr(0, eq).c_str(), &end, 10);
    if (*end) return InvalidArgumentError("--logit-bias '" + b + "': bad token id");
    const float bias = std::strtof(b.c_str() + eq + 1, &end);
    if (*end || eq + 1 == b.size()) return InvalidArgumentError("--logit-bias '" + b + "': bad bias");
    gen.sampling.logit_bias.emplace_back(static_cast<int32_t>(id), bias);
  }
  return OkStatus();
}

}  // namespace gemrun::cli
