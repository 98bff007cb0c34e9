// Phi-3's fused qkv_proj / gate_up_proj weights quantized: at load (int8/int4) and by convert -q with mixed
// recipes (the fused matrix takes the higher of its roles' bits), reloaded and compared with transformers' logits
// (tests/fixtures/hf_models/phi3, made by make_fixtures.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tessera/io.h"
#include "tessera/lm/convert.h"
#include "tessera/lm/hf_model.h"
#include "tessera/lm/load.h"
#include "tessera/lm/quantize_weights.h"
#include "tessera/ops.h"
#include "test_utils.h"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

const std::string kPhi3 = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/hf_models/phi3";

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

array prompt() {
  auto t = read_json(kPhi3 + "/expected.json")["prompt"].get<std::vector<int32_t>>();
  return array(t, {1, static_cast<int>(t.size())}, int32);
}

// transformers' float32 logits (1, T, 128).
array reference_logits() {
  std::vector<float> v;
  const auto expected = read_json(kPhi3 + "/expected.json");
  for (const auto& row : expected["logits"])
    for (const auto& x : row) v.push_back(x.get<float>());
  return array(v, {1, static_cast<int>(v.size() / 128), 128}, float32);
}

// max |a - ref| / max |ref|.
double rel_err(const array& a, const array& ref) {
  return max(abs(a - ref)).item<float>() / max(abs(ref)).item<float>();
}

array logits_of(const std::string& dir) {
  lm::HFLoadOptions o;
  o.load_tokenizer = false;
  return lm::load_hf_model(dir, o).model->forward(prompt());
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("tessera_fused_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST(ConvertFused, MixedRecipeBitsPerRole) {
  lm::QuantizeOptions o;
  o.recipe = "mixed_3_6";
  // 16 layers: layer 0 and 15 use more bits, layer 4 ((4 - 2) % 3 == 2) too, layer 5 does not.
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.0.self_attn.qkv_proj", o, 16), 6);  // holds v_proj
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.0.self_attn.v_proj", o, 16), 6);
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.0.self_attn.q_proj", o, 16), 3);
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.0.mlp.gate_up_proj", o, 16), 3);  // neither role is sensitive
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.15.mlp.down_proj", o, 16), 6);
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.4.self_attn.qkv_proj", o, 16), 6);
  EXPECT_EQ(lm::quantized_layer_bits("model.layers.5.self_attn.qkv_proj", o, 16), 3);
  EXPECT_EQ(lm::quantized_layer_bits("lm_head", o, 16), 6);
}

TEST(ConvertFused, Phi3QuantizedAtLoadMatchesTransformers) {
  const array ref = reference_logits();
  // As load(path, "", quantization) does (the fixture has no tokenizer): sanitized weights, then quantization.
  auto logits_at = [](const std::string& quantization) {
    lm::ModelWeights w = lm::load_weights(kPhi3);
    lm::apply_load_quantization(w.weights, w.config, quantization);
    return lm::Llama(w.config, w.weights).forward(prompt());
  };
  EXPECT_LT(rel_err(logits_at(""), ref), 1e-4);
  double e8 = rel_err(logits_at("int8"), ref);
  double e4 = rel_err(logits_at("int4"), ref);
  std::printf("phi3 logits vs transformers, max rel error: int8 %.4f, int4 %.4f\n", e8, e4);
  EXPECT_GT(e8, 0.0);  // quantized
  EXPECT_LT(e8, 0.02);
  // Random weights have no structure to spare: 4 bits move the largest logit entries by about a fifth of the
  // logits' range here (measured 0.24), 8 bits by under 2%; a wrong split of a fused matrix gives errors of order 1.
  EXPECT_LT(e4, 0.4);
  EXPECT_LT(e8, e4 / 4);
}

TEST(ConvertFused, Phi3MixedRecipeConvertKeepsFusedNamesAndReloads) {
  fs::path out = temp_dir("mixed"), deq = temp_dir("deq");
  lm::ConvertOptions o;
  o.quantize = true;
  o.quantization.recipe = "mixed_4_6";
  o.quantization.group_size = 32;
  lm::convert(kPhi3, out.string(), o);
  auto cfg = read_json(out / "config.json");
  EXPECT_EQ(cfg["model_type"], "phi3");
  const auto& q = cfg["quantization"];
  EXPECT_EQ(q["bits"], 4);
  // 2 layers: layer 1 (>= 7/8 of them) uses more bits; the fused qkv takes v's 6 bits there, gate_up stays at 4.
  EXPECT_EQ(q["model.layers.1.self_attn.qkv_proj"]["bits"], 6);
  EXPECT_EQ(q["model.layers.1.mlp.down_proj"]["bits"], 6);
  EXPECT_FALSE(q.contains("model.layers.1.mlp.gate_up_proj"));
  EXPECT_FALSE(q.contains("model.layers.0.self_attn.qkv_proj"));
  auto st = load_safetensors((out / "model.safetensors").string()).first;
  // qkv rows: 4 heads * 16 + 2 * 2 kv heads * 16 = 128; packed 64 inputs at 6 bits = 12 uint32, at 4 = 8.
  EXPECT_EQ(st.at("model.layers.1.self_attn.qkv_proj.weight").shape(), (Shape{128, 12}));
  EXPECT_EQ(st.at("model.layers.0.self_attn.qkv_proj.weight").shape(), (Shape{128, 8}));
  EXPECT_EQ(st.at("model.layers.1.mlp.gate_up_proj.weight").shape(), (Shape{128, 8}));
  EXPECT_EQ(st.at("model.layers.1.mlp.gate_up_proj.scales").shape(), (Shape{128, 2}));
  EXPECT_FALSE(st.count("model.layers.0.self_attn.q_proj.weight"));

  // Reloaded (the fused packed weights, scales and biases split by rows) it computes what its dequantized copy
  // computes, and stays close to transformers' float32 logits.
  const array got = logits_of(out.string());
  lm::ConvertOptions d;
  d.dequantize = true;
  lm::convert(out.string(), deq.string(), d);
  const array dense = logits_of(deq.string());
  EXPECT_LT(rel_err(got, dense), 1e-5);
  const double e = rel_err(got, reference_logits());
  std::printf("phi3 mixed_4_6 (group 32) logits vs transformers, max rel error %.4f\n", e);
  EXPECT_GT(e, 0.0);
  EXPECT_LT(e, 0.4);  // 4/6 bits on random weights (measured 0.21), see Phi3QuantizedAtLoadMatchesTransformers
  fs::remove_all(out);
  fs::remove_all(deq);
}

TEST(ConvertFused, Phi3FusedWeightWithWrongRowsThrows) {
  fs::path out = temp_dir("bad");
  lm::ConvertOptions o;
  o.quantize = true;
  o.quantization.group_size = 32;
  lm::convert(kPhi3, out.string(), o);
  auto [w, meta] = load_safetensors((out / "model.safetensors").string());
  // Scales with fewer rows than the fused weight: a clear error, not a bad split.
  w.insert_or_assign("model.layers.0.self_attn.qkv_proj.scales",
                     slice(w.at("model.layers.0.self_attn.qkv_proj.scales"), {0, 0}, {64, 2}));
  w.insert_or_assign("model.layers.0.self_attn.qkv_proj.biases",
                     slice(w.at("model.layers.0.self_attn.qkv_proj.biases"), {0, 0}, {64, 2}));
  save_safetensors((out / "tmp.safetensors").string(), w, meta);  // the loaded arrays map the old file
  fs::rename(out / "tmp.safetensors", out / "model.safetensors");
  EXPECT_THROW(logits_of(out.string()), std::invalid_argument);
  fs::remove_all(out);
}
