// Read-only byte sources for the file parsers: a memory-mapped file or an owned heap buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tessera/array.h"

namespace tessera::io {

// Immutable bytes shared by every array that points into them (the last owner unmaps/frees).
class Bytes {
 public:
  virtual ~Bytes() = default;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 protected:
  const uint8_t* data_{nullptr};
  size_t size_{0};
};

// Maps `path` read-only (copy-on-write private mapping); `area` prefixes error messages.
std::shared_ptr<const Bytes> map_file(const std::string& path, const std::string& area);
// Takes ownership of a buffer (used for in-memory parsing, fuzzing and decompressed zip entries).
std::shared_ptr<const Bytes> own_bytes(std::vector<uint8_t> buf);

// An array of `shape`/`dtype` whose data are bytes [offset, offset + nbytes) of `src`, kept alive
// by the array (zero copy; nothing is read until the data are used). A tensor not aligned to its
// element size is copied instead.
array view_bytes(const std::shared_ptr<const Bytes>& src, size_t offset, Shape shape, Dtype dtype);

// Bounds-checked little-endian reader over a byte range; throws "[area] ..." on truncation.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, std::string area) : p_(data), size_(size), area_(std::move(area)) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  void seek(size_t pos);
  void need(size_t n, const char* what) const;
  const uint8_t* take(size_t n, const char* what) {
    need(n, what);
    const uint8_t* r = p_ + pos_;
    pos_ += n;
    return r;
  }
  template <typename T>
  T get(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }
  [[noreturn]] void fail(const std::string& msg) const;

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_{0};
  std::string area_;
};

// Streams bytes to a file, throwing "[area] ..." on any write error.
class Writer {
 public:
  Writer(const std::string& path, std::string area);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void write(const void* data, size_t n);
  template <typename T>
  void put(T v) {
    write(&v, sizeof(T));
  }
  void pad_to(size_t alignment);  // zero bytes until the position is a multiple of alignment
  size_t pos() const { return pos_; }
  void close();  // flushes; errors are reported here rather than silently in the destructor

 private:
  std::FILE* f_{nullptr};
  size_t pos_{0};
  std::string path_, area_;
};

// Writes the row-major bytes of `a` (evaluated here; non-contiguous arrays are copied one tensor at
// a time) to w.
void write_array_data(Writer& w, array a);

// a * b with overflow detection; false on overflow.
inline bool mul_ok(size_t a, size_t b, size_t* out) { return !__builtin_mul_overflow(a, b, out); }

}  // namespace tessera::io
