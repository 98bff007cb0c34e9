"""Model classes for custom loading (MLX-LM's mlx_lm.models): build a model from its config.json, then
give it weights. Every architecture of tessera's C++ registry (llama, mistral, qwen2, qwen3, phi3, gemma,
gemma2, gemma3_text) runs through the same decoder, so Llama takes any of their configs."""

from .llama import Llama, Model

__all__ = ["Llama", "Model"]
