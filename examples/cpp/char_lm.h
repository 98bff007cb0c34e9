// Example/test helper: a tiny Llama-style character language model (Embedding, RMSNorm, RoPE attention,
// SwiGLU MLP, tied head) written with tessera::nn and trained with AdamW on Tiny Shakespeare.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/nn.h"
#include "tessera/optimizers.h"
#include "tessera/tessera.h"

namespace tessera::examples {

class CharAttention : public nn::Module {
 public:
  CharAttention(int dims, int heads) : heads_(heads) {
    for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      register_module(n, std::make_shared<nn::Linear>(dims, dims, false));
    }
    register_module("rope", std::make_shared<nn::RoPE>(dims / heads));
  }
  std::string name() const override { return "CharAttention"; }
  // x: (B, L, D) -> (B, L, D), causal.
  array operator()(const array& x) override {
    int B = x.shape(0), L = x.shape(1), D = x.shape(2), hd = D / heads_;
    auto heads = [&](const char* n) { return transpose(reshape((*get_module(n))(x), {B, L, heads_, hd}), {0, 2, 1, 3}); };
    auto& rope = *get_module("rope");
    auto q = rope(heads("q_proj")), k = rope(heads("k_proj")), v = heads("v_proj");
    auto o = fast::scaled_dot_product_attention(q, k, v, 1.0f / std::sqrt(static_cast<float>(hd)), "causal");
    return (*get_module("o_proj"))(reshape(transpose(o, {0, 2, 1, 3}), {B, L, D}));
  }

 private:
  int heads_;
};

class CharBlock : public nn::Module {
 public:
  CharBlock(int dims, int heads, int hidden) {
    register_module("attention_norm", std::make_shared<nn::RMSNorm>(dims));
    register_module("attention", std::make_shared<CharAttention>(dims, heads));
    register_module("mlp_norm", std::make_shared<nn::RMSNorm>(dims));
    register_module("gate_proj", std::make_shared<nn::Linear>(dims, hidden, false));
    register_module("up_proj", std::make_shared<nn::Linear>(dims, hidden, false));
    register_module("down_proj", std::make_shared<nn::Linear>(hidden, dims, false));
  }
  std::string name() const override { return "CharBlock"; }
  array operator()(const array& x) override {
    auto h = add(x, (*get_module("attention"))((*get_module("attention_norm"))(x)));
    auto n = (*get_module("mlp_norm"))(h);
    auto m = multiply(nn::silu((*get_module("gate_proj"))(n)), (*get_module("up_proj"))(n));
    return add(h, (*get_module("down_proj"))(m));
  }
};

class CharLlama : public nn::Module {
 public:
  CharLlama(int vocab, int dims, int heads, int hidden, int layers) {
    register_module("embedding", std::make_shared<nn::Embedding>(vocab, dims));
    std::vector<nn::ModulePtr> blocks;
    for (int i = 0; i < layers; ++i) blocks.push_back(std::make_shared<CharBlock>(dims, heads, hidden));
    register_modules("layers", blocks);
    register_module("norm", std::make_shared<nn::RMSNorm>(dims));
  }
  std::string name() const override { return "CharLlama"; }
  // tokens (B, L) int32 -> logits (B, L, vocab) through the tied embedding.
  array operator()(const array& tokens) override {
    auto emb = std::static_pointer_cast<nn::Embedding>(get_module("embedding"));
    auto h = (*emb)(tokens);
    for (auto& [k, m] : children()) {
      if (k.rfind("layers.", 0) == 0) h = (*m)(h);
    }
    return emb->as_linear((*get_module("norm"))(h));
  }
};

struct CharLMResult {
  double unigram_entropy;  // nats per character, over the training text
  double val_loss;         // nats per character
  double first_loss;
  double seconds;
};

inline std::string read_text(const std::string& path, size_t max_chars) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("[examples] cannot open " + path);
  std::string s(max_chars, '\0');
  f.read(s.data(), static_cast<std::streamsize>(max_chars));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

// Trains on the first 90% of the first max_chars characters of `path`, evaluates on the rest.
inline CharLMResult train_char_lm(const std::string& path, int steps, size_t max_chars = 200000, bool verbose = false) {
  auto t0 = std::chrono::steady_clock::now();
  std::string text = read_text(path, max_chars);
  std::map<char, int> vocab;
  for (char c : text) vocab.emplace(c, 0);
  int V = 0;
  for (auto& [c, id] : vocab) id = V++;
  std::vector<int> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = vocab[text[i]];
  size_t n_train = text.size() * 9 / 10;

  std::vector<double> counts(V, 0.0);
  for (size_t i = 0; i < n_train; ++i) counts[ids[i]] += 1;
  double H = 0;
  for (double c : counts) {
    if (c > 0) H -= c / n_train * std::log(c / n_train);
  }

  const int B = 16, L = 64;
  std::mt19937 gen(0);
  auto batch = [&](size_t lo, size_t hi) {
    std::uniform_int_distribution<size_t> d(lo, hi - L - 2);
    std::vector<int> x(B * L), y(B * L);
    for (int b = 0; b < B; ++b) {
      size_t s = d(gen);
      for (int l = 0; l < L; ++l) {
        x[b * L + l] = ids[s + l];
        y[b * L + l] = ids[s + l + 1];
      }
    }
    return std::make_pair(array(x, {B, L}), array(y, {B, L}));
  };

  random::seed(0);
  CharLlama model(V, 64, 4, 128, 2);
  auto loss_fn = [&](const std::vector<array>& a) {
    return nn::losses::cross_entropy(model(a[0]), a[1], std::nullopt, -1, 0.0f, "mean");
  };
  auto loss_and_grad = nn::value_and_grad(model, loss_fn);
  optimizers::AdamW opt(optimizers::join_schedules({optimizers::linear_schedule(1e-4f, 3e-3f, 20),
                                                    optimizers::cosine_decay(3e-3f, steps, 3e-4f)},
                                                   {20}),
                        {0.9f, 0.95f}, 1e-8f, 0.01f);
  CharLMResult r{H, 0, 0, 0};
  for (int s = 0; s < steps; ++s) {
    auto [x, y] = batch(0, n_train);
    auto [loss, grads] = loss_and_grad({x, y});
    opt.update(model, grads);
    std::vector<array> outs = opt.state_arrays();
    for (auto& [k, a] : tree_flatten(model.parameters())) outs.push_back(a);
    outs.push_back(loss);
    eval(outs);
    if (s == 0) r.first_loss = loss.item<float>();
    if (verbose && (s % 50 == 0 || s + 1 == steps)) std::printf("step %4d  train loss %.3f\n", s, loss.item<float>());
  }
  double val = 0;
  const int val_batches = 8;
  for (int i = 0; i < val_batches; ++i) {
    auto [x, y] = batch(n_train, text.size());
    val += loss_fn({x, y}).item<float>() / val_batches;
  }
  r.val_loss = val;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace tessera::examples
