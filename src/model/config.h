// ModelConfig: hyper-parameters read once from GGUF metadata, validated, then immutable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemrun {

enum class Arch { kGemma3, kGemma4 };

struct LayerConfig {
  bool sliding = false;    // local (sliding-window) attention layer
  int head_dim = 0;        // D for this layer
  int n_head_kv = 0;
  int64_t n_ff = 0;        // dense / shared MLP width
  int n_rot = 0;           // rotated dims (NeoX pairs (i, i + n_rot/2))
  float rope_base = 10000.0f;
  float freq_scale = 1.0f;
  bool proportional_rope = false;  // Gemma 4 global layers: rope_freqs divisors
  int kv_source = 0;       // layer whose KV cache this layer reads (itself unless shared)
  bool moe = false;        // Gemma 4 MoE feed-forward
};

struct ModelConfig {
  Arch arch = Arch::kGemma3;
  std::string arch_name;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int n_head = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t window = 0;         // sliding window W (0: none)
  float eps = 1e-6f;
  float q_scale = 1.0f;       // query pre-scale (Gemma 3: 1/sqrt(head_dim); Gemma 4: 1)
  float final_softcap = 0.0f; // 0: off
  float embd_scale = 1.0f;    // sqrtf(n_embd)
  // Gemma 4 extras.
  int64_t n_embd_per_layer = 0;  // PLE width P (0: absent)
  int64_t n_expert = 0, n_expert_used = 0, n_ff_exp = 0;
  std::vector<LayerConfig> layers;

  int max_head_dim() const;
  int max_kv_width() const;   // max over layers of n_head_kv * head_dim
  int64_t max_ff() const;
  bool owns_kv(int il) const { return layers[il].kv_source == il; }
};

}  // namespace gemrun
