// batch_generate: left-padded batches give each prompt exactly its own greedy result (stories260K and
// the tiny HF models, sliding-window ones included), stop independently, and reject bad input.
#include <gtest/gtest.h>

#include "lm_generation_utils.h"
#include "tessera/lm/batch_generate.h"
#include "tessera/lm/generate.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;

TEST(BatchGenerate, Stories260KRowsEqualUnbatchedGreedy) {
  const auto& tok = stories_tokenizer();
  std::vector<std::string> texts = {"Once upon a time", "", "Lily and Tom went to the park. They saw a big",
                                    "The cat", "One day, a little bird"};
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& t : texts) prompts.push_back(t.empty() ? std::vector<int32_t>{} : tok.encode(t));
  for (int batch_size : {0, 2, 5}) {
    BatchGenerationConfig cfg;
    cfg.max_tokens = 48;
    cfg.batch_size = batch_size;
    auto r = batch_generate(stories(), &tok, prompts, cfg);
    ASSERT_EQ(r.texts.size(), prompts.size());
    EXPECT_GE(r.batch_size, 1);
    if (batch_size > 0) {
      EXPECT_EQ(r.batch_size, batch_size);
    }
    for (size_t i = 0; i < prompts.size(); ++i) {
      GenerationConfig g;
      g.max_tokens = 48;
      auto ref = generate(stories(), tok, prompts[i], g);
      EXPECT_EQ(r.tokens[i], ref.tokens) << "prompt " << i << " batch " << batch_size;
      EXPECT_EQ(r.texts[i], ref.text) << "prompt " << i;
      EXPECT_EQ(r.finish_reasons[i], ref.finish_reason) << "prompt " << i;
    }
    EXPECT_EQ(r.generation_tokens, [&] {
      int n = 0;
      for (const auto& t : r.tokens) n += static_cast<int>(t.size());
      return n;
    }());
  }
}

TEST(BatchGenerate, EmptyPromptMatchesLlama2cReferenceInABatch) {
  // The BOS-only prompt decoded next to longer ones still gives llama2.c's reference story.
  std::ifstream in(stories_dir() + "greedy-empty-prompt.txt");
  std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(expected.empty());
  const auto& tok = stories_tokenizer();
  BatchGenerationConfig cfg;
  cfg.max_tokens = 256;
  auto r = batch_generate(stories(), &tok, {tok.encode("Tom had a red ball."), {}, tok.encode("Sam")}, cfg);
  std::string got = r.texts[1];
  if (expected.back() == '\n' && (got.empty() || got.back() != '\n')) got += '\n';
  EXPECT_EQ(got, expected);
  GenerationConfig g;
  g.max_tokens = 256;
  EXPECT_EQ(r.finish_reasons[1], generate(stories(), tok, {}, g).finish_reason);
}

TEST(BatchGenerate, RowsStopIndependently) {
  const auto& tok = stories_tokenizer();
  std::vector<std::vector<int32_t>> prompts = {tok.encode("Once upon a time"), {}, tok.encode("The dog")};
  BatchGenerationConfig cfg;
  cfg.max_tokens = 60;
  cfg.stop_strings = {"Lily"};
  auto r = batch_generate(stories(), &tok, prompts, cfg);
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationConfig g;
    g.max_tokens = 60;
    g.stop_strings = {"Lily"};
    auto ref = generate(stories(), tok, prompts[i], g);
    EXPECT_EQ(r.texts[i], ref.text) << i;
    EXPECT_EQ(r.finish_reasons[i], ref.finish_reason) << i;
  }
  EXPECT_EQ(r.texts[1], "Once upon a time, there was a little girl named ");
  EXPECT_EQ(r.finish_reasons[1], "stop_string");

  // An EOS forced on one row only by its own id list: eos = the first greedy token of row 0.
  BatchGenerationConfig e;
  e.max_tokens = 10;
  auto first = greedy_reference(stories(), prompts[0], 1);
  e.eos_ids = std::vector<int32_t>{first[0]};
  auto r2 = batch_generate(stories(), &tok, prompts, e);
  EXPECT_TRUE(r2.tokens[0].empty());
  EXPECT_EQ(r2.finish_reasons[0], "stop");
  for (size_t i = 1; i < prompts.size(); ++i) {
    std::vector<int32_t> p = prompts[i].empty() ? std::vector<int32_t>{1} : prompts[i];
    EXPECT_EQ(r2.tokens[i], greedy_reference(stories(), p, 10, {first[0]})) << i;
  }
}

TEST(BatchGenerate, HFModelsIncludingSlidingWindowEqualUnbatched) {
  for (std::string arch : {"mistral", "gemma2", "llama", "qwen3", "gemma3_text", "phi3"}) {
    auto m = hf_fixture(arch);
    auto ex = hf_expected(arch);
    auto p1 = ex["prompt"].get<std::vector<int32_t>>();
    auto p2 = ex["prompt2"].get<std::vector<int32_t>>();
    std::vector<std::vector<int32_t>> prompts = {p1, std::vector<int32_t>(p2.begin(), p2.begin() + 3), p2,
                                                 std::vector<int32_t>(p1.begin(), p1.begin() + 9)};
    BatchGenerationConfig cfg;
    cfg.max_tokens = 16;
    auto r = batch_generate(*m, nullptr, prompts, cfg);
    // transformers' own greedy decoding of the first prompt.
    EXPECT_EQ(r.tokens[0], ex["greedy"].get<std::vector<int32_t>>()) << arch;
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(r.tokens[i], greedy_reference(*m, prompts[i], 16)) << arch << " prompt " << i;
      EXPECT_TRUE(r.texts[i].empty());
    }
  }
}

TEST(BatchGenerate, BatchSizeFromMemory) {
  const auto& c = stories().config();
  EXPECT_EQ(kv_bytes_per_token(c), 2u * 5 * 4 * 8 * 4);
  EXPECT_EQ(batch_size_for_memory(c, 512, 7), 7);  // tiny model: memory is no limit
  size_t old = set_memory_limit(get_active_memory() + 2 * (kv_bytes_per_token(c) * 100 + 100 * 512 * 4) * 3 + 10);
  EXPECT_EQ(batch_size_for_memory(c, 100, 64), 3);
  set_memory_limit(get_active_memory());
  EXPECT_EQ(batch_size_for_memory(c, 100, 64), 1);  // never below one row
  set_memory_limit(old);
}

TEST(BatchGenerate, BadInputThrows) {
  const auto& tok = stories_tokenizer();
  EXPECT_THROW(batch_generate(stories(), &tok, {}), std::invalid_argument);
  EXPECT_THROW(batch_generate(stories(), &tok, {{1, 600}}), std::out_of_range);
  EXPECT_THROW(batch_generate(stories(), nullptr, {{}}), std::invalid_argument);  // no BOS without a tokenizer
  BatchGenerationConfig cfg;
  cfg.stop_strings = {"x"};
  EXPECT_THROW(batch_generate(stories(), nullptr, {{1}}, cfg), std::invalid_argument);
  cfg = {};
  cfg.batch_size = -1;
  EXPECT_THROW(batch_generate(stories(), &tok, {{1}}, cfg), std::invalid_argument);
  cfg = {};
  cfg.max_tokens = 0;
  auto r = batch_generate(stories(), &tok, {{1}, {1, 2}}, cfg);
  EXPECT_TRUE(r.tokens[0].empty() && r.tokens[1].empty());
  EXPECT_EQ(r.finish_reasons[0], "length");
  KVCache cache(stories().num_layers());
  EXPECT_THROW(cache.set_left_padding({-1}), std::invalid_argument);
  EXPECT_THROW(cache.filter_rows({}), std::invalid_argument);
}
