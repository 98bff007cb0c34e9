// Shared CPU drivers for elementwise primitives: a unary driver that runs a functor over blocks
// (16-bit floats are widened to float blocks so the float loop vectorizes) and binary dispatch.
#pragma once

#include <algorithm>
#include <type_traits>

#include "tessera/array.h"
#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/binary.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/backend/cpu/unary.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace tessera::cpu::ew {

inline constexpr size_t kBlock = 512;
inline constexpr size_t kGrain = 1 << 14;

template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;

// Widening/narrowing of a block; float16 uses F16C (same round-to-nearest-even as float16_t).
template <typename In, typename A>
inline void widen(const In* src, A* dst, size_t m) {
#if defined(__F16C__) && defined(__AVX__)
  if constexpr (std::is_same_v<In, float16_t> && std::is_same_v<A, float>) {
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    }
    for (; i < m; ++i) dst[i] = static_cast<A>(src[i]);
    return;
  }
#endif
  for (size_t i = 0; i < m; ++i) dst[i] = static_cast<A>(src[i]);
}

template <typename R, typename Out>
inline void narrow(const R* src, Out* dst, size_t m) {
#if defined(__F16C__) && defined(__AVX__)
  if constexpr (std::is_same_v<Out, float16_t> && std::is_same_v<R, float>) {
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
      __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    }
    for (; i < m; ++i) dst[i] = static_cast<Out>(src[i]);
    return;
  }
#endif
  for (size_t i = 0; i < m; ++i) dst[i] = static_cast<Out>(src[i]);
}

// dst[i] = op(src[i]) for n contiguous values; op takes acc_t<In> and returns a value convertible to Out.
template <typename In, typename Out, typename Op>
inline void apply_block(const In* src, Out* dst, size_t n, Op op) {
  if constexpr (is_half_v<In> || is_half_v<Out>) {
    using A = acc_t<In>;
    using R = std::invoke_result_t<Op, A>;
    A buf[kBlock];
    R res[kBlock];
    for (size_t b = 0; b < n; b += kBlock) {
      size_t m = std::min(kBlock, n - b);
      widen(src + b, buf, m);
      for (size_t i = 0; i < m; ++i) res[i] = op(buf[i]);
      narrow(res, dst + b, m);
    }
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<Out>(op(src[i]));
  }
}

// float32 outputs at least this large are written with streaming stores: they cannot stay in the
// last-level cache anyway, and skipping the read-for-ownership of the output saves a third of the
// memory traffic of a unary op.
inline constexpr size_t kStreamBytes = size_t(32) << 20;

#if defined(__AVX__)
// dst[i] = op(src[i]) for float32, computed in blocks into a stack buffer, then streamed to dst.
template <typename Op>
inline void apply_block_stream(const float* src, float* dst, size_t n, Op op) {
  size_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 31) != 0; ++i) {
    dst[i] = static_cast<float>(op(src[i]));  // until dst is 32-byte aligned
  }
  alignas(32) float tmp[kBlock];
  while (n - i >= 8) {
    size_t m = std::min(kBlock, (n - i) & ~size_t(7));
    for (size_t j = 0; j < m; ++j) tmp[j] = static_cast<float>(op(src[i + j]));
    for (size_t j = 0; j < m; j += 8) _mm256_stream_ps(dst + i + j, _mm256_load_ps(tmp + j));
    i += m;
  }
  for (; i < n; ++i) dst[i] = static_cast<float>(op(src[i]));
  _mm_sfence();  // streaming stores are visible before the chunk counts as done
}
#endif

// Runs op over `in` (any strides) into a fresh or donated buffer of `out`.
template <typename In, typename Out, typename Op>
void unary_run(const array& in, array& out, Op op) {
  if (in.flags().contiguous) {
    set_unary_output(in, out);
    const In* src = in.data<In>();
    Out* dst = out.data<Out>();
#if defined(__AVX__)
    if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, float>) {
      if (in.data_size() * sizeof(float) >= kStreamBytes) {
        parallel_for(in.data_size(), kGrain,
                     [&](size_t b, size_t e) { apply_block_stream(src + b, dst + b, e - b, op); });
        return;
      }
    }
#endif
    parallel_for(in.data_size(), kGrain, [&](size_t b, size_t e) { apply_block(src + b, dst + b, e - b, op); });
    return;
  }
  out.set_data(allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;
  const In* src = in.data<In>();
  Out* dst = out.data<Out>();
  auto [shape, st] = collapse_contiguous_dims(in.shape(), {in.strides()});
  int nd = static_cast<int>(shape.size());
  int64_t inner = shape[nd - 1], s0 = st[0][nd - 1];
  size_t outer = out.size() / static_cast<size_t>(std::max<int64_t>(inner, 1));
  Shape os(shape.begin(), shape.end() - 1);
  Strides ost(st[0].begin(), st[0].end() - 1);
  parallel_for(outer, std::max<size_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](size_t b, size_t e) {
    StridedWalker<1> w(os, {ost});
    w.seek(b);
    In buf[kBlock];
    for (size_t o = b; o < e; ++o) {
      const In* s = src + w.loc[0];
      Out* d = dst + o * inner;
      for (int64_t c = 0; c < inner; c += kBlock) {
        size_t m = static_cast<size_t>(std::min<int64_t>(kBlock, inner - c));
        for (size_t i = 0; i < m; ++i) buf[i] = s[(c + static_cast<int64_t>(i)) * s0];
        apply_block(buf, d + c, m, op);
      }
      w.next();
    }
  });
}

// Binary: op(acc_t<T>, acc_t<T>) -> value convertible to Out.
template <typename T, typename Out, typename Op>
void binary_run(const array& a, const array& b, array& out, Op op) {
  using A = acc_t<T>;
  if constexpr (std::is_same_v<A, T>) {
    binary_kernel<T, Out>(a, b, out, [op](T x, T y) { return static_cast<Out>(op(x, y)); });
  } else {
    binary_kernel<T, Out>(a, b, out, [op](T x, T y) {
      return static_cast<Out>(op(static_cast<A>(x), static_cast<A>(y)));
    });
  }
}

// Dtype groups: call f(T{}) for the input dtype, or throw "[name] ..." if not in the group.
template <typename F>
void dispatch_real(Dtype d, const char* name, F&& f) {  // all but complex
  if (d == complex64) throw std::invalid_argument(std::string("[") + name + "] complex64 is not supported.");
  dispatch_dtype(d, [&](auto t) {
    if constexpr (!std::is_same_v<decltype(t), complex64_t>) f(t);
  });
}

template <typename F>
void dispatch_integral(Dtype d, const char* name, F&& f) {  // bool and integers
  if (!is_integral(d)) {
    throw std::invalid_argument(std::string("[") + name + "] expected an integer or bool dtype, got " + dtype_name(d) + ".");
  }
  dispatch_dtype(d, [&](auto t) {
    using T = decltype(t);
    if constexpr (std::is_integral_v<T>) f(t);
  });
}

}  // namespace tessera::cpu::ew
