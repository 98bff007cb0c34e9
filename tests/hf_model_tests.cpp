// Hugging Face model directories: tessera's logits and greedy tokens against transformers' (fixtures made by
// tests/fixtures/hf_models/make_fixtures.py), batching, the KV cache and config errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "tessera/io.h"
#include "tessera/lm/hf_model.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/load.h"
#include "tessera/ops.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;
using tessera::testing::error_message;

namespace {

const std::string kFixtures = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/hf_models/";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return nlohmann::json::parse(in);
}

std::vector<int32_t> ints(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

array token_array(const std::vector<int32_t>& t) { return array(t, {1, static_cast<int>(t.size())}, int32); }

// Max |a - b| <= rtol * max |b| (the logits' scale), over all entries.
::testing::AssertionResult close_rel(const std::vector<float>& a, const std::vector<double>& b, double rtol) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "size " << a.size() << " vs " << b.size();
  double scale = 0, worst = 0;
  size_t at = 0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d, at = i;
  }
  if (worst <= rtol * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |diff| " << worst << " at " << at << " (" << a[at] << " vs "
                                       << b[at] << "), scale " << scale;
}

std::vector<double> flatten(const nlohmann::json& rows) {
  std::vector<double> out;
  for (const auto& r : rows) {
    if (r.is_array()) {
      for (const auto& v : r) out.push_back(v.get<double>());
    } else {
      out.push_back(r.get<double>());
    }
  }
  return out;
}

class HFModelArch : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = kFixtures + GetParam();
    expected_ = read_json(dir_ + "/expected.json");
    HFLoadOptions opts;
    opts.load_tokenizer = false;
    loaded_ = load_hf_model(dir_, opts);
  }
  std::string dir_;
  nlohmann::json expected_;
  HFModel loaded_;
};

TEST_P(HFModelArch, FullForwardMatchesTransformers) {
  auto prompt = ints(expected_["prompt"]);
  array logits = loaded_.model->forward(token_array(prompt));
  ASSERT_EQ(logits.shape(), (Shape{1, static_cast<int>(prompt.size()), 128}));
  EXPECT_EQ(logits.dtype(), float32);
  EXPECT_TRUE(close_rel(logits.to_vector<float>(), flatten(expected_["logits"]), 1e-4));
}

TEST_P(HFModelArch, TokenByTokenWithCacheMatchesTransformers) {
  auto prompt = ints(expected_["prompt"]);
  auto ref = expected_["logits"];
  KVCache cache(loaded_.model->num_layers());
  for (size_t i = 0; i < prompt.size(); ++i) {
    array step = loaded_.model->forward(token_array({prompt[i]}), &cache);
    EXPECT_TRUE(close_rel(step.to_vector<float>(), flatten(nlohmann::json::array({ref[i]})), 1e-4))
        << "position " << i;
  }
  EXPECT_EQ(cache.offset(), static_cast<int>(prompt.size()));
}

TEST_P(HFModelArch, GreedyTokensMatchTransformers) {
  auto prompt = ints(expected_["prompt"]);
  KVCache cache(loaded_.model->num_layers());
  array logits = loaded_.model->forward(token_array(prompt), &cache);
  std::vector<int32_t> greedy;
  for (int i = 0; i < 16; ++i) {
    int L = logits.shape(1);
    array last = slice(logits, {0, L - 1, 0}, {1, L, logits.shape(2)});
    int32_t tok = argmax(reshape(last, {-1}), 0).item<int32_t>();
    greedy.push_back(tok);
    logits = loaded_.model->forward(token_array({tok}), &cache);
  }
  EXPECT_EQ(greedy, ints(expected_["greedy"]));
}

TEST_P(HFModelArch, BatchedEqualsUnbatched) {
  auto p1 = ints(expected_["prompt"]), p2 = ints(expected_["prompt2"]);
  std::vector<int32_t> both(p1);
  both.insert(both.end(), p2.begin(), p2.end());
  const int L = static_cast<int>(p1.size());
  array batched = loaded_.model->forward(array(both, {2, L}, int32));  // (2, L, V)
  array one = loaded_.model->forward(token_array(p1));
  array two = loaded_.model->forward(token_array(p2));
  auto b = batched.to_vector<float>();
  auto o1 = one.to_vector<float>(), o2 = two.to_vector<float>();
  std::vector<double> expect(o1.begin(), o1.end());
  expect.insert(expect.end(), o2.begin(), o2.end());
  EXPECT_TRUE(close_rel(b, expect, 1e-5));
  // The second sequence's last row also matches transformers.
  std::vector<float> last2(o2.end() - 128, o2.end());
  EXPECT_TRUE(close_rel(last2, flatten(expected_["logits2_last"]), 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Architectures, HFModelArch,
                         ::testing::Values("llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "gemma2",
                                           "gemma3_text"));

// config.json of the llama fixture with one field changed / removed.
std::string llama_config_with(const std::function<void(nlohmann::json&)>& edit) {
  auto j = read_json(kFixtures + "llama/config.json");
  edit(j);
  return j.dump();
}

TEST(HFModel, ConfigErrors) {
  EXPECT_NO_THROW(hf_config_from_json(llama_config_with([](nlohmann::json&) {})));
  auto msg = error_message([] { hf_config_from_json(llama_config_with([](auto& j) { j["model_type"] = "gpt2"; })); });
  EXPECT_NE(msg.find("[load] model_type \"gpt2\" is not supported"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gemma2"), std::string::npos) << msg;  // lists what is supported
  msg = error_message([] { hf_config_from_json(llama_config_with([](auto& j) { j.erase("model_type"); })); });
  EXPECT_NE(msg.find("[load] config.json has no model_type"), std::string::npos) << msg;
  msg = error_message([] { hf_config_from_json(llama_config_with([](auto& j) { j.erase("hidden_size"); })); });
  EXPECT_NE(msg.find("[llama] config.json lacks hidden_size"), std::string::npos) << msg;
  msg = error_message(
      [] { hf_config_from_json(llama_config_with([](auto& j) { j["num_attention_heads"] = "four"; })); });
  EXPECT_NE(msg.find("[llama] config.json field num_attention_heads has the wrong type"), std::string::npos) << msg;
  msg = error_message([] {
    hf_config_from_json(llama_config_with([](auto& j) {
      j.erase("rope_parameters");
      j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    }));
  });
  EXPECT_NE(msg.find("rope_scaling type \"yarn\" is not supported"), std::string::npos) << msg;
  msg = error_message([] { hf_config_from_json("[1, 2]"); });
  EXPECT_NE(msg.find("[load] config.json must hold an object"), std::string::npos) << msg;
  EXPECT_THROW(hf_config_from_json("{oops"), std::invalid_argument);
  msg = error_message([] {
    hf_config_from_json(llama_config_with([](auto& j) {
      j["model_type"] = "gemma2";
      j["layer_types"] = {"sliding_attention"};
    }));
  });
  EXPECT_NE(msg.find("layer_types has 1 entries for 2 layers"), std::string::npos) << msg;
}

TEST(HFModel, MissingFilesAndWeights) {
  namespace fs = std::filesystem;
  auto tmp = fs::temp_directory_path() / ("tessera_hf_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  HFLoadOptions opts;
  opts.load_tokenizer = false;
  auto msg = error_message([&] { load_hf_model(tmp.string(), opts); });
  EXPECT_NE(msg.find("has no readable config.json"), std::string::npos) << msg;
  fs::copy_file(kFixtures + "qwen2/config.json", tmp / "config.json", fs::copy_options::overwrite_existing);
  msg = error_message([&] { load_hf_model(tmp.string(), opts); });
  EXPECT_NE(msg.find("neither model.safetensors nor"), std::string::npos) << msg;
  // qwen2's config with llama weights: the q_proj bias is missing.
  fs::copy_file(kFixtures + "mistral/model.safetensors", tmp / "model.safetensors",
                fs::copy_options::overwrite_existing);
  msg = error_message([&] { load_hf_model(tmp.string(), opts); });
  EXPECT_NE(msg.find("missing weight model.layers.0.self_attn.q_proj.bias"), std::string::npos) << msg;
  // Through lm::load: a directory without a tokenizer reports the tokenizer.
  fs::copy_file(kFixtures + "mistral/config.json", tmp / "config.json", fs::copy_options::overwrite_existing);
  msg = error_message([&] { lm::load(tmp.string()); });
  EXPECT_NE(msg.find("[tokenizer]"), std::string::npos) << msg;
  fs::remove_all(tmp);
}

TEST(HFModel, KeepsCheckpointDtypeWhenAsked) {
  HFLoadOptions opts;
  opts.load_tokenizer = false;
  opts.dtype = bfloat16;
  auto m = load_hf_model(kFixtures + "llama", opts);
  auto expected = read_json(kFixtures + "llama/expected.json");
  array logits = m.model->forward(token_array(ints(expected["prompt"])));
  EXPECT_EQ(logits.dtype(), float32);
  // bfloat16 weights: close to the float32 reference, not equal.
  EXPECT_TRUE(close_rel(logits.to_vector<float>(), flatten(expected["logits"]), 0.1));
}

}  // namespace

namespace {

// The qwen2 fixture split into two shards with a model.safetensors.index.json gives the same logits.
TEST(HFModel, ShardedCheckpoint) {
  namespace fs = std::filesystem;
  auto tmp = fs::temp_directory_path() / ("tessera_hf_shards_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  fs::copy_file(kFixtures + "qwen2/config.json", tmp / "config.json", fs::copy_options::overwrite_existing);
  auto weights = tessera::load(kFixtures + "qwen2/model.safetensors");
  std::unordered_map<std::string, array> shard[2];
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  int i = 0;
  for (auto& [name, a] : weights) {
    int s = (i++) % 2;
    shard[s].insert_or_assign(name, a);
    index["weight_map"][name] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  for (int s = 0; s < 2; ++s) {
    save_safetensors((tmp / ("model-0000" + std::to_string(s + 1) + "-of-00002.safetensors")).string(), shard[s]);
  }
  std::ofstream(tmp / "model.safetensors.index.json") << index.dump();
  HFLoadOptions opts;
  opts.load_tokenizer = false;
  auto sharded = load_hf_model(tmp.string(), opts);
  auto expected = read_json(kFixtures + "qwen2/expected.json");
  array logits = sharded.model->forward(token_array(ints(expected["prompt"])));
  EXPECT_TRUE(close_rel(logits.to_vector<float>(), flatten(expected["logits"]), 1e-4));
  fs::remove_all(tmp);
}

}  // namespace
