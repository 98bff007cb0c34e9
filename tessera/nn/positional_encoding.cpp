// nn::RoPE.
#include "tessera/nn/positional_encoding.h"

#include <stdexcept>

#include "tessera/fast.h"

namespace tessera::nn {

RoPE::RoPE(int dims, bool traditional, float base, float scale)
    : dims_(dims), traditional_(traditional), base_(base), scale_(scale) {
  if (dims <= 0 || dims % 2 != 0) throw std::invalid_argument("[RoPE] dims must be positive and even.");
}

array RoPE::operator()(const array& x, int offset) {
  return fast::rope(x, dims_, traditional_, base_, scale_, offset);
}

}  // namespace tessera::nn
