// NumPy .npy read/write (format versions 1-3, either byte order, C or Fortran order).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/array.h"
#include "tessera/io/bytes.h"

namespace tessera {

// Reads an .npy file. Little-endian C-order data are memory-mapped (lazy, zero copy); big-endian
// data are byte-swapped into a fresh buffer; Fortran-order data come back as a transposed view.
// Supported descrs: b1, u1..u8, i1..i8, f2, f4, f8, c8. Throws "[npy] ..." otherwise.
array load_npy(const std::string& path);
// Same over bytes in memory (npz entries, fuzzing); `area` prefixes errors ("npy" or "npz").
array load_npy(std::shared_ptr<const io::Bytes> bytes, const std::string& area = "npy");

// Writes format 1.0 (2.0 when the header needs it), little-endian, C order.
// bfloat16 has no NumPy dtype: saving it throws (convert with astype(float32) first, or use
// safetensors / GGUF, which have BF16), so a file never holds values NumPy would misread.
void save(const std::string& path, const array& a);
// The .npy header (magic, version, dict, padding to 64 bytes) for an array of this dtype/shape.
std::string npy_header(Dtype dtype, const Shape& shape, const std::string& area = "npy");

}  // namespace tessera
