// The lazy n-dimensional array: shape/strides/dtype, a graph node (primitive + inputs), and its data.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/dtype.h"
#include "tessera/memory.h"

namespace tessera {

using ShapeElem = int32_t;
using Shape = std::vector<ShapeElem>;
using Strides = std::vector<int64_t>;  // in elements, may be 0 (broadcast) or negative

class Primitive;
class Event;

// Total number of elements of a shape; throws "[shape] ..." on negative dims or overflow.
size_t shape_size(const Shape& shape);
// Row-major strides of a shape.
Strides row_major_strides(const Shape& shape);
std::string shape_str(const Shape& shape);

class array {
 public:
  // Scalars.
  template <typename T>
    requires requires { TypeToDtype<std::remove_cv_t<T>>::value; }  // keeps is_constructible SFINAE-friendly
  explicit array(T val, Dtype dtype = dtype_of<T>);
  // 1-D from a list, or n-D with an explicit shape (size must match).
  template <typename T>
  array(std::initializer_list<T> data);
  template <typename T>
  array(std::initializer_list<T> data, Shape shape, Dtype dtype = dtype_of<T>);
  template <typename T>
  array(const std::vector<T>& data, Shape shape, Dtype dtype = dtype_of<T>);
  // Adopts a buffer (e.g. a memory-mapped file) with a custom deleter; row-major contiguous.
  array(void* data, Shape shape, Dtype dtype, std::function<void(void*)> deleter);

  // A lazy node: the output of `primitive` applied to `inputs`.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  // Several outputs of one primitive; they know each other as siblings.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);

  ~array();
  array(const array&) = default;
  array(array&&) = default;
  array& operator=(const array&) = default;
  array& operator=(array&&) = default;

  // Metadata (never triggers evaluation).
  Dtype dtype() const { return desc_->dtype; }
  const Shape& shape() const { return desc_->shape; }
  ShapeElem shape(int dim) const;  // negative dims count from the end
  const Strides& strides() const { return desc_->strides; }
  int64_t strides(int dim) const;
  int ndim() const { return static_cast<int>(desc_->shape.size()); }
  size_t size() const { return desc_->size; }
  size_t itemsize() const { return desc_->dtype.size; }
  size_t nbytes() const { return size() * itemsize(); }
  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }

  // Evaluation.
  void eval();  // computes this array (and what it needs) now
  bool is_available() const;  // data present
  void wait() const;          // waits for an async_eval'd array; rethrows its error
  template <typename T>
  T item();  // the value of a size-1 array, converted to T
  template <typename T>
  std::vector<T> to_vector();  // all values in row-major logical order, converted to T

  // Raw data on the host: valid once evaluated; respects offset (views) but not strides. In CUDA
  // builds a buffer whose valid copy lives on the GPU is copied back first (once, thread-safe).
  template <typename T>
  T* data() {
#ifdef TESSERA_CUDA
    if (!desc_->data->host_valid.load(std::memory_order_acquire)) [[unlikely]] desc_->data->sync_to_host();
#endif
    return reinterpret_cast<T*>(static_cast<char*>(desc_->data->ptr) + desc_->offset);
  }
  template <typename T>
  const T* data() const {
#ifdef TESSERA_CUDA
    if (!desc_->data->host_valid.load(std::memory_order_acquire)) [[unlikely]] desc_->data->sync_to_host();
#endif
    return reinterpret_cast<const T*>(static_cast<char*>(desc_->data->ptr) + desc_->offset);
  }
  const void* raw_data() const { return data<char>(); }

  // Layout flags of evaluated data.
  struct Flags {
    bool contiguous : 1;      // elements form a dense block (any order, no gaps, maybe broadcast-free)
    bool row_contiguous : 1;  // C order
    bool col_contiguous : 1;  // Fortran order
  };
  Flags flags() const { return desc_->flags; }
  // Number of elements the data buffer spans (< size() when broadcast).
  size_t data_size() const { return desc_->data_size; }
  size_t buffer_size() const { return desc_->data ? desc_->data->buffer.size : 0; }
  int64_t offset() const { return desc_->offset; }  // bytes from the buffer start

  // Graph.
  bool has_primitive() const { return desc_->primitive != nullptr; }
  Primitive& primitive() const { return *desc_->primitive; }
  std::shared_ptr<Primitive>& primitive_ptr() const { return desc_->primitive; }
  std::vector<array>& inputs() { return desc_->inputs; }
  const std::vector<array>& inputs() const { return desc_->inputs; }
  std::vector<array>& siblings() { return desc_->siblings; }
  const std::vector<array>& siblings() const { return desc_->siblings; }
  std::vector<array> outputs() const;  // this array and its siblings in output order
  int sibling_position() const { return desc_->position; }
  bool is_tracer() const { return desc_->is_tracer; }
  void set_tracer(bool t) { desc_->is_tracer = t; }
  // Drops primitive and inputs (after evaluation), so the graph behind it can be freed.
  void detach();

  // Status of a node in the evaluation pipeline.
  enum class Status : uint8_t { unscheduled, scheduled, available, failed };
  Status status() const { return desc_->status.load(std::memory_order_acquire); }
  void set_status(Status s) const { desc_->status.store(s, std::memory_order_release); }
  std::shared_ptr<Event>& event() const { return desc_->event; }
  std::exception_ptr& error() const { return desc_->error; }

  // For backends: give the array its data.
  void set_data(allocator::Buffer buf);  // fresh row-contiguous buffer of nbytes()
  void set_data(allocator::Buffer buf, size_t data_size, Strides strides, Flags flags);
  // Share another array's buffer (views). offset is in bytes, relative to `other`'s offset.
  void copy_shared_buffer(const array& other, const Strides& strides, Flags flags,
                          size_t data_size, int64_t offset = 0);
  void copy_shared_buffer(const array& other);
  // Reuse `other`'s buffer for this output when `other` is about to be freed (donation). A buffer
  // with a device copy is not donated to host kernels (the device copy would go stale).
  bool is_donatable() const;

  // For the GPU backend (CUDA builds). Device pointer of the data (offset applied), made valid on
  // the device first (one upload per change of side).
  void* device_data() const;
  // Gives the array a fresh row-contiguous buffer of nbytes() that lives only on the device.
  void set_device_data(void* device_ptr);
  // Donation for GPU kernels: this handle is the only user of the array and its buffer.
  bool is_donatable_device() const;
  // After a GPU kernel wrote into this array's existing buffer: the host copy is stale.
  void mark_device_written() const;

  // Holds the bytes behind one or more arrays: a host side and, in CUDA builds, a device side,
  // each with a validity flag. Host readers go through data(), GPU kernels through device_data().
  struct Data {
    allocator::Buffer buffer;  // host block (ptr null while only the device copy exists)
    void* ptr{nullptr};
    std::function<void(void*)> deleter;  // empty: return to the allocator
    void* device_ptr{nullptr};           // device block of buffer.size bytes, or null
    std::atomic<bool> host_valid{true};
    bool device_valid{false};  // guarded by mu
    std::mutex mu;
    explicit Data(allocator::Buffer b) : buffer(b), ptr(b.ptr) {}
    Data(void* p, size_t n, std::function<void(void*)> d) : buffer{p, n}, ptr(p), deleter(std::move(d)) {}
    struct DeviceOnly {};
    Data(DeviceOnly, void* dptr, size_t n) : buffer{nullptr, n}, device_ptr(dptr), host_valid(false), device_valid(true) {}
    Data(const Data&) = delete;
    Data& operator=(const Data&) = delete;
    ~Data();
    void sync_to_host();  // slow path of data(): copies the device side back
    void* to_device();    // uploads the host side if the device side is stale; returns device_ptr
  };
  const std::shared_ptr<Data>& data_shared_ptr() const { return desc_->data; }

 private:
  struct ArrayDesc {
    Shape shape;
    Strides strides;
    size_t size{0};
    Dtype dtype;
    std::shared_ptr<Primitive> primitive;
    std::vector<array> inputs;
    std::vector<array> siblings;
    int position{0};
    std::atomic<Status> status{Status::unscheduled};
    std::shared_ptr<Event> event;
    std::shared_ptr<Data> data;
    int64_t offset{0};
    size_t data_size{0};
    Flags flags{true, true, true};
    bool is_tracer{false};
    std::exception_ptr error;  // set when status is failed

    ArrayDesc(Shape s, Dtype d);
    ArrayDesc(Shape s, Dtype d, std::shared_ptr<Primitive> p, std::vector<array> in);
    ~ArrayDesc();  // frees deep graphs iteratively (no recursion off the stack)
  };

  explicit array(std::shared_ptr<ArrayDesc> d) : desc_(std::move(d)) {}
  template <typename DescPtr>
  friend void break_sibling_cycle(DescPtr& d, long extra);
  void init_from_host(const void* src, Dtype src_dtype, size_t n);
  void set_row_contiguous_layout();
  std::shared_ptr<ArrayDesc> desc_;
};

// Converts n values of any dtype into dst of type T.
void convert_to_host(const void* src, Dtype src_dtype, void* dst, Dtype dst_dtype, size_t n);

template <typename T>
  requires requires { TypeToDtype<std::remove_cv_t<T>>::value; }
array::array(T val, Dtype dtype) : desc_(std::make_shared<ArrayDesc>(Shape{}, dtype)) {
  init_from_host(&val, dtype_of<T>, 1);
}

template <typename T>
array::array(std::initializer_list<T> data)
    : desc_(std::make_shared<ArrayDesc>(Shape{static_cast<ShapeElem>(data.size())}, dtype_of<T>)) {
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> v(data.begin(), data.end());  // std::vector<bool> has no data()
    init_from_host(v.data(), bool_, v.size());
  } else {
    std::vector<T> v(data);
    init_from_host(v.data(), dtype_of<T>, v.size());
  }
}

template <typename T>
array::array(std::initializer_list<T> data, Shape shape, Dtype dtype)
    : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype)) {
  if (data.size() != size()) {
    throw std::invalid_argument("[array] data has " + std::to_string(data.size()) +
                                " elements but shape " + shape_str(this->shape()) + " needs " +
                                std::to_string(size()) + ".");
  }
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> v(data.begin(), data.end());
    init_from_host(v.data(), bool_, v.size());
  } else {
    std::vector<T> v(data);
    init_from_host(v.data(), dtype_of<T>, v.size());
  }
}

template <typename T>
array::array(const std::vector<T>& data, Shape shape, Dtype dtype)
    : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype)) {
  if (data.size() != size()) {
    throw std::invalid_argument("[array] data has " + std::to_string(data.size()) +
                                " elements but shape " + shape_str(this->shape()) + " needs " +
                                std::to_string(size()) + ".");
  }
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> tmp(data.begin(), data.end());
    init_from_host(tmp.data(), bool_, tmp.size());
  } else {
    init_from_host(data.data(), dtype_of<T>, data.size());
  }
}

template <typename T>
T array::item() {
  if (size() != 1) {
    throw std::invalid_argument("[item] expected an array of size 1, got shape " + shape_str(shape()) + ".");
  }
  eval();
  T out;
  convert_to_host(data<char>(), dtype(), &out, dtype_of<T>, 1);
  return out;
}

template <typename T>
std::vector<T> array::to_vector() {
  eval();
  std::vector<char> raw(size() * itemsize());
  // Walk the logical row-major order through the strides.
  size_t n = size();
  const char* base = data<char>();
  int nd = ndim();
  std::vector<int32_t> idx(nd, 0);
  for (size_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int d = 0; d < nd; ++d) off += idx[d] * strides()[d];
    std::copy_n(base + off * static_cast<int64_t>(itemsize()), itemsize(), raw.data() + i * itemsize());
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape()[d]) break;
      idx[d] = 0;
    }
  }
  std::vector<T> out(n);
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> tmp(n);
    convert_to_host(raw.data(), dtype(), tmp.data(), bool_, n);
    for (size_t i = 0; i < n; ++i) out[i] = tmp[i] != 0;
  } else {
    convert_to_host(raw.data(), dtype(), out.data(), dtype_of<T>, n);
  }
  return out;
}

}  // namespace tessera
