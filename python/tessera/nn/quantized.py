"""Quantized layers and model quantization (MLX's nn.QuantizedLinear, nn.QuantizedEmbedding, nn.quantize):
affine quantization with tessera.core.quantize; the layers call the C++ nn::functional quantized_linear /
quantized_embedding (tessera.core._nn); the same parameter names as MLX (weight uint32, scales, biases,
bias) so MLX-quantized checkpoints load with update()."""

import tessera.core as tx
from tessera.core import _nn

from ..utils import tree_map_with_path
from .layers import Embedding, Linear
from .module import Module


class QuantizedLinear(Module):
    """y = x W^T + b with W (output_dims, input_dims) stored as bits-bit groups of group_size values."""

    def __init__(self, input_dims, output_dims, bias=True, group_size=64, bits=4):
        super().__init__()
        self.group_size = group_size
        self.bits = bits
        w = Linear(input_dims, output_dims, bias=False)["weight"]
        self.weight, self.scales, self.biases = tx.quantize(w, group_size, bits)
        if bias:
            self.bias = tx.zeros((output_dims,))
        self.freeze()

    def _extra_repr(self):
        out, packed = self["weight"].shape
        return (f"input_dims={packed * 32 // self.bits}, output_dims={out}, bias={'bias' in self}, "
                f"group_size={self.group_size}, bits={self.bits}")

    def __call__(self, x):
        return _nn.quantized_linear(x, self["weight"], self["scales"], self["biases"], self.get("bias"),
                                    self.group_size, self.bits)

    @classmethod
    def from_linear(cls, linear, group_size=64, bits=4):
        out, inp = linear["weight"].shape
        q = cls(inp, out, False, group_size, bits)
        q.weight, q.scales, q.biases = tx.quantize(linear["weight"], group_size, bits)
        if "bias" in linear:
            q.bias = linear["bias"]
        q.freeze()  # frozen like a constructed QuantizedLinear (the bias too)
        return q


class QuantizedEmbedding(Module):
    """An Embedding whose table is quantized; lookups dequantize only the rows taken."""

    def __init__(self, num_embeddings, dims, group_size=64, bits=4):
        super().__init__()
        self.group_size = group_size
        self.bits = bits
        self.num_embeddings = num_embeddings
        self.dims = dims
        w = tx.random.normal((num_embeddings, dims), scale=dims ** -0.5)
        self.weight, self.scales, self.biases = tx.quantize(w, group_size, bits)
        self.freeze()

    def _extra_repr(self):
        return f"{self.num_embeddings}, {self.dims}, group_size={self.group_size}, bits={self.bits}"

    def __call__(self, x):
        return _nn.quantized_embedding(x, self["weight"], self["scales"], self["biases"], self.group_size, self.bits)

    def as_linear(self, x):
        """x @ W^T (a tied output head) without dequantizing the table."""
        return _nn.quantized_linear(x, self["weight"], self["scales"], self["biases"], None, self.group_size,
                                    self.bits)

    @classmethod
    def from_embedding(cls, embedding, group_size=64, bits=4):
        n, dims = embedding["weight"].shape
        q = cls(n, dims, group_size, bits)
        q.weight, q.scales, q.biases = tx.quantize(embedding["weight"], group_size, bits)
        return q


def _to_quantized(module, group_size, bits):
    if isinstance(module, Linear):
        return QuantizedLinear.from_linear(module, group_size, bits)
    if isinstance(module, Embedding):
        return QuantizedEmbedding.from_embedding(module, group_size, bits)
    return None


def quantize(model, group_size=64, bits=4, class_predicate=None):
    """Replaces Linear and Embedding leaves of model (in place) by quantized ones. class_predicate(path,
    module) -> bool or a {"group_size", "bits"} dict chooses the layers (default: every Linear / Embedding
    whose input size is a multiple of group_size)."""

    def default_predicate(_, m):
        return isinstance(m, (Linear, Embedding)) and m["weight"].shape[-1] % group_size == 0

    predicate = class_predicate or default_predicate

    def maybe_quantize(path, m):
        choice = predicate(path, m)
        if not choice:
            return m
        params = {"group_size": group_size, "bits": bits}
        if isinstance(choice, dict):
            params.update(choice)
        elif not isinstance(choice, bool):
            raise ValueError(f"[quantize] class_predicate returned {choice!r} for {path}; expected bool or dict.")
        q = _to_quantized(m, params["group_size"], params["bits"])
        if q is None:
            raise ValueError(f"[quantize] Unable to quantize model of type {type(m).__name__} at {path}.")
        return q

    leaves = tree_map_with_path(maybe_quantize, model.leaf_modules(), is_leaf=lambda m: isinstance(m, Module))
    model.update_modules(leaves)
    return model
