"""Layers with parameters (MLX's mlx.nn layers): Modules holding the arrays; the math is the C++
nn::functional (tessera/nn/functional.h) bound as tessera.core._nn, shared with the C++ layers."""

import math

import tessera.core as tx
from tessera.core import _nn

from .module import Module


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def __call__(self, x):
        return x


class Linear(Module):
    """y = x W^T + b; weight (output_dims, input_dims), bias (output_dims,), uniform in +-sqrt(1/input_dims)."""

    def __init__(self, input_dims, output_dims, bias=True):
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = tx.random.uniform(-scale, scale, (output_dims, input_dims))
        if bias:
            self.bias = tx.random.uniform(-scale, scale, (output_dims,))

    def _extra_repr(self):
        out, inp = self.weight.shape
        return f"input_dims={inp}, output_dims={out}, bias={'bias' in self}"

    def __call__(self, x):
        return _nn.linear(x, self["weight"], self.get("bias"))


class Embedding(Module):
    """weight (num_embeddings, dims) ~ N(0, 1/dims); x (int indices) -> weight[x]."""

    def __init__(self, num_embeddings, dims):
        super().__init__()
        scale = math.sqrt(1.0 / dims)
        self.weight = tx.random.normal((num_embeddings, dims), scale=scale)

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        return _nn.embedding(x, self["weight"])

    def as_linear(self, x):
        """x @ weight^T (tied output projection)."""
        return _nn.linear(x, self["weight"])


class Dropout(Module):
    """Zeroes each element with probability p in training mode and scales the rest by 1 / (1 - p)."""

    def __init__(self, p=0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"[nn] The dropout probability {p} is not in [0, 1).")
        self._p_1 = 1 - p

    def _extra_repr(self):
        return f"p={1 - self._p_1}"

    def __call__(self, x):
        if self._p_1 == 1 or not self.training:
            return x
        return _nn.dropout(x, 1 - self._p_1)


class Sequential(Module):
    """Calls its modules (or callables) in order; they are stored in `layers`."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for m in self.layers:
            x = m(x)
        return x
