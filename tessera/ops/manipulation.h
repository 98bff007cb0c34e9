// (placeholder: filled in by the manipulation work) manipulation ops.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {}  // namespace tessera
