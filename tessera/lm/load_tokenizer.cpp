// Dispatches on what the path holds (directory, tokenizer.json, SentencePiece protobuf).
#include "tessera/lm/load_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tessera/lm/tokenizers/hf_tokenizer.h"
#include "tessera/lm/tokenizers/sentencepiece_tokenizer.h"

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

constexpr uintmax_t kMaxTokenizerBytes = uintmax_t{1} << 30;

std::string read_all(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) throw std::runtime_error("[tokenizer] cannot read " + p.string() + ": " + ec.message());
  if (size > kMaxTokenizerBytes) throw std::invalid_argument("[tokenizer] file too large: " + p.string());
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("[tokenizer] cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::shared_ptr<Tokenizer> load_sentencepiece(const fs::path& p) {
  return std::make_shared<SentencePieceTokenizer>(parse_sentencepiece_model(read_all(p)));
}

}  // namespace

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    if (fs::is_regular_file(p / "tokenizer.json")) return load_hf_tokenizer((p / "tokenizer.json").string());
    if (fs::is_regular_file(p / "tokenizer.model")) return load_sentencepiece(p / "tokenizer.model");
    // Hook: a GGUF file or a llama2.c tokenizer.bin in the directory would be dispatched here.
    throw std::runtime_error("[tokenizer] no tokenizer.json or tokenizer.model in " + path);
  }
  if (!fs::is_regular_file(p, ec)) throw std::runtime_error("[tokenizer] no such file or directory: " + path);
  // Sniff the content: JSON starts with '{'; GGUF with "GGUF"; otherwise try SentencePiece protobuf.
  std::string head;
  {
    std::ifstream f(p, std::ios::binary);
    head.resize(64);
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(f.gcount()));
  }
  size_t k = head.find_first_not_of(" \t\r\n");
  if (k != std::string::npos && head[k] == '{') return load_hf_tokenizer(p.string());
  if (head.rfind("GGUF", 0) == 0) {
    // Hook: GGUF `tokenizer.ggml.*` metadata -> make_tokenizer_from_vocab (tokenizers/vocab_tokenizer.h).
    throw std::invalid_argument("[tokenizer] GGUF tokenizers are not supported by load_tokenizer yet: " + path);
  }
  // Hook: llama2.c tokenizer.bin (.bin extension) would be dispatched here.
  if (p.extension() == ".model" || p.filename() == "tokenizer.model") return load_sentencepiece(p);
  throw std::invalid_argument("[tokenizer] unrecognized tokenizer file (expected tokenizer.json or a SentencePiece .model): " + path);
}

}  // namespace tessera::lm
