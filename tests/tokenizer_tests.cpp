// Tokenizers against the reference implementations: llama.cpp test vectors and fixtures made with PyPI
// `tokenizers` / `sentencepiece` (tests/fixtures/tokenizers/make_fixtures.py), plus error cases.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/tokenizers/hf_tokenizer.h"
#include "tessera/lm/tokenizers/sentencepiece_tokenizer.h"
#include "tessera/lm/tokenizers/vocab_tokenizer.h"
#include "test_utils.h"

namespace fs = std::filesystem;
using tessera::lm::load_tokenizer;
using tessera::lm::Tokenizer;

namespace {

const std::string kData = TESSERA_SHARED_DATA;

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// llama.cpp test vectors. The .inp file holds texts, each followed by "\n__ggml_vocab_test__\n" (so a text's own
// leading/trailing newlines are kept; the separator's newlines are not part of it). The .out file holds one line per
// text of space-separated ids. llama.cpp's test-tokenizer-0 tokenizes with add_special=false (no BOS), so these
// are compared with encode(text, /*add_special_tokens=*/false).
struct Vectors {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
};

Vectors read_vectors(const std::string& base) {
  Vectors v;
  std::string inp = slurp(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inp.size();) {
    size_t e = inp.find(sep, pos);
    if (e == std::string::npos) break;
    v.texts.push_back(inp.substr(pos, e - pos));
    pos = e + sep.size();
  }
  std::istringstream out(slurp(base + ".out"));
  std::string line;
  while (std::getline(out, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t x;
    while (ls >> x) ids.push_back(x);
    v.ids.push_back(ids);
  }
  return v;
}

void check_vectors(const Tokenizer& tok, const std::string& base) {
  auto v = read_vectors(base);
  ASSERT_EQ(v.texts.size(), 46u);
  ASSERT_EQ(v.texts.size(), v.ids.size());
  for (size_t i = 0; i < v.texts.size(); ++i) {
    EXPECT_EQ(tok.encode(v.texts[i], false), v.ids[i]) << "text #" << i << ": '" << v.texts[i] << "'";
  }
}

}  // namespace

TEST(TokenizerVectors, Llama3MatchesLlamaCpp) {
  auto tok = load_tokenizer(kData + "/tokenizers/llama3");
  check_vectors(*tok, kData + "/vocab/ggml-vocab-llama-bpe.gguf");
}

TEST(TokenizerVectors, Qwen25MatchesLlamaCpp) {
  auto tok = load_tokenizer(kData + "/tokenizers/qwen2.5/tokenizer.json");
  check_vectors(*tok, kData + "/vocab/ggml-vocab-qwen2.gguf");
}

TEST(TokenizerVectors, Llama2SentencePieceMatchesLlamaCpp) {
  auto tok = load_tokenizer(kData + "/tokenizers/llama2/tokenizer.model");
  check_vectors(*tok, kData + "/vocab/ggml-vocab-llama-spm.gguf");
}
