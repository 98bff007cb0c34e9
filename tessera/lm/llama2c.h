// Reader for llama2.c model checkpoints (the legacy "v0" format of karpathy/llama2.c's run.c).
#pragma once

#include <string>

#include "tessera/lm/models/llama.h"

namespace tessera::lm {

struct Llama2cCheckpoint {
  LlamaConfig config;
  WeightMap weights;  // Hugging Face names; q/k rows permuted into HF's RoPE layout (see below)
};

// Reads a llama2.c v0 checkpoint: a header of 7 int32 (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size (negative: the classifier is not shared with the embedding), seq_len),
// then fp32 tensors in llama2.c's order (embedding, attention norms, wq, wk, wv, wo, ffn norms,
// w1, w2, w3, final norm, the unused RoPE tables freq_cis_real/imag, and the classifier if unshared).
//
// RoPE layout: llama2.c rotates adjacent pairs (x[2i], x[2i+1]) of each head; Hugging Face rotates
// halves (x[i], x[i + d/2]). Like HF's convert_llama_weights_to_hf.py, the rows of wq and wk are
// permuted per head at load (new row i = old row 2i, new row i + d/2 = old row 2i + 1), so the
// weights are true HF weights and config.rope_traditional stays false.
//
// Throws std::runtime_error "[llama2c] ..." for a missing, truncated or malformed file; the header
// is checked against the file length before anything is allocated.
Llama2cCheckpoint load_llama2c(const std::string& path);

}  // namespace tessera::lm
