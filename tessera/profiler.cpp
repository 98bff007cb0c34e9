// Per-primitive eval profile: accumulates records and resolves GPU timing marks when reported.
#include "tessera/profiler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

namespace tessera::profiler {

namespace {

struct Record {
  const char* name;
  double host_us;
  gpu::TimingMark before, after;
};

struct State {
  std::mutex mu;
  std::vector<Record> records;
};

State& state() {
  static auto* s = new State();  // leaked: the exit report runs during static destruction
  return *s;
}

std::atomic<bool>& flag() {
  static std::atomic<bool> on([] {
    const char* v = std::getenv("TESSERA_PROFILE");
    bool set = v != nullptr && std::string(v) != "0" && std::string(v) != "";
    if (set) std::atexit([] { std::fputs(report().c_str(), stderr); });
    return set;
  }());
  return on;
}

}  // namespace

bool enabled() { return flag().load(std::memory_order_relaxed); }
void set_enabled(bool on) { flag().store(on); }

void record(const char* name, double host_us, gpu::TimingMark before, gpu::TimingMark after) {
  auto& s = state();
  std::lock_guard lk(s.mu);
  if (s.records.size() >= (size_t(1) << 20)) return;  // bounded: a long run keeps its first million
  s.records.push_back({name, host_us, std::move(before), std::move(after)});
}

Scope::Scope(const char* name) : name_(enabled() ? name : nullptr), t0_ns_(0) {
  if (name_) t0_ns_ = std::chrono::steady_clock::now().time_since_epoch().count();
}

Scope::~Scope() {
  if (!name_) return;
  const long long t1 = std::chrono::steady_clock::now().time_since_epoch().count();
  record(name_, static_cast<double>(t1 - t0_ns_) / 1e3, nullptr, nullptr);
}

void reset() {
  auto& s = state();
  std::lock_guard lk(s.mu);
  s.records.clear();
}

std::string report() {
  auto& s = state();
  std::vector<Record> recs;
  {
    std::lock_guard lk(s.mu);
    recs = s.records;
  }
  if (recs.empty()) return "";
  struct Sum {
    long n = 0;
    double host_us = 0, gpu_us = 0;
  };
  std::map<std::string, Sum> by_name;
  Sum total;
  for (auto& r : recs) {
    auto& t = by_name[r.name];
    double g = r.before && r.after ? 1e3 * gpu::elapsed_ms(r.before, r.after) : 0.0;
    t.n += 1;
    t.host_us += r.host_us;
    t.gpu_us += g;
    total.n += 1;
    total.host_us += r.host_us;
    total.gpu_us += g;
  }
  std::vector<std::pair<std::string, Sum>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.gpu_us + a.second.host_us > b.second.gpu_us + b.second.host_us; });
  std::string out = "tessera profile (TESSERA_PROFILE): per primitive, totals over the run\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %9s %12s %10s %12s %10s\n", "primitive", "calls", "host ms", "host us/call",
                "device ms", "device us/call");
  out += line;
  auto add = [&](const std::string& name, const Sum& t) {
    std::snprintf(line, sizeof line, "%-28s %9ld %12.3f %10.2f %12.3f %10.2f\n", name.c_str(), t.n, t.host_us / 1e3,
                  t.host_us / t.n, t.gpu_us / 1e3, t.gpu_us / t.n);
    out += line;
  };
  for (auto& [name, t] : rows) add(name, t);
  add("(all)", total);
  return out;
}

}  // namespace tessera::profiler
