// Pieces shared by the CUDA graph captures (see graph_nodes.h).
#include "tessera/backend/cuda/graph_nodes.h"

#include <memory>
#include <unordered_set>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu.h"
#include "tessera/primitive.h"
#include "tessera/scheduler.h"

namespace tessera::detail::graph_nodes {

CapturedGraph::~CapturedGraph() {
  if (exec) cudaGraphExecDestroy(exec);
  for (auto& [p, n] : held) gpu::free(p, n);
}

StreamScope::StreamScope(int stream) : prev(gpu::get_stream()) { gpu::set_stream(stream); }

StreamScope::~StreamScope() {
  gpu::hold_frees(nullptr);
  gpu::set_stream(prev);
}

void capture_into(CapturedGraph& g, const std::vector<array>& outs, int stream) {
  cudaStream_t cs = cuda::current_stream();
  const size_t copies0 = cuda::host_copy_count();
  TESSERA_CUDA_CHECK(cudaStreamBeginCapture(cs, cudaStreamCaptureModeRelaxed));
  gpu::hold_frees(&g.held);
  cudaGraph_t graph = nullptr;
  try {
    g.keep = run_nodes(outs, stream);
    for (auto& o : outs) {
      array d = cuda::contiguous_gpu(o, o.dtype());  // a copy kernel (captured) unless already dense
      d.set_status(array::Status::available);
      g.outputs.push_back(d);
    }
    g.keep.insert(g.keep.end(), outs.begin(), outs.end());
    if (cuda::host_copy_count() != copies0) throw NotCapturable{"a node copied between host and device"};
  } catch (...) {
    gpu::hold_frees(nullptr);  // before g (and the blocks it holds) can go
    cudaStreamEndCapture(cs, &graph);
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    try {
      throw;
    } catch (const NotCapturable&) {
      throw;
    } catch (const std::exception& e) {
      throw NotCapturable{std::string("capture failed: ") + e.what()};
    }
  }
  gpu::hold_frees(nullptr);
  cudaError_t err = cudaStreamEndCapture(cs, &graph);
  if (err != cudaSuccess || !graph) {
    cudaGetLastError();
    if (graph) cudaGraphDestroy(graph);
    throw NotCapturable{std::string("capture invalidated: ") + cudaGetErrorName(err)};
  }
  err = cudaGraphInstantiate(&g.exec, graph, 0);
  cudaGraphDestroy(graph);
  if (err != cudaSuccess) {
    cudaGetLastError();
    g.exec = nullptr;
    throw NotCapturable{std::string("instantiate failed: ") + cudaGetErrorName(err)};
  }
  for (auto& o : g.outputs) o.detach();
}

std::vector<array> launch_and_copy_out(CapturedGraph& g, int stream) {
  cudaStream_t cs = cuda::current_stream();
  TESSERA_CUDA_CHECK(cudaGraphLaunch(g.exec, cs));
  std::vector<array> outs;
  for (auto& go : g.outputs) {
    array o = device_array(go);
    if (o.nbytes() > 0) {
      TESSERA_CUDA_CHECK(cudaMemcpyAsync(o.device_data(), go.device_data(), o.nbytes(), cudaMemcpyDeviceToDevice, cs));
    }
    outs.push_back(std::move(o));
  }
  publish(outs, stream);
  return outs;
}

bool dense(const array& a) { return a.flags().row_contiguous && a.data_size() == a.size(); }

array device_array(const array& like) {
  array out(like.shape(), like.dtype(), nullptr, {});
  out.set_device_data(gpu::malloc(out.nbytes()));
  out.set_status(array::Status::available);
  return out;
}

void publish(std::vector<array>& outs, int stream) {
  auto ev = std::make_shared<Event>();
  ev->set_fence(gpu::record_fence(stream), stream);
  ev->signal();
  for (auto& o : outs) {
    o.detach();
    o.event() = ev;
    o.set_status(array::Status::available);
  }
}

std::vector<array> run_nodes(const std::vector<array>& outs, int stream) {
  std::vector<array> order;
  std::unordered_set<const Primitive*> seen;
  std::vector<std::pair<array, size_t>> stack;
  auto visit = [&](const array& a) {
    if (!a.has_primitive() || a.status() == array::Status::available) return false;
    if (a.status() != array::Status::unscheduled) throw NotCapturable{"a node is already scheduled"};
    return seen.insert(&a.primitive()).second;
  };
  for (auto& o : outs) {
    if (!visit(o)) continue;
    stack.emplace_back(o, 0);
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      if (i < node.inputs().size()) {
        const array in = node.inputs()[i++];
        if (visit(in)) stack.emplace_back(in, 0);  // invalidates node and i
        continue;
      }
      order.push_back(node);
      stack.pop_back();
    }
  }
  std::vector<array> all, node_outs;
  for (auto& node : order) {
    auto& prim = node.primitive();
    if (prim.device() != Device::gpu || prim.stream().index != stream) {
      throw NotCapturable{std::string(prim.name()) + " is not on the GPU stream"};
    }
    node_outs.clear();
    if (node.siblings().empty()) node_outs.push_back(node);
    else node_outs = node.outputs();
    prim.eval_gpu(node.inputs(), node_outs);
    for (auto& o : node_outs) {
      auto& d = o.data_shared_ptr();
      if (!d || (d->buffer.size > 0 && !d->device_ptr)) {
        throw NotCapturable{std::string(prim.name()) + " has no GPU kernel (CPU fallback)"};
      }
      o.set_status(array::Status::available);
      all.push_back(o);
    }
  }
  return all;
}

void order_inputs(const std::vector<array>& inputs, int stream) {
  std::vector<array> lazy;
  for (auto& x : inputs) {
    if (x.status() == array::Status::unscheduled) lazy.push_back(x);
  }
  if (!lazy.empty()) async_eval(lazy);
  for (auto& x : inputs) {
    auto ev = x.event();
    if (!ev) continue;
    ev->wait();  // queued (GPU) or done (CPU)
    if (x.status() == array::Status::failed) std::rethrow_exception(x.error());
    if (x.status() != array::Status::available) wait_for(x);
    int fs = -1;
    auto f = ev->fence(&fs);
    if (f && fs != stream) gpu::stream_wait_fence(f, stream);
  }
}

void copy_in(const std::vector<array>& from, const std::vector<array>& to, cudaStream_t cs) {
  for (size_t i = 0; i < from.size(); ++i) {
    if (to[i].nbytes() == 0) continue;
    const void* src = from[i].device_data();  // uploads a host array (ordered before the copy)
    TESSERA_CUDA_CHECK(cudaMemcpyAsync(to[i].device_data(), src, to[i].nbytes(), cudaMemcpyDeviceToDevice, cs));
  }
}

}  // namespace tessera::detail::graph_nodes
