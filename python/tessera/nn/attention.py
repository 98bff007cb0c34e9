"""Multi-head attention (MLX's nn.MultiHeadAttention): its Linear projections around the C++ head split
and scaled dot-product attention (tessera.core._nn.attention_heads, shared with the C++ layer)."""

import tessera.core as tx
from tessera.core import _nn

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
        """queries (B, L, Dq), keys (B, S, Dk), values (B, S, Dv) -> (B, L, value_output_dims). mask: additive or
        boolean, broadcastable to (B, num_heads, L, S), or "causal"."""
        queries, keys, values = self.query_proj(queries), self.key_proj(keys), self.value_proj(values)
        if isinstance(mask, str):
            out = _nn.attention_heads(queries, keys, values, self.num_heads, mask_mode=mask)
        else:
            out = _nn.attention_heads(queries, keys, values, self.num_heads, mask)
        return self.out_proj(out)

    @staticmethod
    def create_additive_causal_mask(N, dtype=tx.float32):
        """(N, N): 0 on and below the diagonal, the dtype's lowest value above."""
        return _nn.additive_causal_mask(N, dtype)
