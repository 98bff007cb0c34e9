// Prompt cache: generate reuses a shared prefix (prefilling only the new part), trims on divergence,
// gives the same text as without a cache, and round-trips through save/load_prompt_cache.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "lm_generation_utils.h"
#include "tessera/io/safetensors.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/prompt_cache.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tessera_pc_" + std::to_string(::getpid()) + name)).string();
}

GenerationResult run(const std::vector<int32_t>& prompt, PromptCache* pc, int max_tokens = 24) {
  GenerationConfig g;
  g.max_tokens = max_tokens;
  g.prompt_cache = pc;
  return generate(stories(), stories_tokenizer(), prompt, g);
}

}  // namespace

TEST(PromptCache, ReusesPrefixTrimsOnDivergenceAndMatchesUncached) {
  const auto& tok = stories_tokenizer();
  PromptCache pc(stories());
  auto p1 = tok.encode("Once upon a time, there was a little dog named Max.");
  auto r1 = run(p1, &pc);
  EXPECT_EQ(r1.stats.cached_prompt_tokens, 0);
  EXPECT_EQ(r1.tokens, run(p1, nullptr).tokens);
  // The cache holds the prompt and every generated token but the last (never run through the model).
  std::vector<int32_t> held = p1;
  held.insert(held.end(), r1.tokens.begin(), r1.tokens.end() - 1);
  EXPECT_EQ(pc.tokens(), held);
  EXPECT_EQ(pc.kv().offset(), static_cast<int>(held.size()));

  // A follow-up that extends the conversation: only the new tokens are prefilled.
  std::vector<int32_t> p2 = p1;
  p2.insert(p2.end(), r1.tokens.begin(), r1.tokens.end());
  auto more = tok.encode(" The end.", false);
  p2.insert(p2.end(), more.begin(), more.end());
  auto r2 = run(p2, &pc);
  EXPECT_EQ(r2.stats.cached_prompt_tokens, static_cast<int>(held.size()));
  EXPECT_EQ(r2.tokens, run(p2, nullptr).tokens);

  // A prompt that diverges after a few tokens: the cache is cut back to the common prefix.
  auto p3 = tok.encode("Once upon a time, there was a big cat.");
  size_t common = 0;
  while (p3[common] == p1[common]) ++common;
  auto r3 = run(p3, &pc);
  EXPECT_EQ(r3.stats.cached_prompt_tokens, static_cast<int>(common));
  EXPECT_EQ(r3.tokens, run(p3, nullptr).tokens);

  // The same prompt again: everything but its last token comes from the cache.
  auto r4 = run(p3, &pc);
  EXPECT_EQ(r4.stats.cached_prompt_tokens, static_cast<int>(p3.size()) - 1);
  EXPECT_EQ(r4.tokens, r3.tokens);
  EXPECT_EQ(r4.text, r3.text);
}

TEST(PromptCache, SaveAndLoadRoundTrip) {
  const auto& tok = stories_tokenizer();
  PromptCache pc(stories());
  auto p = tok.encode("Lily wanted to play with her friend Ben in the garden.");
  auto r = run(p, &pc, 10);
  std::string path = temp_path("cache.safetensors");
  save_prompt_cache(path, pc, {{"model", "stories260K"}, {"note", "test"}});
  auto [loaded, meta] = load_prompt_cache(path);
  EXPECT_EQ(meta.size(), 2u);
  EXPECT_EQ(meta["model"], "stories260K");
  EXPECT_EQ(loaded.tokens(), pc.tokens());
  for (int i = 0; i < pc.num_layers(); ++i) {
    auto [k0, v0] = pc.kv().state(i);
    auto [k1, v1] = loaded.kv().state(i);
    EXPECT_EQ(k0.to_vector<float>(), k1.to_vector<float>());
    EXPECT_EQ(v0.to_vector<float>(), v1.to_vector<float>());
  }
  // Continuing from the loaded cache equals continuing without one.
  std::vector<int32_t> p2 = p;
  p2.insert(p2.end(), r.tokens.begin(), r.tokens.end());
  auto a = run(p2, &loaded);
  EXPECT_EQ(a.stats.cached_prompt_tokens, static_cast<int>(p.size() + r.tokens.size() - 1));
  EXPECT_EQ(a.tokens, run(p2, nullptr).tokens);

  // An empty cache saves and loads too.
  PromptCache empty(stories());
  save_prompt_cache(path, empty);
  auto [e, m2] = load_prompt_cache(path);
  EXPECT_TRUE(e.tokens().empty());
  EXPECT_TRUE(m2.empty());
  std::remove(path.c_str());
}

TEST(PromptCache, MismatchedCacheAndBadFilesThrow) {
  auto mistral = hf_fixture("mistral");
  PromptCache other(*mistral);  // 2 layers of 2 x 16
  GenerationConfig g;
  g.prompt_cache = &other;
  EXPECT_THROW(generate(stories(), stories_tokenizer(), {1, 2}, g), std::invalid_argument);
  PromptCache pc(stories());
  EXPECT_THROW(save_prompt_cache(temp_path("x"), pc, {{"tessera_prompt_cache", "1"}}), std::invalid_argument);

  // A safetensors file that is not a prompt cache, and one whose layers are missing.
  std::string path = temp_path("bad.safetensors");
  save_safetensors(path, {{"tokens", array(std::vector<int32_t>{1, 2}, {2}, int32)}});
  EXPECT_THROW(load_prompt_cache(path), std::invalid_argument);
  save_safetensors(path, {{"tokens", array(std::vector<int32_t>{1, 2}, {2}, int32)}},
                   {{"tessera_prompt_cache", "5,4,8"}});
  EXPECT_THROW(load_prompt_cache(path), std::invalid_argument);
  save_safetensors(path, {{"tokens", array(std::vector<int32_t>{}, {0}, int32)}}, {{"tessera_prompt_cache", "0,4,8"}});
  EXPECT_THROW(load_prompt_cache(path), std::invalid_argument);
  std::remove(path.c_str());
  EXPECT_THROW(load_prompt_cache(temp_path("missing")), std::exception);

  // A loaded cache holding tokens outside the model's vocabulary.
  PromptCache big(stories());
  big.append({600});
  EXPECT_THROW(big.check_model(stories()), std::invalid_argument);
}
