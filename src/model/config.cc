// ModelConfig helpers.
#include "model/config.h"

#include <algorithm>

namespace gemrun {

int ModelConfig::max_head_dim() const {
  int m = 0;
  for (const auto& l : layers) m = std::max(m, l.head_dim);
  return m;
}

int ModelConfig::max_kv_width() const {
  int m = 0;
  for (const auto& l : layers) m = std::max(m, l.n_head_kv * l.head_dim);
  return m;
}

int64_t ModelConfig::max_ff() const {
  int64_t m = 0;
  for (const auto& l : layers) m = std::max(m, l.n_ff);
  return m;
}

}  // namespace gemrun
