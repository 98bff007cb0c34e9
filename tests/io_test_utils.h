// Helpers for the io test suites: fixture paths, formula values shared with make_fixtures.py, temp dirs.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_utils.h"
#include "tessera/io.h"

namespace tessera::testing::io_test {

inline std::string fixture(const std::string& name) { return std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/io/" + name; }
inline std::string shared(const std::string& rel) { return std::string(TESSERA_SHARED_DATA) + "/" + rel; }

// A fresh temporary directory removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("tessera_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

inline std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
inline void write_file(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The formulas of make_fixtures.py: s(i) = (7 i mod 23) - 11, u(i) = 7 i mod 23, b(i) = i mod 3 == 0,
// f(i) = s(i) / 4, c(i) = f(i) + 1j s(i+1) / 8.
inline double formula(Dtype d, size_t i) {
  double s = static_cast<double>(static_cast<int64_t>(i * 7 % 23) - 11);
  if (d == bool_) return i % 3 == 0 ? 1.0 : 0.0;
  if (is_unsigned(d)) return static_cast<double>(i * 7 % 23);
  if (is_floating_point(d)) return s / 4;
  return s;
}
inline array formula_array(Dtype d, const Shape& shape) {
  size_t n = shape_size(shape);
  if (d == complex64) {
    std::vector<complex64_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = complex64_t(static_cast<float>(formula(float32, i)), static_cast<float>(formula(int32, i + 1) / 8));
    return array(v, shape, complex64);
  }
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = formula(d, i);
  return astype(array(v, shape, float64), d);
}
inline std::vector<double> formula_values(Dtype d, size_t n) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = formula(d, i);
  return v;
}

// Row-major bytes of an array (for bit-exact comparisons).
inline std::vector<uint8_t> bytes(array a) {
  a = contiguous(a);
  a.eval();
  const uint8_t* p = a.nbytes() ? a.data<uint8_t>() : nullptr;
  return std::vector<uint8_t>(p, p + a.nbytes());
}

// Runs f; passes when it throws an exception whose message starts with `prefix`.
template <typename F>
::testing::AssertionResult throws_with(const std::string& prefix, F&& f) {
  try {
    f();
  } catch (const std::bad_alloc&) {
    return ::testing::AssertionFailure() << "bad_alloc";
  } catch (const std::exception& e) {
    if (std::string(e.what()).rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message '" << e.what() << "' lacks prefix " << prefix;
  }
  return ::testing::AssertionFailure() << "no exception";
}

}  // namespace tessera::testing::io_test
