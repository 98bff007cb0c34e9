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

namespace {

const std::string kFixtures = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/tokenizers";

const nlohmann::json& fixtures() {
  static const nlohmann::json j = nlohmann::json::parse(slurp(kFixtures + "/tokenizer_fixtures.json"));
  return j;
}

std::string show(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

// Checks ids with and without special tokens, decode of the plain ids, and (HF) decode with skip_special_tokens.
void check_fixture(const Tokenizer& tok, const nlohmann::json& cases, bool hf) {
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    std::string text = c["text"].get<std::string>();
    auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(text, false), ids) << "text: '" << show(text) << "'";
    EXPECT_EQ(tok.encode(text, true), c["ids_special"].get<std::vector<int32_t>>()) << "text: '" << show(text) << "'";
    EXPECT_EQ(tok.decode(ids, false), c["decoded"].get<std::string>()) << "text: '" << show(text) << "'";
    if (hf) {
      EXPECT_EQ(tok.decode(c["ids_special"].get<std::vector<int32_t>>(), true), c["decoded_skip"].get<std::string>())
          << "text: '" << show(text) << "'";
    }
    // Round trip wherever the reference itself round-trips.
    if (c["decoded"].get<std::string>() == text) EXPECT_EQ(tok.decode(tok.encode(text, false)), text);
  }
}

}  // namespace

TEST(TokenizerFixtures, Llama3TokenizerJson) {
  check_fixture(*load_tokenizer(kData + "/tokenizers/llama3"), fixtures()["hf"]["llama3"], true);
}
TEST(TokenizerFixtures, Qwen25TokenizerJson) {
  check_fixture(*load_tokenizer(kData + "/tokenizers/qwen2.5"), fixtures()["hf"]["qwen2.5"], true);
}
TEST(TokenizerFixtures, GemmaTokenizerJson) {
  check_fixture(*load_tokenizer(kData + "/tokenizers/gemma"), fixtures()["hf"]["gemma"], true);
}
TEST(TokenizerFixtures, UnigramTokenizerJson) {
  check_fixture(*load_tokenizer(kFixtures + "/unigram_tiny.json"), fixtures()["hf"]["unigram_tiny"], true);
}
TEST(TokenizerFixtures, Llama2SentencePiece) {
  check_fixture(*load_tokenizer(kData + "/tokenizers/llama2/tokenizer.model"), fixtures()["sp"]["llama2"], false);
}
TEST(TokenizerFixtures, MistralV1SentencePiece) {
  check_fixture(*load_tokenizer(kData + "/tokenizers/mistral-v1"), fixtures()["sp"]["mistral-v1"], false);
}
TEST(TokenizerFixtures, MistralV3SentencePiece) {
  check_fixture(*load_tokenizer(kData + "/tokenizers/mistral-v3/tokenizer.model"), fixtures()["sp"]["mistral-v3"], false);
}
TEST(TokenizerFixtures, SentencePieceUnigramWithCharsmap) {
  check_fixture(*load_tokenizer(kFixtures + "/sp_unigram_tiny.model"), fixtures()["sp"]["sp_unigram_tiny"], false);
}
