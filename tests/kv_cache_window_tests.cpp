// Sliding-window layers in the KV cache: bounded memory, the same greedy tokens as transformers' (mistral,
// gemma2 fixtures), trims limited to what the layers still hold, speculative decoding and prompt caches.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "lm_generation_utils.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/prompt_cache.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

TEST(KVCacheWindow, BoundedAndExactOnSlidingWindowModels) {
  for (std::string arch : {"mistral", "gemma2", "gemma3_text"}) {
    auto m = hf_fixture(arch);
    auto ex = hf_expected(arch);
    auto prompt = ex["prompt"].get<std::vector<int32_t>>();
    const auto& c = m->config();
    ASSERT_GT(c.sliding_window, 0) << arch;
    KVCache bounded = model_kv_cache(*m, 0, 1);
    KVCache full(m->num_layers());
    auto got = greedy_reference(*m, prompt, 16, {}, &bounded);
    EXPECT_EQ(got, ex["greedy"].get<std::vector<int32_t>>()) << arch;
    greedy_reference(*m, prompt, 16, {}, &full);
    EXPECT_EQ(bounded.offset(), full.offset());
    for (int i = 0; i < m->num_layers(); ++i) {
      const int held = bounded.state(i).first.shape(2);
      if (c.layer_slides(i)) {
        EXPECT_EQ(held, c.sliding_window + 1) << arch << " layer " << i;
        EXPECT_EQ(bounded.start(i), bounded.offset() - held);
      } else {
        EXPECT_EQ(held, bounded.offset()) << arch << " layer " << i;
      }
    }
    EXPECT_LT(bounded.nbytes(), full.nbytes()) << arch;
  }
}

TEST(KVCacheWindow, TrimOnlyAsFarAsTheWindowAllows) {
  auto m = hf_fixture("mistral");  // window 4 on every layer
  KVCache cache = model_kv_cache(*m, 0, 2);  // keeps 6
  m->forward(array(std::vector<int32_t>(20, 5), {1, 20}, int32), &cache);
  EXPECT_EQ(cache.offset(), 20);
  EXPECT_TRUE(cache.can_trim(3));
  EXPECT_FALSE(cache.can_trim(4));
  EXPECT_THROW(cache.trim(4), std::runtime_error);
  EXPECT_EQ(cache.trim(3), 3);
  EXPECT_EQ(cache.offset(), 17);
  // After the trim the logits of re-run positions equal a fresh full pass.
  std::vector<int32_t> ids(20, 5);
  ids[17] = 9, ids[18] = 11, ids[19] = 7;
  auto fresh = m->forward(array(ids, {1, 20}, int32));
  auto again = m->forward(array(std::vector<int32_t>{9, 11, 7}, {1, 3}, int32), &cache);
  auto fv = fresh.to_vector<double>();
  std::vector<double> tail(fv.end() - 3 * 128, fv.end());
  EXPECT_TRUE(tessera::testing::all_close(again, tail, 0, 1e-4));
  EXPECT_THROW(cache.set_window(0, 4, 6), std::invalid_argument);  // holds positions
  KVCache fresh_cache(2);
  EXPECT_THROW(fresh_cache.set_window(0, 4, 3), std::invalid_argument);
  EXPECT_THROW(fresh_cache.set_window(5, 4, 4), std::out_of_range);
}

TEST(KVCacheWindow, SpeculativeAndPromptCacheOnSlidingWindowModel) {
  auto m = hf_fixture("mistral");
  auto draft = hf_fixture("llama");
  auto tok = load_tokenizer(hf_fixture_dir("llama") + "/tokenizer.json");
  auto ex = hf_expected("mistral");
  auto prompt = ex["prompt"].get<std::vector<int32_t>>();
  const auto greedy = ex["greedy"].get<std::vector<int32_t>>();
  for (const Llama* d : {draft.get(), m.get()}) {
    GenerationConfig g;
    g.max_tokens = 16;
    g.eos_ids = std::vector<int32_t>{};
    g.draft_model = d;
    g.num_draft_tokens = 3;
    EXPECT_EQ(generate(*m, *tok, prompt, g).tokens, greedy);
  }
  // Prompt cache: a follow-up reuses the bounded cache; a far divergence starts afresh; save/load keeps
  // the windows.
  PromptCache pc(*m);
  GenerationConfig g;
  g.max_tokens = 16;
  g.eos_ids = std::vector<int32_t>{};
  g.prompt_cache = &pc;
  EXPECT_EQ(generate(*m, *tok, prompt, g).tokens, greedy);
  std::vector<int32_t> longer = prompt;
  longer.insert(longer.end(), greedy.begin(), greedy.end());
  longer.insert(longer.end(), {65, 66, 67});
  GenerationConfig plain = g;
  plain.prompt_cache = nullptr;
  auto expect_longer = generate(*m, *tok, longer, plain).tokens;
  auto r = generate(*m, *tok, longer, g);
  EXPECT_EQ(r.stats.cached_prompt_tokens, static_cast<int>(prompt.size() + greedy.size() - 1));
  EXPECT_EQ(r.tokens, expect_longer);

  std::string path = (std::filesystem::temp_directory_path() /
                      ("tessera_window_" + std::to_string(::getpid()) + ".safetensors")).string();
  save_prompt_cache(path, pc);
  auto [loaded, meta] = load_prompt_cache(path);
  std::remove(path.c_str());
  EXPECT_EQ(loaded.kv().window(0), 4);
  EXPECT_EQ(loaded.tokens(), pc.tokens());
  EXPECT_EQ(loaded.kv().start(0), pc.kv().start(0));
  g.prompt_cache = &loaded;
  auto r2 = generate(*m, *tok, longer, g);
  EXPECT_EQ(r2.tokens, expect_longer);
  EXPECT_EQ(r2.stats.cached_prompt_tokens, static_cast<int>(longer.size()) - 1);
  // Diverging 40+ tokens back: more than the window + slack -> prefill everything again.
  std::vector<int32_t> other = prompt;
  other[1] = 3;
  auto r3 = generate(*m, *tok, other, g);
  EXPECT_EQ(r3.stats.cached_prompt_tokens, 0);
  plain.prompt_cache = nullptr;
  EXPECT_EQ(r3.tokens, generate(*m, *tok, other, plain).tokens);
  // A full-attention cache does not fit a sliding-window model.
  PromptCache wrong(m->num_layers(), m->config().kv_heads(), m->config().head_dim_or_default());
  EXPECT_THROW(wrong.check_model(*m), std::invalid_argument);
}
