// CUDA reductions over (outer, len, inner) views: sum/max/min/mean/prod and argmax/argmin, and the
// row softmax. Rows (inner == 1) use one block each; columns use one thread per output.
#include <cfloat>
#include <climits>

#include "tessera/backend/cuda/kernels/common.cuh"

namespace tessera::cuda {

namespace {

template <typename A>
__device__ __forceinline__ A init_of(int op) {
  if constexpr (std::is_same_v<A, float>) {
    return op == r_max ? -INFINITY : op == r_min ? INFINITY : op == r_prod ? 1.0f : 0.0f;
  } else {
    return op == r_max ? INT_MIN : op == r_min ? INT_MAX : op == r_prod ? 1 : 0;
  }
}

template <typename A>
__device__ __forceinline__ A combine(int op, A a, A b) {
  switch (op) {
    case r_max:
      if constexpr (std::is_same_v<A, float>) return (a != a || b != b) ? a + b : fmaxf(a, b);
      else return a > b ? a : b;
    case r_min:
      if constexpr (std::is_same_v<A, float>) return (a != a || b != b) ? a + b : fminf(a, b);
      else return a < b ? a : b;
    case r_prod: return a * b;
    default: return a + b;
  }
}

template <typename A>
__device__ A block_reduce(int op, A v, A* shared) {
  for (int o = 16; o > 0; o >>= 1) v = combine(op, v, __shfl_xor_sync(0xffffffffu, v, o));
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  int nw = blockDim.x / 32;
  v = threadIdx.x < nw ? shared[threadIdx.x] : init_of<A>(op);
  if (warp == 0) {
    for (int o = 16; o > 0; o >>= 1) v = combine(op, v, __shfl_xor_sync(0xffffffffu, v, o));
  }
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  v = shared[0];
  __syncthreads();
  return v;
}

template <typename T>
using Acc = std::conditional_t<std::is_same_v<T, int32_t>, int32_t, float>;

template <typename T>
__device__ __forceinline__ Acc<T> load(const T* p) {
  if constexpr (std::is_same_v<T, int32_t>) return *p;
  else return to_f(*p);
}

template <typename T>
__device__ __forceinline__ T store(Acc<T> v) {
  if constexpr (std::is_same_v<T, int32_t>) return v;
  else return from_f<T>(v);
}

template <typename T>
__global__ void reduce_rows(int op, const T* in, T* out, int64_t len) {
  using A = Acc<T>;
  __shared__ A shared[32];
  const T* row = in + blockIdx.x * len;
  A acc = init_of<A>(op);
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) acc = combine(op, acc, load(row + j));
  acc = block_reduce(op, acc, shared);
  if (threadIdx.x == 0) {
    if (op == r_mean) acc = acc / static_cast<A>(len);
    out[blockIdx.x] = store<T>(acc);
  }
}

template <typename T>
__global__ void reduce_cols(int op, const T* in, T* out, int64_t outer, int64_t len, int64_t inner) {
  using A = Acc<T>;
  int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= outer * inner) return;
  int64_t o = i / inner, c = i % inner;
  const T* p = in + o * len * inner + c;
  A acc = init_of<A>(op);
  for (int64_t j = 0; j < len; ++j) acc = combine(op, acc, load(p + j * inner));
  if (op == r_mean) acc = acc / static_cast<A>(len);
  out[i] = store<T>(acc);
}

template <typename T>
__global__ void argreduce_kernel(bool is_max, const T* in, uint32_t* out, int64_t outer, int64_t len, int64_t inner) {
  int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= outer * inner) return;
  int64_t o = i / inner, c = i % inner;
  const T* p = in + o * len * inner + c;
  float best = load(p);
  uint32_t bi = 0;
  for (int64_t j = 1; j < len; ++j) {
    float v = load(p + j * inner);
    if (best != best) break;  // first NaN wins
    if (v != v || (is_max ? v > best : v < best)) {
      best = v;
      bi = static_cast<uint32_t>(j);
    }
  }
  out[i] = bi;
}

// One block per row: max, then sum of exp, then the write.
template <typename T>
__global__ void softmax_rows(const T* in, T* out, int64_t cols, bool log) {
  __shared__ float shared[32];
  const T* row = in + blockIdx.x * cols;
  T* orow = out + blockIdx.x * cols;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, to_f(row[j]));
  m = block_reduce(r_max, m, shared);
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += expf(to_f(row[j]) - m);
  s = block_reduce(r_sum, s, shared);
  if (log) {
    float ls = logf(s) + m;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = from_f<T>(to_f(row[j]) - ls);
  } else {
    float inv = 1.0f / s;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = from_f<T>(expf(to_f(row[j]) - m) * inv);
  }
}

template <typename F>
bool dispatch_reduce(int dt, F&& f) {
  if (dt == dt_int32) {
    f(int32_t{});
    return true;
  }
  return dispatch_float(dt, f);
}

}  // namespace

bool reduce_supported(int op, int dt) {
  if (dt == dt_int32) return op != r_mean;
  return dt == dt_f32 || dt == dt_f16 || dt == dt_bf16;
}

void reduce(int op, int dt, const void* in, void* out, size_t outer, size_t len, size_t inner, cudaStream_t st) {
  if (outer * inner == 0) return;
  dispatch_reduce(dt, [&](auto t) {
    using T = decltype(t);
    auto ip = static_cast<const T*>(in);
    auto op_ = static_cast<T*>(out);
    if (inner == 1) {
      int threads = len >= 1024 ? 512 : len >= 256 ? 256 : 64;
      reduce_rows<T><<<static_cast<unsigned>(outer), threads, 0, st>>>(op, ip, op_, len);
    } else {
      reduce_cols<T><<<blocks_for(outer * inner, 256), 256, 0, st>>>(op, ip, op_, outer, len, inner);
    }
  });
  TESSERA_KERNEL_CHECK();
}

void argreduce(bool is_max, int dt, const void* in, uint32_t* out, size_t outer, size_t len, size_t inner,
               cudaStream_t st) {
  if (outer * inner == 0) return;
  dispatch_reduce(dt, [&](auto t) {
    using T = decltype(t);
    argreduce_kernel<T><<<blocks_for(outer * inner, 128), 128, 0, st>>>(is_max, static_cast<const T*>(in), out,
                                                                         outer, len, inner);
  });
  TESSERA_KERNEL_CHECK();
}

void softmax(int dt, const void* in, void* out, size_t rows, size_t cols, bool log, cudaStream_t st) {
  if (rows == 0 || cols == 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    int threads = cols >= 2048 ? 512 : cols >= 256 ? 256 : 64;
    softmax_rows<T><<<static_cast<unsigned>(rows), threads, 0, st>>>(static_cast<const T*>(in),
                                                                       static_cast<T*>(out), cols, log);
  });
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
