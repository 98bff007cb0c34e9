// nn::Embedding.
#include "tessera/nn/embedding.h"

#include <cmath>
#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Embedding::Embedding(int num_embeddings, int dims) {
  if (num_embeddings <= 0 || dims <= 0) throw std::invalid_argument("[Embedding] sizes must be positive.");
  float scale = std::sqrt(1.0f / static_cast<float>(dims));
  register_array("weight", random::normal({num_embeddings, dims}, 0.0f, scale));
}

array Embedding::operator()(const array& x) { return functional::embedding(x, get_array("weight")); }

array Embedding::as_linear(const array& x) const { return functional::linear(x, get_array("weight")); }

array functional::embedding(const array& indices, const array& weight) {
  if (is_inexact(indices.dtype())) {
    throw std::invalid_argument("[nn] embedding: indices must be integers.");
  }
  if (weight.ndim() != 2)
    throw std::invalid_argument("[nn] embedding: weight must be (num_embeddings, dims).");
  return take(weight, indices, 0);
}

}  // namespace tessera::nn
