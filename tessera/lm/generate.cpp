// The generation loop over GenerateStep: stream text, stop on EOS/strings/length.
#include "tessera/lm/generate.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "tessera/lm/detokenizer.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/generate_step.h"
#include "tessera/memory.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Length of the longest suffix of `text` that is a proper prefix of one of the stop strings.
size_t stop_prefix_len(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const auto& s : stops) {
    for (size_t n = std::min(text.size(), s.size() - 1); n > best; --n) {
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
    }
  }
  return best;
}

}  // namespace

std::vector<int32_t> checked_prompt(const Llama& model, const Tokenizer* tokenizer, const std::vector<int32_t>& prompt_in,
                                    const std::string& area) {
  std::vector<int32_t> prompt = prompt_in;
  if (prompt.empty()) {
    std::optional<int32_t> bos = tokenizer ? tokenizer->bos_id() : std::nullopt;
    if (!bos) throw std::invalid_argument("[" + area + "] empty prompt and the tokenizer has no BOS token.");
    prompt.push_back(*bos);
  }
  const int vocab = model.config().vocab_size;
  for (int32_t t : prompt) {
    if (t < 0 || t >= vocab) {
      throw std::out_of_range("[" + area + "] prompt token " + std::to_string(t) + " out of range [0, " +
                              std::to_string(vocab) + ").");
    }
  }
  return prompt;
}

size_t find_stop(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = std::string::npos;
  for (const auto& s : stops) {
    if (!s.empty()) cut = std::min(cut, text.find(s));
  }
  return cut;
}

GenerationResult generate(const Llama& model, const Tokenizer& tokenizer,
                          const std::vector<int32_t>& prompt_in, const GenerationConfig& config,
                          const PieceCallback& on_piece) {
  const std::vector<int32_t> prompt = checked_prompt(model, &tokenizer, prompt_in, "generate");
  std::vector<std::string> stops;
  for (const auto& s : config.stop_strings) {
    if (!s.empty()) stops.push_back(s);
  }
  const std::vector<int32_t> eos = config.eos_ids ? *config.eos_ids : tokenizer.eos_ids();
  const int max_len = config.max_kv_size > 0 && !config.prompt_cache ? config.max_kv_size : 0;
  if (max_len > 0 && static_cast<int>(prompt.size()) + config.max_tokens > max_len) {
    throw std::invalid_argument("[generate] prompt + max_tokens exceed max_kv_size.");
  }
  GenerationResult result;
  result.finish_reason = "length";
  GenerateStepOptions opts;
  opts.sampler = config.sampler;
  opts.max_kv_size = max_len;
  opts.prompt_cache = config.prompt_cache;
  opts.draft_model = config.draft_model;
  opts.num_draft_tokens = config.num_draft_tokens;
  opts.kv_bits = config.kv_bits;
  opts.kv_group_size = config.kv_group_size;
  opts.quantized_kv_start = config.quantized_kv_start;
  GenerateStep stepper(model, prompt, opts);
  StreamingDetokenizer detok(tokenizer);
  detok.set_context(prompt);
  std::string pending;  // streamed text held back while it may start a stop string
  bool stopped = false;

  reset_peak_memory();
  auto t0 = Clock::now();
  std::vector<StepToken> queue;
  if (config.max_tokens > 0) queue = stepper.next(config.max_tokens);
  auto t_first = Clock::now();
  int emitted = 0;
  bool done = config.max_tokens <= 0;
  while (!done) {
    for (const StepToken& step : queue) {
      const int32_t token = step.token;
      if (std::find(eos.begin(), eos.end(), token) != eos.end()) {
        result.finish_reason = "stop";
        done = true;
        break;
      }
      result.tokens.push_back(token);
      pending += detok.add_token(token);
      size_t cut = find_stop(pending, stops);
      if (cut != std::string::npos) {
        pending.resize(cut);
        stopped = true;
      }
      size_t keep = stopped ? 0 : stop_prefix_len(pending, stops);
      if (pending.size() > keep) {
        std::string out = pending.substr(0, pending.size() - keep);
        result.text += out;
        if (on_piece) on_piece(out);
        pending.erase(0, pending.size() - keep);
      }
      if (stopped) {
        result.finish_reason = "stop_string";
        done = true;
        break;
      }
      if (++emitted == config.max_tokens) {
        done = true;
        break;
      }
    }
    if (!done) queue = stepper.next(config.max_tokens - emitted);
  }
  auto t_end = Clock::now();
  if (!stopped) {
    pending += detok.finalize();
    size_t cut = find_stop(pending, stops);
    if (cut != std::string::npos) {
      pending.resize(cut);
      result.finish_reason = "stop_string";
    }
    if (!pending.empty()) {
      result.text += pending;
      if (on_piece) on_piece(pending);
    }
  }

  auto& st = result.stats;
  st.prompt_tokens = static_cast<int>(prompt.size());
  st.cached_prompt_tokens = stepper.cached_prompt_tokens();
  st.draft_tokens = stepper.draft_tokens();
  st.accepted_draft_tokens = stepper.accepted_draft_tokens();
  st.prompt_time_s = seconds(t0, t_first);
  st.prompt_tps = config.max_tokens > 0 && st.prompt_time_s > 0 ? (st.prompt_tokens - st.cached_prompt_tokens) / st.prompt_time_s : 0;
  st.generation_tokens = static_cast<int>(result.tokens.size());
  st.generation_time_s = seconds(t_first, t_end);
  st.generation_tps = st.generation_tokens > 1 && st.generation_time_s > 0
                          ? (st.generation_tokens - 1) / st.generation_time_s
                          : 0;
  st.peak_memory_mb = static_cast<double>(get_peak_memory()) / 1e6;
  return result;
}

}  // namespace tessera::lm
