// eval/async_eval: iterative topological ordering, one worker thread per stream, cross-stream
// events, intermediates released as soon as their last consumer has run. A synchronous eval whose
// graph lies on one stream with an idle worker runs on the calling thread (no hand-off).
// GPU work is never waited for by the scheduler itself: a GPU segment (or a node another stream
// reads) records a fence after queueing its kernels; GPU consumers on other streams order their
// queue after it, and only host consumers (eval returning, wait, CPU ops) block on it.
#include "tessera/scheduler.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <thread>
#include <unordered_map>

#include "tessera/backend/cpu/threading.h"
#include "tessera/backend/gpu.h"
#include "tessera/backend/gpu_available.h"
#include "tessera/primitive.h"
#include "tessera/profiler.h"

namespace tessera {

void Event::signal(std::exception_ptr) {
  {
    std::lock_guard lk(mu_);
    done_ = true;
  }
  cv_.notify_all();
}

void Event::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return done_; });
}

bool Event::is_signaled() {
  std::lock_guard lk(mu_);
  return done_;
}

void Event::set_fence(std::shared_ptr<void> fence, int stream) {
  std::lock_guard lk(mu_);
  fence_ = std::move(fence);
  fence_stream_ = stream;
}

std::shared_ptr<void> Event::fence(int* stream) {
  std::lock_guard lk(mu_);
  *stream = fence_stream_;
  return fence_;
}

void Event::clear_fence(const std::shared_ptr<void>& fence) {
  std::lock_guard lk(mu_);
  if (fence_ == fence) fence_ = nullptr;
}

namespace {

// One thread per stream runs that stream's tasks in order.
class StreamWorker {
 public:
  StreamWorker() : thread_([this] { run(); }) {}
  ~StreamWorker() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void submit(std::function<void()> task) {
    pending_.fetch_add(1, std::memory_order_acq_rel);
    {
      std::lock_guard lk(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }
  // No task queued or running: work for this stream may run on the caller's thread.
  bool idle() const { return pending_.load(std::memory_order_acquire) == 0; }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::atomic<int> pending_{0};
  bool stop_{false};
  std::thread thread_;
};

class Workers {
 public:
  StreamWorker& get(int stream_index) {
    std::lock_guard lk(mu_);
    auto& w = workers_[stream_index];
    if (!w) w = std::make_unique<StreamWorker>();
    return *w;
  }
  std::vector<int> indices() {
    std::lock_guard lk(mu_);
    std::vector<int> out;
    for (auto& [k, v] : workers_) out.push_back(k);
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<int, std::unique_ptr<StreamWorker>> workers_;
};

Workers& workers() {
  // Leaked on purpose: worker threads must outlive static arrays destroyed at exit.
  static auto* w = new Workers();
  return *w;
}

// Calls f on every output of node's primitive (node and its siblings), without allocating.
template <typename F>
void for_each_output(array& node, F&& f) {
  f(node);
  for (auto& s : node.siblings()) f(s);
}

// Fills outs with node's outputs in output order, reusing outs' storage.
void gather_outputs(const array& node, std::vector<array>& outs) {
  outs.clear();
  if (node.siblings().empty()) {
    outs.push_back(node);
  } else {
    outs = node.outputs();
  }
}

// A GPU node on `stream` reading `in`: its queue waits (on the device) for in's fence when in was
// made on another GPU stream and the host has not already seen that fence reached.
void order_after(Event& ev, int stream) {
  int fs = -1;
  auto f = ev.fence(&fs);
  if (f && fs != stream) gpu::stream_wait_fence(f, stream);
}

// Tells the device allocator which stream's kernels read node's inputs: a block read by several
// streams is handed to another stream only after their kernels are done with it.
void note_device_reads(const array& node, int stream) {
  for (auto& in : node.inputs()) {
    auto& d = in.data_shared_ptr();
    if (!d) continue;
    void* p;
    {
      std::lock_guard lk(d->mu);
      p = d->device_ptr;
    }
    gpu::note_stream_use(p, stream);
  }
}

// `segment`: the event of the running segment (its nodes are ordered by the stream itself).
void run_primitive(array& node, std::vector<array>& outputs, const std::shared_ptr<Event>& segment) {
  gather_outputs(node, outputs);
  auto& prim = node.primitive();
  bool on_gpu = prim.device() == Device::gpu;
  int stream = prim.stream().index;
  // Inputs that failed make this node fail with the same error.
  for (auto& in : node.inputs()) {
    auto st = in.status();
    if (st == array::Status::failed) std::rethrow_exception(in.error());
    if (on_gpu) {
      // Made elsewhere: wait until its producer has queued it (an available node's segment may
      // still be queueing, its fence not yet set), then order this stream after it.
      auto ev = in.event();
      if (!ev || ev == segment) continue;
      ev->wait();
      if (in.status() == array::Status::failed) std::rethrow_exception(in.error());
      order_after(*ev, stream);
    } else if (st != array::Status::available) {
      wait_for(in);  // host consumer: also waits for GPU work behind it (host reads copy on the
                     // legacy stream, which waits for queued GPU work, when it is available)
    }
  }
  const bool profile = profiler::enabled();
  const auto t0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  gpu::TimingMark before, after;
  if (on_gpu) {
    // Kernels go to this stream's CUDA stream, asynchronously (see run_segment).
    gpu::set_stream(stream);
    if (profile) before = gpu::timing_mark(stream);
    prim.eval_gpu(node.inputs(), outputs);
    if (profile) after = gpu::timing_mark(stream);
    note_device_reads(node, stream);
  } else {
    prim.eval_cpu(node.inputs(), outputs);
  }
  if (profile) {
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    profiler::record(prim.name(), us, std::move(before), std::move(after));
  }
}

void mark_done(array& node, array::Status st, std::exception_ptr err, const std::shared_ptr<Event>& segment) {
  for_each_output(node, [&](array& o) {
    if (err) o.error() = err;
    o.set_status(st);
    // Nodes read by another stream have their own event; the rest share the segment's.
    if (o.event() && o.event() != segment) o.event()->signal();
  });
  node.detach();
}

// Runs one stream's share of a tape, in order.
// GPU segments: a node read by another stream gets a fence on its own event right after its
// kernels were queued; the segment's event gets one after the last node. Nothing waits here.
void run_segment(std::deque<array>& tape, const std::shared_ptr<Event>& done) {
  std::vector<array> outputs;  // reused for every node
  int gpu_stream = -1;
  for (auto& slot : tape) {
    array node = std::move(slot);  // our handle dies at the end of the iteration: intermediates free early
    bool on_gpu = node.primitive().device() == Device::gpu;
    if (on_gpu) gpu_stream = node.primitive().stream().index;
    try {
      run_primitive(node, outputs, done);
      outputs.clear();
      if (on_gpu) {
        gpu::Fence fence;
        for_each_output(node, [&](array& o) {
          if (!o.event() || o.event() == done) return;
          if (!fence) fence = gpu::record_fence(gpu_stream);
          o.event()->set_fence(fence, gpu_stream);
        });
      }
      mark_done(node, array::Status::available, nullptr, done);
    } catch (...) {
      outputs.clear();
      mark_done(node, array::Status::failed, std::current_exception(), done);
    }
  }
  tape.clear();
  if (gpu_stream >= 0) {
    try {
      done->set_fence(gpu::record_fence(gpu_stream), gpu_stream);
    } catch (...) {
      // A failed stream surfaces at the next CUDA call (the host's wait for this segment's outputs).
    }
  }
  done->signal();
}

// A tape's share of one stream: its nodes in order and the event signalled when all are done.
struct Segment {
  int stream;
  std::shared_ptr<Event> event;
  std::deque<array> nodes;  // deques: no large reallocations (and frees) on big tapes
};

// Orders the unscheduled part of the graph behind `outputs` (post-order DFS without recursion)
// into per-stream segments. Nodes are marked scheduled (with their segment's event) as they are
// reached, so the status doubles as the visited mark; on error the marks are undone.
std::vector<Segment> build_segments(const std::vector<array>& outputs) {
  std::vector<Segment> segs;
  auto find_segment = [&segs](int stream) -> Segment* {
    for (auto& s : segs) {
      if (s.stream == stream) return &s;
    }
    return nullptr;
  };
  auto mark = [&](array& node) {
    int stream = node.primitive().stream().index;
    Segment* seg = find_segment(stream);
    if (!seg) seg = &segs.emplace_back(Segment{stream, std::make_shared<Event>(), {}});
    for_each_output(node, [&](array& o) {
      o.event() = seg->event;
      o.set_status(array::Status::scheduled);
    });
  };
  auto unmark = [](array& node) {
    for_each_output(node, [](array& o) {
      o.event() = nullptr;
      o.set_status(array::Status::unscheduled);
    });
  };
  std::deque<std::pair<array, size_t>> stack;  // (node, next input index)
  try {
    for (auto& out : outputs) {
      if (out.status() != array::Status::unscheduled) continue;
      if (!out.has_primitive()) throw std::invalid_argument("[eval] array has neither data nor a primitive.");
      stack.emplace_back(out, 0);
      mark(stack.back().first);
      while (!stack.empty()) {
        auto& [node, i] = stack.back();
        if (i < node.inputs().size()) {
          const array& in = node.inputs()[i++];
          if (in.status() == array::Status::unscheduled) {
            if (!in.has_primitive())
              throw std::invalid_argument("[eval] input has neither data nor a primitive.");
            stack.emplace_back(in, 0);  // invalidates node and i
            mark(stack.back().first);
          }
          continue;
        }
        int s = node.primitive().stream().index;
        if (segs.size() > 1) {
          // Inputs made in this tape on another stream get their own event (their segment's
          // event fires only when that whole segment is done).
          for (auto& in : node.inputs()) {
            if (in.status() != array::Status::scheduled || !in.has_primitive()) continue;
            int is = in.primitive().stream().index;
            Segment* other = is == s ? nullptr : find_segment(is);
            if (!other || in.event() != other->event) continue;
            auto own = std::make_shared<Event>();
            for_each_output(in, [&](array& o) { o.event() = own; });
          }
        }
        find_segment(s)->nodes.push_back(std::move(node));
        stack.pop_back();
      }
    }
  } catch (...) {
    // Every marked node is on the stack or in a segment.
    for (auto& [n, i] : stack) unmark(n);
    for (auto& seg : segs) {
      for (auto& n : seg.nodes) unmark(n);
    }
    throw;
  }
  return segs;
}

// Schedules the graph; with `run_inline`, a single-stream CPU graph whose worker is idle runs here.
void schedule(const std::vector<array>& outputs, bool run_inline) {
  auto segs = build_segments(outputs);
  if (segs.empty()) return;
  if (run_inline && segs.size() == 1) {
    auto& seg = segs.front();
    auto& w = workers().get(seg.stream);
    if (w.idle()) {
      // GPU kernels queue from here on the stream's CUDA stream (this thread's own is restored).
      int prev = gpu::get_stream();
      run_segment(seg.nodes, seg.event);
      gpu::set_stream(prev);
      return;
    }
  }
  for (auto& seg : segs) {
    auto nodes = std::make_shared<std::deque<array>>(std::move(seg.nodes));
    auto ev = seg.event;
    workers().get(seg.stream).submit([nodes, ev] { run_segment(*nodes, ev); });
  }
}

}  // namespace

void wait_for(const array& a) {
  auto st = a.status();
  auto ev = a.event();
  if (st == array::Status::scheduled) {
    if (ev) ev->wait();
    st = a.status();
  }
  if (st == array::Status::failed) std::rethrow_exception(a.error());
  if (st != array::Status::available) {
    throw std::runtime_error("[eval] array is not available after evaluation.");
  }
  if (ev && ev->is_signaled()) {
    // GPU work behind the array: the host needs it finished (once; later waits see no fence).
    // An available array whose segment is still running (a nested eval inside it, or async_eval
    // still queueing) is not waited for: host reads copy on the legacy default stream, which
    // waits for the GPU work queued before them.
    int fs = -1;
    if (auto f = ev->fence(&fs)) {
      gpu::wait_fence(f);
      ev->clear_fence(f);
    }
  }
}

void async_eval(std::vector<array> outputs) { schedule(outputs, false); }

void eval(std::vector<array> outputs) {
  schedule(outputs, true);
  for (auto& o : outputs) wait_for(o);
}

void synchronize(Stream s) {
  auto ev = std::make_shared<Event>();
  workers().get(s.index).submit([ev] { ev->signal(); });
  ev->wait();
  gpu::synchronize_stream(s.index);  // nothing when the stream never queued GPU work
}

void synchronize() {
  for (int i : workers().indices()) {
    auto ev = std::make_shared<Event>();
    workers().get(i).submit([ev] { ev->signal(); });
    ev->wait();
  }
  if (gpu_is_available()) gpu::synchronize_all();
}

namespace scheduler {
int num_threads() { return cpu::pool_size(); }
void set_num_threads(int n) { cpu::set_pool_size(n); }
}  // namespace scheduler

}  // namespace tessera
