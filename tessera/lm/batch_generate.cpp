// Batched generation: sort prompts by length, left-pad each chunk, prefill once, decode the live rows.
#include "tessera/lm/batch_generate.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "tessera/lm/detokenizer.h"
#include "tessera/lm/generate.h"
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

// One prompt being decoded.
struct Row {
  int index;  // into the prompts
  std::vector<int32_t> history;
  std::unique_ptr<StreamingDetokenizer> detok;
  bool done = false;
};

}  // namespace

size_t kv_bytes_per_token(const LlamaConfig& c) {
  return 2ull * c.num_hidden_layers * c.kv_heads() * c.head_dim_or_default() * sizeof(float);
}

int batch_size_for_memory(const LlamaConfig& c, int seq_len, int max_rows) {
  max_rows = std::max(1, max_rows);
  size_t limit = get_memory_limit(), active = get_active_memory();
  size_t free = limit > active ? limit - active : 0;
  size_t per_row = kv_bytes_per_token(c) * std::max(1, seq_len) +
                   static_cast<size_t>(std::max(1, seq_len)) * c.vocab_size * sizeof(float);
  size_t rows = free / 2 / std::max<size_t>(per_row, 1);
  return static_cast<int>(std::clamp<size_t>(rows, 1, static_cast<size_t>(max_rows)));
}

BatchGenerationResult batch_generate(const Llama& model, const Tokenizer* tokenizer,
                                     const std::vector<std::vector<int32_t>>& prompts_in,
                                     const BatchGenerationConfig& config) {
  if (prompts_in.empty()) throw std::invalid_argument("[batch_generate] no prompts given.");
  if (config.max_tokens < 0) throw std::invalid_argument("[batch_generate] max_tokens must be >= 0.");
  if (config.batch_size < 0) throw std::invalid_argument("[batch_generate] batch_size must be >= 0.");
  std::vector<std::string> stops;
  for (const auto& s : config.stop_strings) {
    if (!s.empty()) stops.push_back(s);
  }
  if (!stops.empty() && !tokenizer) {
    throw std::invalid_argument("[batch_generate] stop strings need a tokenizer.");
  }
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& p : prompts_in) prompts.push_back(checked_prompt(model, tokenizer, p, "batch_generate"));
  const std::vector<int32_t> eos =
      config.eos_ids ? *config.eos_ids : tokenizer ? tokenizer->eos_ids() : std::vector<int32_t>{};
  const int n = static_cast<int>(prompts.size());
  const int vocab = model.config().vocab_size;

  BatchGenerationResult result;
  result.tokens.resize(n);
  result.texts.resize(n);
  result.finish_reasons.assign(n, "length");
  int longest = 0;
  for (const auto& p : prompts) {
    longest = std::max(longest, static_cast<int>(p.size()));
    result.prompt_tokens += static_cast<int>(p.size());
  }
  result.batch_size = config.batch_size > 0
                          ? std::min(config.batch_size, n)
                          : batch_size_for_memory(model.config(), longest + config.max_tokens, std::min(n, 64));
  // Similar lengths run together (less padding); the results go back to the prompts' order.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return prompts[a].size() < prompts[b].size(); });

  reset_peak_memory();
  Sampler sampler(config.sampler);
  // Finishes rows whose new token ends them; returns whether any row finished.
  auto accept = [&](std::vector<Row>& rows, const std::vector<int32_t>& next) {
    bool any_done = false;
    for (size_t r = 0; r < rows.size(); ++r) {
      Row& row = rows[r];
      const int i = row.index;
      int32_t t = next[r];
      if (std::find(eos.begin(), eos.end(), t) != eos.end()) {
        result.finish_reasons[i] = "stop";
        row.done = any_done = true;
        continue;
      }
      result.tokens[i].push_back(t);
      row.history.push_back(t);
      if (row.detok) {
        std::string& text = result.texts[i];
        text += row.detok->add_token(t);
        size_t cut = find_stop(text, stops);
        if (cut != std::string::npos) {
          text.resize(cut);
          result.finish_reasons[i] = "stop_string";
          row.done = any_done = true;
          continue;
        }
      }
      if (static_cast<int>(result.tokens[i].size()) >= config.max_tokens) row.done = any_done = true;
    }
    return any_done;
  };
  // Samples each row's next token from logits (B, V).
  auto sample = [&](const std::vector<Row>& rows, const array& logits) {
    std::vector<array> picks;
    for (size_t r = 0; r < rows.size(); ++r) {
      const int b = static_cast<int>(r);
      picks.push_back(reshape(sampler(slice(logits, {b, 0}, {b + 1, vocab}), rows[r].history), {1}));
    }
    array all = concatenate(picks, 0);
    eval(all);
    return all.to_vector<int32_t>();
  };

  for (int start = 0; start < n && config.max_tokens > 0; start += result.batch_size) {
    const int B = std::min(result.batch_size, n - start);
    std::vector<Row> rows;
    int L = 0;
    for (int r = 0; r < B; ++r) {
      const auto& p = prompts[order[start + r]];
      L = std::max(L, static_cast<int>(p.size()));
      Row row{order[start + r], p, nullptr};
      if (tokenizer) {
        row.detok = std::make_unique<StreamingDetokenizer>(*tokenizer);
        row.detok->set_context(p);
      }
      rows.push_back(std::move(row));
    }
    std::vector<int32_t> ids(static_cast<size_t>(B) * L);
    std::vector<int> padding(B);
    for (int r = 0; r < B; ++r) {
      const auto& p = prompts[rows[r].index];
      padding[r] = L - static_cast<int>(p.size());
      std::fill(ids.begin() + r * L, ids.begin() + r * L + padding[r], p[0]);  // masked out
      std::copy(p.begin(), p.end(), ids.begin() + r * L + padding[r]);
    }
    KVCache cache = model_kv_cache(model, 0, 0);  // sliding-window layers keep their window only
    if (config.kv_bits > 0) cache.set_quantization(config.kv_bits, config.kv_group_size, config.quantized_kv_start);
    cache.set_left_padding(padding);
    auto t0 = Clock::now();
    array logits = model.forward(array(ids, {B, L}), &cache);  // (B, L, V)
    std::vector<int32_t> next = sample(rows, reshape(slice(logits, {0, L - 1, 0}, {B, L, vocab}), {B, vocab}));
    auto t1 = Clock::now();
    result.prompt_time_s += seconds(t0, t1);
    while (true) {
      if (accept(rows, next)) {
        std::vector<int> keep;
        std::vector<Row> live;
        for (size_t r = 0; r < rows.size(); ++r) {
          if (!rows[r].done) {
            keep.push_back(static_cast<int>(r));
            live.push_back(std::move(rows[r]));
          } else if (rows[r].detok) {
            // Flush the held-back tail of a finished row (not after a stop string, which already cut).
            const int i = rows[r].index;
            if (result.finish_reasons[i] != "stop_string") {
              std::string& text = result.texts[i];
              text += rows[r].detok->finalize();
              size_t cut = find_stop(text, stops);
              if (cut != std::string::npos) {
                text.resize(cut);
                result.finish_reasons[i] = "stop_string";
              }
            }
          }
        }
        if (live.empty()) break;
        std::vector<int32_t> live_next;
        for (int r : keep) live_next.push_back(next[r]);
        cache.filter_rows(keep);
        rows = std::move(live);
        next = std::move(live_next);
      }
      const int b = static_cast<int>(rows.size());
      array step_logits = model.forward(array(next, {b, 1}), &cache);  // (b, 1, V)
      next = sample(rows, reshape(step_logits, {b, vocab}));
    }
    result.generation_time_s += seconds(t1, Clock::now());
  }
  for (const auto& t : result.tokens) result.generation_tokens += static_cast<int>(t.size());
  result.prompt_tps = result.prompt_time_s > 0 ? result.prompt_tokens / result.prompt_time_s : 0;
  result.generation_tps = result.generation_time_s > 0 ? result.generation_tokens / result.generation_time_s : 0;
  result.peak_memory_mb = static_cast<double>(get_peak_memory()) / 1e6;
  return result;
}

}  // namespace tessera::lm
