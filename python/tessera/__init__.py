"""tessera: lazy arrays, function transforms and an LLM toolkit for x86 CPUs and NVIDIA GPUs."""

from . import core

__version__ = "0.1.0"
__all__ = ["core"]
