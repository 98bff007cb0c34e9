// CPU affine (MLX) quantize and dequantize kernels.
#include "tessera/primitives/quantized.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tessera/backend/cpu/quantized_common.h"
#include "tessera/backend/cpu/threading.h"

namespace tessera {

using namespace cpu::quant;

namespace {

// One group of gs values -> packed bits (LSB first, gs*bits/8 bytes), scale and bias, as MLX
// computes them: the endpoint with the larger magnitude is hit exactly and 0 stays exact.
void quantize_group(const float* w, int gs, int bits, uint8_t* out, float& scale_out, float& bias_out) {
  float n_bins = static_cast<float>((1 << bits) - 1);
  float w_min = std::numeric_limits<float>::infinity(), w_max = -w_min;
  for (int j = 0; j < gs; ++j) {
    w_max = std::max(w_max, w[j]);
    w_min = std::min(w_min, w[j]);
  }
  bool mask = std::abs(w_min) > std::abs(w_max);
  float scale = std::max((w_max - w_min) / n_bins, 1e-7f);
  scale = mask ? scale : -scale;
  float edge = mask ? w_min : w_max;
  float q0 = std::rint(edge / scale);
  float bias = 0;
  if (q0 != 0) {
    scale = edge / q0;
    bias = edge;
  }
  // 8 values at a time fill exactly `bits` bytes.
  for (int c = 0; c < gs / 8; ++c) {
    uint64_t acc = 0;
    for (int k = 0; k < 8; ++k) {
      float q = std::rint((w[c * 8 + k] - bias) / scale);
      q = std::min(std::max(q, 0.0f), n_bins);
      acc |= static_cast<uint64_t>(q) << (k * bits);
    }
    for (int b = 0; b < bits; ++b) out[c * bits + b] = static_cast<uint8_t>(acc >> (8 * b));
  }
  scale_out = scale;
  bias_out = bias;
}

template <int bits>
void dequant_row_t(const uint8_t* w, const float* sc, const float* bi, int64_t K, int gs, float* dst) {
  for (int64_t g = 0; g < K / gs; ++g) {
    v8f s = v8f{} + sc[g], b = v8f{} + bi[g];
    for (int c = 0; c < gs; c += 8) {
      store8(dst + g * gs + c, unpack8<bits>(w + (g * gs + c) * bits / 8) * s + b);
    }
  }
}

}  // namespace

namespace cpu::quant {
// Row of K values from packed bits and float scales/biases (declared in quantized_matmul.cpp too).
void dequant_row(int bits, const uint8_t* w, const float* sc, const float* bi, int64_t K, int gs,
                 float* dst) {
  switch (bits) {
    case 2:
      return dequant_row_t<2>(w, sc, bi, K, gs, dst);
    case 3:
      return dequant_row_t<3>(w, sc, bi, K, gs, dst);
    case 4:
      return dequant_row_t<4>(w, sc, bi, K, gs, dst);
    case 5:
      return dequant_row_t<5>(w, sc, bi, K, gs, dst);
    case 6:
      return dequant_row_t<6>(w, sc, bi, K, gs, dst);
    case 8:
      return dequant_row_t<8>(w, sc, bi, K, gs, dst);
  }
  throw std::invalid_argument("[dequantize] unsupported bits " + std::to_string(bits) + ".");
}
}  // namespace cpu::quant

void AffineQuantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array w = float_contiguous(inputs[0]);
  auto &wq = outputs[0], &scales = outputs[1], &biases = outputs[2];
  for (auto* o : {&wq, &scales, &biases}) o->set_data(allocator::malloc(o->nbytes()));
  int64_t rows = w.shape(0), K = w.shape(1), G = K / group_size_;
  int64_t row_bytes = K * bits_ / 8;
  const float* src = w.data<float>();
  auto* dst = wq.data<uint8_t>();
  Dtype dt = scales.dtype();
  cpu::parallel_for(static_cast<size_t>(rows), 4, [&](size_t r0, size_t r1) {
    std::vector<float> sc(G), bi(G);
    for (size_t r = r0; r < r1; ++r) {
      for (int64_t g = 0; g < G; ++g) {
        quantize_group(src + r * K + g * group_size_, group_size_, bits_,
                       dst + r * row_bytes + g * group_size_ * bits_ / 8, sc[g], bi[g]);
      }
      dispatch_float(dt, "quantize", [&](auto t) {
        using T = decltype(t);
        if constexpr (!std::is_same_v<T, double>) {
          for (int64_t g = 0; g < G; ++g) {
            scales.data<T>()[r * G + g] = static_cast<T>(sc[g]);
            biases.data<T>()[r * G + g] = static_cast<T>(bi[g]);
          }
        }
      });
    }
  });
}

void AffineDequantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array wq = row_contiguous(inputs[0]), scales = row_contiguous(inputs[1]),
        biases = row_contiguous(inputs[2]);
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  int64_t rows = out.shape(0), K = out.shape(1), G = K / group_size_;
  int64_t row_bytes = K * bits_ / 8;
  Dtype dt = out.dtype();
  cpu::parallel_for(static_cast<size_t>(rows), 4, [&](size_t r0, size_t r1) {
    std::vector<float> sc(G), bi(G), row(K);
    for (size_t r = r0; r < r1; ++r) {
      to_float(scales.data<char>() + r * G * scales.itemsize(), scales.dtype(), sc.data(), G);
      to_float(biases.data<char>() + r * G * biases.itemsize(), biases.dtype(), bi.data(), G);
      float* dst = dt == float32 ? out.data<float>() + r * K : row.data();
      dequant_row(bits_, wq.data<uint8_t>() + r * row_bytes, sc.data(), bi.data(), K, group_size_, dst);
      if (dt != float32) {
        dispatch_float(dt, "dequantize", [&](auto t) {
          using T = decltype(t);
          T* o = out.data<T>() + r * K;
          for (int64_t k = 0; k < K; ++k) o[k] = static_cast<T>(row[k]);
        });
      }
    }
  });
}

bool AffineQuantize::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const AffineQuantize&>(o);
  return group_size_ == p.group_size_ && bits_ == p.bits_;
}
bool AffineDequantize::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const AffineDequantize&>(o);
  return group_size_ == p.group_size_ && bits_ == p.bits_;
}

}  // namespace tessera
