// Terminal progress bar for long model steps (see progress.h).
#include "tessera/lm/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace tessera::lm {

std::string progress_bar_line(const std::string& stage, size_t done, size_t total, double seconds, int width) {
  const double frac = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(frac * width + 1e-9);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  char tail[96];
  std::snprintf(tail, sizeof(tail), "] %zu/%zu %.1fs", done, total, seconds);
  return stage + " [" + bar + tail;
}

ProgressFn terminal_progress_bar() {
  struct State {
    std::string stage;
    std::chrono::steady_clock::time_point start;
  };
  auto st = std::make_shared<State>();
  const bool tty = isatty(fileno(stderr)) != 0;
  return [st, tty](const std::string& stage, size_t done, size_t total) {
    auto now = std::chrono::steady_clock::now();
    if (stage != st->stage) {
      st->stage = stage;
      st->start = now;
    }
    const double s = std::chrono::duration<double>(now - st->start).count();
    const bool last = done >= total;
    if (tty) {
      std::fprintf(stderr, "\r%s%s", progress_bar_line(stage, done, total, s).c_str(), last ? "\n" : "");
    } else if (last) {
      std::fprintf(stderr, "%s\n", progress_bar_line(stage, done, total, s).c_str());
    }
    std::fflush(stderr);
  };
}

}  // namespace tessera::lm
