// Reading tessera's environment switches (TESSERA_CUDA_GRAPHS, TESSERA_DECODE_GRAPH, ...).
#pragma once

namespace tessera {

// A switch that is on unless the environment sets `name` to "0". Read on each call: callers that sit
// on hot paths keep the answer in a function-local static.
bool env_switch_on(const char* name);

}  // namespace tessera
