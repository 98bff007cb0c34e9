// Llama::forward_at (the static-shape decode step a CUDA graph replays): the same logits as forward
// over a growing cache, for the architectures it serves, and clear errors where it does not.
#include <gtest/gtest.h>

#include "lm_generation_utils.h"
#include "tessera/lm/models/llama.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

namespace {

// Prefills `prompt` into two caches (step 8, so the buffers grow while decoding), then decodes `steps`
// greedy tokens with forward on one and forward_at on the other; returns the largest logit difference.
float max_step_difference(const Llama& m, const std::vector<int32_t>& prompt, int steps) {
  KVCache a(m.num_layers(), 0, 8), b(m.num_layers(), 0, 8);
  const int L = static_cast<int>(prompt.size());
  array ids(prompt, {1, L}, int32);
  array la = m.forward(ids, &a);
  array lb = m.forward(ids, &b);
  eval({la, lb});
  float worst = 0;
  int32_t next = argmax(slice(la, {0, L - 1, 0}, {1, L, la.shape(2)})).item<int32_t>();
  for (int i = 0; i < steps; ++i) {
    array tok({next}, {1, 1}, int32);
    EXPECT_TRUE(b.static_decodable());
    b.reserve_positions(b.offset() + 1);
    array fa = m.forward(tok, &a);                                  // (1, 1, V)
    array fb = m.forward_at(tok, b, array(b.offset(), int32));     // (1, 1, V)
    b.advance(1);
    eval({fa, fb});
    EXPECT_EQ(fb.shape(), fa.shape());
    worst = std::max(worst, max(abs(fa - fb)).item<float>());
    next = argmax(fa).item<int32_t>();
  }
  EXPECT_EQ(a.offset(), b.offset());
  EXPECT_GE(b.capacity(), b.offset());
  return worst;
}

}  // namespace

TEST(ForwardAt, MatchesForwardOnStories) {
  EXPECT_LT(max_step_difference(stories(), {1, 403, 407, 261}, 40), 1e-4f);
}

TEST(ForwardAt, MatchesForwardOnTinyHFModels) {
  // Biases (qwen2), q/k norms (qwen3), embedding scaling (gemma), partial rotary (phi3).
  for (auto arch : {"llama", "qwen2", "qwen3", "gemma", "phi3"}) {
    auto m = hf_fixture(arch);
    ASSERT_TRUE(m->supports_forward_at()) << arch;
    EXPECT_LT(max_step_difference(*m, {3, 14, 15, 92, 65}, 20), 1e-4f) << arch;
  }
}

TEST(ForwardAt, RefusesWhatItCannotServe) {
  const Llama& m = stories();
  KVCache empty(m.num_layers());
  EXPECT_FALSE(empty.static_decodable());  // nothing prefilled yet
  EXPECT_THROW(m.forward_at(array({1}, {1, 1}, int32), empty, array(0, int32)), std::invalid_argument);

  KVCache c(m.num_layers());
  eval(m.forward(array({1, 403}, {1, 2}, int32), &c));
  EXPECT_THROW(m.forward_at(array({1, 2}, {1, 2}, int32), c, array(2, int32)), std::invalid_argument);  // 2 tokens
  EXPECT_THROW(m.forward_at(array({1}, {1, 1}, int32), c, array(2.0f)), std::invalid_argument);        // float pos
  c.set_quantization(8);
  EXPECT_FALSE(c.static_decodable());
  // Sliding-window models are not served.
  EXPECT_FALSE(hf_fixture("gemma2")->supports_forward_at());
}
