// vmap rules of the LAPACK primitives and linalg::norm: they take any leading batch dims, so the
// batch goes first on every input and the same primitive runs once.
#include "tessera/primitives/linalg.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

namespace {
// Runs `prim` on the inputs with the batch first; the outputs are the unbatched ones with n in front.
VmapOut leading_batch(std::shared_ptr<Primitive> prim, const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  std::vector<array> ins;
  for (size_t i = 0; i < in.size(); ++i) ins.push_back(rules::batch_first(in[i], ax[i], n));
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& o : rules::current_outputs(prim->name())) {
    Shape s = o.shape();
    s.insert(s.begin(), n);
    shapes.push_back(std::move(s));
    dtypes.push_back(o.dtype());
  }
  auto outs = array::make_arrays(shapes, dtypes, std::move(prim), ins);
  return {outs, std::vector<int>(outs.size(), 0)};
}
}  // namespace

VmapOut LinalgNorm::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<LinalgNorm>(stream(), kind_, p_), in, ax);
}
VmapOut Inverse::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<Inverse>(stream()), in, ax);
}
VmapOut Solve::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<Solve>(stream()), in, ax);
}
VmapOut Cholesky::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<Cholesky>(stream(), upper_), in, ax);
}
VmapOut QRF::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<QRF>(stream()), in, ax);
}
VmapOut SVD::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<SVD>(stream(), compute_uv_), in, ax);
}
VmapOut Eigh::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return leading_batch(std::make_shared<Eigh>(stream(), uplo_, vectors_), in, ax);
}

}  // namespace tessera
