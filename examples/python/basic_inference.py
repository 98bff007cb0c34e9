"""Basic inference, as in MLX-LM's README: load a model and its tokenizer, then generate text.

    python examples/python/basic_inference.py [MODEL]

MODEL: a model directory, GGUF or llama2.c file, or a Hugging Face id in the local cache (default
$TESSERA_EXAMPLE_MODEL, else the bundled models/stories260K)."""

import os
import sys

from tessera.lm import generate, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
model_path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "TESSERA_EXAMPLE_MODEL", os.path.join(ROOT, "models", "stories260K"))

model, tokenizer = load(model_path)

prompt = "Once upon a time"
if tokenizer.chat_template is not None:  # an instruct model: send the prompt as a user message
    messages = [{"role": "user", "content": "Write a story about Einstein"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)

text = generate(model, tokenizer, prompt, max_tokens=100)
print(text)
