"""tessera: lazy arrays, function transforms and an LLM toolkit for x86 CPUs and NVIDIA GPUs.

``tessera.core`` (the nanobind extension, MLX's ``mlx.core`` API) holds arrays, dtypes, ops,
devices/streams, memory functions, function transforms (grad, value_and_grad, vjp, jvp, vmap,
checkpoint, custom_function), file io (load, save, savez, save_safetensors, save_gguf) and the
submodules ``random``, ``linalg``, ``fast`` and ``lm`` (the C++ LLM toolkit). Each area is bound by one
file in ``python/src/`` (``init_<area>`` called from ``module.cpp``); new areas (nn, optimizers) add a
binding file there or a Python module next to this one. ``tessera.utils`` has MLX's tree functions;
``tessera.lm`` is MLX-LM's Python API (load, generate, stream_generate, make_sampler).

Development without pip: build the ``core`` target (and ``core_stub``) with -DTESSERA_BUILD_PYTHON=ON,
then put a folder holding ``tessera/`` = links to ``python/tessera/*`` plus the built ``core*.so`` on
PYTHONPATH (e.g. ``build/pydev``).

NumPy interop: ``tx.array(x)`` copies; ``np.asarray(a)`` / ``a.numpy()`` / ``np.from_dlpack(a)``
share the evaluated array's memory (writes show through, as with MLX's zero-copy views), while
``np.array(a)`` copies. ``bfloat16`` has no NumPy dtype: converting it raises ``TypeError`` (use
``a.astype(tessera.core.float32)`` or DLPack, which carries bfloat16).
"""

from . import core

__version__ = "0.1.0"
__all__ = ["core"]
