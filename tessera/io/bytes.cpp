// Memory mapping, owned buffers, and the bounds-checked reader/writer shared by the io parsers.
#include "tessera/io/bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "tessera/memory.h"
#include "tessera/ops.h"

namespace tessera::io {

namespace {

class MappedBytes : public Bytes {
 public:
  MappedBytes(const std::string& path, const std::string& area) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("[" + area + "] cannot open " + path + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw std::runtime_error("[" + area + "] " + path + " is not a regular file.");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        throw std::runtime_error("[" + area + "] cannot map " + path + ": " + std::strerror(e));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~MappedBytes() override {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
};

class OwnedBytes : public Bytes {
 public:
  explicit OwnedBytes(std::vector<uint8_t> b) : buf_(std::move(b)) {
    data_ = buf_.data();
    size_ = buf_.size();
  }

 private:
  std::vector<uint8_t> buf_;
};

}  // namespace

std::shared_ptr<const Bytes> map_file(const std::string& path, const std::string& area) {
  return std::make_shared<MappedBytes>(path, area);
}

std::shared_ptr<const Bytes> own_bytes(std::vector<uint8_t> buf) {
  return std::make_shared<OwnedBytes>(std::move(buf));
}

array view_bytes(const std::shared_ptr<const Bytes>& src, size_t offset, Shape shape, Dtype dtype) {
  const uint8_t* p = src->data() + offset;
  size_t align = dtype == complex64 ? 4 : dtype.size;
  if (reinterpret_cast<uintptr_t>(p) % align != 0) {
    // Kernels expect naturally aligned elements: copy the (rare) misaligned tensor.
    size_t n = shape_size(shape) * dtype.size;
    allocator::Buffer buf = allocator::malloc(std::max<size_t>(1, n));
    std::memcpy(buf.ptr, p, n);
    return array(buf.ptr, std::move(shape), dtype, [buf](void*) { allocator::free(buf); });
  }
  return array(const_cast<uint8_t*>(p), std::move(shape), dtype, [keep = src](void*) mutable { keep.reset(); });
}

void Reader::seek(size_t pos) {
  if (pos > size_) fail("offset " + std::to_string(pos) + " is past the end (" + std::to_string(size_) + " bytes).");
  pos_ = pos;
}

void Reader::need(size_t n, const char* what) const {
  if (n > size_ - pos_) {
    fail(std::string("truncated input: ") + what + " needs " + std::to_string(n) + " bytes at offset " +
         std::to_string(pos_) + " but only " + std::to_string(size_ - pos_) + " remain.");
  }
}

void Reader::fail(const std::string& msg) const { throw std::runtime_error("[" + area_ + "] " + msg); }

Writer::Writer(const std::string& path, std::string area) : path_(path), area_(std::move(area)) {
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) throw std::runtime_error("[" + area_ + "] cannot create " + path + ": " + std::strerror(errno));
}

Writer::~Writer() {
  if (f_) std::fclose(f_);
}

void Writer::write(const void* data, size_t n) {
  if (n == 0) return;
  if (!f_ || std::fwrite(data, 1, n, f_) != n) {
    throw std::runtime_error("[" + area_ + "] write to " + path_ + " failed: " + std::strerror(errno));
  }
  pos_ += n;
}

void Writer::pad_to(size_t alignment) {
  static const char zeros[64] = {};
  while (pos_ % alignment != 0) write(zeros, std::min<size_t>(alignment - pos_ % alignment, sizeof(zeros)));
}

void Writer::close() {
  if (!f_) return;
  int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) throw std::runtime_error("[" + area_ + "] closing " + path_ + " failed: " + std::strerror(errno));
}

void write_array_data(Writer& w, array a) {
  if (a.nbytes() == 0) return;
  a.eval();
  if (!a.flags().row_contiguous || a.data_size() != a.size()) {
    a = contiguous(a);
    a.eval();
  }
  w.write(a.raw_data(), a.nbytes());
}

}  // namespace tessera::io
