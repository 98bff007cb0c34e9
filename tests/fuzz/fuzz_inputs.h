// Shared by the fuzz harnesses (GoogleTest and libFuzzer): parse bytes as one format and touch the data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/io.h"
#include "tessera/ops.h"

namespace tessera::fuzz {

// Parses `data` as `format` ("safetensors", "npy", "npz", "gguf") and reads every tensor's values,
// so out-of-bounds reads show up under AddressSanitizer. Throws what the parser throws.
inline void parse_and_touch(const std::string& format, const uint8_t* data, size_t size) {
  auto touch = [](array a) {
    a = contiguous(astype(a, float64));
    a.eval();
  };
  if (format == "npz") {
    for (auto& [k, a] : load_npz(data, size)) touch(a);
    return;
  }
  auto bytes = io::own_bytes(std::vector<uint8_t>(data, data + size));
  if (format == "safetensors") {
    for (auto& [k, a] : load_safetensors(bytes).first) {
      if (a.dtype() != complex64) touch(a);
    }
  } else if (format == "npy") {
    array a = load_npy(bytes);
    if (a.dtype() != complex64) touch(a);
  } else {
    for (auto& [k, t] : load_gguf_file(bytes).tensors) touch(gguf_to_array(t));
  }
}

// True when the exception is one the format's parser is expected to throw for bad input.
inline bool expected_error(const std::string& format, const std::exception& e) {
  std::string m = e.what();
  std::string p = "[" + format + "] ";
  if (m.rfind(p, 0) == 0) return true;
  return format == "npz" && m.rfind("[npz] ", 0) == 0;
}

}  // namespace tessera::fuzz
