// (placeholder: filled in by the reduce work) reduce ops.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {}  // namespace tessera
