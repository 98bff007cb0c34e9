"""Transformer encoder layer and stack (MLX's nn.TransformerEncoderLayer / TransformerEncoder); the residual
wiring is the C++ nn::functional transformer_encoder_layer (tessera.core._nn) over the child modules."""

from tessera.core import _nn

from .activations import relu
from .attention import MultiHeadAttention
from .layers import Dropout, Linear
from .module import Module
from .normalization import LayerNorm


class TransformerEncoderLayer(Module):
    """Self-attention then an MLP, each with a residual; LayerNorm before (norm_first) or after each."""

    def __init__(self, dims, num_heads, mlp_dims=None, dropout=0.0, activation=relu, norm_first=True):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def _mlp(self, x):
        return self.linear2(self.dropout2(self.activation(self.linear1(x))))

    def __call__(self, x, mask=None):
        """x (B, L, dims); mask additive or boolean, broadcast to (B, heads, L, L)."""
        def attention(y):
            return self.attention(y, y, y, mask)

        return _nn.transformer_encoder_layer(x, attention, self._mlp, self.ln1, self.ln2, self.dropout1,
                                             self.norm_first)


class TransformerEncoder(Module):
    """num_layers TransformerEncoderLayer, then a final LayerNorm."""

    def __init__(self, num_layers, dims, num_heads, mlp_dims=None, dropout=0.0, activation=relu, norm_first=True):
        super().__init__()
        self.layers = [TransformerEncoderLayer(dims, num_heads, mlp_dims, dropout, activation, norm_first)
                       for _ in range(num_layers)]
        self.ln = LayerNorm(dims)

    def __call__(self, x, mask=None):
        for layer in self.layers:
            x = layer(x, mask)
        return self.ln(x)
