// Quantized KV cache (--kv-bits): greedy text and logits against the full-precision cache on stories260K
// and a tiny HF fixture, quantized attention against a float64 reference, quantized_kv_start switching,
// trim/filter/state, memory arithmetic and bad settings.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>

#include "lm_generation_utils.h"
#include "tessera/lm/batch_generate.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/perplexity.h"
#include "tessera/lm/prompt_cache.h"
#include "tessera/lm/quantized_attention.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using namespace tessera::lm::testing;
using tessera::testing::all_close;
using tessera::testing::random_array;

namespace {

KVCache quantized_cache(const Llama& m, int bits, int group, int start = 0) {
  KVCache c = model_kv_cache(m);
  c.set_quantization(bits, group, start);
  return c;
}

// Max |a - b| of two logits arrays.
double max_abs_diff(const array& a, const array& b) {
  array d = max(abs(a - b));
  eval(d);
  return d.item<float>();
}

// Logits of the prompt's positions, then of each greedy step (one token at a time) through `cache`.
std::vector<array> step_logits(const Llama& m, const std::vector<int32_t>& prompt, const std::vector<int32_t>& next,
                               KVCache& cache) {
  std::vector<array> out;
  out.push_back(m.forward(array(prompt, {1, static_cast<int>(prompt.size())}, int32), &cache));
  eval(out.back());
  for (int32_t t : next) {
    out.push_back(m.forward(array(std::vector<int32_t>{t}, {1, 1}, int32), &cache));
    eval(out.back());
  }
  return out;
}

std::vector<int32_t> story_prompt() { return stories_tokenizer().encode("Once upon a time, there was a little girl"); }

}  // namespace

// Top-two logit margin of the last position of logits (1, L, V).
double top2_margin(const array& logits) {
  const int L = logits.shape(1), V = logits.shape(2);
  auto v = reshape(slice(logits, {0, L - 1, 0}, {1, L, V}), {V}).to_vector<float>();
  std::partial_sort(v.begin(), v.begin() + 2, v.end(), std::greater<float>());
  return v[0] - v[1];
}

TEST(QuantizedKVCache, StoriesGreedyAndLogitsAgainstFullPrecision) {
  // stories260K has head_dim 8 and keys up to |22|, so one 8-bit step of a key group is ~0.15: the logits
  // move by up to ~1 (bounded below), and greedy text can only part where the full-precision model's
  // top two logits are closer than that.
  const Llama& m = stories();
  for (const std::string text : {"Once upon a time, there was a little girl", "Tom and his dog", ""}) {
    std::vector<int32_t> prompt = text.empty() ? std::vector<int32_t>{1} : stories_tokenizer().encode(text);
    auto next = greedy_reference(m, prompt, 96);
    ASSERT_EQ(next.size(), 96u);
    KVCache full(m.num_layers());
    auto ref = step_logits(m, prompt, next, full);
    for (auto [bits, bound] : {std::pair{8, 1.5}, std::pair{4, 16.0}}) {
      KVCache q = quantized_cache(m, bits, 32);
      auto got = step_logits(m, prompt, next, q);  // teacher-forced with the full-precision tokens
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, max_abs_diff(got[i], ref[i]));
      EXPECT_TRUE(q.layer_quantized(0));
      EXPECT_GT(worst, 0.0) << "the quantized cache changed nothing: is it used?";
      EXPECT_LT(worst, bound) << bits << " bits";
      // Free-running greedy decoding with the quantized cache.
      KVCache q2 = quantized_cache(m, bits, 32);
      auto greedy = greedy_reference(m, prompt, 96, {}, &q2);
      size_t same = 0;
      while (same < greedy.size() && greedy[same] == next[same]) ++same;
      std::printf("[ kv-bits %d '%s' ] max |logit diff| %.3f (teacher-forced), greedy equal for %zu/96 tokens\n",
                  bits, text.c_str(), worst, same);
      if (same < greedy.size()) {
        // Where it parts, the full-precision choice was a near tie (within twice the logit error).
        EXPECT_LT(top2_margin(ref[same]), 2 * worst) << bits << " bits, token " << same;
      }
    }
  }
  // The 8-bit greedy text from BOS equals llama2.c's reference text over its first 64 tokens.
  GenerationConfig g;
  g.max_tokens = 64;
  g.kv_bits = 8;
  g.kv_group_size = 32;
  std::string text = generate(m, stories_tokenizer(), {}, g).text;
  std::ifstream f(stories_dir() + "greedy-empty-prompt.txt");
  std::string reference((std::istreambuf_iterator<char>(f)), {});
  EXPECT_GT(text.size(), 150u);
  EXPECT_EQ(reference.substr(0, text.size()), text);
}

TEST(QuantizedKVCache, QuantizedKVStartSwitchesMidGeneration) {
  const Llama& m = stories();
  auto prompt = story_prompt();  // fewer than 20 tokens
  ASSERT_LT(prompt.size(), 20u);
  auto next = greedy_reference(m, prompt, 40);
  KVCache full(m.num_layers()), late = quantized_cache(m, 8, 32, 20), early = quantized_cache(m, 8, 32, 0);
  auto ref = step_logits(m, prompt, next, full);
  std::vector<array> got;
  got.push_back(m.forward(array(prompt, {1, static_cast<int>(prompt.size())}, int32), &late));
  eval(got.back());
  EXPECT_FALSE(late.layer_quantized(0));
  bool switched = false;
  for (int32_t t : next) {
    const int before = late.offset();
    got.push_back(m.forward(array(std::vector<int32_t>{t}, {1, 1}, int32), &late));
    eval(got.back());
    EXPECT_EQ(late.layer_quantized(0), before >= 20) << "offset " << before;
    if (before == 20) {
      switched = true;
      // The float32 buffers are gone: 5 layers x (K, V) x 4 heads x 256 slots x (head_dim 8 padded to 32
      // at 8 bits = 32 bytes + a float32 scale and bias), more than float32's 32 bytes at head_dim 8.
      EXPECT_EQ(late.nbytes(), 5u * 2 * 4 * 256 * (32 + 8));
    }
  }
  EXPECT_TRUE(switched);
  // Until the switch the logits are the full-precision ones exactly; afterwards within the 8-bit error.
  auto from_start = step_logits(m, prompt, next, early);
  double late_err = 0, early_err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const int offset_before = i == 0 ? 0 : static_cast<int>(prompt.size() + i - 1);
    if (offset_before < 20) {
      EXPECT_EQ(max_abs_diff(got[i], ref[i]), 0.0) << i;
    }
    late_err = std::max(late_err, max_abs_diff(got[i], ref[i]));
    early_err = std::max(early_err, max_abs_diff(from_start[i], ref[i]));
  }
  EXPECT_GT(late_err, 0.0);
  EXPECT_LT(late_err, 1.5);
  // The converted positions hold the affine round trip of the full-precision keys.
  for (int i = 0; i < m.num_layers(); ++i) {
    auto [k0, v0] = full.state(i);
    auto [k1, v1] = late.state(i);
    ASSERT_EQ(k0.shape(), k1.shape());
    auto kq = quantize(pad(k0, std::vector<int>{3}, Shape{0}, Shape{24}), 32, 8);
    array k_round = slice(dequantize(kq[0], kq[1], kq[2], 32, 8), {0, 0, 0, 0}, {1, 4, 20, 8});
    EXPECT_EQ(max_abs_diff(slice(k1, {0, 0, 0, 0}, {1, 4, 20, 8}), k_round), 0.0);
  }
  std::printf("[ quantized_kv_start 20 ] max |logit diff| %.3f (from the start: %.3f)\n", late_err, early_err);
}

TEST(QuantizedKVCache, AttentionMatchesFloat64ReferenceOnDequantizedCache) {
  // GQA (4 query heads over 2 KV heads), head_dim 16 (padded to the group) and 64, masks and softcap.
  for (int D : {16, 64}) {
    for (int bits : {4, 8}) {
      const int B = 2, Hq = 4, Hkv = 2, L = 3, T0 = 5;
      KVCache c(1);
      c.set_quantization(bits, 32, 0);
      c.update_and_fetch_quantized(0, random_array({B, Hkv, T0, D}, float32, -2, 2, 1),
                                   random_array({B, Hkv, T0, D}, float32, -2, 2, 2));
      array k = random_array({B, Hkv, L, D}, float32, -2, 2, 3), v = random_array({B, Hkv, L, D}, float32, -2, 2, 4);
      auto kv = c.update_and_fetch_quantized(0, k, v);
      const int T = T0 + L;
      ASSERT_EQ(kv.keys.shape(2), T);
      array q = random_array({B, Hq, L, D}, float32, -1, 1, 5);
      array mask = reshape(arange(0, T), {1, T}) <= reshape(arange(T - L, T), {L, 1});  // causal (L, T)
      const float scale = 0.25f, cap = bits == 4 ? 5.0f : 0.0f;
      array out = quantized_attention(q, kv, scale, mask, cap);
      ASSERT_EQ(out.shape(), (Shape{B, Hq, L, D}));
      auto [kd, vd] = c.state(0);  // dequantized, (B, Hkv, T, D)
      auto K = kd.to_vector<double>(), V = vd.to_vector<double>(), Q = q.to_vector<double>();
      std::vector<double> expect;
      for (int b = 0; b < B; ++b)
        for (int h = 0; h < Hq; ++h)
          for (int i = 0; i < L; ++i) {
            const int g = h / (Hq / Hkv);
            std::vector<double> s(T);
            double mx = -1e300;
            for (int j = 0; j < T; ++j) {
              double d = 0;
              for (int e = 0; e < D; ++e) d += Q[((b * Hq + h) * L + i) * D + e] * K[((b * Hkv + g) * T + j) * D + e];
              d *= scale;
              if (cap > 0) d = cap * std::tanh(d / cap);
              s[j] = j <= T - L + i ? d : -INFINITY;
              mx = std::max(mx, s[j]);
            }
            double z = 0;
            for (auto& x : s) z += (x = std::exp(x - mx));
            for (int e = 0; e < D; ++e) {
              double o = 0;
              for (int j = 0; j < T; ++j) o += s[j] / z * V[((b * Hkv + g) * T + j) * D + e];
              expect.push_back(o);
            }
          }
      EXPECT_TRUE(all_close(out, expect, 1e-4, 1e-5)) << "D " << D << " bits " << bits;
    }
  }
}

TEST(QuantizedKVCache, StoredValuesAreTheAffineRoundTrip) {
  KVCache c(1, 0, 4);
  c.set_quantization(4, 64, 0);
  array k = random_array({1, 2, 6, 128}, float32, -3, 3, 7), v = random_array({1, 2, 6, 128}, float32, -1, 1, 8);
  c.update_and_fetch(0, k, v);
  auto [ks, vs] = c.state(0);
  auto kq = quantize(k, 64, 4);
  auto vq = quantize(v, 64, 4);
  EXPECT_EQ(ks.to_vector<float>(), dequantize(kq[0], kq[1], kq[2], 64, 4).to_vector<float>());
  EXPECT_EQ(vs.to_vector<float>(), dequantize(vq[0], vq[1], vq[2], 64, 4).to_vector<float>());
  EXPECT_EQ(c.capacity(), 8);  // grown in steps of 4
}

TEST(QuantizedKVCache, TrimFilterRowsAndSetState) {
  auto model = hf_fixture("llama");  // head_dim 16, 4 heads over 2 KV heads
  const Llama& m = *model;
  std::vector<int32_t> a{1, 5, 9, 33, 70, 2, 11}, b{1, 5, 9, 40, 41, 42, 43};
  // Trim back and run other tokens: same as a cache that only ever saw them.
  KVCache q = quantized_cache(m, 8, 32);
  m.forward(array(a, {1, 7}, int32), &q);
  q.trim(4);
  EXPECT_EQ(q.offset(), 3);
  array got = m.forward(array(std::vector<int32_t>(b.begin() + 3, b.end()), {1, 4}, int32), &q);
  KVCache fresh = quantized_cache(m, 8, 32);
  array want = m.forward(array(b, {1, 7}, int32), &fresh);
  EXPECT_LT(max_abs_diff(got, slice(want, {0, 3, 0}, {1, 7, 128})), 1e-4);
  // filter_rows on a batch of two keeps row 1 equal to running it alone.
  KVCache batch = quantized_cache(m, 8, 32);
  std::vector<int32_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  m.forward(array(ab, {2, 7}, int32), &batch);
  batch.filter_rows({1});
  array next = m.forward(array(std::vector<int32_t>{3}, {1, 1}, int32), &batch);
  array alone = m.forward(array(std::vector<int32_t>{3}, {1, 1}, int32), &fresh);
  EXPECT_LT(max_abs_diff(next, alone), 1e-4);
  // set_state of dequantized keys quantizes them again: the grid may move by up to one step (range / 255).
  KVCache copy = quantized_cache(m, 8, 32);
  for (int i = 0; i < m.num_layers(); ++i) {
    auto [k, v] = fresh.state(i);
    copy.set_state(i, k, v);
    EXPECT_TRUE(copy.layer_quantized(i));
    auto [k2, v2] = copy.state(i);
    array range = max(k) - min(k);
    eval(range);
    EXPECT_LE(max_abs_diff(k, k2), range.item<float>() / 255 * 1.01);
  }
  EXPECT_LT(max_abs_diff(m.forward(array(std::vector<int32_t>{7}, {1, 1}, int32), &copy),
                         m.forward(array(std::vector<int32_t>{7}, {1, 1}, int32), &fresh)),
            0.05);
}

TEST(QuantizedKVCache, HFFixturesLogitsCloseToFullPrecision) {
  // llama (GQA), qwen3 (qk norm) and gemma2 (sliding-window layers stay full precision, softcap). Random
  // weights make near-tied logits, so the logits are compared (teacher-forced) rather than greedy text.
  for (const char* arch : {"llama", "qwen3", "gemma2"}) {
    auto m = hf_fixture(arch);
    std::vector<int32_t> prompt{1, 17, 29, 5, 88};
    auto next = greedy_reference(*m, prompt, 40);
    KVCache full = model_kv_cache(*m), q = quantized_cache(*m, 8, 32);
    auto ref = step_logits(*m, prompt, next, full);
    auto got = step_logits(*m, prompt, next, q);
    double worst = 0, span = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, max_abs_diff(got[i], ref[i]));
      array mx = max(abs(ref[i]));
      eval(mx);
      span = std::max(span, static_cast<double>(mx.item<float>()));
    }
    std::printf("[ %s kv-bits 8 ] max |logit diff| %.2e (logits up to %.2f)\n", arch, worst, span);
    EXPECT_GT(worst, 0.0) << arch;
    EXPECT_LT(worst, 0.02 * span) << arch;
    for (int i = 0; i < m->num_layers(); ++i) {
      EXPECT_EQ(q.layer_quantized(i), !m->config().layer_slides(i)) << arch << " layer " << i;
    }
  }
}

TEST(QuantizedKVCache, SpeculativeAndPromptCacheWithQuantizedCache) {
  const Llama& m = stories();
  auto prompt = story_prompt();
  GenerationConfig g;
  g.max_tokens = 48;
  g.eos_ids = std::vector<int32_t>{};
  g.kv_bits = 8;
  g.kv_group_size = 32;
  auto plain = generate(m, stories_tokenizer(), prompt, g);
  g.draft_model = &m;  // the model drafting for itself: every proposal accepted, caches trimmed
  auto spec = generate(m, stories_tokenizer(), prompt, g);
  EXPECT_EQ(spec.tokens, plain.tokens);
  EXPECT_GT(spec.stats.accepted_draft_tokens, 0);
  g.draft_model = nullptr;
  // A prompt cache quantized by generate, saved (dequantized) and loaded, continues like in memory.
  PromptCache pc(m);
  g.prompt_cache = &pc;
  g.max_tokens = 16;
  auto first = generate(m, stories_tokenizer(), prompt, g);
  EXPECT_TRUE(pc.kv().layer_quantized(0));
  std::string path = (std::filesystem::temp_directory_path() / ("tessera_kvq_" + std::to_string(::getpid()))).string();
  save_prompt_cache(path, pc);
  auto [loaded, meta] = load_prompt_cache(path);
  std::filesystem::remove(path);
  std::vector<int32_t> p2 = prompt;
  p2.insert(p2.end(), first.tokens.begin(), first.tokens.end());
  auto from_mem = generate(m, stories_tokenizer(), p2, g);
  g.prompt_cache = &loaded;
  auto from_file = generate(m, stories_tokenizer(), p2, g);
  EXPECT_TRUE(loaded.kv().layer_quantized(0));
  EXPECT_EQ(from_file.tokens, from_mem.tokens);
  EXPECT_EQ(from_file.stats.cached_prompt_tokens, static_cast<int>(p2.size()) - 1);
}

TEST(QuantizedKVCache, BatchGenerateLeftPaddedRowsMatchSingleRuns) {
  // Prompts of different lengths (left padding, rows dropped as they finish): each row's 8-bit text equals
  // its own 8-bit single-sequence generation.
  const Llama& m = stories();
  const auto& tok = stories_tokenizer();
  std::vector<std::vector<int32_t>> prompts{tok.encode("Once upon a time"), tok.encode("The cat sat on the mat and"),
                                            tok.encode("Lily")};
  BatchGenerationConfig b;
  b.max_tokens = 32;
  b.eos_ids = std::vector<int32_t>{};
  b.kv_bits = 8;
  b.kv_group_size = 32;
  auto r = batch_generate(m, &tok, prompts, b);
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationConfig g;
    g.max_tokens = 32;
    g.eos_ids = std::vector<int32_t>{};
    g.kv_bits = 8;
    g.kv_group_size = 32;
    EXPECT_EQ(r.tokens[i], generate(m, tok, prompts[i], g).tokens) << "prompt " << i;
  }
}

TEST(QuantizedKVCache, MemoryMatchesArithmetic) {
  // One layer, 8 KV heads x head_dim 64 x 512 positions in float16.
  const int H = 8, D = 64, T = 512;
  array k = random_array({1, H, T, D}, float16, -1, 1, 1), v = random_array({1, H, T, D}, float16, -1, 1, 2);
  KVCache full(1, T);
  full.update_and_fetch(0, k, v);
  const double elems = 2.0 * H * T * D;
  EXPECT_EQ(full.nbytes(), static_cast<size_t>(elems * 2));
  for (auto [bits, group] : {std::pair{8, 64}, std::pair{4, 64}, std::pair{4, 32}}) {
    KVCache q(1, T);
    q.set_quantization(bits, group, 0);
    q.update_and_fetch(0, k, v);
    // bits per value plus a float16 scale and bias per group.
    const double expect = elems * (bits + 2.0 * 16 / group) / 8;
    EXPECT_EQ(q.nbytes(), static_cast<size_t>(expect)) << bits << " bits, group " << group;
    std::printf("[ kv-bits %d g%d ] %.4f of the float16 cache\n", bits, group, expect / (elems * 2));
  }
  // head_dim 64 below group 128: zero-padded to 128, so twice the values.
  KVCache padded(1, T);
  padded.set_quantization(8, 128, 0);
  padded.update_and_fetch(0, k, v);
  EXPECT_EQ(padded.nbytes(), static_cast<size_t>(2 * elems * (8 + 2.0 * 16 / 128) / 8));
  // 8-bit group 64: (8 + 32 / 64) / 16 of float16.
  KVCache q8(1, T);
  q8.set_quantization(8, 64, 0);
  q8.update_and_fetch(0, k, v);
  EXPECT_DOUBLE_EQ(static_cast<double>(q8.nbytes()) / full.nbytes(), (8 + 32.0 / 64) / 16);
}

TEST(QuantizedKVCache, BadSettingsThrow) {
  KVCache c(2);
  EXPECT_THROW(c.set_quantization(7), std::invalid_argument);
  EXPECT_THROW(c.set_quantization(1), std::invalid_argument);
  EXPECT_THROW(c.set_quantization(8, 48), std::invalid_argument);
  EXPECT_THROW(c.set_quantization(8, 64, -1), std::invalid_argument);
  EXPECT_THROW(c.update_and_fetch_quantized(0, zeros({1, 2, 1, 64}), zeros({1, 2, 1, 64})), std::invalid_argument);
  c.set_quantization(4, 64);
  EXPECT_THROW(c.update_and_fetch_quantized(2, zeros({1, 2, 1, 64}), zeros({1, 2, 1, 64})), std::out_of_range);
  EXPECT_THROW(c.update_and_fetch_quantized(0, zeros({1, 2, 64}), zeros({1, 2, 64})), std::invalid_argument);
  c.update_and_fetch_quantized(0, zeros({1, 2, 1, 64}), zeros({1, 2, 1, 64}));
  // Different bits over quantized contents, or keys of another head_dim / head count.
  EXPECT_THROW(c.set_quantization(8, 64), std::invalid_argument);
  EXPECT_THROW(c.update_and_fetch_quantized(0, zeros({1, 2, 1, 32}), zeros({1, 2, 1, 32})), std::invalid_argument);
  EXPECT_THROW(c.update_and_fetch_quantized(0, zeros({1, 3, 1, 64}), zeros({1, 3, 1, 64})), std::invalid_argument);
  c.reset();
  EXPECT_NO_THROW(c.set_quantization(8, 64));
  // An integer cache cannot be quantized.
  KVCache i(1);
  i.set_quantization(8, 32);
  EXPECT_THROW(i.update_and_fetch(0, zeros({1, 1, 1, 32}, int32), zeros({1, 1, 1, 32}, int32)), std::invalid_argument);
  // Generation options are checked too.
  GenerationConfig g;
  g.max_tokens = 2;
  g.kv_bits = 3;
  g.kv_group_size = 16;
  EXPECT_THROW(generate(stories(), stories_tokenizer(), story_prompt(), g), std::invalid_argument);
}

// An empty first update (zero positions, as a prompt step of length 0) makes the buffers; the next
// update and the fetch see only the real positions (it indexed missing buffers before).
TEST(QuantizedKVCache, EmptyFirstUpdate) {
  KVCache c(1);
  c.set_quantization(8, 64, 0);
  auto e = c.update_and_fetch_quantized(0, zeros({2, 2, 0, 64}, float32), zeros({2, 2, 0, 64}, float32));
  EXPECT_EQ(e.keys.shape(2), 0);
  EXPECT_EQ(c.offset(), 0);
  auto k = tessera::testing::random_array({2, 2, 3, 64}, float32, -1, 1, 3);
  auto kv = c.update_and_fetch_quantized(0, k, k);
  EXPECT_EQ(kv.keys.shape(2), 3);
  EXPECT_EQ(c.offset(), 3);
}
