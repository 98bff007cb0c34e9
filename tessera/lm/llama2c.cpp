// Reads llama2.c v0 checkpoints into a LlamaConfig and HF-named weights, validating sizes first.
#include "tessera/lm/llama2c.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tessera/ops.h"

namespace tessera::lm {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw std::runtime_error("[llama2c] " + path + ": " + msg);
}

// Reads `count` floats at the file's current position into a (rows, cols) or (n,) array.
class TensorReader {
 public:
  TensorReader(std::ifstream& f, const std::string& path) : f_(f), path_(path) {}
  std::vector<float> read(uint64_t count) {
    std::vector<float> v(count);
    if (!f_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)))) {
      fail(path_, "unexpected end of file.");
    }
    return v;
  }
  void skip(uint64_t count) {
    f_.seekg(static_cast<std::streamoff>(count * sizeof(float)), std::ios::cur);
    if (!f_) fail(path_, "unexpected end of file.");
  }

 private:
  std::ifstream& f_;
  const std::string& path_;
};

// Rows of `layer` (n_heads * head_dim, cols) reordered from adjacent-pair to half-split RoPE layout.
std::vector<float> permute_rope_rows(const float* w, int n_heads, int head_dim, int cols) {
  std::vector<float> out(static_cast<size_t>(n_heads) * head_dim * cols);
  int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    for (int j = 0; j < head_dim; ++j) {
      int src = j < half ? 2 * j : 2 * (j - half) + 1;
      std::memcpy(&out[(static_cast<size_t>(h) * head_dim + j) * cols],
                  &w[(static_cast<size_t>(h) * head_dim + src) * cols], cols * sizeof(float));
    }
  }
  return out;
}

array make(const float* p, size_t n, Shape shape) {
  return array(std::vector<float>(p, p + n), std::move(shape));
}

}  // namespace

Llama2cCheckpoint load_llama2c(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open the file.");
  f.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(f.tellg());
  f.seekg(0, std::ios::beg);
  int32_t h[7];
  if (file_size < sizeof(h) || !f.read(reinterpret_cast<char*>(h), sizeof(h))) {
    fail(path, "file too short for the 28-byte header (" + std::to_string(file_size) + " bytes).");
  }
  if (static_cast<uint32_t>(h[0]) == 0x616b3432u) {
    fail(path,
         "this is a llama2.c version 1/2 checkpoint (magic \"ak42\"); only the legacy v0 format is "
         "supported.");
  }
  const int dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv_heads = h[4], seq_len = h[6];
  const bool shared = h[5] > 0;
  const int64_t vocab = h[5] > 0 ? h[5] : -static_cast<int64_t>(h[5]);
  std::string hdr = "dim=" + std::to_string(dim) + " hidden_dim=" + std::to_string(hidden) +
                    " n_layers=" + std::to_string(n_layers) + " n_heads=" + std::to_string(n_heads) +
                    " n_kv_heads=" + std::to_string(n_kv_heads) + " vocab_size=" + std::to_string(h[5]) +
                    " seq_len=" + std::to_string(seq_len);
  // Generous bounds that keep every product below in 64 bits.
  const int64_t kMax = 1 << 20;
  if (dim <= 0 || hidden <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv_heads <= 0 || vocab <= 0 ||
      seq_len <= 0 || dim > kMax || hidden > kMax || n_layers > 4096 || n_heads > dim ||
      n_kv_heads > n_heads || vocab > (1 << 24) || seq_len > (1 << 24)) {
    fail(path, "not a llama2.c checkpoint (implausible header: " + hdr + ").");
  }
  if (dim % n_heads != 0 || n_heads % n_kv_heads != 0 || (dim / n_heads) % 2 != 0) {
    fail(path, "inconsistent header (" + hdr +
                   "): dim must be a multiple of n_heads, n_heads of n_kv_heads, "
                   "and the head size even.");
  }
  const int64_t head = dim / n_heads, kv_dim = head * n_kv_heads, L = n_layers;
  const uint64_t n_floats = vocab * dim                                             // token embedding
                            + L * dim                                               // rms_att
                            + L * dim * dim + 2 * L * dim * kv_dim + L * dim * dim  // wq, wk, wv, wo
                            + L * dim                                               // rms_ffn
                            + 3 * L * dim * hidden                                  // w1, w2, w3
                            + dim                                                   // rms_final
                            + seq_len * head               // freq_cis_real + freq_cis_imag
                            + (shared ? 0 : vocab * dim);  // classifier
  const uint64_t expected = sizeof(h) + n_floats * sizeof(float);
  if (file_size != expected) {
    fail(path, std::string(file_size < expected ? "truncated" : "has trailing data") + ": the header (" +
                   hdr + ") implies " + std::to_string(expected) + " bytes but the file has " +
                   std::to_string(file_size) + ".");
  }

  Llama2cCheckpoint ck;
  LlamaConfig& c = ck.config;
  c.hidden_size = dim;
  c.intermediate_size = hidden;
  c.num_hidden_layers = n_layers;
  c.num_attention_heads = n_heads;
  c.num_key_value_heads = n_kv_heads;
  c.vocab_size = static_cast<int>(vocab);
  c.rms_norm_eps = 1e-5f;  // run.c's rmsnorm
  c.rope_theta = 10000.0f;
  c.max_position_embeddings = seq_len;
  c.tie_word_embeddings = shared;
  c.head_dim = static_cast<int>(head);
  c.rope_traditional = false;  // q/k rows are permuted below

  TensorReader r(f, path);
  auto& w = ck.weights;
  auto layer_name = [](int i, const char* name) { return "model.layers." + std::to_string(i) + "." + name; };
  // Stacked (n_layers, rows, cols) tensor -> one array per layer, optionally RoPE-permuted.
  auto per_layer = [&](const char* name, int64_t rows, int64_t cols, int permute_heads) {
    auto all = r.read(L * rows * cols);
    for (int i = 0; i < n_layers; ++i) {
      const float* p = all.data() + i * rows * cols;
      Shape shape =
          cols == 1 ? Shape{static_cast<int>(rows)} : Shape{static_cast<int>(rows), static_cast<int>(cols)};
      if (permute_heads > 0) {
        w.insert_or_assign(
            layer_name(i, name),
            array(permute_rope_rows(p, permute_heads, static_cast<int>(head), static_cast<int>(cols)),
                  shape));
      } else {
        w.insert_or_assign(layer_name(i, name), make(p, rows * cols, shape));
      }
    }
  };
  auto emb = r.read(vocab * dim);
  w.insert_or_assign("model.embed_tokens.weight",
                     make(emb.data(), emb.size(), {static_cast<int>(vocab), dim}));
  per_layer("input_layernorm.weight", dim, 1, 0);
  per_layer("self_attn.q_proj.weight", dim, dim, n_heads);
  per_layer("self_attn.k_proj.weight", kv_dim, dim, n_kv_heads);
  per_layer("self_attn.v_proj.weight", kv_dim, dim, 0);
  per_layer("self_attn.o_proj.weight", dim, dim, 0);
  per_layer("post_attention_layernorm.weight", dim, 1, 0);
  per_layer("mlp.gate_proj.weight", hidden, dim, 0);  // w1
  per_layer("mlp.down_proj.weight", dim, hidden, 0);  // w2
  per_layer("mlp.up_proj.weight", hidden, dim, 0);    // w3
  auto norm = r.read(dim);
  w.insert_or_assign("model.norm.weight", make(norm.data(), norm.size(), {dim}));
  r.skip(seq_len * head);  // freq_cis_real, freq_cis_imag: recomputed by fast::rope
  if (!shared) {
    auto cls = r.read(vocab * dim);
    w.insert_or_assign("lm_head.weight", make(cls.data(), cls.size(), {static_cast<int>(vocab), dim}));
  }
  return ck;
}

}  // namespace tessera::lm
