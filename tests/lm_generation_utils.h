// Shared fixtures of the generation feature tests: stories260K, the tiny HF models, and a plain greedy
// decoding loop (one sequence, one token per step) as the reference for batched/cached/speculative runs.
#pragma once

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tessera/lm/hf_model.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/llama2c.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm::testing {

inline const std::string& stories_dir() {
  static const std::string d = std::string(TESSERA_SHARED_DATA) + "/models/stories260K/";
  return d;
}

inline const Llama& stories() {
  static auto ck = load_llama2c(stories_dir() + "stories260K.bin");
  static Llama m(ck.config, ck.weights);
  return m;
}

inline const Llama2cTokenizer& stories_tokenizer() {
  static Llama2cTokenizer t(stories_dir() + "tok512.bin", 512);
  return t;
}

inline std::string hf_fixture_dir(const std::string& arch) {
  return std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/hf_models/" + arch;
}

inline std::shared_ptr<Llama> hf_fixture(const std::string& arch) {
  HFLoadOptions o;
  o.load_tokenizer = false;
  return load_hf_model(hf_fixture_dir(arch), o).model;
}

inline nlohmann::json hf_expected(const std::string& arch) {
  std::ifstream in(hf_fixture_dir(arch) + "/expected.json");
  return nlohmann::json::parse(in);
}

// Greedy tokens after `prompt`, one sequence, one token per step, stopping before an id in `eos`.
// cache: nullptr for a plain growing cache.
inline std::vector<int32_t> greedy_reference(const Llama& m, const std::vector<int32_t>& prompt, int max_tokens,
                                             const std::vector<int32_t>& eos = {}, KVCache* cache_in = nullptr) {
  KVCache own(m.num_layers());
  KVCache& cache = cache_in ? *cache_in : own;
  std::vector<int32_t> out, ids = prompt;
  const int V = m.config().vocab_size;
  while (static_cast<int>(out.size()) < max_tokens) {
    array logits = m.forward(array(ids, {1, static_cast<int>(ids.size())}, int32), &cache);
    const int L = logits.shape(1);
    array next = astype(argmax(reshape(slice(logits, {0, L - 1, 0}, {1, L, V}), {V}), -1), int32);
    int32_t t = next.to_vector<int32_t>()[0];
    if (std::find(eos.begin(), eos.end(), t) != eos.end()) break;
    out.push_back(t);
    ids = {t};
  }
  return out;
}

}  // namespace tessera::lm::testing
