// load(): detects the checkpoint format, reads the model and finds its tokenizer.
#include "tessera/lm/load.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "tessera/lm/gguf_model.h"
#include "tessera/lm/gguf_tokenizer.h"
#include "tessera/lm/hf_model.h"
#include "tessera/lm/hub.h"
#include "tessera/lm/llama2c.h"
#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/quantize_weights.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<Tokenizer> find_llama2c_tokenizer(const fs::path& model_path, int vocab_size) {
  fs::path dir = model_path.parent_path();
  if (dir.empty()) dir = ".";
  std::vector<fs::path> candidates;
  if (fs::exists(dir / "tokenizer.bin")) candidates.push_back(dir / "tokenizer.bin");
  std::vector<fs::path> toks;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("tok", 0) == 0 && e.path().extension() == ".bin" &&
        name != "tokenizer.bin") {
      toks.push_back(e.path());
    }
  }
  std::sort(toks.begin(), toks.end());
  candidates.insert(candidates.end(), toks.begin(), toks.end());
  std::string tried;
  for (const auto& c : candidates) {
    try {
      return std::make_shared<Llama2cTokenizer>(c.string(), vocab_size);
    } catch (const std::exception& e) {
      tried += std::string("\n  ") + e.what();
    }
  }
  throw std::runtime_error("[load] no llama2.c tokenizer with " + std::to_string(vocab_size) +
                           " tokens found next to " + model_path.string() +
                           " (looked for tokenizer.bin and tok*.bin); pass a tokenizer path." + tried);
}

}  // namespace

ModelWeights load_weights(const std::string& path_or_repo_id, std::optional<Dtype> dtype, bool keep_gguf_blocks,
                          bool sanitize) {
  const std::string path = resolve_model_path(path_or_repo_id);  // "org/name": its Hugging Face cache snapshot
  fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) throw std::runtime_error("[load] no such file or directory: " + path);
  ModelWeights out;
  out.path = path;
  if (fs::is_directory(p, ec)) {
    HFWeights hf = load_hf_weights(path, dtype, sanitize);
    out.format = "hf";
    out.config = std::move(hf.config);
    out.weights = std::move(hf.weights);
    out.config_json = std::move(hf.config_json);
    return out;
  }
  auto ext = p.extension().string();
  if (ext == ".gguf") {
    GGUFFile file = load_gguf_file(path);
    out.format = "gguf";
    out.config = llama_config_from_gguf(file.metadata);
    GGUFModelOptions options;
    options.dtype = dtype.value_or(float32);
    options.keep_quantized = keep_gguf_blocks;
    out.weights = llama_weights_from_gguf(file, out.config, options);
    out.gguf_metadata = std::move(file.metadata);
    return out;
  }
  if (ext == ".safetensors" || ext == ".json" || ext == ".npz" || ext == ".pt" ||
      ext == ".pth") {
    throw std::runtime_error("[load] " + path + ": the " + ext +
                             " format is not supported yet (Hugging Face directories, .gguf and llama2.c .bin are).");
  }
  auto ck = load_llama2c(path);
  out.format = "llama2c";
  out.config = ck.config;
  out.weights = std::move(ck.weights);
  if (dtype) cast_weights(out.weights, *dtype);
  return out;
}

std::shared_ptr<Tokenizer> find_tokenizer(const ModelWeights& w, const std::string& tokenizer_path) {
  if (w.format == "llama2c" || fs::path(tokenizer_path).extension() == ".bin") {
    return tokenizer_path.empty() ? find_llama2c_tokenizer(fs::path(w.path), w.config.vocab_size)
                                  : std::make_shared<Llama2cTokenizer>(tokenizer_path, w.config.vocab_size);
  }
  if (!tokenizer_path.empty()) return load_tokenizer(tokenizer_path);
  if (w.format == "gguf") return tokenizer_from_gguf(w.gguf_metadata);
  return load_tokenizer(w.path);
}

LoadedModel load(const std::string& path, const std::string& tokenizer_path, const std::string& quantization,
                 const ProgressFn& progress) {
  ModelWeights w = load_weights(path);
  apply_load_quantization(w.weights, w.config, quantization);
  if (progress && !quantization.empty() && quantization != "none") {
    size_t done = 0;
    for (auto& [name, a] : w.weights) {
      a.eval();
      progress("quantizing", ++done, w.weights.size());
    }
  }
  LoadedModel out;
  out.model = std::make_shared<Llama>(w.config, std::move(w.weights));
  w.weights.clear();
  out.tokenizer = find_tokenizer(w, tokenizer_path);
  return out;
}

}  // namespace tessera::lm
