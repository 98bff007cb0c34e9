"""Custom model loading, as in MLX-LM's README: build the model from its config, load the weights
yourself, then generate.

    python examples/python/custom_model_loading.py [MODEL_DIR]

MODEL_DIR: a Hugging Face model directory (config.json, model.safetensors, tokenizer.json); default
$TESSERA_EXAMPLE_HF_MODEL, else the tiny test model tests/fixtures/hf_models/llama."""

import os
import sys

import tessera.core as tx
from tessera.lm import generate
from tessera.lm.models import Llama
from tessera.lm.utils import load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
model_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "TESSERA_EXAMPLE_HF_MODEL", os.path.join(ROOT, "tests", "fixtures", "hf_models", "llama"))

model = Llama.from_config(os.path.join(model_dir, "config.json"))
weights = tx.load(os.path.join(model_dir, "model.safetensors"))
model.update(weights)
tokenizer = load_tokenizer(model_dir)

print(f"{model.model_type}: {len(weights)} weight tensors, {model.num_layers} layers, vocabulary {model.vocab_size}")
text = generate(model, tokenizer, "hello world", max_tokens=20)
print(text)
