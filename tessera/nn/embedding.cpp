// nn::Embedding.
#include "tessera/nn/embedding.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Embedding::Embedding(int num_embeddings, int dims) {
  if (num_embeddings <= 0 || dims <= 0) throw std::invalid_argument("[Embedding] sizes must be positive.");
  float scale = std::sqrt(1.0f / static_cast<float>(dims));
  register_array("weight", random::normal({num_embeddings, dims}, 0.0f, scale));
}

array Embedding::operator()(const array& x) {
  if (is_floating_point(x.dtype())) throw std::invalid_argument("[Embedding] indices must be integers.");
  return take(get_array("weight"), x, 0);
}

array Embedding::as_linear(const array& x) const { return matmul(x, transpose(get_array("weight"))); }

}  // namespace tessera::nn
