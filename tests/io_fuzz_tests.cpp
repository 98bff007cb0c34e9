// Mutation fuzzing of the file parsers inside GoogleTest: every truncation of small files, random
// byte flips, and length/count fields set to huge values must give a "[format]" exception, never a
// crash or bad_alloc.
#include <random>

#include "fuzz/fuzz_inputs.h"
#include "io_test_utils.h"

using namespace tessera;
using namespace tessera::testing::io_test;

namespace {

struct Outcome {
  size_t ok = 0, rejected = 0;
  std::vector<std::string> bad;  // unexpected exceptions
};

void run_one(const std::string& format, const std::vector<uint8_t>& b, Outcome& o) {
  try {
    tessera::fuzz::parse_and_touch(format, b.data(), b.size());
    ++o.ok;
  } catch (const std::bad_alloc&) {
    o.bad.push_back("bad_alloc");
  } catch (const std::exception& e) {
    if (tessera::fuzz::expected_error(format, e)) ++o.rejected;
    else o.bad.push_back(e.what());
  }
}

// `len_fields`: byte offsets of length/count fields (u64 unless `u32` marks them) to set huge.
void mutate_and_parse(const std::string& format, const std::vector<uint8_t>& seed, const std::vector<std::pair<size_t, int>>& len_fields) {
  Outcome o;
  run_one(format, seed, o);
  ASSERT_EQ(o.ok, 1u) << "seed must parse";
  for (size_t n = 0; n < seed.size(); ++n) run_one(format, std::vector<uint8_t>(seed.begin(), seed.begin() + n), o);
  std::mt19937 gen(1234);
  for (int it = 0; it < 3000; ++it) {
    auto b = seed;
    int flips = 1 + it % 4;
    for (int k = 0; k < flips; ++k) b[gen() % b.size()] ^= static_cast<uint8_t>(1u << (gen() % 8));
    run_one(format, b, o);
    auto r = seed;  // random byte values
    r[gen() % r.size()] = static_cast<uint8_t>(gen());
    run_one(format, r, o);
  }
  for (auto [off, width] : len_fields) {
    for (uint64_t v : {~uint64_t{0}, uint64_t{1} << 62, uint64_t{1} << 32, uint64_t{0x7fffffff}, uint64_t{seed.size()}}) {
      auto b = seed;
      std::memcpy(b.data() + off, &v, width);
      run_one(format, b, o);
    }
  }
  EXPECT_TRUE(o.bad.empty()) << o.bad.size() << " unexpected errors, first: " << o.bad.front();
  EXPECT_GT(o.rejected, seed.size());  // truncations all fail
  std::printf("[fuzz %s] %zu inputs parsed, %zu rejected cleanly\n", format.c_str(), o.ok, o.rejected);
}

}  // namespace

TEST(IoFuzz, Safetensors) {
  TempDir d;
  save_safetensors(d / "a.safetensors", {{"a", formula_array(float16, {2, 3})}, {"b", formula_array(int64, {3})}}, {{"m", "x"}});
  mutate_and_parse("safetensors", read_file(d / "a.safetensors"), {{0, 8}});
  mutate_and_parse("safetensors", read_file(fixture("st_bf16_f8.safetensors")), {{0, 8}});
}

TEST(IoFuzz, Npy) {
  mutate_and_parse("npy", read_file(fixture("npy_float32.npy")), {{8, 2}});
  mutate_and_parse("npy", read_file(fixture("npy_v2.npy")), {{8, 4}});
  mutate_and_parse("npy", read_file(fixture("npy_be_c8.npy")), {{8, 2}});
}

TEST(IoFuzz, Npz) {
  mutate_and_parse("npz", read_file(fixture("npz_compressed.npz")), {{18, 4}, {22, 4}});  // local header sizes
  mutate_and_parse("npz", read_file(fixture("npz_plain.npz")), {{18, 4}, {22, 4}});
}

TEST(IoFuzz, Gguf) {
  TempDir d;
  GGUFSaveOptions opts;
  opts.types["q"] = GGMLType::Q4_K;
  opts.types["r"] = GGMLType::Q5_0;
  save_gguf(d / "a.gguf", {{"q", formula_array(float32, {1, 256})}, {"r", formula_array(float32, {1, 32})}, {"p", formula_array(int16, {3})}},
            {{"k", uint32_t{7}}, {"s", GGUFValue::array_of(std::vector<std::string>{"ab", "c"})},
             {"n", GGUFValue::array(GGUFValueType::ARRAY, {GGUFValue::array_of(std::vector<int8_t>{1})})}},
            opts);
  auto seed = read_file(d / "a.gguf");
  // tensor count, kv count, first key length, then the "s" array length (key "k" u32 kv is 17 bytes).
  mutate_and_parse("gguf", seed, {{8, 8}, {16, 8}, {24, 8}});
  mutate_and_parse("gguf", read_file(fixture("gguf_fixture.gguf")), {{8, 8}, {16, 8}, {24, 8}});
}
