// vmap rules of matmul and addmm: batch axes move to the front and broadcast as batch dims.
#include "tessera/primitives/linalg.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

namespace {
array front(const array& x, int ax) { return ax >= 0 ? moveaxis(x, ax, 0) : x; }
}  // namespace

std::pair<std::vector<array>, std::vector<int>> Matmul::vmap(const std::vector<array>& in,
                                                            const std::vector<int>& ax) {
  auto a = front(in[0], ax[0]);
  auto b = front(in[1], ax[1]);
  // An unmapped operand with fewer dims broadcasts; a mapped 2-D one needs its batch kept apart.
  if (ax[0] >= 0 && ax[1] < 0 && b.ndim() > 2) {
    Shape s = a.shape();
    s.insert(s.begin() + 1, b.ndim() - (a.ndim() - 1), 1);
    a = reshape(a, s);
  }
  if (ax[1] >= 0 && ax[0] < 0 && a.ndim() > 2) {
    Shape s = b.shape();
    s.insert(s.begin() + 1, a.ndim() - (b.ndim() - 1), 1);
    b = reshape(b, s);
  }
  return {{matmul(a, b)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> AddMM::vmap(const std::vector<array>& in,
                                                           const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto c = rules::batch_first(in[0], ax[0], n);
  auto a = rules::batch_first(in[1], ax[1], n);
  auto b = rules::batch_first(in[2], ax[2], n);
  return {{addmm(c, a, b, alpha_, beta_)}, {0}};
}

}  // namespace tessera
