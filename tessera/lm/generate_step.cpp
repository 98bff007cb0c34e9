// GenerateStep: prefill, plain decoding and greedy-checked speculative decoding over a KV cache.
#include "tessera/lm/generate_step.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessera/lm/prompt_cache.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

// logits: (1, L, V) -> the row of position i, (1, V).
array position_row(const array& logits, int i) {
  const int V = logits.shape(2);
  return reshape(slice(logits, {0, i, 0}, {1, i + 1, V}), {1, V});
}

}  // namespace

GenerateStep::GenerateStep(const Llama& model, std::vector<int32_t> prompt, const GenerateStepOptions& options)
    : model_(model), options_(options), sampler_(options.sampler), cache_(nullptr) {
  if (prompt.empty()) throw std::invalid_argument("[generate] the prompt has no tokens.");
  const Llama* draft = options_.draft_model;
  const int vocab = model.config().vocab_size;
  if (draft && draft->config().vocab_size != vocab) {
    throw std::invalid_argument("[generate] the draft model's vocabulary (" +
                                std::to_string(draft->config().vocab_size) + ") differs from the model's (" +
                                std::to_string(vocab) + ").");
  }
  if (draft && options_.num_draft_tokens < 1) {
    throw std::invalid_argument("[generate] num_draft_tokens must be >= 1.");
  }
  prompt_tokens_ = static_cast<int>(prompt.size());
  if (options_.prompt_cache) {
    prefill_ = options_.prompt_cache->prepare(model, prompt);
    cache_ = &options_.prompt_cache->kv();
  } else {
    own_cache_.emplace(model_kv_cache(model, options_.max_kv_size, options_.num_draft_tokens));
    cache_ = &*own_cache_;
    prefill_ = prompt;
  }
  cached_prompt_tokens_ = prompt_tokens_ - static_cast<int>(prefill_.size());
  if (draft) {
    draft_cache_.emplace(model_kv_cache(*draft, 0, options_.num_draft_tokens));
    draft_pending_ = prompt;
  }
  if (options_.kv_bits > 0) {
    cache_->set_quantization(options_.kv_bits, options_.kv_group_size, options_.quantized_kv_start);
    if (draft_cache_) {
      draft_cache_->set_quantization(options_.kv_bits, options_.kv_group_size, options_.quantized_kv_start);
    }
  }
  history_ = std::move(prompt);
}

array GenerateStep::run(const std::vector<int32_t>& ids) {
  array logits = model_.forward(array(ids, {1, static_cast<int>(ids.size())}, int32), cache_);
  if (options_.prompt_cache) options_.prompt_cache->append(ids);
  return logits;
}

array GenerateStep::decode(const array& token, int room) {
  const int min_tokens = options_.decode_graph_min_tokens;
  if (!graph_ && min_tokens > 0 && room >= min_tokens && !options_.draft_model &&
      DecodeGraph::usable(model_, *cache_)) {
    graph_.emplace(model_, *cache_);
  }
  if (graph_ && !graph_->failed()) {
    array logits = graph_->step(token, room + 1);
    if (options_.prompt_cache) options_.prompt_cache->append({history_.back()});
    return logits;
  }
  if (options_.prompt_cache) return run({history_.back()});
  return model_.forward(token, cache_);
}

int32_t GenerateStep::sample(const array& logits, int position, const std::vector<int32_t>& context) {
  array next = sampler_(position_row(logits, position), context);
  eval(next);
  return next.item<int32_t>();
}

bool GenerateStep::can_pipeline() const {
  const float rp = options_.sampler.repetition_penalty;
  return options_.pipelined && !options_.draft_model && !options_.prompt_cache && !(rp > 0 && rp != 1.0f);
}

// The token of this step: computed now, or queued by the previous call. With room for more, the next
// step is built on this token while it is still lazy and queued before this one is read.
int32_t GenerateStep::next_pipelined(int room) {
  array token = array(0);  // (1,) int32
  if (queued_) {
    token = *queued_;
    queued_.reset();
  } else {
    const bool first = !started_;
    started_ = true;
    array logits = first ? run(prefill_) : run({history_.back()});
    token = sampler_(position_row(logits, logits.shape(1) - 1), {});
    async_eval({token});
  }
  if (room > 1) {
    array logits = decode(reshape(astype(token, int32), {1, 1}), room);  // (1, 1, V)
    queued_ = sampler_(position_row(logits, 0), {});
    async_eval({*queued_});
  }
  eval(token);
  return token.item<int32_t>();
}

std::vector<StepToken> GenerateStep::next(int room) {
  if (room < 1) throw std::invalid_argument("[generate] next() needs room for at least one token.");
  std::vector<StepToken> out;
  if (can_pipeline()) {
    out.push_back({next_pipelined(room), false});
    history_.push_back(out[0].token);
    return out;
  }
  if (!started_) {
    started_ = true;
    array logits = run(prefill_);
    out.push_back({sample(logits, logits.shape(1) - 1, history_), false});
    if (options_.draft_model) draft_pending_.push_back(out[0].token);
  } else {
    const int k = options_.draft_model ? std::min(options_.num_draft_tokens, room - 1) : 0;
    if (k > 0) {
      out = speculate(k);
    } else {
      out.push_back({sample(decode(array({history_.back()}, {1, 1}, int32), room), 0, history_), false});
      if (options_.draft_model) draft_pending_.push_back(out[0].token);
    }
  }
  for (const auto& t : out) history_.push_back(t.token);
  return out;
}

// The draft proposes k tokens greedily; the model scores history_.back() and the proposal in one pass
// and picks its own token at each position, keeping the proposal up to the first disagreement. Both
// caches are trimmed back to the decided sequence.
std::vector<StepToken> GenerateStep::speculate(int k) {
  const Llama& draft = *options_.draft_model;
  std::vector<int32_t> proposal, feed = draft_pending_;
  for (int i = 0; i < k; ++i) {
    array logits = draft.forward(array(feed, {1, static_cast<int>(feed.size())}, int32), &*draft_cache_);
    array next = astype(argmax(position_row(logits, logits.shape(1) - 1), -1), int32);  // (1,)
    eval(next);
    proposal.push_back(next.to_vector<int32_t>()[0]);
    feed = {proposal.back()};
  }
  std::vector<int32_t> ids{history_.back()};
  ids.insert(ids.end(), proposal.begin(), proposal.end());
  array logits = run(ids);  // (1, k + 1, V)
  std::vector<StepToken> out;
  std::vector<int32_t> context = history_;
  int accepted = 0;
  for (int i = 0; i <= k; ++i) {
    int32_t t = sample(logits, i, context);
    context.push_back(t);
    const bool agrees = i < k && t == proposal[i];
    out.push_back({t, agrees});
    if (!agrees) break;
    ++accepted;
  }
  draft_tokens_ += k;
  accepted_draft_tokens_ += accepted;
  cache_->trim(k - accepted);
  const int draft_keep = std::min(accepted, k - 1);  // the draft has seen proposal[0 .. k-2]
  draft_cache_->trim(k - 1 - draft_keep);
  draft_pending_.clear();
  for (size_t i = draft_keep; i < out.size(); ++i) draft_pending_.push_back(out[i].token);
  return out;
}

}  // namespace tessera::lm
