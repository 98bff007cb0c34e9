// DecodeGraph: Llama::forward_at captured once as a CUDA graph (gpu::capture_work) and launched per
// token with the new token ids and position copied into the graph's input buffers.
#include "tessera/lm/decode_graph.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/backend/gpu_capture.h"
#include "tessera/device.h"
#include "tessera/env.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

bool env_enabled() {
  static const bool on = env_switch_on("TESSERA_DECODE_GRAPH");
  return on;
}

// The device buffers of every layer's keys and values (evaluated first).
std::vector<const void*> buffer_pointers(KVCache& cache) {
  std::vector<array> bufs;
  for (int l = 0; l < cache.num_layers(); ++l) {
    auto [k, v] = cache.buffers(l);
    bufs.push_back(k);
    bufs.push_back(v);
  }
  eval(bufs);
  std::vector<const void*> ptrs;
  for (auto& b : bufs) ptrs.push_back(b.device_data());
  return ptrs;
}

}  // namespace

bool DecodeGraph::usable(const Llama& model, const KVCache& cache) {
  return env_enabled() && gpu::capture_available() && default_device() == Device::gpu &&
         model.supports_forward_at() && cache.num_layers() == model.num_layers() && cache.static_decodable();
}

array DecodeGraph::capture(const array& tokens, int offset) {
  graph_.reset();
  const int B = tokens.shape(0);
  tokens_in_ = gpu::device_buffer({B, 1}, int32);
  pos_in_ = gpu::device_buffer({}, int32);
  gpu::copy_values(*tokens_in_, tokens);
  gpu::copy_values(*pos_in_, array(offset, int32));
  // The cache buffers are written in place by both runs (donated to the slice updates): a buffer
  // that moved between the warm run and the capture would leave the graph writing a copy the cache
  // never got filled.
  std::vector<const void*> warm_ptrs;
  int builds = 0;
  auto build = [&] {
    if (builds++ == 1) warm_ptrs = buffer_pointers(cache_);
    return std::vector<array>{model_.forward_at(*tokens_in_, cache_, *pos_in_)};
  };
  gpu::CaptureResult r = gpu::capture_work(build);
  ++captures_;
  if (r.graph && buffer_pointers(cache_) != warm_ptrs) {
    throw std::logic_error("[decode_graph] the captured step does not write the cache's buffers in place.");
  }
  if (!r.graph) {
    failed_ = true;
    why_not_ = r.why_not;
  }
  graph_ = std::move(r.graph);
  capacity_ = cache_.capacity();
  return r.outputs.at(0);
}

array DecodeGraph::step(const array& tokens, int reserve_ahead) {
  if (tokens.ndim() != 2 || tokens.shape(1) != 1 || tokens.dtype() != int32) {
    throw std::invalid_argument("[decode_graph] tokens must be (B, 1) int32, got " + shape_str(tokens.shape()) + ".");
  }
  if (failed_) throw std::logic_error("[decode_graph] step after a failed capture: " + why_not_);
  const int offset = cache_.offset();
  cache_.reserve_positions(offset + std::max(1, reserve_ahead));
  array logits = tokens;
  if (graph_ && capacity_ == cache_.capacity() && tokens_in_->shape() == tokens.shape()) {
    logits = gpu::launch_work(*graph_, {{*tokens_in_, tokens}, {*pos_in_, array(offset, int32)}}).at(0);
    ++replays_;
  } else {
    logits = capture(tokens, offset);
  }
  cache_.advance(1);
  return logits;
}

}  // namespace tessera::lm
