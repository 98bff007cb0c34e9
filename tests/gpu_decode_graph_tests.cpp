// DecodeGraph on the GPU: decode steps captured once per cache capacity and replayed give the logits
// of Llama::forward, and GenerateStep decodes the same tokens with and without it.
#include <gtest/gtest.h>

#include "lm_generation_utils.h"
#include "tessera/lm/decode_graph.h"
#include "tessera/lm/generate_step.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

TEST(GpuDecodeGraph, ReplaysMatchForwardAcrossCacheGrowth) {
  const Llama& m = stories();
  ASSERT_TRUE(m.supports_forward_at());
  KVCache a(m.num_layers(), 0, 16), b(m.num_layers(), 0, 16);
  array ids({1, 403, 407}, {1, 3}, int32);
  eval({m.forward(ids, &a), m.forward(ids, &b)});
  ASSERT_TRUE(DecodeGraph::usable(m, b));
  DecodeGraph g(m, b);
  int32_t next = 261;
  const int steps = 60;  // positions 3..62: capacity 16 -> 32 -> 48 -> 64
  for (int i = 0; i < steps; ++i) {
    array tok({next}, {1, 1}, int32);
    array fa = m.forward(tok, &a);
    array fb = g.step(tok);  // reserve_ahead 1: the buffers grow 16 positions at a time
    eval({fa, fb});
    ASSERT_FALSE(g.failed()) << g.why_not();
    EXPECT_LT(max(abs(fa - fb)).item<float>(), 1e-4f) << "step " << i;
    next = argmax(fa).item<int32_t>();
  }
  EXPECT_EQ(b.offset(), a.offset());
  EXPECT_EQ(g.captures(), 4u);  // one per capacity: 16, 32, 48, 64
  EXPECT_EQ(g.replays(), static_cast<size_t>(steps) - 4);
}

TEST(GpuDecodeGraph, GenerateStepSameTokensWithAndWithoutGraph) {
  SamplerConfig greedy;
  SamplerConfig hot;
  hot.temp = 0.8f;
  hot.seed = 5;
  for (bool pipelined : {true, false}) {
    for (const auto& s : {greedy, hot}) {
      std::vector<int32_t> with, without;
      for (int graph_min : {8, 0}) {
        GenerateStepOptions o;
        o.sampler = s;
        o.pipelined = pipelined;
        o.decode_graph_min_tokens = graph_min;
        GenerateStep step(stories(), {1, 403, 407}, o);
        auto& out = graph_min ? with : without;
        const int n = 300;  // past the default cache step (256)
        while (static_cast<int>(out.size()) < n) {
          for (auto& t : step.next(n - static_cast<int>(out.size()))) out.push_back(t.token);
        }
      }
      EXPECT_EQ(with, without) << "pipelined " << pipelined << " temp " << s.temp;
    }
  }
}
