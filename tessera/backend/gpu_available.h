// Whether a CUDA device can be used at run time (false when built without CUDA).
#pragma once

namespace tessera {
bool gpu_is_available();
}
