"""Loss functions (MLX's mlx.nn.losses), bound from C++ tessera/nn/losses.h."""

from tessera.core._nn import (  # noqa: F401
    binary_cross_entropy, cosine_similarity_loss, cross_entropy, huber_loss, kl_div_loss, l1_loss, mse_loss,
    nll_loss, smooth_l1_loss,
)
