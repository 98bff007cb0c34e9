// The CPU thread pool behind parallel_for.
#include "tessera/backend/cpu/threading.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace tessera::cpu {

namespace {

class Pool {
 public:
  Pool() {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("TESSERA_NUM_THREADS")) n = std::atoi(env);
    resize(std::max(1, n));
  }

  int size() const { return size_; }

  void resize(int n) {
    stop_threads();
    size_ = std::max(1, n);
    stop_ = false;
    for (int i = 1; i < size_; ++i) threads_.emplace_back([this] { work(); });
  }

  void run(size_t chunks, const std::function<void(size_t)>& body) {
    struct Job {
      std::atomic<size_t> next{0};
      std::atomic<size_t> done{0};
      std::mutex mu;
      std::condition_variable cv;
      std::exception_ptr err;
    };
    auto job = std::make_shared<Job>();
    auto task = [job, chunks, &body] {
      for (size_t c; (c = job->next.fetch_add(1)) < chunks;) {
        try {
          body(c);
        } catch (...) {
          std::lock_guard lk(job->mu);
          if (!job->err) job->err = std::current_exception();
        }
        if (job->done.fetch_add(1) + 1 == chunks) {
          std::lock_guard lk(job->mu);
          job->cv.notify_all();
        }
      }
    };
    size_t helpers = std::min<size_t>(chunks - 1, threads_.size());
    {
      std::lock_guard lk(mu_);
      for (size_t i = 0; i < helpers; ++i) queue_.push_back(task);
    }
    cv_.notify_all();
    task();  // the caller works too
    std::unique_lock lk(job->mu);
    job->cv.wait(lk, [&] { return job->done.load() == chunks; });
    if (job->err) std::rethrow_exception(job->err);
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> t;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        t = std::move(queue_.front());
        queue_.pop_front();
      }
      t();
    }
  }
  void stop_threads() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  int size_{1};
  bool stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
};

Pool& pool() {
  static auto* p = new Pool();  // leaked: threads must not be joined during static destruction
  return *p;
}

}  // namespace

int pool_size() { return pool().size(); }
void set_pool_size(int n) { pool().resize(n); }

void parallel_for_pool(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f) {
  if (n == 0) return;
  int threads = pool_size();
  grain = std::max<size_t>(grain, 1);
  if (threads <= 1 || n < 2 * grain) {
    f(0, n);
    return;
  }
  size_t chunks = std::min<size_t>(static_cast<size_t>(threads) * 4, (n + grain - 1) / grain);
  size_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  pool().run(chunks, [&](size_t c) {
    size_t b = c * step;
    size_t e = std::min(n, b + step);
    if (b < e) f(b, e);
  });
}

}  // namespace tessera::cpu
