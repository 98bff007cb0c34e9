// Pipelined decoding (GenerateStepOptions::pipelined): the next step is queued on the lazy token of the
// current one; the tokens must equal unpipelined decoding for greedy and seeded sampling.
#include <gtest/gtest.h>

#include "lm_generation_utils.h"
#include "tessera/lm/generate_step.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

namespace {

// n tokens decoded one next() at a time, the caller announcing how many it still wants.
std::vector<int32_t> decode(const std::vector<int32_t>& prompt, SamplerConfig s, bool pipelined, int n,
                            int kv_bits = 0) {
  GenerateStepOptions o;
  o.sampler = s;
  o.pipelined = pipelined;
  o.kv_bits = kv_bits;
  GenerateStep step(stories(), prompt, o);
  std::vector<int32_t> out;
  while (static_cast<int>(out.size()) < n) {
    for (auto& t : step.next(n - static_cast<int>(out.size()))) out.push_back(t.token);
  }
  return out;
}

}  // namespace

TEST(PipelinedDecoding, SameTokensAsUnpipelined) {
  const auto& tok = stories_tokenizer();
  SamplerConfig greedy;
  SamplerConfig hot;
  hot.temp = 0.9f;
  hot.seed = 7;
  SamplerConfig nucleus;
  nucleus.temp = 1.0f;
  nucleus.top_p = 0.8f;
  nucleus.top_k = 40;
  nucleus.seed = 11;
  for (auto text : {"Once upon a time", "Tom and his mom"}) {
    auto prompt = tok.encode(text);
    prompt.insert(prompt.begin(), 1);  // BOS
    for (const auto& s : {greedy, hot, nucleus}) {
      auto a = decode(prompt, s, false, 80);
      auto b = decode(prompt, s, true, 80);
      EXPECT_EQ(a, b) << text << " temp " << s.temp;
      EXPECT_EQ(a.size(), 80u);
    }
    // A quantized KV cache pipelines too.
    EXPECT_EQ(decode(prompt, greedy, false, 40, 8), decode(prompt, greedy, true, 40, 8));
  }
}

TEST(PipelinedDecoding, OneTokenAtATimeWithoutRoomStillDecodes) {
  // room 1 on every call: nothing is queued ahead, each call computes its own step.
  GenerateStepOptions o;
  GenerateStep step(stories(), {1, 403, 407}, o);
  GenerateStepOptions u;
  u.pipelined = false;
  GenerateStep ref(stories(), {1, 403, 407}, u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(step.next(1)[0].token, ref.next(1)[0].token) << i;
  // Then with room: the queued step continues from the same state.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(step.next(5)[0].token, ref.next(5)[0].token) << i;
  EXPECT_EQ(step.history(), ref.history());
}
