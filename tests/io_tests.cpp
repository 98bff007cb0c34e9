// Tests of the file formats: round trips for every dtype and block type, fixtures written by numpy /
// safetensors / gguf-py, the shared real GGUF files, malformed inputs, and files for the Python interop test.
#include <nlohmann/json.hpp>

#include <cstring>

#include "io_test_utils.h"

using namespace tessera;
using namespace tessera::testing;
using namespace tessera::testing::io_test;

namespace {

std::vector<Dtype> all_dtypes() {
  std::vector<Dtype> v;
  for (int i = 0; i < num_dtypes; ++i) v.push_back(dtype_from_index(i));
  return v;
}

const std::vector<GGMLType> kBlockTypes = {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1,
                                           GGMLType::Q8_0, GGMLType::Q2_K, GGMLType::Q3_K, GGMLType::Q4_K,
                                           GGMLType::Q5_K, GGMLType::Q6_K, GGMLType::Q8_K, GGMLType::IQ4_NL,
                                           GGMLType::IQ4_XS};

// Max |error| of quantize->dequantize on uniform [-1, 1) data, as a fraction of the block absmax.
double error_bound(GGMLType t) {
  switch (t) {
    case GGMLType::Q8_0: case GGMLType::Q8_K: return 0.006;
    case GGMLType::Q6_K: return 0.04;
    case GGMLType::Q5_1: return 0.04;
    case GGMLType::Q5_0: return 0.065;  // symmetric: the side opposite the absmax loses one level
    case GGMLType::Q5_K: return 0.06;
    case GGMLType::Q4_1: return 0.075;
    case GGMLType::Q4_0: return 0.13;
    case GGMLType::Q4_K: return 0.1;
    case GGMLType::IQ4_NL: case GGMLType::IQ4_XS: return 0.15;
    case GGMLType::Q3_K: return 0.3;
    case GGMLType::Q2_K: return 0.45;
    default: return 0;
  }
}

std::string message_of(const std::function<void()>& f) { return error_message(f); }

}  // namespace

// ---------------- safetensors ----------------

TEST(IoSafetensors, RoundTripEveryDtypeBitExact) {
  TempDir dir;
  ArrayMap arrays;
  for (Dtype d : all_dtypes()) arrays.emplace(dtype_name(d), formula_array(d, {2, 3, 4}));
  arrays.emplace("transposed", transpose(formula_array(float32, {3, 5})));           // non-contiguous
  arrays.emplace("broadcast", broadcast_to(formula_array(int16, {1, 4}), {3, 4}));  // stride 0
  arrays.emplace("scalar", array(3.5f));
  arrays.emplace("empty", zeros({0, 7}, float32));
  StringMap meta{{"format", "pt"}, {"k", "v with \"quotes\""}};
  save_safetensors(dir / "a.safetensors", arrays, meta);
  auto [loaded, m] = load_safetensors(dir / "a.safetensors");
  EXPECT_EQ(m, meta);
  ASSERT_EQ(loaded.size(), arrays.size());
  for (auto& [name, a] : arrays) {
    SCOPED_TRACE(name);
    array b = loaded.at(name);
    EXPECT_EQ(b.dtype(), a.dtype());
    EXPECT_EQ(b.shape(), a.shape());
    EXPECT_EQ(bytes(b), bytes(a));
  }
}

TEST(IoSafetensors, LoadIsZeroCopyAndOutlivesTheFile) {
  TempDir dir;
  save_safetensors(dir / "z.safetensors", {{"w", formula_array(float32, {64, 64})}});
  auto [arrays, meta] = load_safetensors(dir / "z.safetensors");
  std::filesystem::remove(dir / "z.safetensors");  // the mapping keeps the data
  array w = arrays.at("w");
  EXPECT_TRUE(w.is_available());
  ASSERT_TRUE(w.data_shared_ptr());
  EXPECT_TRUE(static_cast<bool>(w.data_shared_ptr()->deleter));  // not an allocator buffer: the mapping
  EXPECT_TRUE(all_close(w * array(2.0f), [] {
    auto v = formula_values(float32, 64 * 64);
    for (auto& x : v) x *= 2;
    return v;
  }(), 0, 0));
}

TEST(IoSafetensors, ReadsSafetensorsPackageFixture) {
  auto [arrays, meta] = load_safetensors(fixture("st_numpy.safetensors"));
  EXPECT_EQ(meta.at("note"), "written by safetensors.numpy");
  for (const char* name : {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16",
                           "float32", "float64"}) {
    SCOPED_TRACE(name);
    array a = arrays.at(name);
    EXPECT_EQ(a.dtype(), dtype_from_name(name));
    EXPECT_EQ(a.shape(), (Shape{2, 3, 4}));
    EXPECT_TRUE(all_close(a, formula_values(a.dtype(), 24), 0, 0));
  }
}

TEST(IoSafetensors, Bf16AndFloat8MatchMlDtypes) {
  auto [arrays, meta] = load_safetensors(fixture("st_bf16_f8.safetensors"));
  EXPECT_EQ(arrays.at("bf16").dtype(), bfloat16);
  EXPECT_TRUE(all_close(arrays.at("bf16"), formula_values(float32, 24), 0, 0));
  for (const char* n : {"e4m3", "e5m2"}) {
    SCOPED_TRACE(n);
    array a = arrays.at(n);
    EXPECT_EQ(a.dtype(), float32);
    EXPECT_TRUE(all_close(a, arrays.at(std::string(n) + "_expected").to_vector<double>(), 0, 0));
  }
}

TEST(IoSafetensors, ShardedCheckpoint) {
  TempDir dir;
  save_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", formula_array(float32, {4})}, {"b", formula_array(int32, {2})}});
  save_safetensors(dir / "model-00002-of-00002.safetensors", {{"c", formula_array(float16, {3, 2})}});
  {
    std::ofstream f(dir / "model.safetensors.index.json");
    f << R"({"metadata": {"total_size": 26}, "weight_map": {"a": "model-00001-of-00002.safetensors",
         "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})";
  }
  for (const std::string& p : {dir.path.string(), dir / "model.safetensors.index.json"}) {
    auto arrays = load(p);
    ASSERT_EQ(arrays.size(), 3u);
    EXPECT_TRUE(all_close(arrays.at("c"), formula_values(float16, 6), 0, 0));
    EXPECT_TRUE(all_close(arrays.at("b"), formula_values(int32, 2), 0, 0));
  }
  {
    std::ofstream f(dir / "model.safetensors.index.json");
    f << R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "zz": "model-00002-of-00002.safetensors"}})";
  }
  EXPECT_TRUE(throws_with("[safetensors]", [&] { load_safetensors_dir(dir.path.string()); }));
}

namespace {
std::vector<uint8_t> st_file(const std::string& header, size_t data_bytes, uint64_t hlen_override = 0) {
  std::vector<uint8_t> b(8);
  uint64_t n = hlen_override ? hlen_override : header.size();
  std::memcpy(b.data(), &n, 8);
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}
void st_load(const std::vector<uint8_t>& b) { load_safetensors(tessera::io::own_bytes(b)); }
}  // namespace

TEST(IoSafetensors, MalformedInputsThrow) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(st_load(st_file(ok, 8)));
  auto bad = [](const std::vector<uint8_t>& b) { return throws_with("[safetensors]", [&] { st_load(b); }); };
  EXPECT_TRUE(bad({1, 2, 3}));                                      // truncated length
  EXPECT_TRUE(bad(st_file(ok, 8, 1ull << 62)));                     // header length past the end
  EXPECT_TRUE(bad(st_file(ok, 4)));                                 // data truncated
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32",)", 8)));          // malformed JSON
  EXPECT_TRUE(bad(st_file(R"([1,2])", 0)));                         // not an object
  EXPECT_TRUE(bad(st_file(std::string(100, '[') + std::string(100, ']'), 0)));  // deep nesting
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)));   // size mismatch
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8)));   // unknown dtype
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)));  // negative dim
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8)));
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)));   // end < begin
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)));  // overlap
  EXPECT_TRUE(bad(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", 8)));
  EXPECT_TRUE(bad(st_file(R"({"__metadata__":{"k":1}})", 0)));     // non-string metadata
  EXPECT_TRUE(throws_with("[safetensors]", [] { load_safetensors(std::string("/nonexistent/x.safetensors")); }));
}

// ---------------- npy / npz ----------------

TEST(IoNpy, RoundTripEveryDtypeBitExact) {
  TempDir dir;
  for (Dtype d : all_dtypes()) {
    SCOPED_TRACE(dtype_name(d));
    array a = formula_array(d, {2, 3, 4});
    if (d == bfloat16) {
      std::string m = message_of([&] { save(dir / "bf.npy", a); });
      EXPECT_EQ(m.rfind("[npy] bfloat16 has no NumPy dtype", 0), 0u) << m;
      continue;
    }
    save(dir / "x.npy", a);
    array b = load_npy(dir / "x.npy");
    EXPECT_EQ(b.dtype(), d);
    EXPECT_EQ(b.shape(), a.shape());
    EXPECT_EQ(bytes(b), bytes(a));
  }
  for (const Shape& s : {Shape{}, Shape{5}, Shape{0, 3}}) {
    array a = formula_array(float64, s);
    save(dir / "s.npy", a);
    array b = load_npy(dir / "s.npy");
    EXPECT_EQ(b.shape(), s);
    EXPECT_EQ(bytes(b), bytes(a));
  }
  array t = transpose(formula_array(int32, {3, 4}));
  save(dir / "t.npy", t);
  EXPECT_EQ(bytes(load_npy(dir / "t.npy")), bytes(t));
}

TEST(IoNpy, ReadsNumpyFixtures) {
  for (const char* d : {"bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "float32",
                        "float64"}) {
    SCOPED_TRACE(d);
    array a = load_npy(fixture(std::string("npy_") + d + ".npy"));
    EXPECT_EQ(a.dtype(), dtype_from_name(d));
    EXPECT_EQ(a.shape(), (Shape{2, 3, 4}));
    EXPECT_TRUE(all_close(a, formula_values(a.dtype(), 24), 0, 0));
  }
  array c = load_npy(fixture("npy_complex64.npy"));
  EXPECT_EQ(bytes(c), bytes(formula_array(complex64, {2, 3, 4})));
  for (auto [file, d] : std::vector<std::pair<const char*, Dtype>>{
           {"npy_be_u2.npy", uint16}, {"npy_be_i4.npy", int32}, {"npy_be_f8.npy", float64}, {"npy_be_f2.npy", float16}}) {
    SCOPED_TRACE(file);
    array a = load_npy(fixture(file));
    EXPECT_EQ(a.dtype(), d);
    EXPECT_TRUE(all_close(a, formula_values(d, 24), 0, 0));
  }
  EXPECT_EQ(bytes(load_npy(fixture("npy_be_c8.npy"))), bytes(formula_array(complex64, {2, 3, 4})));
  array f = load_npy(fixture("npy_fortran.npy"));
  EXPECT_EQ(f.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(all_close(f, formula_values(float32, 24), 0, 0));
  for (const char* v : {"npy_v2.npy", "npy_v3.npy"}) EXPECT_TRUE(all_close(load_npy(fixture(v)), formula_values(int32, 24), 0, 0));
  array s = load_npy(fixture("npy_scalar.npy"));
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.item<double>(), 2.5);
  EXPECT_EQ(load_npy(fixture("npy_empty.npy")).shape(), (Shape{0, 3}));
}

TEST(IoNpy, MalformedInputsThrow) {
  auto npy = [](const std::string& dict, size_t data, uint16_t hlen_override = 0) {
    std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    uint16_t n = hlen_override ? hlen_override : static_cast<uint16_t>(dict.size());
    b.push_back(n & 0xff);
    b.push_back(n >> 8);
    b.insert(b.end(), dict.begin(), dict.end());
    b.resize(b.size() + data);
    return b;
  };
  auto bad = [](const std::vector<uint8_t>& b) { return throws_with("[npy]", [&] { load_npy(tessera::io::own_bytes(b)); }); };
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  EXPECT_NO_THROW(load_npy(tessera::io::own_bytes(npy(ok, 8))));
  EXPECT_TRUE(bad({0x93, 'N', 'U', 'M'}));
  EXPECT_TRUE(bad({'P', 'K', 3, 4, 1, 0, 0, 0, 0, 0}));  // wrong magic
  EXPECT_TRUE(bad(npy(ok, 8, 60000)));                    // header length past the end
  EXPECT_TRUE(bad(npy(ok, 7)));                           // data truncated
  EXPECT_TRUE(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 8)));
  EXPECT_TRUE(bad(npy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24)));
  EXPECT_TRUE(bad(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8)));
  EXPECT_TRUE(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }", 8)));
  EXPECT_TRUE(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2000000000, 2000000000, 2000000000), }", 8)));
  EXPECT_TRUE(bad(npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", 16)));
  std::vector<uint8_t> v9 = npy(ok, 8);
  v9[6] = 9;
  EXPECT_TRUE(bad(v9));
}

TEST(IoNpz, RoundTripStoredAndCompressed) {
  TempDir dir;
  std::unordered_map<std::string, array> arrays;
  for (Dtype d : all_dtypes()) {
    if (d != bfloat16) arrays.emplace(dtype_name(d), formula_array(d, {3, 5}));
  }
  arrays.emplace("strided", transpose(formula_array(float32, {40, 30})));
  for (bool compressed : {false, true}) {
    std::string p = dir / (compressed ? "c.npz" : "s.npz");
    if (compressed) savez_compressed(p, arrays);
    else savez(p, arrays);
    auto loaded = load(p);
    ASSERT_EQ(loaded.size(), arrays.size());
    for (auto& [k, a] : arrays) {
      SCOPED_TRACE(k);
      EXPECT_EQ(loaded.at(k).dtype(), a.dtype());
      EXPECT_EQ(bytes(loaded.at(k)), bytes(a));
    }
  }
  EXPECT_LT(std::filesystem::file_size(dir / "c.npz"), std::filesystem::file_size(dir / "s.npz"));
  EXPECT_TRUE(throws_with("[npz]", [&] { savez(dir / "b.npz", {{"x", formula_array(bfloat16, {2})}}); }));
}

TEST(IoNpz, ReadsNumpyFixturesAndRejectsBadArchives) {
  for (const char* f : {"npz_plain.npz", "npz_compressed.npz"}) {
    auto a = load_npz(fixture(f));
    ASSERT_EQ(a.size(), 2u);
    EXPECT_TRUE(all_close(a.at("a"), formula_values(float32, 24), 0, 0));
    EXPECT_TRUE(all_close(a.at("b"), formula_values(int64, 24), 0, 0));
  }
  auto good = read_file(fixture("npz_compressed.npz"));
  auto bad = [](const std::vector<uint8_t>& b) { return throws_with("[npz]", [&] { load_npz(b.data(), b.size()); }); };
  EXPECT_TRUE(bad({}));
  EXPECT_TRUE(bad({'P', 'K', 3, 4}));
  EXPECT_TRUE(bad(std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2)));
  auto flipped = good;
  flipped[60] ^= 0xff;  // inside the first entry's compressed data: a checksum or inflate error
  EXPECT_TRUE(bad(flipped));
}

// ---------------- GGUF ----------------

TEST(IoGguf, PlainTypesAndMetadataRoundTrip) {
  TempDir dir;
  std::unordered_map<std::string, array> arrays;
  for (Dtype d : {float32, float16, bfloat16, float64, int8, int16, int32, int64}) {
    arrays.emplace(dtype_name(d), formula_array(d, {2, 3, 4}));
  }
  arrays.emplace("four_d", formula_array(float32, {2, 1, 3, 2}));
  arrays.emplace("strided", transpose(formula_array(float32, {5, 3})));
  GGUFMetadata meta{{"u8", uint8_t{200}},
                    {"i8", int8_t{-3}},
                    {"u16", uint16_t{60000}},
                    {"i16", int16_t{-30000}},
                    {"u32", uint32_t{4000000000u}},
                    {"i32", int32_t{-2000000000}},
                    {"u64", uint64_t{1} << 63},
                    {"i64", int64_t{-(int64_t{1} << 62)}},
                    {"f32", 1.25f},
                    {"f64", -2.5e300},
                    {"yes", true},
                    {"str", "h\xc3\xa9llo"},
                    {"general.alignment", uint32_t{64}},
                    {"arr", GGUFValue::array_of(std::vector<float>{1.f, 2.f})},
                    {"strs", GGUFValue::array_of(std::vector<std::string>{"a", "", "ccc"})},
                    {"empty", GGUFValue::array(GGUFValueType::INT32, {})},
                    {"nested", GGUFValue::array(GGUFValueType::ARRAY, {GGUFValue::array_of(std::vector<int16_t>{1, -1}),
                                                                        GGUFValue::array_of(std::vector<int16_t>{7})})}};
  save_gguf(dir / "p.gguf", arrays, meta);
  GGUFFile f = load_gguf_file(dir / "p.gguf");
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.metadata, meta);
  EXPECT_EQ(f.metadata.at("nested").as_array()[0].as_ints(), (std::vector<int64_t>{1, -1}));
  auto [loaded, m2] = load_gguf(dir / "p.gguf");
  for (auto& [k, a] : arrays) {
    SCOPED_TRACE(k);
    EXPECT_EQ(loaded.at(k).dtype(), a.dtype());
    EXPECT_EQ(loaded.at(k).shape(), a.shape());
    EXPECT_EQ(bytes(loaded.at(k)), bytes(a));
  }
  for (auto& [name, t] : f.tensors) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data.raw_data()) % 64, 0u) << name;  // aligned in the mapping
  }
  // Raw tensors written back give the same bytes.
  save_gguf(dir / "q.gguf", f.tensors, f.metadata);
  EXPECT_EQ(read_file(dir / "q.gguf"), read_file(dir / "p.gguf"));
}

TEST(IoGguf, EveryBlockTypeQuantizesWithinBoundsAndIsStable) {
  TempDir dir;
  array x = random_array({8, 512}, float32, -1.0, 1.0, 7);
  auto xv = x.to_vector<double>();
  std::unordered_map<std::string, array> arrays;
  GGUFSaveOptions opts;
  for (GGMLType t : kBlockTypes) {
    SCOPED_TRACE(ggml_traits(t).name);
    GGUFTensor q = gguf_quantize(x, t);
    EXPECT_EQ(q.data.nbytes(), 8 * 512 / ggml_traits(t).block_size * ggml_traits(t).type_size);
    array y = gguf_to_array(q);
    EXPECT_EQ(y.shape(), x.shape());
    auto yv = y.to_vector<double>();
    size_t bs = ggml_traits(t).block_size;
    double worst = 0, se = 0;
    for (size_t b = 0; b < xv.size() / bs; ++b) {
      double amax = 0;
      for (size_t i = 0; i < bs; ++i) amax = std::max(amax, std::abs(xv[b * bs + i]));
      for (size_t i = 0; i < bs; ++i) {
        double e = std::abs(yv[b * bs + i] - xv[b * bs + i]);
        worst = std::max(worst, e / amax);
        se += e * e;
      }
    }
    EXPECT_LE(worst, error_bound(t));
    EXPECT_GT(worst, 0.0);  // the round trip is lossy: a broken quantizer returning x would fail above
    // Re-quantizing dequantized values changes them by much less than the first quantization.
    array z = gguf_to_array(gguf_quantize(y, t));
    auto zv = z.to_vector<double>();
    double drift = 0;
    for (size_t i = 0; i < zv.size(); ++i) drift = std::max(drift, std::abs(zv[i] - yv[i]));
    EXPECT_LE(drift, 0.5 * error_bound(t));
    // float16 / bfloat16 outputs are the float32 values rounded.
    EXPECT_TRUE(all_close(gguf_to_array(q, float16), yv, 1e-3, 1e-6));
    EXPECT_TRUE(all_close(gguf_to_array(q, bfloat16), yv, 8e-3, 1e-6));
    arrays.emplace(ggml_traits(t).name, x);
    opts.types[ggml_traits(t).name] = t;
  }
  arrays.emplace("norm", formula_array(float32, {512}));  // stays F32 under a default type
  arrays.emplace("default_q", x);
  opts.default_type = GGMLType::Q4_K;
  save_gguf(dir / "q.gguf", arrays, {{"general.architecture", "test"}}, opts);
  GGUFFile f = load_gguf_file(dir / "q.gguf");
  for (auto& [name, t] : f.tensors) {
    SCOPED_TRACE(name);
    if (name == "norm") {
      EXPECT_EQ(t.type, GGMLType::F32);
    } else if (name == "default_q") {
      EXPECT_EQ(t.type, GGMLType::Q4_K);
    } else {
      EXPECT_EQ(t.type, ggml_type_from_name(name));
      EXPECT_EQ(bytes(t.data), bytes(gguf_quantize(x, t.type).data));
    }
  }
}

TEST(IoGguf, QuantizedEdgeCases) {
  // All-zero and constant blocks, large magnitudes: finite results, zeros stay zero.
  std::vector<float> v(512, 0.0f);
  for (size_t i = 256; i < 512; ++i) v[i] = 3.0f;
  array x(v, {2, 256}, float32);
  for (GGMLType t : kBlockTypes) {
    SCOPED_TRACE(ggml_traits(t).name);
    auto y = gguf_to_array(gguf_quantize(x, t)).to_vector<double>();
    for (size_t i = 0; i < 256; ++i) ASSERT_EQ(y[i], 0.0);
    for (size_t i = 256; i < 512; ++i) ASSERT_NEAR(y[i], 3.0, 3.0 * error_bound(t) + 1e-3);
  }
  EXPECT_TRUE(throws_with("[gguf]", [] { gguf_quantize(zeros({2, 33}, float32), GGMLType::Q4_0); }));
  EXPECT_TRUE(throws_with("[gguf]", [] { gguf_quantize(zeros({2, 32}, int32), GGMLType::Q4_0); }));
  EXPECT_TRUE(throws_with("[gguf]", [] {
    TempDir d;
    save_gguf(d / "x.gguf", {{"u", zeros({2}, uint32)}});
  }));
}

TEST(IoGguf, ReadsGgufPyFixture) {
  GGUFFile f = load_gguf_file(fixture("gguf_fixture.gguf"));
  EXPECT_EQ(f.alignment, 64u);
  const auto& m = f.metadata;
  EXPECT_EQ(m.at("general.architecture").as_string(), "tessera-test");
  EXPECT_EQ(m.at("t.u8").type(), GGUFValueType::UINT8);
  EXPECT_EQ(m.at("t.u8").as_uint(), 200u);
  EXPECT_EQ(m.at("t.i8").as_int(), -100);
  EXPECT_EQ(m.at("t.u16").as_uint(), 60000u);
  EXPECT_EQ(m.at("t.i16").as_int(), -30000);
  EXPECT_EQ(m.at("t.u32").as_uint(), 4000000000u);
  EXPECT_EQ(m.at("t.i32").as_int(), -2000000000);
  EXPECT_EQ(m.at("t.u64").as_uint(), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(m.at("t.i64").as_int(), -(int64_t{1} << 62));
  EXPECT_EQ(m.at("t.f32").type(), GGUFValueType::FLOAT32);
  EXPECT_EQ(m.at("t.f32").as_float(), 1.5);
  EXPECT_EQ(m.at("t.f64").as_float(), -2.25);
  EXPECT_TRUE(m.at("t.bool").as_bool());
  EXPECT_EQ(m.at("t.str").as_string(), "h\xc3\xa9llo w\xc3\xb6rld");
  EXPECT_EQ(m.at("t.arr_str").as_strings(), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(m.at("t.arr_f32").as_floats(), (std::vector<double>{0.5, -1.0, 3.0}));
  EXPECT_EQ(m.at("t.arr_i16").array_type(), GGUFValueType::INT16);
  EXPECT_EQ(m.at("t.arr_i16").as_ints(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(m.at("t.nested").array_type(), GGUFValueType::ARRAY);
  EXPECT_EQ(m.at("t.nested").as_array()[1].as_strings(), (std::vector<std::string>{"z"}));
  auto [arrays, meta] = load_gguf(fixture("gguf_fixture.gguf"));
  for (Dtype d : {float32, float16, float64, int8, int16, int32, int64, bfloat16}) {
    SCOPED_TRACE(dtype_name(d));
    array a = arrays.at("plain." + dtype_name(d));
    EXPECT_EQ(a.dtype(), d);
    EXPECT_EQ(a.shape(), (Shape{2, 3, 4}));
    EXPECT_TRUE(all_close(a, formula_values(d, 24), 0, 0));
  }
  auto expected = load_npz(fixture("gguf_expected.npz"));
  ASSERT_EQ(expected.size(), 12u);
  for (auto& [name, e] : expected) {
    SCOPED_TRACE(name);
    array a = arrays.at("q." + name);
    EXPECT_EQ(a.shape(), e.shape());
    EXPECT_TRUE(all_close(a, e.to_vector<double>(), 1e-6, 1e-7));
  }
}

TEST(IoGguf, ReadsRealTinyLlama) {
  GGUFFile f = load_gguf_file(shared("models/gguf/llama-2-tiny-random.gguf"));
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.metadata.size(), 18u);
  EXPECT_EQ(f.metadata.at("general.architecture").as_string(), "llama");
  EXPECT_EQ(f.metadata.at("llama.embedding_length").as_uint(), 8u);
  EXPECT_EQ(f.metadata.at("llama.feed_forward_length").as_uint(), 32u);
  EXPECT_NEAR(f.metadata.at("llama.attention.layer_norm_rms_epsilon").as_float(), 1e-5, 1e-12);
  EXPECT_EQ(f.metadata.at("tokenizer.ggml.tokens").as_array().size(), 32000u);
  ASSERT_EQ(f.tensors.size(), 12u);
  std::map<std::string, std::pair<GGMLType, Shape>> want = {
      {"token_embd.weight", {GGMLType::F16, {32000, 8}}}, {"blk.0.ffn_gate.weight", {GGMLType::F16, {32, 8}}},
      {"blk.0.ffn_down.weight", {GGMLType::F16, {8, 32}}}, {"blk.0.attn_norm.weight", {GGMLType::F32, {8}}},
      {"output.weight", {GGMLType::F16, {32000, 8}}}};
  for (auto& [name, t] : f.tensors) {
    if (!want.count(name)) continue;
    EXPECT_EQ(t.type, want[name].first) << name;
    EXPECT_EQ(t.shape, want[name].second) << name;
  }
  auto arrays = load(shared("models/gguf/llama-2-tiny-random.gguf"));
  auto expected = load_npz(fixture("real_gguf_expected.npz"));
  for (const char* n : {"blk.0.attn_q.weight", "blk.0.ffn_down.weight", "output_norm.weight"}) {
    EXPECT_TRUE(all_close(arrays.at(n), expected.at(n).to_vector<double>(), 0, 0)) << n;
  }
  array rows = take(arrays.at("token_embd.weight"), array({0, 1, 31999}), 0);
  EXPECT_TRUE(all_close(rows, expected.at("token_embd_rows").to_vector<double>(), 0, 0));
}

TEST(IoGguf, ReadsRealVocab) {
  auto r = load_with_metadata(shared("vocab/ggml-vocab-llama-spm.gguf"));
  EXPECT_TRUE(r.arrays.empty());
  const auto& m = r.gguf_metadata;
  EXPECT_EQ(m.size(), 22u);
  EXPECT_EQ(m.at("tokenizer.ggml.model").as_string(), "llama");
  EXPECT_TRUE(m.at("tokenizer.ggml.add_bos_token").as_bool());
  EXPECT_FALSE(m.at("tokenizer.ggml.add_eos_token").as_bool());
  auto tokens = m.at("tokenizer.ggml.tokens").as_strings();
  auto scores = m.at("tokenizer.ggml.scores").as_floats();
  auto types = m.at("tokenizer.ggml.token_type").as_ints();
  ASSERT_EQ(tokens.size(), m.at("llama.vocab_size").as_uint());
  ASSERT_EQ(scores.size(), tokens.size());
  ASSERT_EQ(types.size(), tokens.size());
  EXPECT_EQ(m.at("tokenizer.ggml.token_type").array_type(), GGUFValueType::INT32);
  std::ifstream in(fixture("real_gguf_expected.json"));
  auto j = nlohmann::json::parse(in);
  for (size_t k = 0; k < j["indices"].size(); ++k) {
    size_t i = j["indices"][k].get<size_t>();
    EXPECT_EQ(tokens[i], j["tokens"][k].get<std::string>()) << i;
    EXPECT_EQ(scores[i], j["scores"][k].get<double>()) << i;
    EXPECT_EQ(types[i], j["token_type"][k].get<int64_t>()) << i;
  }
}

namespace {
// A GGUF file with one F32 tensor [4], for targeted corruption. Offsets: magic 0, version 4,
// n_tensors 8, n_kv 16, then kv "k" = u32.
std::vector<uint8_t> small_gguf() {
  TempDir d;
  save_gguf(d / "s.gguf", {{"t", formula_array(float32, {4})}}, {{"k", uint32_t{7}}});
  return read_file(d / "s.gguf");
}
void gg_load(const std::vector<uint8_t>& b) {
  GGUFFile f = load_gguf_file(tessera::io::own_bytes(b));
  for (auto& [n, t] : f.tensors) gguf_to_array(t).eval();
}
template <typename T>
std::vector<uint8_t> patched(std::vector<uint8_t> b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
  return b;
}
}  // namespace

TEST(IoGguf, MalformedInputsThrow) {
  auto good = small_gguf();
  EXPECT_NO_THROW(gg_load(good));
  auto bad = [](const std::vector<uint8_t>& b) { return throws_with("[gguf]", [&] { gg_load(b); }); };
  EXPECT_TRUE(bad({'G', 'G'}));
  EXPECT_TRUE(bad(patched(good, 0, uint32_t{0x12345678})));         // wrong magic
  EXPECT_TRUE(bad(patched(good, 4, uint32_t{1})));                  // v1
  EXPECT_TRUE(bad(patched(good, 4, uint32_t{0x03000000})));         // big endian
  EXPECT_TRUE(bad(patched(good, 8, uint64_t{1} << 60)));            // absurd tensor count
  EXPECT_TRUE(bad(patched(good, 16, ~uint64_t{0})));                // absurd kv count
  EXPECT_TRUE(bad(patched(good, 24, uint64_t{1} << 40)));           // key length past the end
  EXPECT_TRUE(bad(patched(good, 24 + 8 + 1, uint32_t{13})));        // unknown value type
  // Tensor info follows the kv: key (8+1), type (4), value (4) => tensor name at 41.
  const size_t ti = 41 + 8 + 1;                                     // n_dims
  EXPECT_TRUE(bad(patched(good, ti, uint32_t{5})));                 // too many dims
  EXPECT_TRUE(bad(patched(good, ti + 4, uint64_t{1} << 40)));       // data past the end
  EXPECT_TRUE(bad(patched(good, ti + 4 + 8, uint32_t{99})));        // unknown tensor type
  EXPECT_TRUE(bad(patched(good, ti + 4 + 8, uint32_t{2})));         // Q4_0 with 4 elements
  EXPECT_TRUE(bad(patched(good, ti + 4 + 8 + 4, uint64_t{32})));    // offset past the data
  EXPECT_TRUE(bad(patched(good, ti + 4 + 8 + 4, uint64_t{3})));     // misaligned offset
  EXPECT_TRUE(bad(std::vector<uint8_t>(good.begin(), good.end() - 1)));
  EXPECT_TRUE(throws_with("[gguf]", [] { load_gguf_file(std::string("/nonexistent.gguf")); }));
}

TEST(IoLoad, DispatchesOnExtension) {
  TempDir dir;
  array a = formula_array(float32, {3, 2});
  save_safetensors(dir / "a.safetensors", {{"a", a}}, {{"m", "1"}});
  save(dir / "a.npy", a);
  savez(dir / "a.npz", {{"a", a}});
  save_gguf(dir / "a.gguf", {{"a", a}}, {{"m", uint32_t{1}}});
  for (const char* ext : {"safetensors", "npy", "npz", "gguf"}) {
    SCOPED_TRACE(ext);
    auto r = load_with_metadata(dir / (std::string("a.") + ext));
    ASSERT_EQ(r.arrays.size(), 1u);
    EXPECT_EQ(bytes(r.arrays.begin()->second), bytes(a));
  }
  EXPECT_EQ(load_with_metadata(dir / "a.safetensors").metadata.at("m"), "1");
  EXPECT_EQ(load_with_metadata(dir / "a.gguf").gguf_metadata.at("m").as_uint(), 1u);
  EXPECT_TRUE(throws_with("[load]", [&] { load(dir / "a.bin"); }));
}

// Writes files with tessera for python/tests/test_io_interop.py, which reads them with numpy,
// safetensors and gguf-py: <source>/build/io_interop/.
TEST(IoInterop, WriteFilesForPythonReaders) {
  std::filesystem::path out = std::filesystem::path(TESSERA_SOURCE_DIR) / "build" / "io_interop";
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);
  ArrayMap st;
  for (Dtype d : all_dtypes()) {
    if (d != bfloat16 && d != complex64) st.emplace(dtype_name(d), formula_array(d, {2, 3, 4}));
  }
  st.emplace("strided", transpose(formula_array(float32, {4, 6})));
  save_safetensors((out / "tessera.safetensors").string(), st, {{"writer", "tessera"}});
  save_safetensors((out / "bf16.safetensors").string(), {{"bf16", formula_array(bfloat16, {2, 3, 4})}});
  for (Dtype d : all_dtypes()) {
    if (d != bfloat16) save((out / ("npy_" + dtype_name(d) + ".npy")).string(), formula_array(d, {2, 3, 4}));
  }
  savez_compressed((out / "arrays.npz").string(), {{"f", formula_array(float32, {2, 3, 4})}, {"i", formula_array(int64, {2, 3, 4})}});
  array x = random_array({4, 512}, float32, -1.0, 1.0, 11);
  save((out / "quant_input.npy").string(), x);
  std::unordered_map<std::string, array> arrays;
  GGUFSaveOptions opts;
  for (GGMLType t : kBlockTypes) {
    std::string n = ggml_traits(t).name;
    arrays.emplace("q." + n, x);
    opts.types["q." + n] = t;
    save((out / ("dequant_" + n + ".npy")).string(), gguf_to_array(gguf_quantize(x, t)));
  }
  for (Dtype d : {float32, float16, bfloat16, float64, int8, int16, int32, int64}) {
    arrays.emplace("plain." + dtype_name(d), formula_array(d, {2, 3, 4}));
  }
  GGUFMetadata meta{{"general.architecture", "tessera"}, {"t.u8", uint8_t{200}}, {"t.i64", int64_t{-5}},
                    {"t.f64", 0.125}, {"t.bool", true}, {"t.str", "h\xc3\xa9"},
                    {"t.strs", GGUFValue::array_of(std::vector<std::string>{"a", "bc"})},
                    {"t.nested", GGUFValue::array(GGUFValueType::ARRAY, {GGUFValue::array_of(std::vector<int32_t>{1, 2})})}};
  save_gguf((out / "tessera.gguf").string(), arrays, meta, opts);
  EXPECT_TRUE(std::filesystem::exists(out / "tessera.gguf"));
}

TEST(IoSafetensors, MisalignedTensorsAreCopiedAlignedOnesMapped) {
  // u8 [3] at offset 0, then f32 [2] at offset 3 (misaligned) in a hand-made file.
  std::string h = R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}})";
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<uint8_t> file(8);
  uint64_t n = h.size();
  std::memcpy(file.data(), &n, 8);
  file.insert(file.end(), h.begin(), h.end());
  for (uint8_t v : {1, 2, 3}) file.push_back(v);
  float f[2] = {1.5f, -2.0f};
  file.insert(file.end(), reinterpret_cast<uint8_t*>(f), reinterpret_cast<uint8_t*>(f) + 8);
  auto [arrays, meta] = load_safetensors(tessera::io::own_bytes(file));
  array b = arrays.at("b");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.raw_data()) % 4, 0u);
  EXPECT_TRUE(all_close(b, {1.5, -2.0}, 0, 0));
  EXPECT_TRUE(all_close(arrays.at("a"), {1, 2, 3}, 0, 0));
  // tessera's writer orders by element size, so all tensors come out aligned.
  TempDir dir;
  save_safetensors(dir / "m.safetensors", {{"a", formula_array(uint8, {3})}, {"b", formula_array(float64, {2})},
                                           {"c", formula_array(int16, {3})}, {"d", formula_array(float32, {1})}});
  auto [m, mm] = load_safetensors(dir / "m.safetensors");
  for (auto& [k, a] : m) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw_data()) % a.itemsize(), 0u) << k;
    EXPECT_TRUE(static_cast<bool>(a.data_shared_ptr()->deleter)) << k;
  }
}
