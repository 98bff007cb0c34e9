// CPU evaluation of the Compiled primitive: the fused chain runs over blocks of 1024 elements, each
// instruction writing a small per-thread buffer, so intermediates stay in cache (no full-size
// temporaries); transforms expand the chain back into its original primitives.
#pragma GCC optimize("no-trapping-math")

#include "tessera/compile/compiled.h"

#include <cmath>
#include <ostream>
#include <stdexcept>

#include "tessera/backend/cpu/simd_math.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/elementwise.h"
#include "tessera/ops.h"
#include "tessera/transforms.h"

namespace tessera::detail {

bool fused_op_of(const Primitive& p, FusedOp& op) {
#define TESSERA_FUSE_CASE(NAME)          \
  if (dynamic_cast<const NAME*>(&p)) {   \
    op = FusedOp::NAME;                  \
    return true;                         \
  }
  TESSERA_FUSE_CASE(Abs) TESSERA_FUSE_CASE(Negative) TESSERA_FUSE_CASE(Square) TESSERA_FUSE_CASE(Exp)
  TESSERA_FUSE_CASE(Log) TESSERA_FUSE_CASE(Log1p) TESSERA_FUSE_CASE(Sqrt) TESSERA_FUSE_CASE(Rsqrt)
  TESSERA_FUSE_CASE(Reciprocal) TESSERA_FUSE_CASE(Sin) TESSERA_FUSE_CASE(Cos) TESSERA_FUSE_CASE(Tanh)
  TESSERA_FUSE_CASE(Sigmoid) TESSERA_FUSE_CASE(Erf) TESSERA_FUSE_CASE(Floor) TESSERA_FUSE_CASE(Ceil)
  TESSERA_FUSE_CASE(Add) TESSERA_FUSE_CASE(Subtract) TESSERA_FUSE_CASE(Multiply) TESSERA_FUSE_CASE(Divide)
  TESSERA_FUSE_CASE(Maximum) TESSERA_FUSE_CASE(Minimum) TESSERA_FUSE_CASE(Power)
#undef TESSERA_FUSE_CASE
  return false;
}

namespace {

constexpr size_t kBlock = 1024;

// The same float32 math as the op-by-op CPU kernels, so fused results match them.
void run_unary(FusedOp op, const float* x, float* d, size_t n) {
  switch (op) {
    case FusedOp::Abs: for (size_t i = 0; i < n; ++i) d[i] = std::fabs(x[i]); break;
    case FusedOp::Negative: for (size_t i = 0; i < n; ++i) d[i] = -x[i]; break;
    case FusedOp::Square: for (size_t i = 0; i < n; ++i) d[i] = x[i] * x[i]; break;
    case FusedOp::Exp: for (size_t i = 0; i < n; ++i) d[i] = simd::exp(x[i]); break;
    case FusedOp::Log: for (size_t i = 0; i < n; ++i) d[i] = simd::log(x[i]); break;
    case FusedOp::Log1p: for (size_t i = 0; i < n; ++i) d[i] = std::log1p(x[i]); break;
    case FusedOp::Sqrt: for (size_t i = 0; i < n; ++i) d[i] = std::sqrt(x[i]); break;
    case FusedOp::Rsqrt: for (size_t i = 0; i < n; ++i) d[i] = 1.0f / std::sqrt(x[i]); break;
    case FusedOp::Reciprocal: for (size_t i = 0; i < n; ++i) d[i] = 1.0f / x[i]; break;
    case FusedOp::Sin: for (size_t i = 0; i < n; ++i) d[i] = std::sin(x[i]); break;
    case FusedOp::Cos: for (size_t i = 0; i < n; ++i) d[i] = std::cos(x[i]); break;
    case FusedOp::Tanh: for (size_t i = 0; i < n; ++i) d[i] = simd::tanh(x[i]); break;
    case FusedOp::Sigmoid: for (size_t i = 0; i < n; ++i) d[i] = simd::sigmoid(x[i]); break;
    case FusedOp::Erf: for (size_t i = 0; i < n; ++i) d[i] = simd::erf(x[i]); break;
    case FusedOp::Floor: for (size_t i = 0; i < n; ++i) d[i] = std::floor(x[i]); break;
    case FusedOp::Ceil: for (size_t i = 0; i < n; ++i) d[i] = std::ceil(x[i]); break;
    default: break;
  }
}

void run_binary(FusedOp op, const float* x, const float* y, float* d, size_t n) {
  switch (op) {
    case FusedOp::Add: for (size_t i = 0; i < n; ++i) d[i] = x[i] + y[i]; break;
    case FusedOp::Subtract: for (size_t i = 0; i < n; ++i) d[i] = x[i] - y[i]; break;
    case FusedOp::Multiply: for (size_t i = 0; i < n; ++i) d[i] = x[i] * y[i]; break;
    case FusedOp::Divide: for (size_t i = 0; i < n; ++i) d[i] = x[i] / y[i]; break;
    case FusedOp::Maximum:
      for (size_t i = 0; i < n; ++i) d[i] = x[i] != x[i] ? x[i] : (x[i] > y[i] ? x[i] : y[i]);
      break;
    case FusedOp::Minimum:
      for (size_t i = 0; i < n; ++i) d[i] = x[i] != x[i] ? x[i] : (x[i] < y[i] ? x[i] : y[i]);
      break;
    case FusedOp::Power: for (size_t i = 0; i < n; ++i) d[i] = std::pow(x[i], y[i]); break;
    default: break;
  }
}

// How an input is read: in place (dense, same order), as one value, or gathered through strides.
enum class Access : uint8_t { dense, scalar, strided };

}  // namespace

void Compiled::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (out.dtype() != float32) {
    throw std::runtime_error("[compile] a fused " + dtype_name(out.dtype()) + " chain cannot run on the CPU.");
  }
  const size_t n = out.size();
  const int nin = num_inputs_;
  std::vector<Access> access(nin);
  bool donated = false;
  for (int i = 0; i < nin; ++i) {
    auto& in = inputs[i];
    if (in.data_size() == 1) {
      access[i] = Access::scalar;
    } else if (in.flags().row_contiguous && in.data_size() == in.size()) {
      access[i] = Access::dense;
      if (!donated && in.is_donatable() && in.itemsize() == out.itemsize()) {
        out.copy_shared_buffer(in);  // safe: each element is read before it is written
        donated = true;
      }
    } else {
      access[i] = Access::strided;
    }
  }
  if (!donated) out.set_data(allocator::malloc(out.nbytes()));
  float* dst = out.data<float>();
  const Shape& shape = out.shape();
  const int nd = static_cast<int>(shape.size());
  const size_t ninstr = instrs_.size();
  const size_t nblocks = (n + kBlock - 1) / kBlock;

  cpu::parallel_for(nblocks, 16, [&](size_t b0, size_t b1) {
    // Scratch: one block per input (scalar/strided ones) and per instruction.
    std::vector<float> scratch((nin + ninstr) * kBlock);
    for (int i = 0; i < nin; ++i) {
      if (access[i] == Access::scalar) {
        std::fill_n(scratch.data() + i * kBlock, kBlock, inputs[i].data<float>()[0]);
      }
    }
    std::vector<const float*> slot(nin + ninstr);
    std::vector<int32_t> idx(nd);
    for (size_t blk = b0; blk < b1; ++blk) {
      const size_t start = blk * kBlock, len = std::min(kBlock, n - start);
      for (int i = 0; i < nin; ++i) {
        float* buf = scratch.data() + i * kBlock;
        if (access[i] == Access::dense) {
          slot[i] = inputs[i].data<float>() + start;
        } else if (access[i] == Access::scalar) {
          slot[i] = buf;
        } else {  // gather through the strides, from the row-major index `start`
          size_t rem = start;
          for (int d = nd - 1; d >= 0; --d) {
            idx[d] = static_cast<int32_t>(rem % shape[d]);
            rem /= shape[d];
          }
          const float* src = inputs[i].data<float>();
          const auto& st = inputs[i].strides();
          for (size_t j = 0; j < len; ++j) {
            int64_t off = 0;
            for (int d = 0; d < nd; ++d) off += idx[d] * st[d];
            buf[j] = src[off];
            for (int d = nd - 1; d >= 0; --d) {
              if (++idx[d] < shape[d]) break;
              idx[d] = 0;
            }
          }
          slot[i] = buf;
        }
      }
      for (size_t k = 0; k < ninstr; ++k) {
        auto& ins = instrs_[k];
        float* d = k + 1 == ninstr ? dst + start : scratch.data() + (nin + k) * kBlock;
        if (static_cast<int>(ins.op) >= kFirstBinary) run_binary(ins.op, slot[ins.a], slot[ins.b], d, len);
        else run_unary(ins.op, slot[ins.a], d, len);
        slot[nin + k] = d;
      }
    }
  });
}

array Compiled::expand(const std::vector<array>& inputs) const {
  std::vector<array> vals(inputs.begin(), inputs.end());
  for (auto& ins : instrs_) {
    const bool binary = static_cast<int>(ins.op) >= kFirstBinary;
    std::vector<array> args;
    args.reserve(2);
    args.push_back(vals[ins.a]);
    if (binary) args.push_back(vals[ins.b]);
    Shape s = vals[ins.a].shape();
    Dtype d = vals[ins.a].dtype();
    vals.push_back(array(std::move(s), d, ins.prim, std::move(args)));
  }
  return vals.back();
}

std::vector<array> Compiled::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) {
  auto f = [this](const std::vector<array>& x) { return std::vector<array>{expand(x)}; };
  auto grads = tessera::vjp(f, primals, cotangents).second;
  std::vector<array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}

std::vector<array> Compiled::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) {
  std::vector<array> ts;
  for (auto& p : primals) ts.push_back(zeros_like(p));
  for (size_t j = 0; j < argnums.size(); ++j) ts[argnums[j]] = tangents[j];
  auto f = [this](const std::vector<array>& x) { return std::vector<array>{expand(x)}; };
  return tessera::jvp(f, primals, ts).second;
}

std::pair<std::vector<array>, std::vector<int>> Compiled::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) {
  auto f = [this](const std::vector<array>& x) { return std::vector<array>{expand(x)}; };
  return {tessera::vmap(f, axes, {0})(inputs), {0}};
}

void Compiled::print(std::ostream& os) const {
  os << "Compiled(";
  for (size_t k = 0; k < instrs_.size(); ++k) os << (k ? " " : "") << instrs_[k].prim->name();
  os << ")";
}

bool Compiled::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Compiled*>(&other);
  if (!o || o->num_inputs_ != num_inputs_ || o->instrs_.size() != instrs_.size()) return false;
  for (size_t k = 0; k < instrs_.size(); ++k) {
    auto &x = instrs_[k], &y = o->instrs_[k];
    if (x.op != y.op || x.a != y.a || x.b != y.b) return false;
  }
  return true;
}

std::vector<Shape> Compiled::output_shapes(const std::vector<array>& inputs) { return {inputs[0].shape()}; }

}  // namespace tessera::detail
