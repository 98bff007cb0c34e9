"""Normalization layers (MLX): RMSNorm and LayerNorm on tessera.core.fast, GroupNorm on core ops."""

import tessera.core as tx

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
    """Normalizes x (..., dims) over groups of dims // num_groups features (and all middle axes)."""

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

    def _norm(self, x):
        # x (B, ..., C) with the groups' features made contiguous; normalized over all but the batch.
        b = x.shape[0]
        shape = x.shape
        x = x.reshape(b, -1)
        mean = tx.mean(x, axis=-1, keepdims=True)
        var = tx.var(x, axis=-1, keepdims=True)
        return ((x - mean) * tx.rsqrt(var + self.eps)).reshape(shape)

    def __call__(self, x):
        # Group i holds features [i * C/G, (i + 1) * C/G) at every position (both settings group so).
        shape = x.shape
        b, c, g = shape[0], shape[-1], self.num_groups
        x = x.reshape(b, -1, g, c // g)
        x = tx.transpose(x, (0, 2, 1, 3)).reshape(b * g, -1)
        x = self._norm(x)
        x = tx.transpose(x.reshape(b, g, -1, c // g), (0, 2, 1, 3)).reshape(shape)
        if "weight" in self:
            x = self["weight"] * x + self["bias"]
        return x


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
        axes = tuple(range(x.ndim - 1))
        if self.training or not self.track_running_stats:
            mean = tx.mean(x, axis=axes)
            var = tx.var(x, axis=axes)
            if self.training and self.track_running_stats:
                mu = self.momentum
                self.running_mean = (1 - mu) * self["running_mean"] + mu * tx.stop_gradient(mean)
                self.running_var = (1 - mu) * self["running_var"] + mu * tx.stop_gradient(var)
        else:
            mean, var = self["running_mean"], self["running_var"]
        x = (x - mean) * tx.rsqrt(var + self.eps)
        if "weight" in self:
            x = self["weight"] * x + self["bias"]
        return x
