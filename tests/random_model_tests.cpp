// Tests of random-weight Llama models: named shapes against real checkpoints and published counts, dtypes,
// forward.
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/lm/kv_cache.h"
#include "tessera/lm/llama2c.h"
#include "tessera/lm/random_model.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;

namespace {
const std::string kStories = std::string(TESSERA_SHARED_DATA) + "/models/stories260K/stories260K.bin";
}

TEST(RandomModel, StoriesShapeMatchesTheCheckpoint) {
  auto ck = load_llama2c(kStories);
  LlamaConfig c = llama_shape("stories");
  EXPECT_EQ(c.hidden_size, ck.config.hidden_size);
  EXPECT_EQ(c.intermediate_size, ck.config.intermediate_size);
  EXPECT_EQ(c.num_hidden_layers, ck.config.num_hidden_layers);
  EXPECT_EQ(c.num_attention_heads, ck.config.num_attention_heads);
  EXPECT_EQ(c.kv_heads(), ck.config.kv_heads());
  EXPECT_EQ(c.vocab_size, ck.config.vocab_size);
  EXPECT_EQ(c.tie_word_embeddings, ck.config.tie_word_embeddings);
  EXPECT_EQ(c.max_position_embeddings, ck.config.max_position_embeddings);

  // Same names and shapes as the real weights; the parameter count is their total size.
  WeightMap w = random_llama_weights(c, bfloat16, 7, Device::cpu);
  ASSERT_EQ(w.size(), ck.weights.size());
  size_t total = 0;
  for (const auto& [name, real] : ck.weights) {
    ASSERT_TRUE(w.count(name)) << name;
    EXPECT_EQ(w.at(name).shape(), real.shape()) << name;
    EXPECT_EQ(w.at(name).dtype(), bfloat16) << name;
    total += real.size();
  }
  EXPECT_EQ(llama_parameter_count(c), total);
  // Tied: the decode step reads every weight.
  size_t bytes = 0;
  for (const auto& [name, a] : w) bytes += a.nbytes();
  EXPECT_EQ(llama_decode_weight_bytes(c, w), bytes);
  EXPECT_EQ(bytes, total * 2);
}

TEST(RandomModel, ParameterCountsOfPublishedModels) {
  // Llama-2-7B: 6,738,415,616 parameters (the Hugging Face checkpoint's total).
  EXPECT_EQ(llama_parameter_count(llama_shape("7b")), 6738415616u);
  // SmolLM2-135M: 134,515,008 with tied embeddings; the "smol" shape adds an untied 49152 x 576 output.
  EXPECT_EQ(llama_parameter_count(llama_shape("smol")), 134515008u + 49152u * 576u);
  LlamaConfig c = llama_shape("1b");
  EXPECT_EQ(c.kv_heads(), 8);
  EXPECT_EQ(c.head_dim_or_default(), 64);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(RandomModel, ValuesAndForward) {
  LlamaConfig c = llama_shape("stories");
  WeightMap w = random_llama_weights(c, float16, 3);
  array e = astype(w.at("model.embed_tokens.weight"), float32);  // 512 x 64 normal * 0.02
  float m = mean(e).item<float>(), sd = std::sqrt(var(e).item<float>());
  EXPECT_NEAR(m, 0.0f, 0.001f);
  EXPECT_NEAR(sd, 0.02f, 0.001f);
  EXPECT_TRUE(all(equal(w.at("model.norm.weight"), ones({c.hidden_size}, float16))).item<bool>());
  // Different tensors get different values; the same seed gives the same weights.
  EXPECT_FALSE(all(equal(w.at("model.layers.0.self_attn.q_proj.weight"),
                         w.at("model.layers.1.self_attn.q_proj.weight")))
                   .item<bool>());
  WeightMap again = random_llama_weights(c, float16, 3);
  EXPECT_TRUE(
      all(equal(w.at("model.layers.4.mlp.down_proj.weight"), again.at("model.layers.4.mlp.down_proj.weight")))
          .item<bool>());

  Llama model(c, w);
  KVCache cache(model.num_layers());
  array logits = model(array({1, 2, 3, 4}, {1, 4}, int32), &cache);
  eval(logits);
  EXPECT_EQ(logits.shape(), (Shape{1, 4, c.vocab_size}));
  EXPECT_EQ(cache.offset(), 4);
  EXPECT_TRUE(all(isfinite(logits)).item<bool>());
}

TEST(RandomModel, BadInput) {
  EXPECT_THROW(llama_shape("13b"), std::invalid_argument);
  EXPECT_THROW(random_llama_weights(llama_shape("stories"), int32), std::invalid_argument);
  LlamaConfig bad = llama_shape("stories");
  bad.num_attention_heads = 7;  // 64 is not a multiple of 7
  EXPECT_THROW(random_llama_weights(bad, float32), std::invalid_argument);
}
