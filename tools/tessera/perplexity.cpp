// `tessera perplexity` (a model's perplexity on a text file) and `tessera kl` (its KL divergence from a
// reference model, e.g. a quantized model against its 16-bit original).
#include "tessera/lm/perplexity.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/load.h"

namespace tessera::cli {

namespace {

const std::string kOptions =
    "  --model PATH        model: Hugging Face directory or org/name in the Hugging Face cache, llama\n"
    "                      GGUF (.gguf) or llama2.c checkpoint (.bin); default as tessera generate\n"
    "  --tokenizer PATH    tokenizer (default: the model's)\n"
    "  --quantization Q    quantize --model at load: int8 or int4 (MLX affine, group 64), or cast it:\n"
    "                      f16, bf16, f32 (the reference is loaded as stored)\n"
    "  --file PATH         the text to score ('-': stdin)\n"
    "  --context N         tokens per forward pass (default 512)\n"
    "  --stride N          window start step, 1..context (default: context; smaller scores the first\n"
    "                      tokens of each window with more context)\n"
    "  --max-tokens N      use only the first N tokens of the text (default: all)\n"
    "  --kv-bits B         run --model through a KV cache quantized to B bits (4 or 8) from the first\n"
    "                      token (default 0: full precision; the reference is not affected)\n"
    "  --kv-group-size G   group size of the quantized KV cache: 32, 64 or 128 (default 64)\n"
    "  --json              print the result as one JSON object\n"
    "  -h, --help          show this help\n";

const std::string kPerplexityUsage =
    "usage: tessera perplexity --file PATH [--model PATH] [--compare REF] [options]\n"
    "\n"
    "Tokenizes the text (with BOS), runs the model over windows of --context tokens and reports the mean\n"
    "negative log-likelihood of the scored tokens and the perplexity exp(mean NLL). With --compare REF it\n"
    "also reports the mean KL(P_ref || P_model) per token and the top-1 agreement (as tessera kl).\n"
    "\n"
    "options:\n" +
    kOptions + "  --compare REF       reference model (same vocabulary) for the KL divergence\n";

const std::string kKlUsage =
    "usage: tessera kl --reference REF --file PATH [--model PATH] [options]\n"
    "\n"
    "Mean KL divergence KL(P_ref || P_model) of the next-token distributions per scored token, its\n"
    "maximum, the top-1 agreement and both perplexities: how far a model (e.g. quantized) is from a\n"
    "reference (e.g. its 16-bit original). Both models must share a vocabulary; the model's tokenizer is\n"
    "used.\n"
    "\n"
    "options:\n" +
    kOptions + "  --reference REF     the reference model\n";

struct Args {
  std::string model, tokenizer, file, reference, quantization;
  lm::PerplexityOptions options;
  bool json = false;
};

std::string read_text(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::ordered_json ppl_json(const lm::PerplexityResult& r) {
  return {{"perplexity", r.perplexity()}, {"mean_nll", r.mean_nll()}, {"tokens", r.tokens}, {"windows", r.windows}};
}

// Parses the shared options plus reference_flag (--compare or --reference); returns -1 to go on, else an
// exit code (help printed, or a usage error).
int parse(int argc, char** argv, const char* name, const std::string& usage, const std::string& reference_flag,
          Args& args) {
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fputs(usage.c_str(), stdout);
        return 0;
      }
      if (a == "--json") {
        args.json = true;
        continue;
      }
      auto [flag, value] = flag_and_value(argc, argv, i);
      if (flag == "--model")
        args.model = value;
      else if (flag == "--tokenizer")
        args.tokenizer = value;
      else if (flag == "--quantization")
        args.quantization = value;
      else if (flag == "--file")
        args.file = value;
      else if (flag == reference_flag)
        args.reference = value;
      else if (flag == "--context")
        args.options.context = parse_int(flag, value);
      else if (flag == "--stride")
        args.options.stride = parse_int(flag, value);
      else if (flag == "--max-tokens")
        args.options.max_tokens = parse_int(flag, value);
      else if (flag == "--kv-bits")
        args.options.kv_bits = parse_int(flag, value);
      else if (flag == "--kv-group-size")
        args.options.kv_group_size = parse_int(flag, value);
      else
        throw UsageError("unknown option " + a);
    }
    if (args.file.empty()) throw UsageError("--file is required");
    if (reference_flag == "--reference" && args.reference.empty()) throw UsageError("--reference is required");
    if (args.options.context < 2) throw UsageError("--context must be >= 2");
    if (args.options.stride < 0 || args.options.stride > args.options.context)
      throw UsageError("--stride must be in [1, --context]");
    if (args.options.max_tokens < 0) throw UsageError("--max-tokens must be >= 0");
    validate_kv_flags(args.options.kv_bits, args.options.kv_group_size, 0);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera %s: %s\n%s", name, e.what(), usage.c_str());
    return 2;
  }
  return -1;
}

int run(const char* name, Args& args) {
  try {
    if (args.model.empty()) args.model = default_model_path();
    std::string text = read_text(args.file);
    auto model = lm::load(args.model, args.tokenizer, args.quantization, lm::terminal_progress_bar());
    std::vector<int32_t> ids = lm::perplexity_tokens(*model.tokenizer, text, args.options.max_tokens);
    nlohmann::ordered_json out = {{"model", args.model}, {"file", args.file}, {"context", args.options.context},
                                  {"stride", args.options.stride ? args.options.stride : args.options.context}};
    if (args.options.kv_bits > 0) {
      out["kv_bits"] = args.options.kv_bits;
      out["kv_group_size"] = args.options.kv_group_size;
    }
    if (args.reference.empty()) {
      lm::PerplexityResult r = lm::perplexity(*model.model, ids, args.options);
      out.update(ppl_json(r));
      if (args.json) {
        std::printf("%s\n", out.dump().c_str());
      } else {
        std::printf("Model: %s\nTokens: %lld scored in %lld windows (context %d, stride %d)\n", args.model.c_str(),
                    static_cast<long long>(r.tokens), static_cast<long long>(r.windows), out["context"].get<int>(),
                    out["stride"].get<int>());
        std::printf("Mean NLL: %.6f nats/token\nPerplexity: %.4f\n", r.mean_nll(), r.perplexity());
      }
      return 0;
    }
    auto reference = lm::load(args.reference, args.tokenizer);
    lm::KLResult r = lm::kl_divergence(*model.model, *reference.model, ids, args.options);
    out["reference"] = args.reference;
    out.update(ppl_json(r.model));
    out["reference_perplexity"] = r.reference.perplexity();
    out["reference_mean_nll"] = r.reference.mean_nll();
    out["mean_kl"] = r.mean_kl;
    out["max_kl"] = r.max_kl;
    out["top1_agreement"] = r.top1_agreement;
    if (args.json) {
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("Model: %s\nReference: %s\nTokens: %lld scored in %lld windows (context %d, stride %d)\n",
                  args.model.c_str(), args.reference.c_str(), static_cast<long long>(r.model.tokens),
                  static_cast<long long>(r.model.windows), out["context"].get<int>(), out["stride"].get<int>());
      std::printf("Perplexity: %.4f (reference %.4f)\n", r.model.perplexity(), r.reference.perplexity());
      std::printf("KL(reference || model): mean %.6f, max %.6f nats/token\n", r.mean_kl, r.max_kl);
      std::printf("Top-1 agreement: %.2f%%\n", 100.0 * r.top1_agreement);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera %s: error: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace

int perplexity_main(int argc, char** argv) {
  Args args;
  if (int rc = parse(argc, argv, "perplexity", kPerplexityUsage, "--compare", args); rc >= 0) return rc;
  return run("perplexity", args);
}

int kl_main(int argc, char** argv) {
  Args args;
  if (int rc = parse(argc, argv, "kl", kKlUsage, "--reference", args); rc >= 0) return rc;
  return run("kl", args);
}

}  // namespace tessera::cli
