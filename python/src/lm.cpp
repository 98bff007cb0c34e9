// Bindings for tessera/lm as tessera.core.lm: model, KV cache, tokenizer, detokenizer, sampler, chat
// templates and the C++ generation loop (the Python API on top lives in python/tessera/lm/).
#include <nanobind/stl/function.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string_view.h>

#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/chat_template/chat_template.h"
#include "tessera/lm/detokenizer.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/load.h"
#include "tessera/lm/sample.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"
#include "utils.h"

using namespace tessera;
using namespace tessera::lm;

namespace {

SamplerConfig sampler_config(float temp, float top_p, int top_k, float min_p, int min_tokens_to_keep,
                             float repetition_penalty, int repetition_context_size,
                             const std::map<int32_t, float>& logit_bias, uint64_t seed) {
  SamplerConfig c;
  c.temp = temp;
  c.top_p = top_p;
  c.top_k = top_k;
  c.min_p = min_p;
  c.min_tokens_to_keep = min_tokens_to_keep;
  c.repetition_penalty = repetition_penalty;
  c.repetition_context_size = repetition_context_size;
  c.logit_bias = logit_bias;
  c.seed = seed;
  return c;
}

// Sampler keyword arguments shared by Sampler() and generate().
#define TX_SAMPLER_ARGS                                                                           \
  "temp"_a = 0.0f, "top_p"_a = 1.0f, "top_k"_a = 0, "min_p"_a = 0.0f, "min_tokens_to_keep"_a = 1, \
  "repetition_penalty"_a = 1.0f, "repetition_context_size"_a = 20,                                \
  "logit_bias"_a = std::map<int32_t, float>{}, "seed"_a = 0

}  // namespace

void init_lm(nb::module_& m) {
  auto lm = m.def_submodule(
      "lm", "The C++ LLM toolkit under tessera.lm (models, tokenizers, sampling, generation).");

  nb::class_<KVCache>(lm, "KVCache", "Per-layer key/value cache of a decoder.")
      .def(nb::init<int, int, int>(), "num_layers"_a, "max_len"_a = 0, "step"_a = 256)
      .def_prop_ro("offset", &KVCache::offset)
      .def_prop_ro("num_layers", &KVCache::num_layers)
      .def_prop_ro("nbytes", &KVCache::nbytes)
      .def("set_quantization", &KVCache::set_quantization, "bits"_a, "group_size"_a = 64, "start"_a = 0,
           "Keep keys/values MLX-affine quantized to `bits` (0: off) once a layer holds `start` positions.")
      .def_prop_ro("kv_bits", &KVCache::kv_bits)
      .def_prop_ro("kv_group_size", &KVCache::kv_group_size)
      .def("layer_quantized", &KVCache::layer_quantized, "layer"_a, "Whether the layer holds quantized keys now.")
      .def("trim", &KVCache::trim, "n"_a, "Drops the last n positions; returns how many were dropped.")
      .def("reset", &KVCache::reset);

  nb::class_<Llama>(lm, "Llama", "The Llama decoder.")
      .def(
          "__call__",
          [](const Llama& self, const ArrayLike& tokens, KVCache* cache) {
            return self.forward(txpy::to_array(tokens, int32), cache);
          },
          "tokens"_a, "cache"_a = nb::none(),
          "tokens (B, L) int32 -> logits (B, L, vocab_size) float32 (lazy).")
      .def(
          "make_cache",
          [](const Llama& self, int max_kv_size, int kv_bits, int kv_group_size, int quantized_kv_start) {
            auto* c = new KVCache(self.num_layers(), max_kv_size);
            if (kv_bits > 0) c->set_quantization(kv_bits, kv_group_size, quantized_kv_start);
            return c;
          },
          "max_kv_size"_a = 0, "kv_bits"_a = 0, "kv_group_size"_a = 64, "quantized_kv_start"_a = 0,
          "A fresh KV cache for this model (max_kv_size 0: grows; kv_bits > 0: quantized, see "
          "KVCache.set_quantization).")
      .def_prop_ro("num_layers", &Llama::num_layers)
      .def_prop_ro("vocab_size", [](const Llama& self) { return self.config().vocab_size; })
      .def_prop_ro("hidden_size", [](const Llama& self) { return self.config().hidden_size; })
      .def_prop_ro("max_position_embeddings",
                   [](const Llama& self) { return self.config().max_position_embeddings; });

  nb::class_<Tokenizer>(lm, "Tokenizer", "A tokenizer (llama2.c, ...): text <-> token ids.")
      .def(
          "encode",
          [](const Tokenizer& t, std::string_view text, bool add_special_tokens) {
            return t.encode(text, add_special_tokens);
          },
          "text"_a, "add_special_tokens"_a = true)
      .def("decode", &Tokenizer::decode, "ids"_a, "skip_special_tokens"_a = false)
      .def_prop_ro("vocab_size", &Tokenizer::vocab_size)
      .def("id_to_token", &Tokenizer::id_to_token, "id"_a)
      .def("token_to_id", &Tokenizer::token_to_id, "token"_a)
      .def_prop_ro("bos_id", &Tokenizer::bos_id)
      .def_prop_ro("eos_ids", &Tokenizer::eos_ids)
      .def("is_special", &Tokenizer::is_special, "id"_a)
      .def_prop_ro("chat_template", &Tokenizer::chat_template);
  nb::class_<Llama2cTokenizer, Tokenizer>(lm, "Llama2cTokenizer", "The llama2.c tokenizer.bin format.")
      .def(nb::init<const std::string&, int, bool>(), "path"_a, "vocab_size"_a = 0,
           "remove_extra_whitespaces"_a = false);

  lm.def(
      "load_tokenizer", [](const std::string& path) { return lm::load_tokenizer(path); }, "path"_a,
      "A tokenizer from a model directory, tokenizer.json, tokenizer.model or GGUF file.");
  lm.def(
      "load",
      [](const std::string& path, const std::string& tokenizer_path, const std::string& quantization) {
        LoadedModel l = lm::load(path, tokenizer_path, quantization);
        return std::make_pair(l.model, l.tokenizer);
      },
      "path"_a, "tokenizer_path"_a = "", "quantization"_a = "",
      "Loads (model, tokenizer); quantization: '', int8, int4, f16, bf16 or f32.");

  nb::class_<StreamingDetokenizer>(lm, "StreamingDetokenizer",
                                   "Text pieces as tokens arrive, never splitting a UTF-8 character.")
      .def(nb::init<const Tokenizer&, bool>(), "tokenizer"_a, "skip_special_tokens"_a = true,
           nb::keep_alive<1, 2>())
      .def("set_context", &StreamingDetokenizer::set_context, "tokens"_a)
      .def("add_token", &StreamingDetokenizer::add_token, "token"_a)
      .def("finalize", &StreamingDetokenizer::finalize)
      .def_prop_ro("text", &StreamingDetokenizer::text)
      .def_prop_ro("tokens", &StreamingDetokenizer::tokens)
      .def("reset", &StreamingDetokenizer::reset);

  nb::class_<Sampler>(lm, "Sampler",
                      "Samples a token from logits (greedy when temp is 0; top-p, top-k, min-p, repetition "
                      "penalty, logit bias), with its own random key from seed.")
      .def(
          "__init__",
          [](Sampler* self, float temp, float top_p, int top_k, float min_p, int min_tokens_to_keep,
             float repetition_penalty, int repetition_context_size,
             const std::map<int32_t, float>& logit_bias, uint64_t seed) {
            new (self) Sampler(sampler_config(temp, top_p, top_k, min_p, min_tokens_to_keep,
                                              repetition_penalty, repetition_context_size, logit_bias, seed));
          },
          nb::kw_only(), TX_SAMPLER_ARGS)
      .def(
          "__call__",
          [](Sampler& s, const ArrayLike& logits, const std::vector<int32_t>& history) {
            return s(txpy::to_array(logits), history);
          },
          "logits"_a, "history"_a = std::vector<int32_t>{},
          "logits (B, V) or (V,) (log-probabilities work too) -> token ids (B,) or scalar, int32 (lazy).")
      .def_prop_ro("temp", [](const Sampler& s) { return s.config().temp; });

  lm.def(
      "apply_repetition_penalty",
      [](const ArrayLike& logits, const std::vector<int32_t>& context, float penalty) {
        return apply_repetition_penalty(txpy::to_array(logits), context, penalty);
      },
      "logits"_a, "context"_a, "penalty"_a);
  lm.def(
      "apply_logit_bias",
      [](const ArrayLike& logits, const std::map<int32_t, float>& bias) {
        return apply_logit_bias(txpy::to_array(logits), bias);
      },
      "logits"_a, "bias"_a);
  lm.def(
      "apply_top_k", [](const ArrayLike& lp, int k) { return apply_top_k(txpy::to_array(lp), k); },
      "logprobs"_a, "k"_a);
  lm.def(
      "apply_top_p", [](const ArrayLike& lp, float p) { return apply_top_p(txpy::to_array(lp), p); },
      "logprobs"_a, "top_p"_a);
  lm.def(
      "apply_min_p",
      [](const ArrayLike& lp, float p, int keep) { return apply_min_p(txpy::to_array(lp), p, keep); },
      "logprobs"_a, "min_p"_a, "min_tokens_to_keep"_a = 1);

  nb::class_<GenerationResult>(lm, "GenerationResult")
      .def_ro("tokens", &GenerationResult::tokens)
      .def_ro("text", &GenerationResult::text)
      .def_ro("finish_reason", &GenerationResult::finish_reason)
      .def_prop_ro("prompt_tokens", [](const GenerationResult& r) { return r.stats.prompt_tokens; })
      .def_prop_ro("prompt_tps", [](const GenerationResult& r) { return r.stats.prompt_tps; })
      .def_prop_ro("generation_tokens", [](const GenerationResult& r) { return r.stats.generation_tokens; })
      .def_prop_ro("generation_tps", [](const GenerationResult& r) { return r.stats.generation_tps; })
      .def_prop_ro("peak_memory_mb", [](const GenerationResult& r) { return r.stats.peak_memory_mb; });

  lm.def(
      "generate",
      [](const Llama& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt, int max_tokens,
         std::optional<std::vector<int32_t>> eos_ids, const std::vector<std::string>& stop_strings,
         int max_kv_size, std::optional<nb::callable> on_piece, float temp, float top_p, int top_k,
         float min_p, int min_tokens_to_keep, float repetition_penalty, int repetition_context_size,
         const std::map<int32_t, float>& logit_bias, uint64_t seed, int kv_bits, int kv_group_size,
         int quantized_kv_start) {
        GenerationConfig cfg;
        cfg.max_tokens = max_tokens;
        cfg.kv_bits = kv_bits;
        cfg.kv_group_size = kv_group_size;
        cfg.quantized_kv_start = quantized_kv_start;
        cfg.eos_ids = eos_ids;
        cfg.stop_strings = stop_strings;
        cfg.max_kv_size = max_kv_size;
        cfg.sampler = sampler_config(temp, top_p, top_k, min_p, min_tokens_to_keep, repetition_penalty,
                                     repetition_context_size, logit_bias, seed);
        PieceCallback cb;
        if (on_piece) {
          cb = [&on_piece](std::string_view piece) {
            nb::gil_scoped_acquire gil;
            (*on_piece)(nb::str(piece.data(), piece.size()));
          };
        }
        nb::gil_scoped_release release;
        return lm::generate(model, tokenizer, prompt, cfg, cb);
      },
      "model"_a, "tokenizer"_a, "prompt"_a, "max_tokens"_a = 256, nb::kw_only(), "eos_ids"_a = nb::none(),
      "stop_strings"_a = std::vector<std::string>{}, "max_kv_size"_a = 0, "on_piece"_a = nb::none(),
      TX_SAMPLER_ARGS, "kv_bits"_a = 0, "kv_group_size"_a = 64, "quantized_kv_start"_a = 0,
      "The C++ generation loop (as the tessera CLI): prompt ids -> GenerationResult; on_piece(text) "
      "streams; kv_bits > 0 quantizes the KV cache.");

  lm.def(
      "apply_chat_template",
      [](const std::string& tmpl, const std::string& messages_json, bool add_generation_prompt,
         std::optional<std::string> bos_token, std::optional<std::string> eos_token,
         const std::string& tools_json, const std::string& extra_json) {
        ChatTemplateOptions o;
        o.add_generation_prompt = add_generation_prompt;
        o.bos_token = bos_token;
        o.eos_token = eos_token;
        o.tools = nlohmann::ordered_json::parse(tools_json);
        o.extra = nlohmann::ordered_json::parse(extra_json);
        auto messages = nlohmann::ordered_json::parse(messages_json);
        nb::gil_scoped_release release;
        return apply_chat_template(tmpl, messages, o);
      },
      "template"_a, "messages_json"_a, "add_generation_prompt"_a = false, "bos_token"_a = nb::none(),
      "eos_token"_a = nb::none(), "tools_json"_a = "null", "extra_json"_a = "{}",
      "Renders a Jinja2 chat template for messages given as JSON text (keys keep their order).");
}
