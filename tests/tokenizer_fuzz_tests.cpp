// Mutation fuzzing of the tokenizer loaders and of encode/decode: malformed tokenizer.json,
// SentencePiece .model and llama2.c tokenizer.bin files, invalid UTF-8 text and out-of-range ids
// give exceptions or the documented replacement, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"

namespace fs = std::filesystem;
using namespace tessera::lm;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Loads `bytes` as a tokenizer file named `name` and exercises it; counts clean rejections.
void try_load(const std::string& bytes, const std::string& name, int& parsed, int& rejected) {
  auto path = fs::temp_directory_path() / ("tessera_tokfuzz_" + std::to_string(::getpid()) + "_" + name);
  {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    std::shared_ptr<Tokenizer> tok;
    if (name.ends_with(".bin")) {
      tok = std::make_shared<Llama2cTokenizer>(path.string(), 0);
    } else {
      tok = load_tokenizer(path.string());
    }
    ++parsed;
    for (std::string text : {std::string("Hello, world! 123"), std::string("\xff\xfe bad \xc3"), std::string("")}) {
      try {
        auto ids = tok->encode(text, true);
        tok->decode(ids, false);
      } catch (const std::exception&) {
      }
    }
    try {
      tok->decode({-5, 0, tok->vocab_size(), 1 << 30}, true);
    } catch (const std::exception&) {
    }
  } catch (const std::exception&) {
    ++rejected;
  }
  fs::remove(path);
}

void fuzz_file(const fs::path& seed_path, const std::string& name, int flips) {
  std::string seed = read_file(seed_path);
  ASSERT_FALSE(seed.empty()) << seed_path;
  int parsed = 0, rejected = 0;
  std::mt19937 rng(1234);
  // Truncations at spread-out lengths.
  for (size_t n = 0; n < seed.size(); n += std::max<size_t>(1, seed.size() / 97)) {
    try_load(seed.substr(0, n), name, parsed, rejected);
  }
  // Random byte flips (a few per input) and huge length-like values.
  for (int i = 0; i < flips; ++i) {
    std::string m = seed;
    int k = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < k; ++j) m[rng() % m.size()] = static_cast<char>(rng() & 0xff);
    if (i % 10 == 0 && m.size() >= 8) std::memset(&m[rng() % (m.size() - 4)], 0xff, 4);
    try_load(m, name, parsed, rejected);
  }
  EXPECT_GT(parsed + rejected, flips);
  std::printf("[fuzz %s] %d inputs loaded, %d rejected cleanly\n", name.c_str(), parsed, rejected);
}

// Structural mutations of a tokenizer.json: a random leaf replaced by a wrong-typed or absurd value,
// or a random key removed (what byte flips rarely reach, since they mostly break the JSON syntax).
void fuzz_json_structure(const fs::path& seed_path, int count) {
  auto flat = nlohmann::json::parse(read_file(seed_path)).flatten();
  std::vector<std::string> keys;
  for (auto& [k, v] : flat.items()) keys.push_back(k);
  ASSERT_FALSE(keys.empty());
  const nlohmann::json replacements[] = {-1, 1e18, 4294967296LL, "", "\xff", nullptr, nlohmann::json::array(),
                                         nlohmann::json::object(), true, "Ġ", 0};
  std::mt19937 rng(99);
  int parsed = 0, rejected = 0;
  for (int i = 0; i < count; ++i) {
    auto m = flat;
    for (int j = 0; j < 1 + static_cast<int>(rng() % 3); ++j) {
      const auto& key = keys[rng() % keys.size()];
      if (rng() % 4 == 0) {
        m.erase(key);
      } else {
        m[key] = replacements[rng() % std::size(replacements)];
      }
    }
    std::string text;
    try {
      text = m.unflatten().dump();
    } catch (const std::exception&) {
      continue;
    }
    try_load(text, "tokenizer.json", parsed, rejected);
  }
  EXPECT_GT(parsed + rejected, count / 2);
  std::printf("[fuzz tokenizer.json structure] %d inputs loaded, %d rejected cleanly\n", parsed, rejected);
}

const fs::path kFixtures = fs::path(TESSERA_SOURCE_DIR) / "tests" / "fixtures" / "tokenizers";

}  // namespace

TEST(TokenizerFuzz, TokenizerJsonFiles) {
  fuzz_file(kFixtures / "bytelevel_tiny.json", "tokenizer.json", 150);
  fuzz_file(kFixtures / "unigram_tiny.json", "tokenizer.json", 150);
  fuzz_file(kFixtures / "wordpiece_tiny.json", "tokenizer.json", 150);
  for (auto* f : {"bytelevel_tiny.json", "unigram_tiny.json", "wordpiece_tiny.json", "bpe_metaspace_tiny.json"}) {
    fuzz_json_structure(kFixtures / f, 150);
  }
}

TEST(TokenizerFuzz, SentencePieceModel) { fuzz_file(kFixtures / "sp_unigram_tiny.model", "tokenizer.model", 100); }

TEST(TokenizerFuzz, Llama2cTokenizerBin) {
  fuzz_file(fs::path(TESSERA_SOURCE_DIR) / "models" / "stories260K" / "tok512.bin", "tokenizer.bin", 300);
}
