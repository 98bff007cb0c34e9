"""Multi-head attention (MLX's nn.MultiHeadAttention) on tessera.core.fast.scaled_dot_product_attention."""

import math

import tessera.core as tx

from .layers import Linear
from .module import Module


class MultiHeadAttention(Module):
    """Projects queries (B, L, Dq), keys (B, S, Dk), values (B, S, Dv) to num_heads heads, attends, projects out."""

    def __init__(self, dims, num_heads, query_input_dims=None, key_input_dims=None, value_input_dims=None,
                 value_dims=None, value_output_dims=None, bias=False):
        super().__init__()
        if dims % num_heads != 0:
            raise ValueError(f"[nn] The input feature dimensions should be divisible by the number of heads "
                             f"({dims} % {num_heads}) != 0")
        query_input_dims = query_input_dims or dims
        key_input_dims = key_input_dims or dims
        value_input_dims = value_input_dims or key_input_dims
        value_dims = value_dims or dims
        value_output_dims = value_output_dims or dims
        self.num_heads = num_heads
        self.query_proj = Linear(query_input_dims, dims, bias=bias)
        self.key_proj = Linear(key_input_dims, dims, bias=bias)
        self.value_proj = Linear(value_input_dims, value_dims, bias=bias)
        self.out_proj = Linear(value_dims, value_output_dims, bias=bias)

    def __call__(self, queries, keys, values, mask=None):
        queries, keys, values = self.query_proj(queries), self.key_proj(keys), self.value_proj(values)
        h = self.num_heads
        b, lq, d = queries.shape
        _, s, _ = keys.shape
        queries = queries.reshape(b, lq, h, -1).transpose(0, 2, 1, 3)
        keys = keys.reshape(b, s, h, -1).transpose(0, 2, 1, 3)
        values = values.reshape(b, s, h, -1).transpose(0, 2, 1, 3)
        scale = math.sqrt(1.0 / queries.shape[-1])
        out = tx.fast.scaled_dot_product_attention(queries, keys, values, scale=scale, mask=mask)
        out = out.transpose(0, 2, 1, 3).reshape(b, lq, -1)
        return self.out_proj(out)

    @staticmethod
    def create_additive_causal_mask(N, dtype=tx.float32):
        """(N, N): 0 on and below the diagonal, a large negative value above."""
        indices = tx.arange(N)
        mask = indices[:, None] < indices[None]
        return mask.astype(dtype) * -1e9
