// CUDA reductions over (outer, len, inner) views: sum/max/min/mean/prod and argmax/argmin, and the
// row softmax. Rows (inner == 1): blocks over row chunks with 16-byte loads (a second pass combines
// the chunks of long rows); columns: 32-column tiles with the reduced axis split over 16 thread rows.
// float64 accumulates in double, 16-bit floats in float, integers and bool in their own type (32-bit
// at least: bool/int8/int16 sums in int32, uint8/uint16 in uint32, as the CPU and sum's output dtype);
// all/any are and/or over bool; complex64 sum/prod/mean: one warp per output element.
#include <cfloat>
#include <climits>

#include "tessera/backend/gpu.h"
#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels/vec.cuh"
#include "tessera/backend/cuda/kernels_reduce.h"

namespace tessera::cuda {

namespace {

// Smallest and largest value of an integer type.
template <typename A>
__device__ __forceinline__ A int_lowest() {
  if constexpr (std::is_unsigned_v<A>) return A(0);
  else return static_cast<A>(std::make_unsigned_t<A>(1) << (sizeof(A) * 8 - 1));
}
template <typename A>
__device__ __forceinline__ A int_highest() {
  if constexpr (std::is_unsigned_v<A>) return static_cast<A>(~A(0));
  else return static_cast<A>(~int_lowest<A>());
}

template <typename A>
__device__ __forceinline__ A init_of(int op) {
  if constexpr (std::is_floating_point_v<A>) {
    return op == r_max ? A(-INFINITY) : op == r_min ? A(INFINITY) : op == r_prod ? A(1) : A(0);
  } else {
    return op == r_max ? int_lowest<A>() : op == r_min ? int_highest<A>() : (op == r_prod || op == r_and) ? A(1) : A(0);
  }
}

template <typename A>
__device__ __forceinline__ A combine(int op, A a, A b) {
  switch (op) {
    case r_max:
      if constexpr (std::is_same_v<A, float>) return (a != a || b != b) ? a + b : fmaxf(a, b);
      else if constexpr (std::is_same_v<A, double>) return (a != a || b != b) ? a + b : fmax(a, b);
      else return a > b ? a : b;
    case r_min:
      if constexpr (std::is_same_v<A, float>) return (a != a || b != b) ? a + b : fminf(a, b);
      else if constexpr (std::is_same_v<A, double>) return (a != a || b != b) ? a + b : fmin(a, b);
      else return a < b ? a : b;
    case r_prod: return static_cast<A>(a * b);
    case r_and:
    case r_or:
      if constexpr (std::is_integral_v<A>) return op == r_and ? (a & b) : (a | b);
      else return a;  // never reached: all/any reduce bool
    default: return static_cast<A>(a + b);
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

// Accumulation type: double for float64, float for the other floats, 32-bit at least for integers
// and bool (int32 for bool/int8/int16, uint32 for uint8/uint16), int64/uint64 for themselves.
template <typename T>
struct AccR {
  using type = std::conditional_t<is_half_v<T>, float, T>;
};
template <> struct AccR<bool> { using type = int32_t; };
template <> struct AccR<int8_t> { using type = int32_t; };
template <> struct AccR<int16_t> { using type = int32_t; };
template <> struct AccR<uint8_t> { using type = uint32_t; };
template <> struct AccR<uint16_t> { using type = uint32_t; };
template <typename T>
using Acc = typename AccR<T>::type;

// Value of an input element in the accumulation type (partials of a first pass already are).
template <typename A, typename In>
__device__ __forceinline__ A load_as(In v) {
  if constexpr (std::is_same_v<In, A>) return v;
  else if constexpr (is_half_v<In>) return to_f(v);
  else return static_cast<A>(v);
}

template <typename O, typename A>
__device__ __forceinline__ O store(A v) {
  if constexpr (std::is_same_v<O, A>) return v;
  else if constexpr (is_half_v<O>) return from_f<O>(v);
  else return static_cast<O>(v);
}

// Block (blockIdx.x, row blockIdx.y) reduces in[row * len + [x * chunk, (x + 1) * chunk)). With one
// chunk per row it writes out[row] (divided by mean_div when nonzero); else the partial to
// partial[row * gridDim.x + x]. Vec: rows start 16-byte aligned and chunk is a multiple of a pack.
// In: the input element type (A for the second pass over partials), O: the output type.
template <typename In, typename O, bool Vec>
__global__ void reduce_rows(int op, const In* in, O* out, Acc<In>* partial, int64_t len, int64_t chunk,
                            int64_t mean_div) {
  using A = Acc<In>;
  __shared__ A shared[32];
  const In* row = in + blockIdx.y * len;
  int64_t lo = blockIdx.x * chunk, hi = lo + chunk < len ? lo + chunk : len;
  A acc = init_of<A>(op);
  if constexpr (Vec) {
    constexpr int V = pack_of<In>();
    auto packs = reinterpret_cast<const Pack<In, V>*>(row);
    for (int64_t j = lo / V + threadIdx.x; j < hi / V; j += blockDim.x) {
      auto p = packs[j];
#pragma unroll
      for (int k = 0; k < V; ++k) acc = combine(op, acc, load_as<A>(p.v[k]));
    }
  } else {
    for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) acc = combine(op, acc, load_as<A>(row[j]));
  }
  acc = block_reduce(op, acc, shared);
  if (threadIdx.x == 0) {
    if (gridDim.x > 1) {
      partial[blockIdx.y * gridDim.x + blockIdx.x] = acc;
    } else {
      if (mean_div >= 0) acc = acc / static_cast<A>(mean_div);
      out[blockIdx.y] = store<O>(acc);
    }
  }
}

// Tiles of 32 columns (threadIdx.x) by blockDim.y slices of the reduced axis; rows by gridDim.y.
template <typename T, typename O>
__global__ void reduce_cols_tiled(int op, const T* in, O* out, int64_t outer, int64_t len, int64_t inner) {
  using A = Acc<T>;
  __shared__ A tile[16][33];
  int64_t c = blockIdx.x * 32 + threadIdx.x;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    A acc = init_of<A>(op);
    if (c < inner) {
      const T* p = in + o * len * inner + c;
      for (int64_t j = threadIdx.y; j < len; j += blockDim.y) acc = combine(op, acc, load_as<A>(p[j * inner]));
    }
    tile[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < inner) {
      for (int k = 1; k < static_cast<int>(blockDim.y); ++k) acc = combine(op, acc, tile[k][threadIdx.x]);
      if (op == r_mean) acc = acc / static_cast<A>(len);
      out[o * inner + c] = store<O>(acc);
    }
    __syncthreads();
  }
}

template <typename T, typename O>
__global__ void reduce_cols(int op, const T* in, O* out, int64_t outer, int64_t len, int64_t inner) {
  using A = Acc<T>;
  int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= outer * inner) return;
  int64_t o = i / inner, c = i % inner;
  const T* p = in + o * len * inner + c;
  A acc = init_of<A>(op);
  for (int64_t j = 0; j < len; ++j) acc = combine(op, acc, load_as<A>(p[j * inner]));
  if (op == r_mean) acc = acc / static_cast<A>(len);
  out[i] = store<O>(acc);
}

template <typename T>
__global__ void argreduce_kernel(bool is_max, const T* in, uint32_t* out, int64_t outer, int64_t len, int64_t inner) {
  int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= outer * inner) return;
  int64_t o = i / inner, c = i % inner;
  const T* p = in + o * len * inner + c;
  using A = std::conditional_t<is_half_v<T>, float, T>;  // integers compare exactly in their own type
  A best = load_as<A>(*p);
  uint32_t bi = 0;
  for (int64_t j = 1; j < len; ++j) {
    A v = load_as<A>(p[j * inner]);
    if (best != best) break;  // first NaN wins
    if (v != v || (is_max ? v > best : v < best)) {
      best = v;
      bi = static_cast<uint32_t>(j);
    }
  }
  out[i] = bi;
}

// (value, index) of an arg reduction: the better of two candidates. NaN beats numbers (the first NaN
// wins, as on the CPU); equal values keep the lower index.
template <typename A>
__device__ __forceinline__ bool arg_better(bool is_max, A v, uint32_t i, A bv, uint32_t bi) {
  const bool vn = v != v, bn = bv != bv;
  if (vn || bn) return vn && (!bn || i < bi);
  if (v == bv) return i < bi;
  return is_max ? v > bv : v < bv;
}

// One block per output element: threads stride over the reduced axis, then a block-wide reduction
// of (value, index) pairs. For long axes with few outputs (argmax over a vocabulary).
template <typename T>
__global__ void argreduce_block(bool is_max, const T* in, uint32_t* out, int64_t len, int64_t inner) {
  // Integers compare exactly, widened to a type the warp shuffles take.
  using A = std::conditional_t<is_half_v<T>, float,
                               std::conditional_t<std::is_floating_point_v<T>, T,
                                                  std::conditional_t<std::is_signed_v<T>, long long, unsigned long long>>>;
  __shared__ A sv[32];
  __shared__ uint32_t si[32];
  const int64_t i = blockIdx.x, o = i / inner, c = i % inner;
  const T* p = in + o * len * inner + c;
  A best = load_as<A>(p[0]);
  uint32_t bi = 0;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
    A v = load_as<A>(p[j * inner]);
    if (arg_better(is_max, v, static_cast<uint32_t>(j), best, bi)) {
      best = v;
      bi = static_cast<uint32_t>(j);
    }
  }
  for (int off = 16; off > 0; off >>= 1) {
    A v = __shfl_xor_sync(0xffffffffu, best, off);
    uint32_t vi = __shfl_xor_sync(0xffffffffu, bi, off);
    if (arg_better(is_max, v, vi, best, bi)) {
      best = v;
      bi = vi;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  if (lane == 0) {
    sv[warp] = best;
    si[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < warps; ++w) {
      if (arg_better(is_max, sv[w], si[w], best, bi)) {
        best = sv[w];
        bi = si[w];
      }
    }
    out[i] = bi;
  }
}

template <typename A>
__device__ __forceinline__ A exp_a(A v) {
  if constexpr (std::is_same_v<A, double>) return exp(v);
  else return expf(v);
}
template <typename A>
__device__ __forceinline__ A log_a(A v) {
  if constexpr (std::is_same_v<A, double>) return log(v);
  else return logf(v);
}

// One block per row: max, then sum of exp, then the write; float64 rows compute in double.
template <typename T>
__global__ void softmax_rows(const T* in, T* out, int64_t cols, bool log) {
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  __shared__ A shared[32];
  const T* row = in + blockIdx.x * cols;
  T* orow = out + blockIdx.x * cols;
  A m = -INFINITY;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    A x = load_as<A>(row[j]);
    m = x > m ? x : m;
  }
  m = block_reduce(r_max, m, shared);
  A s = 0;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) s += exp_a(load_as<A>(row[j]) - m);
  s = block_reduce(r_sum, s, shared);
  if (log) {
    A ls = log_a(s) + m;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = store<T>(load_as<A>(row[j]) - ls);
  } else {
    A inv = A(1) / s;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) orow[j] = store<T>(exp_a(load_as<A>(row[j]) - m) * inv);
  }
}

// Blocks of 256 threads an SM for the float16 4-packs tiling: 8 (2048 threads) where the SM holds that
// many (sm_80, sm_90), 6 on sm_86/87/89 (1536 threads an SM).
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 860 || __CUDA_ARCH__ == 870 || __CUDA_ARCH__ == 890)
constexpr int kHalfSoftmaxBlocksPerSM = 6;
#else
constexpr int kHalfSoftmaxBlocksPerSM = 8;
#endif

// One block per row held in registers: PPT 16-byte packs a thread (cols a multiple of the pack,
// rows 16-byte aligned); the row is read from global memory once and written once. float32 rows
// keep their exponentials (exp computed once, accurate expf); 16-bit rows stay as loaded (half the
// registers: more blocks an SM, more bytes in flight) and exp(x - m) is one exp2 of
// (x - m) log2 e (a few float ulps, far below their rounding), computed again at the write. m = -inf (a row of -inf) gives NaN as expf(-inf + inf) does.
// 16-bit with 4 packs a thread: at most 32 registers (8 blocks of 256 or 16 of 128 threads an SM),
// so the compiler keeps the packs 16-bit rather than converted once to 32 floats.
template <typename T, int PPT>
__global__ void __launch_bounds__(256, sizeof(T) == 2 && PPT == 4 ? kHalfSoftmaxBlocksPerSM : 1)
    softmax_rows_vec(const T* in, T* out, int64_t cols, bool log) {
  constexpr int V = pack_of<T>();
  constexpr bool half = sizeof(T) == 2;
  constexpr float kLog2e = 1.4426950408889634f;
  using P = Pack<T, V>;
  __shared__ float shared[32];
  int64_t np = cols / V;
  auto row = reinterpret_cast<const P*>(in + blockIdx.x * cols);
  auto orow = reinterpret_cast<P*>(out + blockIdx.x * cols);
  P p[PPT];
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < PPT; ++k) {
    int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
    if (j < np) p[k] = row[j];
  }
#pragma unroll
  for (int k = 0; k < PPT; ++k) {
    if (threadIdx.x + int64_t(k) * blockDim.x >= np) continue;
#pragma unroll
    for (int e = 0; e < V; ++e) m = fmaxf(m, to_f(p[k].v[e]));
  }
  m = block_all_reduce<true>(m, shared);
  auto exp_m = [&](float x) { return half ? exp2f((x - m) * kLog2e) : expf(x - m); };
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < PPT; ++k) {
    if (threadIdx.x + int64_t(k) * blockDim.x >= np) continue;
#pragma unroll
    for (int e = 0; e < V; ++e) {
      float x = exp_m(to_f(p[k].v[e]));
      s += x;
      if constexpr (!half) {
        if (!log) p[k].v[e] = x;  // float32 softmax keeps the exponentials, log_softmax the inputs
      }
    }
  }
  s = block_all_reduce<false>(s, shared);
  float ls = logf(s) + m, inv = 1.0f / s;
#pragma unroll
  for (int k = 0; k < PPT; ++k) {
    int64_t j = threadIdx.x + int64_t(k) * blockDim.x;
    if (j >= np) continue;
    P q;
#pragma unroll
    for (int e = 0; e < V; ++e) {
      float x = to_f(p[k].v[e]);
      q.v[e] = from_f<T>(log ? x - ls : (half ? exp_m(x) : x) * inv);
    }
    orow[j] = q;
  }
}

// Calls f(T{}) for every real dtype.
template <typename F>
bool dispatch_reduce(int dt, F&& f) {
  return dispatch_real(dt, f);
}

__device__ __forceinline__ float2 complex_combine(bool prod, float2 a, float2 b) {
  if (prod) return make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
  return make_float2(a.x + b.x, a.y + b.y);
}

// complex64 sum/prod/mean over (outer, len, inner): warp w reduces output w = (o, c); lanes stride
// over the reduced axis, then combine by shuffles (a fixed order: deterministic).
__global__ void reduce_complex(int op, const float2* in, float2* out, int64_t outer, int64_t len, int64_t inner) {
  bool prod = op == r_prod;
  int lane = threadIdx.x % 32;
  int64_t warps = (int64_t(gridDim.x) * blockDim.x) / 32;
  // w is the same on every lane of a warp: the loop and the shuffles stay warp-uniform.
  for (int64_t w = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32; w < outer * inner; w += warps) {
    int64_t o = w / inner, c = w % inner;
    const float2* p = in + o * len * inner + c;
    float2 acc = prod ? make_float2(1.0f, 0.0f) : make_float2(0.0f, 0.0f);
    for (int64_t j = lane; j < len; j += 32) acc = complex_combine(prod, acc, p[j * inner]);
    for (int k = 16; k > 0; k >>= 1) {
      float2 other = make_float2(__shfl_xor_sync(0xffffffffu, acc.x, k), __shfl_xor_sync(0xffffffffu, acc.y, k));
      acc = complex_combine(prod, acc, other);
    }
    if (op == r_mean && len > 0) acc = make_float2(acc.x / static_cast<float>(len), acc.y / static_cast<float>(len));
    if (lane == 0) out[w] = acc;
  }
}

}  // namespace

bool reduce_out_supported(int op, int dt, int out_dt) {
  if (dt == dtx_c64) return out_dt == dt && (op == r_sum || op == r_prod || op == r_mean);
  if (op == r_and || op == r_or) return dt == dt_bool && out_dt == dt_bool;
  if (op == r_mean) return is_float_dt(dt) && out_dt == dt;
  if (op == r_sum || op == r_prod) {
    // sum/prod of bool/int8/int16 give int32, of uint8/uint16 uint32 (the op's output dtype).
    if (dt == dt_bool || dt == dtx_int8 || dt == dtx_int16) return out_dt == dt_int32;
    if (dt == dtx_uint8 || dt == dtx_uint16) return out_dt == dt_uint32;
  }
  return is_real_dt(dt) && out_dt == dt;
}

namespace {
template <typename T, typename O>
void reduce_typed(int op, const T* ip, O* op_, size_t outer, size_t len, size_t inner, cudaStream_t st) {
  using A = Acc<T>;
  if (inner == 1) {
    constexpr int V = pack_of<T>();
    const int threads = 256;
    int64_t mean_div = op == r_mean ? static_cast<int64_t>(len) : -1;
    // Long rows with few of them: split each row over enough blocks to fill the device.
    size_t want = static_cast<size_t>(sm_count()) * 4;
    size_t chunks = 1;
    if (outer < want && len >= size_t(8192)) {
      chunks = (want + outer - 1) / outer;
      size_t most = len / 4096;  // at least 4096 elements a block
      if (chunks > most) chunks = most;
    }
    size_t chunk = (len + chunks - 1) / chunks;
    chunk = (chunk + V - 1) / V * V;
    chunks = chunk ? (len + chunk - 1) / chunk : 1;
    if (chunks < 1) chunks = 1;
    bool vec = len % V == 0 && aligned_to(16, ip);
    A* partial = nullptr;
    if (chunks > 1) partial = static_cast<A*>(gpu::malloc(outer * chunks * sizeof(A)));
    for (size_t r0 = 0; r0 < outer; r0 += 65535) {
      size_t rows = outer - r0 < 65535 ? outer - r0 : 65535;
      dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(rows));
      const T* ir = ip ? ip + r0 * len : nullptr;
      A* pr = partial ? partial + r0 * chunks : nullptr;
      if (vec) {
        reduce_rows<T, O, true><<<grid, threads, 0, st>>>(op, ir, op_ + r0, pr, len, chunk, mean_div);
      } else {
        reduce_rows<T, O, false><<<grid, threads, 0, st>>>(op, ir, op_ + r0, pr, len, chunk, mean_div);
      }
      TESSERA_KERNEL_CHECK();
      if (partial) {
        int op2 = op == r_mean ? r_sum : op;
        dim3 grid2(1, static_cast<unsigned>(rows));
        reduce_rows<A, O, false><<<grid2, 64, 0, st>>>(op2, pr, op_ + r0, nullptr, chunks, chunks, mean_div);
        TESSERA_KERNEL_CHECK();
      }
    }
    // Freed on this thread's stream: the pool hands it out again only behind these kernels.
    if (partial) gpu::free(partial, outer * chunks * sizeof(A));
  } else if (inner >= 32) {
    unsigned ty = len >= 16 ? 16 : len >= 8 ? 8 : len >= 4 ? 4 : 2;
    size_t gy = outer < 65535 ? outer : 65535;
    dim3 grid(static_cast<unsigned>((inner + 31) / 32), static_cast<unsigned>(gy));
    reduce_cols_tiled<T, O><<<grid, dim3(32, ty), 0, st>>>(op, ip, op_, outer, len, inner);
  } else {
    reduce_cols<T, O><<<blocks_for(outer * inner, 256), 256, 0, st>>>(op, ip, op_, outer, len, inner);
  }
  TESSERA_KERNEL_CHECK();
}
}  // namespace

void reduce_out(int op, int dt, int out_dt, const void* in, void* out, size_t outer, size_t len, size_t inner,
                cudaStream_t st) {
  if (outer * inner == 0) return;
  if (dt == dtx_c64) {
    size_t warps = outer * inner;
    reduce_complex<<<blocks_for(warps * 32, 256), 256, 0, st>>>(op, static_cast<const float2*>(in),
                                                                static_cast<float2*>(out), outer, len, inner);
    TESSERA_KERNEL_CHECK();
    return;
  }
  dispatch_reduce(dt, [&](auto t) {
    using T = decltype(t);
    auto ip = static_cast<const T*>(in);
    if (out_dt == dt) {
      reduce_typed<T, T>(op, ip, static_cast<T*>(out), outer, len, inner, st);
    } else if constexpr (!std::is_same_v<Acc<T>, T> && std::is_integral_v<T>) {
      reduce_typed<T, Acc<T>>(op, ip, static_cast<Acc<T>*>(out), outer, len, inner, st);  // widened sum/prod
    }
  });
}

bool reduce_supported(int op, int dt) { return reduce_out_supported(op, dt, dt); }

void reduce(int op, int dt, const void* in, void* out, size_t outer, size_t len, size_t inner, cudaStream_t st) {
  reduce_out(op, dt, dt, in, out, outer, len, inner, st);
}

void argreduce(bool is_max, int dt, const void* in, uint32_t* out, size_t outer, size_t len, size_t inner,
               cudaStream_t st) {
  if (outer * inner == 0) return;
  dispatch_reduce(dt, [&](auto t) {
    using T = decltype(t);
    const size_t n = outer * inner;
    if (len >= 256 && n <= (size_t(1) << 16)) {
      // Few outputs over a long axis: a block each (a thread each would read the axis serially).
      argreduce_block<T><<<static_cast<unsigned>(n), 256, 0, st>>>(is_max, static_cast<const T*>(in), out,
                                                                   static_cast<int64_t>(len), static_cast<int64_t>(inner));
    } else {
      argreduce_kernel<T><<<blocks_for(n, 128), 128, 0, st>>>(is_max, static_cast<const T*>(in), out, outer, len,
                                                             inner);
    }
  });
  TESSERA_KERNEL_CHECK();
}

void softmax(int dt, const void* in, void* out, size_t rows, size_t cols, bool log, cudaStream_t st) {
  if (rows == 0 || cols == 0) return;
  if (dt == dtx_f64) {  // one block a row in double (no packed fast path)
    int th = cols >= 2048 ? 512 : cols >= 256 ? 256 : 64;
    for (size_t r0 = 0; r0 < rows; r0 += 0x7fffffff) {
      unsigned n = static_cast<unsigned>(rows - r0 < 0x7fffffff ? rows - r0 : 0x7fffffff);
      softmax_rows<double><<<n, th, 0, st>>>(static_cast<const double*>(in) + r0 * cols,
                                             static_cast<double*>(out) + r0 * cols, cols, log);
      TESSERA_KERNEL_CHECK();
    }
    return;
  }
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    auto ip = static_cast<const T*>(in);
    auto op = static_cast<T*>(out);
    constexpr int V = pack_of<T>();
    int threads = 0;
    int64_t np = static_cast<int64_t>(cols / V);
    int ppt = cols % V == 0 && aligned_to(16, in, out) ? row_plan(np, &threads) : 0;
    // float16 rows of 128+ packs: 4 packs a thread (half the threads of row_plan's 2; the packs stay
    // 16-bit in registers) so more blocks fit an SM and more bytes are in flight.
    // (bfloat16 stays at row_plan's tiling: with 4 packs a thread under the 32-register bound it ran
    // at 0.36 of copy bandwidth on an H100 against 0.88 for float16.)
    if (std::is_same_v<T, __half> && ppt == 2 && np >= 4 * 32) {
      ppt = 4;
      threads = static_cast<int>(((np + 3) / 4 + 31) / 32 * 32);
    }
    for (size_t r0 = 0; r0 < rows; r0 += 0x7fffffff) {
      unsigned n = static_cast<unsigned>(rows - r0 < 0x7fffffff ? rows - r0 : 0x7fffffff);
      const T* i0 = ip + r0 * cols;
      T* o0 = op + r0 * cols;
      switch (ppt) {
        case 1: softmax_rows_vec<T, 1><<<n, threads, 0, st>>>(i0, o0, cols, log); break;
        case 2: softmax_rows_vec<T, 2><<<n, threads, 0, st>>>(i0, o0, cols, log); break;
        case 4: softmax_rows_vec<T, 4><<<n, threads, 0, st>>>(i0, o0, cols, log); break;
        case 8: softmax_rows_vec<T, 8><<<n, threads, 0, st>>>(i0, o0, cols, log); break;
        default: {
          int th = cols >= 2048 ? 512 : cols >= 256 ? 256 : 64;
          softmax_rows<T><<<n, th, 0, st>>>(i0, o0, cols, log);
        }
      }
      TESSERA_KERNEL_CHECK();
    }
  });
}

}  // namespace tessera::cuda
