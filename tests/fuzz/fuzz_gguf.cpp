// libFuzzer target: gguf parser (scripts/fuzz.sh builds it with clang). Parser errors are fine; crashes,
// sanitizer reports and unexpected exception types are not.
#include <cstdio>
#include <cstdlib>

#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tessera::fuzz::parse_and_touch("gguf", data, size);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "bad_alloc\n");
    std::abort();
  } catch (const std::exception& e) {
    if (!tessera::fuzz::expected_error("gguf", e)) {
      std::fprintf(stderr, "unexpected error: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
