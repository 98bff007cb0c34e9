"""tessera.nn (MLX's mlx.nn): Module, layers, activations, losses, init, value_and_grad.

Design ("one implementation"): the numerical pieces come from C++ — activations, losses and
initializers are the C++ functions of tessera/nn/*.h, and every layer's math (linear, embedding,
group/batch norm, dropout, convolutions, pooling, the attention head split, the encoder layer's
residual wiring, quantized linear/embedding) is a function of tessera/nn/functional.h that the C++
layers call too; all are bound in python/src/nn.cpp as the private ``tessera.core._nn``. RMSNorm,
LayerNorm and RoPE call ``tessera.core.fast`` (rms_norm, layer_norm, rope), as the C++ layers do.
``Module`` itself is written in Python as MLX's is (a dict subclass): Python subclasses must be able
to set arrays, modules and lists/dicts of them as attributes and have them found as parameters, which
a wrapper of the C++ ``nn::Module`` (a registry of named arrays) cannot offer without copying state
back and forth. The layers are therefore Python Modules holding the arrays (the same parameter names
and initializations as the C++ layers and MLX) whose ``__call__`` is one bound function.
``value_and_grad`` calls C++ ``tessera::value_and_grad`` over the flattened trainable parameters.
"""

from . import init, losses
from .activations import *  # noqa: F401,F403
from .activations import (  # noqa: F401
    CELU, ELU, GELU, GLU, HardTanh, Hardswish, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, SELU,
    Sigmoid, SiLU, Softmax, Softplus, Softsign, Step, Tanh,
)
from .attention import MultiHeadAttention
from .convolution import Conv1d, Conv2d
from .layers import Dropout, Embedding, Identity, Linear, Sequential
from .module import Module
from .normalization import BatchNorm, GroupNorm, LayerNorm, RMSNorm
from .pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .positional_encoding import RoPE
from .quantized import QuantizedEmbedding, QuantizedLinear, quantize
from .transformer import TransformerEncoder, TransformerEncoderLayer
from .utils import value_and_grad

__all__ = [
    "Module", "Linear", "Embedding", "Identity", "Dropout", "Sequential", "RMSNorm", "LayerNorm", "GroupNorm",
    "Conv1d", "Conv2d", "RoPE", "MultiHeadAttention", "value_and_grad", "init", "losses",
    "QuantizedLinear", "QuantizedEmbedding", "quantize",
    "BatchNorm", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "TransformerEncoderLayer", "TransformerEncoder",
]
