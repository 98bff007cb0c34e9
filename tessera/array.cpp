// array: construction, buffers and views, graph teardown without recursion, host conversion.
#include "tessera/array.h"

#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <sstream>
#include <unordered_set>

#include "tessera/backend/gpu.h"
#include "tessera/host_export.h"
#include "tessera/primitive.h"
#include "tessera/scheduler.h"

namespace tessera {

size_t shape_size(const Shape& shape) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[shape] negative dimension in shape " + shape_str(shape) + ".");
    if (d != 0 && n > std::numeric_limits<size_t>::max() / static_cast<size_t>(d)) {
      throw std::invalid_argument("[shape] shape " + shape_str(shape) + " has too many elements.");
    }
    n *= static_cast<size_t>(d);
  }
  return n;
}

Strides row_major_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ",";
  os << ")";
  return os.str();
}

namespace {
// Buffers marked by mark_host_exported (host_export.h), a side table so the Data layout stays as is;
// the count keeps the common case (nothing exported) free of the lock.
std::mutex& exported_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_set<const array::Data*>& exported_set() {
  static std::unordered_set<const array::Data*> s;
  return s;
}
std::atomic<size_t> exported_count{0};

bool exported_data(const array::Data* d) {
  if (exported_count.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lk(exported_mutex());
  return exported_set().count(d) > 0;
}
}  // namespace

void mark_host_exported(const array& a) {
  auto& d = a.data_shared_ptr();
  if (!d) return;
  {
    std::lock_guard lk(exported_mutex());
    if (exported_set().insert(d.get()).second) exported_count.fetch_add(1, std::memory_order_release);
  }
  // The exported view is of host memory: bring the host side up to date before the device copy
  // stops being trusted (an array computed on the GPU may never have been read on the host).
  d->sync_to_host();
  std::lock_guard lk(d->mu);
  d->device_valid = false;
}

bool is_host_exported(const array& a) { return a.data_shared_ptr() && exported_data(a.data_shared_ptr().get()); }

array::Data::~Data() {
  if (exported_count.load(std::memory_order_acquire) > 0) {
    std::lock_guard lk(exported_mutex());
    if (exported_set().erase(this)) exported_count.fetch_sub(1, std::memory_order_release);
  }
  if (device_ptr) gpu::free(device_ptr, buffer.size);
  if (deleter) {
    deleter(ptr);
  } else {
    allocator::free(buffer);
  }
}

void array::Data::sync_to_host() {
  std::lock_guard lk(mu);
  if (host_valid.load(std::memory_order_relaxed)) return;
  if (!ptr && buffer.size > 0) {
    buffer = allocator::malloc(buffer.size);
    ptr = buffer.ptr;
  }
  if (buffer.size > 0) gpu::copy_to_host(ptr, device_ptr, buffer.size);
  host_valid.store(true, std::memory_order_release);
}

void* array::Data::to_device() {
  std::lock_guard lk(mu);
  // An exported host buffer may have been written since the last upload (unless a GPU kernel
  // wrote the device side since: then that one is the valid copy).
  if (!device_valid || (host_valid.load(std::memory_order_acquire) && exported_data(this))) {
    if (!device_ptr && buffer.size > 0) device_ptr = gpu::malloc(buffer.size);
    if (buffer.size > 0) gpu::copy_to_device(device_ptr, ptr, buffer.size);
    device_valid = true;
  }
  return device_ptr;
}

array::ArrayDesc::ArrayDesc(Shape s, Dtype d)
    : shape(std::move(s)), strides(row_major_strides(shape)), size(shape_size(shape)), dtype(d) {}

array::ArrayDesc::ArrayDesc(Shape s, Dtype d, std::shared_ptr<Primitive> p, std::vector<array> in)
    : shape(std::move(s)),
      strides(row_major_strides(shape)),
      size(shape_size(shape)),
      dtype(d),
      primitive(std::move(p)),
      inputs(std::move(in)) {}

// A group of sibling outputs only referenced by each other (plus `extra` handles on `d`) is
// garbage: clear their sibling lists so the cycle breaks.
template <typename DescPtr>
void break_sibling_cycle(DescPtr& d, long extra) {
  if (d->siblings.empty()) return;
  long k = static_cast<long>(d->siblings.size());  // each desc is held by k sibling lists... of others
  if (d.use_count() != k + extra) return;
  // Every other member must be held only by the other k lists (itself excluded: k - 1 + d's list).
  for (auto& s : d->siblings) {
    if (s.desc_.use_count() != k) return;
  }
  auto sibs = std::move(d->siblings);
  d->siblings.clear();
  for (auto& s : sibs) s.desc_->siblings.clear();
}

array::~array() {
  if (desc_ && !desc_->siblings.empty()) break_sibling_cycle(desc_, 1);
}

array::ArrayDesc::~ArrayDesc() {
  if (inputs.empty()) return;
  std::vector<std::shared_ptr<ArrayDesc>> stack;
  auto steal_inputs = [&stack](ArrayDesc& d) {
    for (auto& a : d.inputs) {
      if (a.desc_) stack.push_back(std::move(a.desc_));
    }
    d.inputs.clear();
  };
  steal_inputs(*this);
  while (!stack.empty()) {
    auto d = std::move(stack.back());
    stack.pop_back();
    break_sibling_cycle(d, 1);
    if (d.use_count() == 1) steal_inputs(*d);
    // d is released here; its inputs were moved to the stack, so nothing recurses.
  }
}

array::array(void* data, Shape shape, Dtype dtype, std::function<void(void*)> deleter)
    : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype)) {
  desc_->data = std::make_shared<Data>(data, nbytes(), std::move(deleter));
  desc_->data_size = size();
  desc_->status = Status::available;
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs)
    : desc_(std::make_shared<ArrayDesc>(std::move(shape), dtype, std::move(primitive), std::move(inputs))) {}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  std::vector<array> outs;
  outs.reserve(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    outs.push_back(array(std::move(shapes[i]), dtypes[i], primitive, inputs));
    outs.back().desc_->position = static_cast<int>(i);
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    for (size_t j = 0; j < outs.size(); ++j) {
      if (i != j) outs[i].desc_->siblings.push_back(outs[j]);
    }
  }
  return outs;
}

ShapeElem array::shape(int dim) const {
  int nd = ndim();
  int d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd) {
    throw std::out_of_range("[shape] dimension " + std::to_string(dim) + " is out of range for an array with " +
                            std::to_string(nd) + " dimensions.");
  }
  return desc_->shape[d];
}

int64_t array::strides(int dim) const {
  int nd = ndim();
  int d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd) throw std::out_of_range("[strides] dimension out of range.");
  return desc_->strides[d];
}

std::vector<array> array::outputs() const {
  std::vector<array> outs = desc_->siblings;
  outs.insert(outs.begin() + desc_->position, *this);
  return outs;
}

void array::detach() {
  for (auto& s : desc_->siblings) {
    s.desc_->primitive = nullptr;
    s.desc_->inputs.clear();
  }
  auto sibs = std::move(desc_->siblings);
  desc_->siblings.clear();
  for (auto& s : sibs) s.desc_->siblings.clear();
  desc_->primitive = nullptr;
  desc_->inputs.clear();
}

void array::eval() {
  if (status() == Status::available) return wait_for(*this);  // GPU work behind it may be queued
  tessera::eval({*this});
}

bool array::is_available() const { return status() == Status::available; }

void array::wait() const {
  auto st = status();
  if (st == Status::unscheduled) {
    throw std::runtime_error("[array] wait() on an array that was never scheduled; call eval first.");
  }
  wait_for(*this);
}

void array::set_data(allocator::Buffer buf) {
  desc_->data = std::make_shared<Data>(buf);
  set_row_contiguous_layout();
}

void array::set_device_data(void* device_ptr) {
  desc_->data = std::make_shared<Data>(Data::DeviceOnly{}, device_ptr, nbytes());
  set_row_contiguous_layout();
}

void* array::device_data() const {
  return static_cast<char*>(desc_->data->to_device()) + desc_->offset;
}

bool array::is_donatable_device() const {
  return desc_.use_count() == 1 && desc_->data && desc_->data.use_count() == 1 && !desc_->data->deleter &&
         desc_->flags.row_contiguous && desc_->data_size == desc_->size;
}

void array::mark_device_written() const {
  std::lock_guard lk(desc_->data->mu);
  desc_->data->host_valid.store(false, std::memory_order_release);
}

void array::set_row_contiguous_layout() {
  desc_->offset = 0;
  desc_->data_size = size();
  desc_->strides = row_major_strides(desc_->shape);
  desc_->flags = Flags{true, true, ndim() <= 1 || size() <= 1};
  if (!desc_->flags.col_contiguous) {
    int non_one = 0;
    for (auto d : desc_->shape) non_one += d > 1;
    desc_->flags.col_contiguous = non_one <= 1;
  }
}

void array::set_data(allocator::Buffer buf, size_t data_size, Strides strides, Flags flags) {
  desc_->data = std::make_shared<Data>(buf);
  desc_->offset = 0;
  desc_->data_size = data_size;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
}

void array::copy_shared_buffer(const array& other, const Strides& strides, Flags flags, size_t data_size,
                               int64_t offset) {
  desc_->data = other.desc_->data;
  desc_->offset = other.desc_->offset + offset;
  desc_->strides = strides;
  desc_->flags = flags;
  desc_->data_size = data_size;
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size());
}

bool array::is_donatable() const {
  // Held only by this handle (the graph edge being consumed) and its buffer by this array only.
  return desc_.use_count() == 1 && desc_->data && desc_->data.use_count() == 1 && !desc_->data->deleter &&
         !desc_->data->device_ptr && desc_->flags.row_contiguous && desc_->data_size == desc_->size;
}

void array::init_from_host(const void* src, Dtype src_dtype, size_t n) {
  set_data(allocator::malloc(nbytes()));
  convert_to_host(src, src_dtype, data<void>(), dtype(), n);
  desc_->status = Status::available;
}

namespace {
template <typename To, typename From>
To convert_one(From v) {
  if constexpr (std::is_same_v<To, complex64_t>) {
    if constexpr (std::is_same_v<From, complex64_t>) {
      return v;
    } else {
      return complex64_t(static_cast<float>(static_cast<acc_t<From>>(v)), 0.0f);
    }
  } else if constexpr (std::is_same_v<From, complex64_t>) {
    return To(static_cast<acc_t<To>>(v.real()));
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<acc_t<From>>(v) != acc_t<From>(0);
  } else {
    return static_cast<To>(static_cast<acc_t<To>>(static_cast<acc_t<From>>(v)));
  }
}
}  // namespace

void convert_to_host(const void* src, Dtype src_dtype, void* dst, Dtype dst_dtype, size_t n) {
  if (src_dtype == dst_dtype) {
    std::memcpy(dst, src, n * src_dtype.size);
    return;
  }
  dispatch_dtype(src_dtype, [&](auto s) {
    using S = decltype(s);
    dispatch_dtype(dst_dtype, [&](auto d) {
      using D = decltype(d);
      const S* in = static_cast<const S*>(src);
      D* out = static_cast<D*>(dst);
      for (size_t i = 0; i < n; ++i) out[i] = convert_one<D, S>(in[i]);
    });
  });
}

}  // namespace tessera
