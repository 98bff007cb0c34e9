"""Llama: a decoder made from a Hugging Face config.json and a weight dictionary, as MLX-LM's

    model = Llama.from_config("dir/config.json")
    model.update(tx.load("dir/model.safetensors"))

It wraps tessera.core.lm.Llama (built when weights arrive), so generate / stream_generate / perplexity
take it like a model from tessera.lm.load."""

import json
import os

from ... import core
from ...utils import tree_flatten

_lm = core.lm


class Llama:
    """A Llama-family decoder from a config; call update(weights) (or load_weights(path)) before use."""

    def __init__(self, config):
        if not isinstance(config, dict):
            raise TypeError(f"[models] config must be a dict (the parsed config.json), got {type(config).__name__}")
        self.config = dict(config)
        self._weights = {}
        self.decoder = None  # the tessera.core.lm.Llama, once weights are given

    @classmethod
    def from_config(cls, config):
        """From a config.json path, a directory holding config.json, or the parsed dict."""
        if isinstance(config, dict):
            return cls(config)
        path = os.fspath(config)
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        try:
            with open(path, encoding="utf-8") as f:
                parsed = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"[models] cannot read the config {path}: {e}") from e
        return cls(parsed)

    def sanitize(self, weights):
        """Checkpoint weights as update() takes them (the architecture's rewrites run in C++ at update)."""
        return dict(weights)

    def update(self, weights):
        """Sets weights (Hugging Face names, e.g. model.layers.0.self_attn.q_proj.weight -> array; a flat dict
        or the nested tree tree_unflatten makes) and builds the decoder; later calls replace the weights they
        name; [(name, array), ...] works too. Returns self. Raises ValueError on a config or weight the architecture rejects."""
        if isinstance(weights, (list, tuple)) and all(isinstance(w, tuple) and len(w) == 2 for w in weights):
            weights = dict(weights)  # [(name, array), ...]
        flat = dict(tree_flatten(weights))
        for name, value in flat.items():
            if not isinstance(value, core.array):
                raise TypeError(f"[models] weight {name} is a {type(value).__name__}, not a tessera array")
        merged = {**self._weights, **flat}
        self.decoder = _lm.llama_from_weights(json.dumps(self.config), merged)
        self._weights = merged
        return self

    def load_weights(self, path):
        """update() with the arrays of a .safetensors file (or a sharded model.safetensors.index.json)."""
        return self.update(core.load(os.fspath(path)))

    def _require(self):
        if self.decoder is None:
            raise RuntimeError("[models] the model has no weights yet: call update(weights) or load_weights(path)")
        return self.decoder

    def __call__(self, tokens, cache=None):
        """tokens (B, L) int32 -> logits (B, L, vocab_size) float32 (lazy)."""
        return self._require()(tokens, cache)

    def make_cache(self, max_kv_size=0):
        return self._require().make_cache(max_kv_size)

    def parameters(self):
        """The weights given so far, by name."""
        return dict(self._weights)

    @property
    def num_layers(self):
        return self._require().num_layers

    @property
    def vocab_size(self):
        return self._require().vocab_size

    @property
    def model_type(self):
        return self.config.get("model_type")


Model = Llama  # MLX-LM's per-architecture class name (mlx_lm.models.llama.Model)
