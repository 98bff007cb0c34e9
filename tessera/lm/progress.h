// Progress of long model steps (convert's writing, load-time quantization): a callback type and a
// terminal progress bar for the CLI.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace tessera::lm {

// Called with the step's name, the items done so far and the total (done == total at the end).
using ProgressFn = std::function<void(const std::string& stage, size_t done, size_t total)>;

// A ProgressFn that draws "stage [########......] 12/30 1.4s" on stderr: redrawn in place when stderr is
// a terminal, else one line when a stage completes (so logs stay readable).
ProgressFn terminal_progress_bar();

// The bar's text for a state (width: characters between the brackets).
std::string progress_bar_line(const std::string& stage, size_t done, size_t total, double seconds, int width = 30);

}  // namespace tessera::lm
