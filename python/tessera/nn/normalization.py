"""Normalization layers (MLX): RMSNorm and LayerNorm on tessera.core.fast, GroupNorm and BatchNorm on the
C++ nn::functional (tessera.core._nn) that the C++ layers use."""

import tessera.core as tx
from tessera.core import _nn

from .module import Module


class RMSNorm(Module):
    """x * rsqrt(mean(x^2, -1) + eps) * weight; weight (dims,) starts at ones."""

    def __init__(self, dims, eps=1e-5):
        super().__init__()
        self.weight = tx.ones((dims,))
        self.eps = eps

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        return tx.fast.rms_norm(x, self["weight"], self.eps)


class LayerNorm(Module):
    """(x - mean) * rsqrt(var + eps) over the last axis, then * weight + bias when affine."""

    def __init__(self, dims, eps=1e-5, affine=True, bias=True):
        super().__init__()
        if affine:
            self.weight = tx.ones((dims,))
            if bias:
                self.bias = tx.zeros((dims,))
        self.eps = eps
        self.dims = dims

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        return tx.fast.layer_norm(x, self.get("weight"), self.get("bias"), self.eps)


class GroupNorm(Module):
    """Normalizes x (batch, ..., dims) over groups of dims // num_groups features (and all middle axes)."""

    def __init__(self, num_groups, dims, eps=1e-5, affine=True, pytorch_compatible=False):
        super().__init__()
        if affine:
            self.weight = tx.ones((dims,))
            self.bias = tx.zeros((dims,))
        self.num_groups = num_groups
        self.dims = dims
        self.eps = eps
        self.pytorch_compatible = pytorch_compatible

    def _extra_repr(self):
        return f"{self.num_groups}, {self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        """x (batch, ..., dims): channel c is in group c % num_groups (MLX), or c // (dims / num_groups) with
        pytorch_compatible."""
        return _nn.group_norm(x, self.num_groups, self.get("weight"), self.get("bias"), self.eps,
                              self.pytorch_compatible)


class BatchNorm(Module):
    """Normalizes x (N, ..., C) per feature over all other axes (MLX's nn.BatchNorm).

    Training uses the batch statistics and updates running_mean/running_var with `momentum`
    (frozen parameters); eval mode uses the running statistics."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = tx.ones((num_features,))
            self.bias = tx.zeros((num_features,))
        if track_running_stats:
            self.running_mean = tx.zeros((num_features,))
            self.running_var = tx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args, **kwargs):
        """Unfreezes like Module.unfreeze, keeping the running statistics frozen."""
        super().unfreeze(*args, **kwargs)
        if self.track_running_stats:
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def _extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={'weight' in self}, "
                f"track_running_stats={self.track_running_stats}")

    def __call__(self, x):
        if x.ndim < 2 or x.shape[-1] != self.num_features:
            raise ValueError(f"[nn] BatchNorm expects (N, ..., {self.num_features}) inputs, got {x.shape}.")
        # Without running statistics the batch statistics are used in both modes.
        y, mean, var = _nn.batch_norm(x, self.get("weight"), self.get("bias"), self.get("running_mean"),
                                      self.get("running_var"), self.training, self.momentum, self.eps)
        if mean is not None:
            self.running_mean, self.running_var = mean, var
        return y
