// CPU benchmark of the core: GEMM vs cblas_sgemm, elementwise vs memory bandwidth, softmax/rms_norm,
// and lazy-graph overhead per op. Prints details, then a table (numpy figures come from env vars).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

using Clock = std::chrono::steady_clock;

// CPU time of the calling thread (graph evaluation runs inline on it); steadier than wall time when
// other processes share the cores.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median seconds of `reps` timed calls after `warmup` untimed ones.
template <typename F>
double median_seconds(F&& f, int reps, int warmup = 1) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Runs f(begin, end) over [0, n) split across `threads` std::threads (the bandwidth probe does not
// use tessera's pool, so it is an independent anchor).
template <typename F>
void split(size_t n, int threads, F f) {
  std::vector<std::thread> ts;
  size_t step = (n + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    size_t b = std::min(n, t * step), e = std::min(n, b + step);
    ts.emplace_back([=] { f(b, e); });
  }
  f(0, std::min(n, step));
  for (auto& t : ts) t.join();
}

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

struct Row {
  std::string workload, ours, ref, limit, ratio;
};
std::vector<Row> table;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

double env_double(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atof(v) : 0.0;
}

void bench_gemm(int n) {
  auto av = random_vector(static_cast<size_t>(n) * n, 1), bv = random_vector(av.size(), 2);
  array a(av, {n, n}), b(bv, {n, n});
  eval(a, b);
  std::vector<float> cv(av.size());
  auto run_blas = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(),
                n, 0.0f, cv.data(), n);
  };
  auto run_tessera = [&] {
    auto c = matmul(a, b);
    eval(c);
  };
  // Interleave so both see the same machine load; median of 5 each.
  std::vector<double> tt, tb;
  run_blas();
  run_tessera();
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    run_tessera();
    tt.push_back(seconds_since(t0));
    t0 = Clock::now();
    run_blas();
    tb.push_back(seconds_since(t0));
  }
  std::sort(tt.begin(), tt.end());
  std::sort(tb.begin(), tb.end());
  auto c = matmul(a, b);
  eval(c);
  double maxdiff = 0;
  for (size_t i = 0; i < cv.size(); ++i)
    maxdiff = std::max<double>(maxdiff, std::abs(c.data<float>()[i] - cv[i]));
  double flops = 2.0 * n * n * n;
  double gt = flops / tt[2] * 1e-9, gb = flops / tb[2] * 1e-9;
  std::printf(
      "[gemm] %dx%dx%d f32: tessera::matmul %.1f GFLOP/s (%.2f ms), cblas_sgemm %.1f GFLOP/s (%.2f ms), "
      "max|diff| %.2g\n",
      n, n, n, gt, tt[2] * 1e3, gb, tb[2] * 1e3, maxdiff);
  table.push_back({"f32 GEMM " + std::to_string(n) + "^3 (GFLOP/s)", fmt("%.1f", gt),
                   fmt("%.1f (cblas_sgemm)", gb), ">= 0.95", fmt("%.3f", gt / gb)});
}

void bench_elementwise(int threads) {
  const size_t n = (size_t(64) << 20) / sizeof(float);  // 64 MiB of f32
  auto av = random_vector(n, 3), bv = random_vector(n, 4);
  // Bandwidth anchors on plain buffers, touched first so page faults are not timed.
  std::vector<float> x(av), y(bv), z(n, 0.0f);
  double t_copy = median_seconds(
      [&] {
        split(n, threads,
              [&](size_t b, size_t e) { std::memcpy(z.data() + b, x.data() + b, (e - b) * sizeof(float)); });
      },
      7);
  double t_triad = median_seconds(
      [&] {
        split(n, threads, [&](size_t b, size_t e) {
          const float* xp = x.data();
          const float* yp = y.data();
          float* zp = z.data();
          for (size_t i = b; i < e; ++i) zp[i] = xp[i] + 3.0f * yp[i];
        });
      },
      7);
  double bytes = static_cast<double>(n * sizeof(float));
  double bw_copy = 2 * bytes / t_copy * 1e-9, bw_triad = 3 * bytes / t_triad * 1e-9;
  double bw = std::max(bw_copy, bw_triad);
  std::printf("[bandwidth] %d threads, 64 MiB arrays: copy %.1f GB/s, triad %.1f GB/s (read+written bytes)\n",
              threads, bw_copy, bw_triad);

  array a(av, {static_cast<int>(n)}), b(bv, {static_cast<int>(n)});
  eval(a, b);
  double t_add = median_seconds(
      [&] {
        auto c = add(a, b);
        eval(c);
      },
      7, 2);
  double t_exp = median_seconds(
      [&] {
        auto c = exp(a);
        eval(c);
      },
      7, 2);
  {
    auto c = add(a, b), d = exp(a);
    eval(c, d);
    double err = 0;
    for (size_t i = 0; i < n; i += 4099) {
      err = std::max<double>(err, std::abs(c.data<float>()[i] - (av[i] + bv[i])));
      err = std::max<double>(err, std::abs(d.data<float>()[i] - std::exp(av[i])) / std::exp(av[i]));
    }
    std::printf("[elementwise] check: max error %.2g\n", err);
  }
  double bw_add = 3 * bytes / t_add * 1e-9, bw_exp = 2 * bytes / t_exp * 1e-9;
  std::printf("[elementwise] add %.2f ms = %.1f GB/s (%.0f%% of %.1f), exp %.2f ms = %.1f GB/s (%.0f%%)\n",
              t_add * 1e3, bw_add, 100 * bw_add / bw, bw, t_exp * 1e3, bw_exp, 100 * bw_exp / bw);
  std::string anchor = fmt("%.1f (max copy/triad)", bw);
  table.push_back(
      {"add 2x64 MiB f32 (GB/s)", fmt("%.1f", bw_add), anchor, ">= 0.70", fmt("%.2f", bw_add / bw)});
  table.push_back(
      {"exp 64 MiB f32 (GB/s)", fmt("%.1f", bw_exp), anchor, ">= 0.70", fmt("%.2f", bw_exp / bw)});
}

void bench_rows() {
  const int r = 4096, d = 4096;
  auto xv = random_vector(static_cast<size_t>(r) * d, 5), wv = random_vector(d, 6);
  array x(xv, {r, d}), w(wv, {d});
  eval(x, w);
  double t_sm = median_seconds(
      [&] {
        auto y = softmax(x, -1);
        eval(y);
      },
      7, 2);
  double t_rms = median_seconds(
      [&] {
        auto y = fast::rms_norm(x, w, 1e-5f);
        eval(y);
      },
      7, 2);
  {
    auto y = softmax(x, -1);
    eval(y);
    double s = 0;
    for (int i = 0; i < d; ++i) s += y.data<float>()[i];
    std::printf("[rows] softmax row 0 sums to %.6f\n", s);
  }
  std::printf("[rows] (4096, 4096) f32: softmax %.2f ms, rms_norm %.2f ms\n", t_sm * 1e3, t_rms * 1e3);
  double np_sm = env_double("NUMPY_SOFTMAX_MS"), np_rms = env_double("NUMPY_RMS_NORM_MS");
  auto row = [&](const char* name, double ours, double ref) {
    table.push_back({name, fmt("%.2f", ours * 1e3),
                     ref > 0 ? fmt("%.2f (numpy)", ref) : "n/a (run numpy_ref.py)", "faster (ratio > 1)",
                     ref > 0 ? fmt("%.2f", ref / (ours * 1e3)) : "n/a"});
  };
  row("softmax (4096,4096) (ms)", t_sm, np_sm);
  row("rms_norm (4096,4096) (ms)", t_rms, np_rms);
}

void bench_graph(int n) {
  array one(1.0f);
  array x(0.0f);
  array x4({0.0f, 0.0f, 0.0f, 0.0f});
  array one4({1.0f, 1.0f, 1.0f, 1.0f});
  eval(one, x, x4, one4);
  // Chain: y = ((x + 1) + 1) + ...; build and eval timed separately.
  double build_s = 0, eval_s = 0, eval_cpu_s = 0;
  auto chain = [&](const array& start, const array& step) {
    std::vector<double> tb, te, tc;
    for (int rep = 0; rep < 7; ++rep) {
      auto t0 = Clock::now();
      array y = start;
      for (int i = 0; i < n; ++i) y = add(y, step);
      auto t1 = Clock::now();
      double c1 = thread_cpu_seconds();
      eval(y);
      double c2 = thread_cpu_seconds();
      auto t2 = Clock::now();
      if (rep > 0) {
        tb.push_back(std::chrono::duration<double>(t1 - t0).count());
        te.push_back(std::chrono::duration<double>(t2 - t1).count());
        tc.push_back(c2 - c1);
      }
      if (y.to_vector<float>()[0] != static_cast<float>(n)) std::printf("[graph] WRONG chain result\n");
    }
    std::sort(tb.begin(), tb.end());
    std::sort(te.begin(), te.end());
    std::sort(tc.begin(), tc.end());
    build_s = tb[tb.size() / 2];
    eval_s = te[te.size() / 2];
    eval_cpu_s = tc[tc.size() / 2];
  };
  chain(x, one);
  std::printf(
      "[graph] chain of %d scalar adds: build %.2f ms, eval %.2f ms (thread CPU %.2f ms; %.2f us/op eval, "
      "%.2f us/op total)\n",
      n, build_s * 1e3, eval_s * 1e3, eval_cpu_s * 1e3, eval_s * 1e6 / n, (build_s + eval_s) * 1e6 / n);
  double scalar_eval = eval_s, scalar_cpu = eval_cpu_s, scalar_total = build_s + eval_s;
  chain(x4, one4);
  std::printf(
      "[graph] chain of %d 4-element adds: build %.2f ms, eval %.2f ms (thread CPU %.2f ms; %.2f us/op "
      "eval)\n",
      n, build_s * 1e3, eval_s * 1e3, eval_cpu_s * 1e3, eval_s * 1e6 / n);
  double chain_eval = eval_s, chain_total = build_s + eval_s, chain_cpu = eval_cpu_s;

  // Independent: n separate adds evaluated together.
  double t_ind_eval = 0, t_ind_build = 0, t_ind_cpu = 0;
  {
    std::vector<double> tb, te, tc;
    for (int rep = 0; rep < 7; ++rep) {
      auto t0 = Clock::now();
      std::vector<array> outs;
      outs.reserve(n);
      for (int i = 0; i < n; ++i) outs.push_back(add(x4, one4));
      auto t1 = Clock::now();
      double c1 = thread_cpu_seconds();
      eval(outs);
      double c2 = thread_cpu_seconds();
      auto t2 = Clock::now();
      if (rep > 0) {
        tb.push_back(std::chrono::duration<double>(t1 - t0).count());
        te.push_back(std::chrono::duration<double>(t2 - t1).count());
        tc.push_back(c2 - c1);
      }
    }
    std::sort(tb.begin(), tb.end());
    std::sort(te.begin(), te.end());
    std::sort(tc.begin(), tc.end());
    t_ind_build = tb[tb.size() / 2];
    t_ind_eval = te[te.size() / 2];
    t_ind_cpu = tc[tc.size() / 2];
  }
  std::printf(
      "[graph] %d independent 4-element adds: build %.2f ms, eval %.2f ms (thread CPU %.2f ms; %.2f us/op "
      "eval)\n",
      n, t_ind_build * 1e3, t_ind_eval * 1e3, t_ind_cpu * 1e3, t_ind_eval * 1e6 / n);

  // Eager style: eval after every op (latency of one eval call).
  const int m = 1000;
  double t_eager = median_seconds(
      [&] {
        array y = x;
        for (int i = 0; i < m; ++i) {
          y = add(y, one);
          eval(y);
        }
      },
      5);
  std::printf("[graph] eval after each of %d scalar adds: %.2f us per op+eval\n", m, t_eager * 1e6 / m);

  table.push_back({"graph: 10k scalar-add chain eval (ms)", fmt("%.2f", scalar_eval * 1e3),
                   fmt("%.2f (thread CPU)", scalar_cpu * 1e3), "well under 10 ms",
                   fmt("%.2f us/op", scalar_eval * 1e6 / n)});
  table.push_back({"graph: same, build+eval (ms)", fmt("%.2f", scalar_total * 1e3), "-", "-",
                   fmt("%.2f us/op", scalar_total * 1e6 / n)});
  table.push_back({"graph: 10k 4-elem-add chain eval (ms)", fmt("%.2f", chain_eval * 1e3),
                   fmt("%.2f (thread CPU)", chain_cpu * 1e3), "well under 10 ms",
                   fmt("%.2f us/op", chain_eval * 1e6 / n)});
  table.push_back({"graph: same, build+eval (ms)", fmt("%.2f", chain_total * 1e3), "-", "-",
                   fmt("%.2f us/op", chain_total * 1e6 / n)});
  table.push_back({"graph: 10k indep. 4-elem adds eval (ms)", fmt("%.2f", t_ind_eval * 1e3),
                   fmt("%.2f (thread CPU)", t_ind_cpu * 1e3), "well under 10 ms",
                   fmt("%.2f us/op", t_ind_eval * 1e6 / n)});
  table.push_back({"graph: eval per op (us)", fmt("%.2f", t_eager * 1e6 / m), "-", "-", "-"});
}

}  // namespace

int main(int argc, char** argv) {
  std::string only = argc > 1 ? argv[1] : "all";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("tessera cpu_bench: %d hardware threads, tessera pool %d\n", threads, scheduler::num_threads());
  if (only == "all" || only == "gemm") bench_gemm(2048);
  if (only == "all" || only == "elementwise") bench_elementwise(threads);
  if (only == "all" || only == "rows") bench_rows();
  if (only == "all" || only == "graph") bench_graph(10000);

  std::printf("\n%-40s | %-10s | %-26s | %-18s | %s\n", "workload", "tessera", "reference", "limit", "ratio");
  for (auto& r : table) {
    std::printf("%-40s | %-10s | %-26s | %-18s | %s\n", r.workload.c_str(), r.ours.c_str(), r.ref.c_str(),
                r.limit.c_str(), r.ratio.c_str());
  }
  return 0;
}
