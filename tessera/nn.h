// tessera::nn in one include: Module, layers, activations, initializers, losses, value_and_grad.
#pragma once

#include "tessera/nn/activations.h"
#include "tessera/nn/attention.h"
#include "tessera/nn/containers.h"
#include "tessera/nn/convolution.h"
#include "tessera/nn/dropout.h"
#include "tessera/nn/embedding.h"
#include "tessera/nn/init.h"
#include "tessera/nn/linear.h"
#include "tessera/nn/losses.h"
#include "tessera/nn/module.h"
#include "tessera/nn/normalization.h"
#include "tessera/nn/positional_encoding.h"
#include "tessera/nn/quantized.h"
#include "tessera/nn/value_and_grad.h"
#include "tessera/nn/weights_io.h"
#include "tessera/tree.h"
