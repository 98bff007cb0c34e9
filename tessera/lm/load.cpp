// load(): detects the checkpoint format, reads the model and finds its tokenizer.
#include "tessera/lm/load.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "tessera/lm/gguf_model.h"
#include "tessera/lm/hf_model.h"
#include "tessera/lm/hub.h"
#include "tessera/lm/llama2c.h"
#include "tessera/lm/load_tokenizer.h"
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

LoadedModel load(const std::string& path_or_repo_id, const std::string& tokenizer_path) {
  const std::string path = resolve_model_path(path_or_repo_id);  // "org/name": its Hugging Face cache snapshot
  fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) throw std::runtime_error("[load] no such file or directory: " + path);
  if (fs::is_directory(p, ec)) {
    auto hf = load_hf_model(path, {}, tokenizer_path);
    return LoadedModel{hf.model, hf.tokenizer};
  }
  auto ext = p.extension().string();
  if (ext == ".gguf") {
    auto g = load_gguf_model(path);
    LoadedModel out;
    out.model = g.model;
    out.tokenizer = tokenizer_path.empty() ? g.tokenizer : load_tokenizer(tokenizer_path);
    return out;
  }
  if (ext == ".safetensors" || ext == ".json" || ext == ".npz" || ext == ".pt" ||
      ext == ".pth") {
    throw std::runtime_error("[load] " + path + ": the " + ext +
                             " format is not supported yet (Hugging Face directories, .gguf and llama2.c .bin are).");
  }
  auto ck = load_llama2c(path);
  LoadedModel out;
  out.model = std::make_shared<Llama>(ck.config, ck.weights);
  out.tokenizer = tokenizer_path.empty()
                      ? find_llama2c_tokenizer(p, ck.config.vocab_size)
                      : std::make_shared<Llama2cTokenizer>(tokenizer_path, ck.config.vocab_size);
  return out;
}

}  // namespace tessera::lm
