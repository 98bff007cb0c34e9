// The `tessera` command line: dispatches to one subcommand per file.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "commands.h"
#include "tessera/tessera.h"

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf(
        "usage: tessera <command> [options]\n\ncommands:\n"
        "  generate  generate text from a model (tessera generate --help)\n"
        "  chat      chat with an instruct model (tessera chat --help)\n"
        "  bench     measure prefill and decode throughput (tessera bench --help)\n"
        "  info      show a model's configuration and tokenizer (tessera info --help)\n"
        "  tokenize  text to token ids and back (tessera tokenize --help)\n"
        "  perplexity  a model's perplexity on a text file (tessera perplexity --help)\n"
        "  kl        KL divergence of a model from a reference model (tessera kl --help)\n"
        "  download  fetch a model from the Hugging Face Hub (tessera download --help)\n"
        "  convert   convert / quantize a model to a HF directory or GGUF (tessera convert --help)\n"
        "  version   print the version\n");
    return argc < 2 ? 1 : 0;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "version") {
      if (argc > 2 && (!std::strcmp(argv[2], "--help") || !std::strcmp(argv[2], "-h"))) {
        std::printf("usage: tessera version\n\nPrints the version of tessera.\n");
        return 0;
      }
      std::printf("tessera 0.1.0\n");
      return 0;
    }
    if (cmd == "generate") return tessera::cli::generate_main(argc - 1, argv + 1);
    if (cmd == "chat") return tessera::cli::chat_main(argc - 1, argv + 1);
    if (cmd == "bench") return tessera::cli::bench_main(argc - 1, argv + 1);
    if (cmd == "info") return tessera::cli::info_main(argc - 1, argv + 1);
    if (cmd == "tokenize") return tessera::cli::tokenize_main(argc - 1, argv + 1);
    if (cmd == "perplexity") return tessera::cli::perplexity_main(argc - 1, argv + 1);
    if (cmd == "kl") return tessera::cli::kl_main(argc - 1, argv + 1);
    if (cmd == "download") return tessera::cli::download_main(argc - 1, argv + 1);
    if (cmd == "convert") return tessera::cli::convert_main(argc - 1, argv + 1);
    std::fprintf(stderr, "tessera: unknown command '%s' (see tessera --help)\n", cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
