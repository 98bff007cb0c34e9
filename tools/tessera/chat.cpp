// `tessera chat`: an interactive chat REPL over stdin/stdout that keeps the conversation and streams replies.
#include "tessera/lm/chat.h"

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/load.h"

namespace tessera::cli {

namespace {

const std::string kUsage =
    std::string(
        "usage: tessera chat [--model PATH] [options]\n"
        "\n"
        "Chats with an instruct model: each line read from stdin is a user message; the reply streams\n"
        "to stdout. The conversation is kept and sent with every turn. Commands: /reset forgets the\n"
        "conversation, /exit (or end of input) quits. Works with piped stdin.\n"
        "\n"
        "options:\n"
        "  --model PATH        model (default as in tessera generate: SmolLM2-135M-Instruct)\n"
        "  --tokenizer PATH    tokenizer (default: the model's)\n"
        "  --system TEXT       system message at the start of the conversation\n"
        "  --chat-template FILE  use this Jinja2 chat template instead of the model's\n") +
    kGenerationOptionsHelp +
    "  --verbose           print token counts and speeds to stderr after each reply\n"
    "  -h, --help          show this help\n";

}  // namespace

int chat_main(int argc, char** argv) {
  std::string model_path, tokenizer_path, template_file;
  std::optional<std::string> system;
  bool verbose = false;
  lm::GenerationConfig cfg;
  cfg.max_tokens = 512;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fputs(kUsage.c_str(), stdout);
        return 0;
      }
      if (a == "--verbose") {
        verbose = true;
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
      else if (!parse_generation_flag(flag, value, cfg))
        throw UsageError("unknown option " + a);
    }
    validate_generation_config(cfg);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera chat: %s\n%s", e.what(), kUsage.c_str());
    return 2;
  }

  try {
    if (model_path.empty()) model_path = default_model_path();
    auto loaded = lm::load(model_path, tokenizer_path);
    const lm::Tokenizer& tok = *loaded.tokenizer;
    auto tmpl = choose_chat_template(tok, template_file);
    if (!tmpl) {
      throw std::runtime_error("the model " + model_path +
                               " has no chat template (not an instruct model?); pass --chat-template FILE");
    }
    const bool interactive = isatty(STDIN_FILENO) != 0;
    if (interactive)
      std::fprintf(stderr, "Chatting with %s. /reset forgets the conversation, /exit quits.\n",
                   model_path.c_str());
    auto fresh = [&] {
      nlohmann::ordered_json m = nlohmann::ordered_json::array();
      if (system) m.push_back({{"role", "system"}, {"content", *system}});
      return m;
    };
    nlohmann::ordered_json messages = fresh();
    std::string line;
    while (true) {
      if (interactive) {
        std::fputs(">> ", stdout);
        std::fflush(stdout);
      }
      if (!std::getline(std::cin, line)) break;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        messages = fresh();
        std::fprintf(stderr, "[conversation reset]\n");
        continue;
      }
      messages.push_back({{"role", "user"}, {"content", line}});
      auto ids =
          lm::encode_chat_text(tok, lm::render_chat(tok, *tmpl, messages, /*add_generation_prompt=*/true));
      auto result = lm::generate(*loaded.model, tok, ids, cfg, [](std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      });
      std::fputs("\n", stdout);
      std::fflush(stdout);
      messages.push_back({{"role", "assistant"}, {"content", result.text}});
      if (verbose) {
        const auto& s = result.stats;
        std::fprintf(stderr, "[prompt %d tokens, %.1f tok/s; reply %d tokens, %.1f tok/s]\n", s.prompt_tokens,
                     s.prompt_tps, s.generation_tokens, s.generation_tps);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera chat: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
