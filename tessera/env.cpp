// Reading tessera's environment switches.
#include "tessera/env.h"

#include <cstdlib>
#include <cstring>

namespace tessera {

bool env_switch_on(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr || std::strcmp(v, "0") != 0;
}

}  // namespace tessera
