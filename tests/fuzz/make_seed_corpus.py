"""Writes small seed inputs for fuzz_gguf into tests/fuzz/corpus/fuzz_gguf with the gguf package (PyPI):
one file per tensor type (one block each) plus every metadata value type. The npy and safetensors seeds
are copies of tests/fixtures/io files."""
import os
import sys

import numpy as np
import gguf
from gguf import quants

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_gguf")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
Q = gguf.GGMLQuantizationType
types = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
for t in types:
    block = gguf.GGML_QUANT_SIZES[t][0]
    w = rng.standard_normal((2, max(block, 32))).astype(np.float32)
    path = os.path.join(out, f"seed_{t.name}.gguf")
    wr = gguf.GGUFWriter(path, "llama")
    wr.add_uint32("test.u32", 7)
    wr.add_int8("test.i8", -3)
    wr.add_float32("test.f32", 1.5)
    wr.add_float64("test.f64", -2.25)
    wr.add_bool("test.bool", True)
    wr.add_string("test.str", "héllo")
    wr.add_array("test.arr", [1, 2, 3])
    wr.add_array("test.strs", ["a", "bc"])
    if t in (Q.F32, Q.F16):
        wr.add_tensor("w", w.astype(np.float16 if t == Q.F16 else np.float32))
    else:
        try:
            data = quants.quantize(w, t)
        except NotImplementedError:  # gguf-py cannot quantize some K types: random blocks of the right size
            block, nbytes = gguf.GGML_QUANT_SIZES[t]
            data = rng.integers(0, 256, (w.shape[0], w.shape[1] // block * nbytes), dtype=np.uint8)
        wr.add_tensor("w", data, raw_dtype=t)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
print("wrote", len(types), "seeds to", out, file=sys.stderr)
