"""Rotary position embedding (MLX's nn.RoPE) on tessera.core.fast.rope."""

import tessera.core as tx

from .module import Module


class RoPE(Module):
    """Rotates the first `dims` features of x (..., L, D) by position (offset + index) * base^(-2i/dims)."""

    def __init__(self, dims, traditional=False, base=10000, scale=1.0):
        super().__init__()
        self.dims, self.traditional, self.base, self.scale = dims, traditional, base, scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset=0):
        return tx.fast.rope(x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale,
                            offset=offset)
