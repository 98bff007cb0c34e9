// Bindings of the generation features under tessera.core.lm: batch_generate, PromptCache (with
// save/load_prompt_cache) and GenerateStep (plain and speculative decoding, one step at a time).
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/unordered_map.h>

#include "tessera/lm/batch_generate.h"
#include "tessera/lm/generate_step.h"
#include "tessera/lm/prompt_cache.h"
#include "utils.h"

using namespace tessera;
using namespace tessera::lm;

namespace {

SamplerConfig config_of(const Sampler* sampler) { return sampler ? sampler->config() : SamplerConfig{}; }

}  // namespace

void init_lm_generation(nb::module_& m) {
  nb::module_ lm = nb::borrow<nb::module_>(m.attr("lm"));

  nb::class_<PromptCache>(lm, "PromptCache",
                          "A KV cache kept across generate calls with the tokens it holds (MLX-LM's prompt "
                          "cache): a shared prompt prefix is not prefilled again.")
      .def(nb::init<const Llama&, int>(), "model"_a, "max_kv_size"_a = 0)
      .def_prop_ro("tokens", [](PromptCache& c) { return c.tokens(); })
      .def_prop_ro("offset", [](const PromptCache& c) { return c.kv().offset(); })
      .def_prop_ro("nbytes", [](const PromptCache& c) { return c.kv().nbytes(); })
      .def_prop_ro("num_layers", &PromptCache::num_layers)
      .def_prop_ro("kv", [](PromptCache& c) { return &c.kv(); }, nb::rv_policy::reference_internal,
                   "The KV cache (pass it as the model's cache; then record the tokens with append).")
      .def("trim", [](PromptCache& c, int n) { return c.kv().trim(n); }, "n"_a,
           "Drops the last n positions; returns how many were dropped.")
      .def("reset", &PromptCache::reset)
      .def("prepare", &PromptCache::prepare, "model"_a, "prompt"_a,
           "Trims to the longest common prefix with prompt (its last token kept out) and returns the "
           "tokens still to prefill.")
      .def("append", &PromptCache::append, "tokens"_a, "Records tokens just run through kv.");

  lm.def(
      "save_prompt_cache",
      [](const std::string& path, PromptCache& cache, const PromptCacheMetadata& metadata) {
        nb::gil_scoped_release release;
        save_prompt_cache(path, cache, metadata);
      },
      "path"_a, "cache"_a, "metadata"_a = PromptCacheMetadata{},
      "Writes the cache (keys, values, tokens) and string metadata to a safetensors file.");
  lm.def(
      "load_prompt_cache",
      [](const std::string& path) {
        std::pair<PromptCache, PromptCacheMetadata> loaded = [&] {
          nb::gil_scoped_release release;
          return load_prompt_cache(path);
        }();
        return nb::make_tuple(nb::cast(std::move(loaded.first)), nb::cast(loaded.second));
      },
      "path"_a, "(PromptCache, metadata dict) from a file written by save_prompt_cache.");

  nb::class_<GenerateStep>(lm, "GenerateStep",
                           "Decoding one step at a time: the first next() prefills the prompt (after a prompt "
                           "cache's prefix); with a draft model each step may return several tokens.")
      .def(
          "__init__",
          [](GenerateStep* self, const Llama& model, const std::vector<int32_t>& prompt, PromptCache* prompt_cache,
             const Llama* draft_model, int num_draft_tokens, int max_kv_size, const Sampler* sampler, int kv_bits,
             int kv_group_size, int quantized_kv_start) {
            GenerateStepOptions o;
            o.sampler = config_of(sampler);
            o.prompt_cache = prompt_cache;
            o.draft_model = draft_model;
            o.num_draft_tokens = num_draft_tokens;
            o.max_kv_size = max_kv_size;
            o.kv_bits = kv_bits;
            o.kv_group_size = kv_group_size;
            o.quantized_kv_start = quantized_kv_start;
            new (self) GenerateStep(model, prompt, o);
          },
          "model"_a, "prompt"_a, nb::kw_only(), "prompt_cache"_a = nb::none(), "draft_model"_a = nb::none(),
          "num_draft_tokens"_a = 3, "max_kv_size"_a = 0, "sampler"_a = nb::none(), "kv_bits"_a = 0,
          "kv_group_size"_a = 64, "quantized_kv_start"_a = 0, nb::keep_alive<1, 2>(),
          nb::keep_alive<1, 4>(), nb::keep_alive<1, 5>())
      .def(
          "next",
          [](GenerateStep& s, int room) {
            std::vector<StepToken> out;
            {
              nb::gil_scoped_release release;
              out = s.next(room);
            }
            std::vector<std::pair<int32_t, bool>> r;
            for (const auto& t : out) r.emplace_back(t.token, t.from_draft);
            return r;
          },
          "room"_a = 1, "The next [(token, from_draft)], between 1 and room of them.")
      .def_prop_ro("history", &GenerateStep::history)
      .def_prop_ro("prompt_tokens", &GenerateStep::prompt_tokens)
      .def_prop_ro("cached_prompt_tokens", &GenerateStep::cached_prompt_tokens)
      .def_prop_ro("draft_tokens", &GenerateStep::draft_tokens)
      .def_prop_ro("accepted_draft_tokens", &GenerateStep::accepted_draft_tokens);

  nb::class_<BatchGenerationResult>(lm, "BatchGenerationResult")
      .def_ro("texts", &BatchGenerationResult::texts)
      .def_ro("tokens", &BatchGenerationResult::tokens)
      .def_ro("finish_reasons", &BatchGenerationResult::finish_reasons)
      .def_ro("batch_size", &BatchGenerationResult::batch_size)
      .def_ro("prompt_tokens", &BatchGenerationResult::prompt_tokens)
      .def_ro("generation_tokens", &BatchGenerationResult::generation_tokens)
      .def_ro("prompt_tps", &BatchGenerationResult::prompt_tps)
      .def_ro("generation_tps", &BatchGenerationResult::generation_tps)
      .def_ro("prompt_time", &BatchGenerationResult::prompt_time_s)
      .def_ro("generation_time", &BatchGenerationResult::generation_time_s)
      .def_ro("peak_memory_mb", &BatchGenerationResult::peak_memory_mb);

  lm.def(
      "batch_generate",
      [](const Llama& model, const Tokenizer* tokenizer, const std::vector<std::vector<int32_t>>& prompts,
         int max_tokens, std::optional<std::vector<int32_t>> eos_ids, const std::vector<std::string>& stop_strings,
         int batch_size, const Sampler* sampler) {
        BatchGenerationConfig c;
        c.max_tokens = max_tokens;
        c.eos_ids = eos_ids;
        c.stop_strings = stop_strings;
        c.batch_size = batch_size;
        c.sampler = config_of(sampler);
        nb::gil_scoped_release release;
        return batch_generate(model, tokenizer, prompts, c);
      },
      "model"_a, "tokenizer"_a.none(), "prompts"_a, "max_tokens"_a = 256, nb::kw_only(), "eos_ids"_a = nb::none(),
      "stop_strings"_a = std::vector<std::string>{}, "batch_size"_a = 0, "sampler"_a = nb::none(),
      "Generates for several prompts (token ids) together, left-padded; batch_size 0 picks one from free "
      "memory. tokenizer may be None (no texts).");
  lm.def("kv_bytes_per_token", [](const Llama& m) { return kv_bytes_per_token(m.config()); }, "model"_a);
  lm.def(
      "batch_size_for_memory",
      [](const Llama& m, int seq_len, int max_rows) { return batch_size_for_memory(m.config(), seq_len, max_rows); },
      "model"_a, "seq_len"_a, "max_rows"_a = 64);
}
