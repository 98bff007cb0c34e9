// Bindings for the LLM tools under tessera.core.lm: perplexity / KL divergence, the Hugging Face cache
// resolver, and building a decoder from a config and a weight dictionary.
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/unordered_map.h>

#include "tessera/lm/hub.h"
#include "tessera/lm/model_from_weights.h"
#include "tessera/lm/perplexity.h"
#include "utils.h"

using namespace tessera;
using namespace tessera::lm;

namespace {

PerplexityOptions options(int context, int stride, int64_t max_tokens, int kv_bits = 0, int kv_group_size = 64) {
  PerplexityOptions o;
  o.kv_bits = kv_bits;
  o.kv_group_size = kv_group_size;
  o.context = context;
  o.stride = stride;
  o.max_tokens = max_tokens;
  return o;
}

}  // namespace

void init_lm_tools(nb::module_& m) {
  nb::module_ lm = nb::borrow<nb::module_>(m.attr("lm"));

  nb::class_<PerplexityResult>(lm, "PerplexityResult", "Negative log-likelihood of the scored tokens.")
      .def_ro("nll_sum", &PerplexityResult::nll_sum)
      .def_ro("tokens", &PerplexityResult::tokens)
      .def_ro("windows", &PerplexityResult::windows)
      .def_prop_ro("mean_nll", &PerplexityResult::mean_nll)
      .def_prop_ro("perplexity", &PerplexityResult::perplexity)
      .def("__repr__", [](const PerplexityResult& r) {
        return "PerplexityResult(perplexity=" + std::to_string(r.perplexity()) + ", tokens=" +
               std::to_string(r.tokens) + ")";
      });
  nb::class_<KLResult>(lm, "KLResult", "KL(P_reference || P_model) per scored token and top-1 agreement.")
      .def_ro("mean_kl", &KLResult::mean_kl)
      .def_ro("max_kl", &KLResult::max_kl)
      .def_ro("top1_agreement", &KLResult::top1_agreement)
      .def_ro("model", &KLResult::model)
      .def_ro("reference", &KLResult::reference);

  lm.def(
      "perplexity_windows",
      [](int64_t n, int context, int stride) {
        std::vector<std::tuple<int64_t, int64_t, int64_t>> out;
        for (const Window& w : perplexity_windows(n, context, stride)) out.emplace_back(w.begin, w.end, w.first_scored);
        return out;
      },
      "n_tokens"_a, "context"_a, "stride"_a, "(begin, end, first_scored) of each forward pass.");
  lm.def(
      "token_nll",
      [](const ArrayLike& logits, const ArrayLike& targets) {
        return token_nll(txpy::to_array(logits), txpy::to_array(targets, int32));
      },
      "logits"_a, "targets"_a, "logits (L, V), targets (L,) -> (L,) negative log-likelihoods (lazy).");
  lm.def("perplexity_tokens", &perplexity_tokens, "tokenizer"_a, "text"_a, "max_tokens"_a = 0,
         "The text's ids with BOS, at most max_tokens of them (> 0).");
  lm.def(
      "perplexity",
      [](const Llama& model, const std::vector<int32_t>& tokens, int context, int stride, int64_t max_tokens,
         int kv_bits, int kv_group_size) {
        nb::gil_scoped_release release;
        return perplexity(model, tokens, options(context, stride, max_tokens, kv_bits, kv_group_size));
      },
      "model"_a, "tokens"_a, "context"_a = 512, "stride"_a = 0, "max_tokens"_a = 0, "kv_bits"_a = 0,
      "kv_group_size"_a = 64,
      "Perplexity over windows of `context` tokens starting every `stride` (0: context) tokens.");
  lm.def(
      "kl_divergence",
      [](const Llama& model, const Llama& reference, const std::vector<int32_t>& tokens, int context, int stride,
         int64_t max_tokens, int kv_bits, int kv_group_size) {
        nb::gil_scoped_release release;
        return kl_divergence(model, reference, tokens, options(context, stride, max_tokens, kv_bits, kv_group_size));
      },
      "model"_a, "reference"_a, "tokens"_a, "context"_a = 512, "stride"_a = 0, "max_tokens"_a = 0, "kv_bits"_a = 0,
      "kv_group_size"_a = 64,
      "Mean KL(P_reference || P_model) per scored token, top-1 agreement and both perplexities.");

  lm.def("hf_hub_cache_dir", &hf_hub_cache_dir, "The Hugging Face hub cache directory (from the environment).");
  lm.def("is_hub_repo_id", &is_hub_repo_id, "s"_a);
  lm.def("hub_repo_dir", &hub_repo_dir, "repo_id"_a);
  lm.def("hub_snapshot_dir", &hub_snapshot_dir, "repo_id"_a, "revision"_a = "main",
         "The cached snapshot directory of a revision, or None.");
  lm.def("missing_model_files", &missing_model_files, "dir"_a, "The files load() needs that dir lacks.");
  lm.def("resolve_model_path", &resolve_model_path, "path_or_repo_id"_a,
         "A local path as is, or the cached snapshot of an org/name model id (RuntimeError naming what is "
         "missing).");

  lm.def(
      "llama_from_weights",
      [](const std::string& config_json, const std::unordered_map<std::string, array>& weights,
         std::optional<Dtype> dtype) {
        WeightMap w(weights.begin(), weights.end());
        return model_from_weights(config_json, std::move(w), dtype);
      },
      "config_json"_a, "weights"_a, "dtype"_a = float32,
      "A decoder from config.json text and Hugging Face-named weights (sanitized, cast to dtype unless None).");
}
