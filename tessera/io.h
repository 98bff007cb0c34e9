// Umbrella header of the model/array file formats: safetensors, npy/npz, GGUF, and load().
#pragma once

#include "tessera/io/ggml_types.h"
#include "tessera/io/gguf.h"
#include "tessera/io/gguf_value.h"
#include "tessera/io/load.h"
#include "tessera/io/npy.h"
#include "tessera/io/npz.h"
#include "tessera/io/safetensors.h"
