// eval/async_eval: iterative topological ordering, one worker thread per stream, cross-stream
// events, intermediates released as soon as their last consumer has run.
#include "tessera/scheduler.h"

#include <deque>
#include <functional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "tessera/backend/cpu/threading.h"
#include "tessera/backend/gpu.h"
#include "tessera/primitive.h"

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
    {
      std::lock_guard lk(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }

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
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
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

void run_primitive(array& node) {
  auto outputs = node.outputs();
  auto& prim = node.primitive();
  // Inputs that failed make this node fail with the same error.
  for (auto& in : node.inputs()) {
    auto st = in.status();
    if (st == array::Status::failed) std::rethrow_exception(in.error());
    if (st != array::Status::available) wait_for(in);
  }
  if (prim.device() == Device::gpu) {
    // Kernels go to this stream's CUDA stream, asynchronously; run_segment synchronizes before
    // another stream or the host may read the results.
    gpu::set_stream(prim.stream().index);
    prim.eval_gpu(node.inputs(), outputs);
  } else {
    prim.eval_cpu(node.inputs(), outputs);
  }
}

void mark_done(array& node, array::Status st, std::exception_ptr err, const std::shared_ptr<Event>& segment) {
  for (auto& o : node.outputs()) {
    if (err) o.error() = err;
    o.set_status(st);
    // Nodes read by another stream have their own event; the rest share the segment's.
    if (o.event() && o.event() != segment) o.event()->signal();
  }
  node.detach();
}

// Runs one stream's share of a tape, in order.
// GPU segments: a node read by another stream waits for its stream's queue before its event fires,
// and the whole queue is finished before the segment's event fires.
void run_segment(std::vector<array>& tape, std::shared_ptr<Event> done) {
  int gpu_stream = -1;
  for (auto& slot : tape) {
    array node = std::move(slot);  // our handle dies at the end of the iteration: intermediates free early
    bool on_gpu = node.primitive().device() == Device::gpu;
    if (on_gpu) gpu_stream = node.primitive().stream().index;
    try {
      run_primitive(node);
      if (on_gpu) {
        for (auto& o : node.outputs()) {
          if (o.event() && o.event() != done) {
            gpu::synchronize_stream(gpu_stream);
            break;
          }
        }
      }
      mark_done(node, array::Status::available, nullptr, done);
    } catch (...) {
      mark_done(node, array::Status::failed, std::current_exception(), done);
    }
  }
  tape.clear();
  if (gpu_stream >= 0) {
    try {
      gpu::synchronize_stream(gpu_stream);
    } catch (...) {
      // A failed kernel surfaces here after its node was marked done; the next CUDA call reports it.
    }
  }
  done->signal();
}

}  // namespace

void wait_for(const array& a) {
  auto st = a.status();
  if (st == array::Status::scheduled) {
    auto ev = a.event();
    if (ev) ev->wait();
    st = a.status();
  }
  if (st == array::Status::failed) std::rethrow_exception(a.error());
  if (st != array::Status::available) {
    throw std::runtime_error("[eval] array is not available after evaluation.");
  }
}

void async_eval(std::vector<array> outputs) {
  // Iterative post-order DFS over nodes that still need scheduling.
  std::vector<array> tape;
  std::unordered_set<uintptr_t> visited;
  std::vector<std::pair<array, size_t>> stack;  // (node, next input index)
  for (auto& out : outputs) {
    if (out.status() != array::Status::unscheduled || visited.count(out.id())) continue;
    if (!out.has_primitive()) {
      throw std::invalid_argument("[eval] array has neither data nor a primitive.");
    }
    stack.emplace_back(out, 0);
    visited.insert(out.id());
    while (!stack.empty()) {
      auto& [node, i] = stack.back();
      if (i < node.inputs().size()) {
        array in = node.inputs()[i++];
        if (in.status() == array::Status::unscheduled && !visited.count(in.id())) {
          if (!in.has_primitive()) throw std::invalid_argument("[eval] input has neither data nor a primitive.");
          visited.insert(in.id());
          for (auto& s : in.siblings()) visited.insert(s.id());
          stack.emplace_back(std::move(in), 0);
        }
        continue;
      }
      for (auto& s : node.siblings()) visited.insert(s.id());
      tape.push_back(std::move(node));
      stack.pop_back();
    }
  }
  if (tape.empty()) return;

  // Split the tape per stream. Nodes read by another stream get their own event.
  std::unordered_map<int, std::vector<array>> segments;
  std::unordered_map<int, std::shared_ptr<Event>> seg_events;
  std::vector<int> order;
  for (auto& node : tape) {
    int s = node.primitive().stream().index;
    if (!segments.count(s)) {
      order.push_back(s);
      seg_events[s] = std::make_shared<Event>();
    }
    for (auto& in : node.inputs()) {
      if (in.status() == array::Status::unscheduled && in.has_primitive() &&
          in.primitive().stream().index != s && in.event() == seg_events[in.primitive().stream().index]) {
        for (auto& o : in.outputs()) o.event() = std::make_shared<Event>();
      }
    }
    for (auto& o : node.outputs()) {
      o.event() = seg_events[s];
    }
    segments[s].push_back(node);
  }
  // Cross-stream inputs were given their own event above only if their producer was seen first,
  // which topological order guarantees.
  for (auto& node : tape) {
    for (auto& o : node.outputs()) o.set_status(array::Status::scheduled);
  }
  tape.clear();
  for (int s : order) {
    auto seg = std::make_shared<std::vector<array>>(std::move(segments[s]));
    auto ev = seg_events[s];
    workers().get(s).submit([seg, ev] { run_segment(*seg, ev); });
  }
}

void eval(std::vector<array> outputs) {
  async_eval(outputs);
  for (auto& o : outputs) wait_for(o);
}

void synchronize(Stream s) {
  auto ev = std::make_shared<Event>();
  workers().get(s.index).submit([ev] { ev->signal(); });
  ev->wait();
}

void synchronize() {
  for (int i : workers().indices()) synchronize(Stream(i, Device::cpu));
}

namespace scheduler {
int num_threads() { return cpu::pool_size(); }
void set_num_threads(int n) { cpu::set_pool_size(n); }
}  // namespace scheduler

}  // namespace tessera
