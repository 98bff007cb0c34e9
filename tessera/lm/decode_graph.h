// One decode step replayed as a CUDA graph: the hundreds of kernel launches of a step, and the host
// work of building and scheduling its lazy graph, become one graph launch per token.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "tessera/array.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/models/llama.h"

namespace tessera::gpu {
class CapturedWork;
}

namespace tessera::lm {

class DecodeGraph {
 public:
  // Whether decode steps of `model` over `cache` can be captured: a CUDA build with the GPU as the
  // default device, Llama::supports_forward_at and KVCache::static_decodable, and the environment
  // does not set TESSERA_DECODE_GRAPH=0.
  static bool usable(const Llama& model, const KVCache& cache);

  DecodeGraph(const Llama& model, KVCache& cache) : model_(model), cache_(cache) {}

  // tokens: (B, 1) int32 (lazy allowed), the tokens at the cache's offset. Returns their logits
  // (B, 1, vocab) float32 and moves the cache one position on. The first step (and the first after
  // the cache outgrows its buffers) runs the step and captures it; later ones launch the graph.
  // reserve_ahead: positions the step should leave room for, so that the buffers are grown (and the
  // graph captured) once for a whole generation.
  array step(const array& tokens, int reserve_ahead = 1);

  // True once a capture failed: the caller should use Llama::forward from then on.
  bool failed() const { return failed_; }
  const std::string& why_not() const { return why_not_; }
  size_t captures() const { return captures_; }
  size_t replays() const { return replays_; }

 private:
  array capture(const array& tokens, int offset);

  const Llama& model_;
  KVCache& cache_;
  std::shared_ptr<gpu::CapturedWork> graph_;
  std::optional<array> tokens_in_, pos_in_;  // the graph's inputs: (B, 1) int32, () int32
  int capacity_ = 0;                         // the cache capacity the graph was captured for
  bool failed_ = false;
  std::string why_not_;
  size_t captures_ = 0, replays_ = 0;
};

}  // namespace tessera::lm
