// The generation loop: prefill, sample, decode with the KV cache, stream text, stop on EOS/strings/length.
#include "tessera/lm/generate.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "tessera/lm/detokenizer.h"
#include "tessera/lm/kv_cache.h"
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

GenerationResult generate(const Llama& model, const Tokenizer& tokenizer,
                          const std::vector<int32_t>& prompt_in, const GenerationConfig& config,
                          const PieceCallback& on_piece) {
  std::vector<int32_t> prompt = prompt_in;
  if (prompt.empty()) {
    auto bos = tokenizer.bos_id();
    if (!bos) throw std::invalid_argument("[generate] empty prompt and the tokenizer has no BOS token.");
    prompt.push_back(*bos);
  }
  const int vocab = model.config().vocab_size;
  for (int32_t t : prompt) {
    if (t < 0 || t >= vocab) {
      throw std::out_of_range("[generate] prompt token " + std::to_string(t) + " out of range [0, " +
                              std::to_string(vocab) + ").");
    }
  }
  std::vector<std::string> stops;
  for (const auto& s : config.stop_strings) {
    if (!s.empty()) stops.push_back(s);
  }
  const std::vector<int32_t> eos = config.eos_ids ? *config.eos_ids : tokenizer.eos_ids();
  const int max_len = config.max_kv_size > 0 ? config.max_kv_size : 0;
  if (max_len > 0 && static_cast<int>(prompt.size()) + config.max_tokens > max_len) {
    throw std::invalid_argument("[generate] prompt + max_tokens exceed max_kv_size.");
  }

  GenerationResult result;
  result.finish_reason = "length";
  KVCache cache(model.num_layers(), max_len);
  Sampler sampler(config.sampler);
  StreamingDetokenizer detok(tokenizer);
  detok.set_context(prompt);
  std::vector<int32_t> history = prompt;
  std::string pending;  // streamed text held back while it may start a stop string
  bool stopped = false;

  reset_peak_memory();
  auto t0 = Clock::now();
  auto t_first = t0;
  // Logits of the last position of `ids` -> the next token.
  auto step = [&](const std::vector<int32_t>& ids) {
    array tokens(ids, {1, static_cast<int>(ids.size())});
    array logits = model.forward(tokens, &cache);  // (1, L, V)
    const int L = logits.shape(1);
    array last = reshape(slice(logits, {0, L - 1, 0}, {1, L, vocab}), {1, vocab});
    array next = sampler(last, history);
    eval(next);
    return next.item<int32_t>();
  };

  int32_t token = config.max_tokens > 0 ? step(prompt) : -1;
  t_first = Clock::now();
  for (int n = 0; n < config.max_tokens; ++n) {
    if (std::find(eos.begin(), eos.end(), token) != eos.end()) {
      result.finish_reason = "stop";
      break;
    }
    result.tokens.push_back(token);
    history.push_back(token);
    pending += detok.add_token(token);
    if (!stops.empty()) {
      size_t cut = std::string::npos;
      for (const auto& s : stops) cut = std::min(cut, pending.find(s));
      if (cut != std::string::npos) {
        pending.resize(cut);
        stopped = true;
      }
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
      break;
    }
    if (n + 1 < config.max_tokens) token = step({token});
  }
  auto t_end = Clock::now();
  if (!stopped) {
    pending += detok.finalize();
    if (!stops.empty()) {
      size_t cut = std::string::npos;
      for (const auto& s : stops) cut = std::min(cut, pending.find(s));
      if (cut != std::string::npos) {
        pending.resize(cut);
        result.finish_reason = "stop_string";
      }
    }
    if (!pending.empty()) {
      result.text += pending;
      if (on_piece) on_piece(pending);
    }
  }

  auto& st = result.stats;
  st.prompt_tokens = static_cast<int>(prompt.size());
  st.prompt_time_s = seconds(t0, t_first);
  st.prompt_tps = config.max_tokens > 0 && st.prompt_time_s > 0 ? st.prompt_tokens / st.prompt_time_s : 0;
  st.generation_tokens = static_cast<int>(result.tokens.size());
  st.generation_time_s = seconds(t_first, t_end);
  st.generation_tps = st.generation_tokens > 1 && st.generation_time_s > 0
                          ? (st.generation_tokens - 1) / st.generation_time_s
                          : 0;
  st.peak_memory_mb = static_cast<double>(get_peak_memory()) / 1e6;
  return result;
}

}  // namespace tessera::lm
