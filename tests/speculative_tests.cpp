// Speculative decoding: with any draft model the output equals the target's own greedy output; the
// acceptance rate is reported (all drafts accepted when the draft is the model itself).
#include <gtest/gtest.h>

#include <iostream>

#include "lm_generation_utils.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/load.h"
#include "tessera/lm/prompt_cache.h"
#include "tessera/lm/random_model.h"
#include "tessera/random.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

namespace {

GenerationResult speculative(const Llama& target, const Llama* draft, const std::vector<int32_t>& prompt,
                             int max_tokens, int num_draft, const std::vector<std::string>& stops = {}) {
  GenerationConfig g;
  g.max_tokens = max_tokens;
  g.draft_model = draft;
  g.num_draft_tokens = num_draft;
  g.stop_strings = stops;
  return generate(target, stories_tokenizer(), prompt, g);
}

double rate(const GenerationResult& r) {
  return r.stats.draft_tokens ? static_cast<double>(r.stats.accepted_draft_tokens) / r.stats.draft_tokens : 0;
}

}  // namespace

TEST(Speculative, SameModelDraftAcceptsEverythingAndMatchesGreedy) {
  const auto& tok = stories_tokenizer();
  for (auto text : {"", "Once upon a time", "Tom and his mom"}) {
    std::vector<int32_t> p = *text ? tok.encode(text) : std::vector<int32_t>{};
    auto ref = speculative(stories(), nullptr, p, 100, 0);
    for (int k : {1, 3, 6}) {
      auto r = speculative(stories(), &stories(), p, 100, k);
      EXPECT_EQ(r.tokens, ref.tokens) << text << " k=" << k;
      EXPECT_EQ(r.text, ref.text);
      EXPECT_EQ(r.finish_reason, ref.finish_reason);
      EXPECT_GT(r.stats.draft_tokens, 0);
      EXPECT_EQ(r.stats.accepted_draft_tokens, r.stats.draft_tokens) << "k=" << k;
    }
  }
  // The llama2.c reference story, decoded speculatively.
  std::ifstream in(stories_dir() + "greedy-empty-prompt.txt");
  std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = speculative(stories(), &stories(), {}, 256, 4);
  std::string got = r.text;
  if (expected.back() == '\n' && (got.empty() || got.back() != '\n')) got += '\n';
  EXPECT_EQ(got, expected);
}

TEST(Speculative, DifferentDraftStillGivesTargetGreedy) {
  const auto& tok = stories_tokenizer();
  // A random-weight draft of the same shape (rarely agrees) and the model with perturbed weights
  // (mostly agrees): both must leave the target's output unchanged.
  LlamaConfig c = stories().config();
  Llama random_draft(c, random_llama_weights(c, float32, 7));
  auto ck = load_llama2c(stories_dir() + "stories260K.bin");
  for (auto& [name, w] : ck.weights) {
    if (w.ndim() == 2) w = w + astype(random::normal(w.shape(), float32, 0.0f, 0.01f, random::key(3)), w.dtype());
  }
  Llama noisy_draft(ck.config, ck.weights);
  auto p = tok.encode("One day, a little girl named Lily");
  auto ref = speculative(stories(), nullptr, p, 120, 0);
  for (const Llama* d : {&random_draft, &noisy_draft}) {
    for (int k : {2, 5}) {
      auto r = speculative(stories(), d, p, 120, k);
      EXPECT_EQ(r.tokens, ref.tokens) << "k=" << k;
      EXPECT_EQ(r.text, ref.text);
      std::cout << (d == &random_draft ? "random" : "noisy") << " draft, k=" << k << ": acceptance "
                << r.stats.accepted_draft_tokens << "/" << r.stats.draft_tokens << " = " << rate(r) << "\n";
    }
  }
  EXPECT_LT(rate(speculative(stories(), &random_draft, p, 120, 3)), 0.5);
  EXPECT_GT(rate(speculative(stories(), &noisy_draft, p, 120, 3)), 0.5);

  // Stop strings and max_tokens cut inside an accepted run of drafts.
  auto s = speculative(stories(), &stories(), {}, 100, 5, {"Lily"});
  EXPECT_EQ(s.text, "Once upon a time, there was a little girl named ");
  EXPECT_EQ(s.finish_reason, "stop_string");
  for (int n : {1, 2, 7}) {
    auto m = speculative(stories(), &noisy_draft, p, n, 4);
    EXPECT_EQ(m.tokens, std::vector<int32_t>(ref.tokens.begin(), ref.tokens.begin() + n)) << n;
  }
}

TEST(Speculative, WithPromptCache) {
  const auto& tok = stories_tokenizer();
  PromptCache pc(stories());
  auto p = tok.encode("The sun was shining and");
  GenerationConfig g;
  g.max_tokens = 40;
  g.draft_model = &stories();
  g.prompt_cache = &pc;
  auto a = generate(stories(), tok, p, g);
  auto ref = speculative(stories(), nullptr, p, 40, 0);
  EXPECT_EQ(a.tokens, ref.tokens);
  // The cache holds exactly the prompt and the generated tokens but the last, after trims.
  std::vector<int32_t> held = p;
  held.insert(held.end(), a.tokens.begin(), a.tokens.end() - 1);
  EXPECT_EQ(pc.tokens(), held);
  auto b = generate(stories(), tok, p, g);
  EXPECT_EQ(b.tokens, ref.tokens);
  EXPECT_EQ(b.stats.cached_prompt_tokens, static_cast<int>(p.size()) - 1);
}

TEST(Speculative, BadDraftThrows) {
  auto mistral = hf_fixture("mistral");  // vocabulary 128, not 512
  GenerationConfig g;
  g.draft_model = mistral.get();
  EXPECT_THROW(generate(stories(), stories_tokenizer(), {1}, g), std::invalid_argument);
  g.draft_model = &stories();
  g.num_draft_tokens = 0;
  EXPECT_THROW(generate(stories(), stories_tokenizer(), {1}, g), std::invalid_argument);
}

TEST(Speculative, HFModelWithAnotherArchitectureAsDraft) {
  // The llama fixture (with its byte tokenizer) checked by the mistral fixture: transformers' greedy tokens.
  auto target = load(hf_fixture_dir("llama"));
  auto draft = hf_fixture("mistral");
  auto ex = hf_expected("llama");
  auto prompt = ex["prompt"].get<std::vector<int32_t>>();
  for (int k : {1, 2, 5}) {
    GenerationConfig g;
    g.max_tokens = 16;
    g.eos_ids = std::vector<int32_t>{};
    g.draft_model = draft.get();
    g.num_draft_tokens = k;
    auto r = generate(*target.model, *target.tokenizer, prompt, g);
    EXPECT_EQ(r.tokens, ex["greedy"].get<std::vector<int32_t>>()) << "k=" << k;
    std::cout << "llama fixture, mistral draft, k=" << k << ": acceptance " << r.stats.accepted_draft_tokens << "/"
              << r.stats.draft_tokens << "\n";
  }
}
