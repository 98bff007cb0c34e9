// `tessera generate`: streams text from a model to stdout and prints throughput to stderr.
#include "tessera/lm/generate.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "commands.h"
#include "tessera/lm/load.h"

namespace tessera::cli {

namespace {

const char* kUsage =
    "usage: tessera generate --model PATH [options]\n"
    "\n"
    "Generates text from a model, streaming it to stdout; a summary goes to stderr.\n"
    "\n"
    "options:\n"
    "  --model PATH        model: llama2.c .bin or a Hugging Face directory\n"
    "  --tokenizer PATH    tokenizer (default: tokenizer.bin or tok*.bin next to the model)\n"
    "  --prompt TEXT       prompt text (default: empty, start from BOS); '-' reads it from\n"
    "                      stdin, dropping one final newline\n"
    "  --max-tokens N      tokens to generate at most (default 256)\n"
    "  --temp T            sampling temperature; 0 = greedy (default 0)\n"
    "  --top-p P           nucleus sampling mass in (0, 1] (default 1 = off)\n"
    "  --top-k K           keep the K most likely tokens (default 0 = off)\n"
    "  --min-p P           keep tokens with p >= P * p_max (default 0 = off)\n"
    "  --repetition-penalty R  penalize recent tokens (default 1 = off)\n"
    "  --seed S            random seed (default 0)\n"
    "  --echo              print the prompt before the generated text\n"
    "  -h, --help          show this help\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double parse_number(const std::string& flag, const std::string& v) {
  try {
    size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos != v.size()) throw std::invalid_argument("");
    return d;
  } catch (const std::exception&) {
    throw UsageError(flag + " expects a number, got '" + v + "'");
  }
}

int parse_int(const std::string& flag, const std::string& v) {
  double d = parse_number(flag, v);
  if (d != static_cast<double>(static_cast<long long>(d)) || d < -2147483648.0 || d > 2147483647.0) {
    throw UsageError(flag + " expects an integer, got '" + v + "'");
  }
  return static_cast<int>(d);
}

}  // namespace

int generate_main(int argc, char** argv) {
  std::string model_path, tokenizer_path, prompt;
  bool echo = false;
  lm::GenerationConfig cfg;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      }
      if (a == "--echo") {
        echo = true;
        continue;
      }
      // --flag VALUE or --flag=VALUE
      std::string flag = a, value;
      auto eq = a.find('=');
      if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
        flag = a.substr(0, eq);
        value = a.substr(eq + 1);
      } else {
        if (i + 1 >= argc) throw UsageError("missing value for " + a);
        value = argv[++i];
      }
      if (flag == "--model")
        model_path = value;
      else if (flag == "--tokenizer")
        tokenizer_path = value;
      else if (flag == "--prompt") {
        prompt = value;
        if (value == "-") {  // stdin, without the final newline a shell adds
          prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
          if (!prompt.empty() && prompt.back() == '\n') prompt.pop_back();
        }
      } else if (flag == "--max-tokens")
        cfg.max_tokens = parse_int(flag, value);
      else if (flag == "--temp")
        cfg.sampler.temp = static_cast<float>(parse_number(flag, value));
      else if (flag == "--top-p")
        cfg.sampler.top_p = static_cast<float>(parse_number(flag, value));
      else if (flag == "--top-k")
        cfg.sampler.top_k = parse_int(flag, value);
      else if (flag == "--min-p")
        cfg.sampler.min_p = static_cast<float>(parse_number(flag, value));
      else if (flag == "--repetition-penalty")
        cfg.sampler.repetition_penalty = static_cast<float>(parse_number(flag, value));
      else if (flag == "--seed")
        cfg.sampler.seed = static_cast<uint64_t>(parse_number(flag, value));
      else
        throw UsageError("unknown option " + a);
    }
    if (model_path.empty()) throw UsageError("--model is required");
    if (cfg.max_tokens < 0) throw UsageError("--max-tokens must be >= 0");
    if (cfg.sampler.temp < 0) throw UsageError("--temp must be >= 0");
    if (cfg.sampler.top_p <= 0 || cfg.sampler.top_p > 1) throw UsageError("--top-p must be in (0, 1]");
    if (cfg.sampler.top_k < 0) throw UsageError("--top-k must be >= 0");
    if (cfg.sampler.min_p < 0 || cfg.sampler.min_p > 1) throw UsageError("--min-p must be in [0, 1]");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera generate: %s\n%s", e.what(), kUsage);
    return 2;
  }

  try {
    auto loaded = lm::load(model_path, tokenizer_path);
    std::vector<int32_t> ids = loaded.tokenizer->encode(prompt, /*add_special_tokens=*/true);
    if (echo) {
      std::fputs(prompt.c_str(), stdout);
      std::fflush(stdout);
    }
    auto result = lm::generate(*loaded.model, *loaded.tokenizer, ids, cfg, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    std::fputs("\n", stdout);
    std::fflush(stdout);
    const auto& s = result.stats;
    std::fprintf(stderr, "==========\n");
    std::fprintf(stderr, "Prompt: %d tokens, %.1f tokens-per-sec\n", s.prompt_tokens, s.prompt_tps);
    std::fprintf(stderr, "Generation: %d tokens, %.1f tokens-per-sec\n", s.generation_tokens,
                 s.generation_tps);
    std::fprintf(stderr, "Peak memory: %.3f MB\n", s.peak_memory_mb);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera generate: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
