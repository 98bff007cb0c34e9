// The `tessera` subcommands, one per file; main.cpp dispatches to them.
#pragma once

namespace tessera::cli {

// argv[0] is the subcommand's name. Return the process exit code.
int generate_main(int argc, char** argv);
int chat_main(int argc, char** argv);
int bench_main(int argc, char** argv);
int info_main(int argc, char** argv);
int tokenize_main(int argc, char** argv);
int perplexity_main(int argc, char** argv);
int kl_main(int argc, char** argv);
int download_main(int argc, char** argv);
int convert_main(int argc, char** argv);

}  // namespace tessera::cli
