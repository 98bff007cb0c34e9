// Tests of the LLM tools: perplexity windows and NLL (hand-checked cases, stories260K against a float64 host
// log-softmax), KL divergence against perturbed models, and Hugging Face cache resolution in a fake cache.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <optional>
#include <vector>

#include <unistd.h>

#include "tessera/lm/hub.h"
#include "tessera/lm/llama2c.h"
#include "tessera/lm/load.h"
#include "tessera/lm/perplexity.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using tessera::testing::error_message;
using tessera::testing::random_array;

namespace fs = std::filesystem;

namespace {

const std::string kShared = TESSERA_SHARED_DATA;
const std::string kModel = kShared + "/models/stories260K/stories260K.bin";
const std::string kTok = kShared + "/models/stories260K/tok512.bin";
const std::string kFixture = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/hf_models/llama";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const Llama2cCheckpoint& checkpoint() {
  static Llama2cCheckpoint ck = load_llama2c(kModel);
  return ck;
}

const Llama& model() {
  static Llama m(checkpoint().config, checkpoint().weights);
  return m;
}

// stories260K with every weight scaled by (1 + eps * u), u uniform in [-1, 1).
Llama perturbed(double eps, unsigned seed) {
  WeightMap w = checkpoint().weights;
  for (auto& [name, a] : w) a = a * (array(1.0f) + array(static_cast<float>(eps)) * random_array(a.shape(), float32, -1, 1, seed++));
  return Llama(checkpoint().config, w);
}

std::vector<int32_t> story_tokens(int64_t max_tokens) {
  static Llama2cTokenizer tok(kTok, 512);
  std::string text = read_file(kShared + "/models/stories260K/greedy-empty-prompt.txt");
  return perplexity_tokens(tok, text + "\n" + text + "\n" + text, max_tokens);
}

// Per scored token of every window, log-softmax of the model's logits in float64 on the host.
struct HostReference {
  std::vector<std::vector<double>> logp;  // per scored token: (V,) log-probabilities of its prediction
  std::vector<int32_t> targets;
};

HostReference host_reference(const Llama& m, const std::vector<int32_t>& ids, int context, int stride) {
  HostReference r;
  for (const Window& w : perplexity_windows(static_cast<int64_t>(ids.size()), context, stride)) {
    const int len = static_cast<int>(w.end - w.begin);
    std::vector<int32_t> in(ids.begin() + w.begin, ids.begin() + w.end);
    array logits = m(array(in, {1, len}, int32));
    std::vector<double> v = logits.to_vector<double>();
    const int V = logits.shape(2);
    for (int64_t i = w.first_scored; i < w.end; ++i) {
      const double* row = v.data() + (i - 1 - w.begin) * V;
      double mx = row[0];
      for (int k = 1; k < V; ++k) mx = std::max(mx, row[k]);
      double s = 0;
      for (int k = 0; k < V; ++k) s += std::exp(row[k] - mx);
      std::vector<double> lp(V);
      for (int k = 0; k < V; ++k) lp[k] = row[k] - mx - std::log(s);
      r.logp.push_back(std::move(lp));
      r.targets.push_back(ids[i]);
    }
  }
  return r;
}

// Sets an environment variable for the scope, restoring the old value.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const std::optional<std::string>& value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) setenv(name.c_str(), value->c_str(), 1);
    else unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    if (old) setenv(name.c_str(), old->c_str(), 1);
    else unsetenv(name.c_str());
  }
};

// A Hugging Face cache under a fresh temp dir: models--<org>--<name>/{blobs,refs/main,snapshots/<commit>}
// with the snapshot's files symlinked to blobs, as huggingface_hub lays it out.
struct FakeHubCache {
  fs::path root;
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  FakeHubCache() {
    root = fs::temp_directory_path() / ("tessera_hub_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::create_directories(root);
  }
  ~FakeHubCache() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  void add(const std::string& org, const std::string& name, const std::vector<std::string>& files) {
    fs::path repo = root / ("models--" + org + "--" + name);
    fs::create_directories(repo / "blobs");
    fs::create_directories(repo / "refs");
    fs::create_directories(repo / "snapshots" / commit);
    std::ofstream(repo / "refs" / "main") << commit;
    int blob = 0;
    for (const auto& f : files) {
      std::string b = "blob" + std::to_string(blob++);
      fs::copy_file(fs::path(kFixture) / f, repo / "blobs" / b);
      fs::create_symlink(fs::path("../../blobs") / b, repo / "snapshots" / commit / f);
    }
  }
};

}  // namespace

TEST(LmToolsPerplexity, WindowsHandChecked) {
  auto w = perplexity_windows(10, 4, 4);  // tokens 4 and 8 start windows: no context, not scored
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].begin, 0); EXPECT_EQ(w[0].end, 4); EXPECT_EQ(w[0].first_scored, 1);
  EXPECT_EQ(w[1].begin, 4); EXPECT_EQ(w[1].end, 8); EXPECT_EQ(w[1].first_scored, 5);
  EXPECT_EQ(w[2].begin, 8); EXPECT_EQ(w[2].end, 10); EXPECT_EQ(w[2].first_scored, 9);
  w = perplexity_windows(10, 4, 2);  // overlapping: every token 1..9 scored exactly once
  ASSERT_EQ(w.size(), 4u);
  const int64_t expect[4][3] = {{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(w[i].begin, expect[i][0]);
    EXPECT_EQ(w[i].end, expect[i][1]);
    EXPECT_EQ(w[i].first_scored, expect[i][2]);
  }
  w = perplexity_windows(3, 512, 512);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].end, 3);
  EXPECT_TRUE(perplexity_windows(1, 4, 4).empty());
  EXPECT_THROW(perplexity_windows(10, 1, 1), std::invalid_argument);
  EXPECT_THROW(perplexity_windows(10, 4, 0), std::invalid_argument);
  EXPECT_THROW(perplexity_windows(10, 4, 5), std::invalid_argument);
}

TEST(LmToolsPerplexity, TokenNllHandChecked) {
  // Row 0: p = (1/4, 3/4); row 1: uniform over 4 -> ln 4; row 2: p(2) = e^2 / (1 + e + e^2).
  array logits({0.0f, std::log(3.0f), -1e9f, -1e9f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f, 1.0f, 2.0f, -1e9f}, {3, 4});
  array nll = token_nll(logits, array({1, 2, 2}, {3}, int32));
  double e = std::exp(1.0);
  EXPECT_TRUE(tessera::testing::all_close(nll, {std::log(4.0 / 3.0), std::log(4.0), std::log((1 + e + e * e) / (e * e))},
                                          1e-6, 1e-6));
  EXPECT_THROW(token_nll(logits, array({1, 2}, {2}, int32)), std::invalid_argument);
  EXPECT_THROW(token_nll(reshape(logits, {12}), array({1}, {1}, int32)), std::invalid_argument);
}

TEST(LmToolsPerplexity, Stories260KMatchesFloat64HostLogSoftmax) {
  std::vector<int32_t> ids = story_tokens(300);
  ASSERT_EQ(ids.size(), 300u);
  ASSERT_EQ(ids[0], 1);  // BOS
  for (auto [context, stride] : {std::pair{64, 64}, std::pair{64, 16}, std::pair{512, 512}}) {
    PerplexityOptions o;
    o.context = context;
    o.stride = stride;
    PerplexityResult r = perplexity(model(), ids, o);
    HostReference ref = host_reference(model(), ids, context, stride);
    double sum = 0;
    for (size_t i = 0; i < ref.targets.size(); ++i) sum -= ref.logp[i][ref.targets[i]];
    ASSERT_EQ(r.tokens, static_cast<int64_t>(ref.targets.size()));
    EXPECT_NEAR(r.nll_sum, sum, 1e-4 * sum) << context << "/" << stride;
    EXPECT_NEAR(r.perplexity(), std::exp(sum / ref.targets.size()), 1e-4 * r.perplexity());
  }
  PerplexityOptions o;
  o.context = 64;
  PerplexityResult r = perplexity(model(), ids, o);
  EXPECT_EQ(r.tokens, 299 - 4);  // 5 windows; tokens 64, 128, 192, 256 start one and are not scored
  EXPECT_EQ(r.windows, 5);
  o.stride = 32;
  EXPECT_EQ(perplexity(model(), ids, o).tokens, 299);
}

TEST(LmToolsPerplexity, OwnGreedyOutputIsLikelierThanShakespeare) {
  static Llama2cTokenizer tok(kTok, 512);
  PerplexityOptions o;
  o.context = 256;
  o.max_tokens = 400;
  double own = perplexity(model(), story_tokens(400), o).perplexity();
  double shakespeare =
      perplexity(model(), perplexity_tokens(tok, read_file(kShared + "/corpora/tinyshakespeare.txt"), 400), o)
          .perplexity();
  EXPECT_LT(own, 3.0);  // greedy text: mostly the argmax tokens
  EXPECT_GT(shakespeare, 4 * own);
}

TEST(LmToolsPerplexity, MaxTokensAndPrefixTokenization) {
  static Llama2cTokenizer tok(kTok, 512);
  std::string text = read_file(kShared + "/corpora/tinyshakespeare.txt");
  std::vector<int32_t> all = tok.encode(text.substr(0, 8000), true);
  std::vector<int32_t> head = perplexity_tokens(tok, text, 200);  // tokenizes only a prefix
  ASSERT_EQ(head.size(), 200u);
  EXPECT_EQ(head, std::vector<int32_t>(all.begin(), all.begin() + 200));
  PerplexityOptions o;
  o.max_tokens = 100;
  EXPECT_EQ(perplexity(model(), all, o).tokens, 99);
}

TEST(LmToolsPerplexity, BadInput) {
  EXPECT_NE(error_message([] { perplexity(model(), {1}); }).find("[perplexity] need at least 2 tokens"),
            std::string::npos);
  EXPECT_THROW(perplexity(model(), {1, 600, 3}), std::out_of_range);
  EXPECT_THROW(perplexity(model(), {1, -1}), std::out_of_range);
  PerplexityOptions o;
  o.context = 1;
  EXPECT_THROW(perplexity(model(), {1, 2, 3}, o), std::invalid_argument);
  o = {};
  o.max_tokens = -1;
  EXPECT_THROW(perplexity(model(), {1, 2, 3}, o), std::invalid_argument);
}

TEST(LmToolsKl, SelfIsZeroAndPerturbedMatchesFloat64Host) {
  std::vector<int32_t> ids = story_tokens(160);
  PerplexityOptions o;
  o.context = 64;
  KLResult self = kl_divergence(model(), model(), ids, o);
  EXPECT_NEAR(self.mean_kl, 0.0, 1e-6);
  EXPECT_EQ(self.top1_agreement, 1.0);
  EXPECT_DOUBLE_EQ(self.model.nll_sum, self.reference.nll_sum);

  Llama noisy = perturbed(0.05, 7);
  KLResult r = kl_divergence(noisy, model(), ids, o);
  HostReference m = host_reference(noisy, ids, 64, 64), ref = host_reference(model(), ids, 64, 64);
  double kl_sum = 0, kl_max = 0;
  int agree = 0;
  for (size_t i = 0; i < m.targets.size(); ++i) {
    double kl = 0;
    size_t am = 0, ar = 0;
    for (size_t v = 0; v < m.logp[i].size(); ++v) {
      kl += std::exp(ref.logp[i][v]) * (ref.logp[i][v] - m.logp[i][v]);
      if (m.logp[i][v] > m.logp[i][am]) am = v;
      if (ref.logp[i][v] > ref.logp[i][ar]) ar = v;
    }
    kl_sum += kl;
    kl_max = std::max(kl_max, kl);
    agree += am == ar;
  }
  const double n = static_cast<double>(m.targets.size());
  ASSERT_EQ(r.model.tokens, static_cast<int64_t>(n));
  EXPECT_GT(r.mean_kl, 1e-4);
  EXPECT_NEAR(r.mean_kl, kl_sum / n, 1e-3 * r.mean_kl + 1e-6);
  EXPECT_NEAR(r.max_kl, kl_max, 1e-3 * kl_max + 1e-6);
  EXPECT_NEAR(r.top1_agreement, agree / n, 1e-12);
  EXPECT_LT(r.top1_agreement, 1.0 + 1e-12);
  EXPECT_NEAR(r.reference.nll_sum, self.reference.nll_sum, 1e-9 * self.reference.nll_sum);

  // More noise, further from the reference.
  KLResult more = kl_divergence(perturbed(0.3, 7), model(), ids, o);
  EXPECT_GT(more.mean_kl, 3 * r.mean_kl);
  EXPECT_LE(more.top1_agreement, r.top1_agreement);
}

TEST(LmToolsKl, DifferentVocabulariesThrow) {
  LlamaConfig c = checkpoint().config;
  c.vocab_size = 256;
  WeightMap w = checkpoint().weights;
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
    if (w.count(name)) w.insert_or_assign(name, slice(w.at(name), {0, 0}, {256, c.hidden_size}));
  }
  Llama small(c, w);
  auto msg = error_message([&] { kl_divergence(small, model(), {1, 2, 3}); });
  EXPECT_NE(msg.find("[perplexity] the model and the reference have different vocabularies (256 vs 512"),
            std::string::npos)
      << msg;
}

TEST(LmToolsHub, RepoIdsAndCacheDirFromEnvironment) {
  EXPECT_TRUE(is_hub_repo_id("HuggingFaceTB/SmolLM2-135M-Instruct"));
  EXPECT_TRUE(is_hub_repo_id("org/name.v1_2"));
  for (const char* bad : {"name", "a/b/c", "/abs", "org/", "/name", "../x", "org/..", "o rg/x", "org/.hidden", ""})
    EXPECT_FALSE(is_hub_repo_id(bad)) << bad;
  ScopedEnv a("HF_HUB_CACHE", std::nullopt), b("HUGGINGFACE_HUB_CACHE", std::nullopt), c("HF_HOME", "/tmp/hfhome"),
      d("XDG_CACHE_HOME", "/tmp/xdg");
  EXPECT_EQ(hf_hub_cache_dir(), "/tmp/hfhome/hub");
  {
    ScopedEnv e("HF_HUB_CACHE", "/tmp/hubcache");
    EXPECT_EQ(hf_hub_cache_dir(), "/tmp/hubcache");
    EXPECT_EQ(hub_repo_dir("org/name"), "/tmp/hubcache/models--org--name");
  }
  ScopedEnv f("HF_HOME", std::nullopt);
  EXPECT_EQ(hf_hub_cache_dir(), "/tmp/xdg/huggingface/hub");
  EXPECT_THROW(hub_repo_dir("not-a-repo"), std::invalid_argument);
}

TEST(LmToolsHub, LoadsFromFakeCacheWithSymlinkedSnapshot) {
  FakeHubCache cache;
  cache.add("tiny-org", "tiny-llama", {"config.json", "model.safetensors", "tokenizer.json"});
  ScopedEnv env("HF_HUB_CACHE", cache.root.string());
  auto snap = hub_snapshot_dir("tiny-org/tiny-llama");
  ASSERT_TRUE(snap.has_value());
  EXPECT_TRUE(fs::is_symlink(fs::path(*snap) / "config.json"));
  EXPECT_TRUE(missing_model_files(*snap).empty());
  EXPECT_EQ(resolve_model_path("tiny-org/tiny-llama"), *snap);
  EXPECT_EQ(hub_snapshot_dir("tiny-org/tiny-llama", cache.commit), snap);
  EXPECT_FALSE(hub_snapshot_dir("tiny-org/tiny-llama", "v2").has_value());

  LoadedModel hub = load("tiny-org/tiny-llama"), local = load(kFixture);
  array ids = array({1, 5, 9, 3}, {1, 4}, int32);
  std::vector<double> expected = (*local.model)(ids).to_vector<double>();
  EXPECT_TRUE(tessera::testing::all_close((*hub.model)(ids), expected, 0, 0));
  EXPECT_EQ(hub.tokenizer->encode("hello world", false), local.tokenizer->encode("hello world", false));
}

TEST(LmToolsHub, MissingRepoOrFilesGiveClearErrors) {
  FakeHubCache cache;
  cache.add("org", "no-tokenizer", {"config.json", "model.safetensors"});
  ScopedEnv env("HF_HUB_CACHE", cache.root.string());
  auto msg = error_message([] { load("nobody/missing-model"); });
  EXPECT_NE(msg.find("[hub] nobody/missing-model is neither a local path nor complete in the Hugging Face cache " +
                     cache.root.string()),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("missing: config.json, model.safetensors (or model.safetensors.index.json), tokenizer.json"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("tessera download nobody/missing-model"), std::string::npos) << msg;
  msg = error_message([] { load("org/no-tokenizer"); });
  EXPECT_NE(msg.find("missing: tokenizer.json (or tokenizer.model)."), std::string::npos) << msg;
  // A local path that does not exist and is no repo id keeps load's own error.
  msg = error_message([] { load("no/such/model.bin"); });
  EXPECT_NE(msg.find("[load] no such file or directory"), std::string::npos) << msg;
}
