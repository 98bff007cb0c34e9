// Random-weight Llama models of named shapes (7b, 1b, smol, stories) for benchmarks and tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/device.h"
#include "tessera/dtype.h"
#include "tessera/lm/models/llama.h"

namespace tessera::lm {

// The shapes of PERF.md: "7b" (Llama-2-7B), "1b" (Llama-3.2-1B-like, vocab 32000), "smol" (SmolLM2-135M,
// untied output), "stories" (llama2.c stories260K). Throws std::invalid_argument "[random_model] ..." for
// other names.
LlamaConfig llama_shape(const std::string& name);
// The names llama_shape accepts.
std::vector<std::string> llama_shape_names();

// Number of parameters of a Llama of this config (embedding, every layer, final norm, untied lm_head).
size_t llama_parameter_count(const LlamaConfig& config);

// Weights of a Llama of `config` under Hugging Face names: matrices normal * 0.02 drawn directly in `dtype`
// on the device of `s`, norm weights ones (also `dtype`). Each tensor is evaluated as it is made, so the peak
// memory stays near the weights' own size. dtype must be a floating type.
WeightMap random_llama_weights(const LlamaConfig& config, Dtype dtype, uint64_t seed = 0,
                               StreamOrDevice s = {});

// Bytes of weights a decode step reads: every weight except the embedding table when it is not also the
// output matrix (a step gathers only a few of its rows).
size_t llama_decode_weight_bytes(const LlamaConfig& config, const WeightMap& weights);

}  // namespace tessera::lm
