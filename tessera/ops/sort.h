// (placeholder: filled in by the sort work) sort ops.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {}  // namespace tessera
