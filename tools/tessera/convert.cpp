// `tessera convert`: a checkpoint (HF/MLX directory, GGUF, llama2.c) to a HF directory or a GGUF file,
// with dtype casts, MLX affine quantization (uniform or mixed recipes) or dequantization.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/convert.h"

namespace tessera::cli {

namespace {

const char* const kUsage =
    "usage: tessera convert --model PATH --out PATH [options]\n"
    "\n"
    "Converts a model (Hugging Face / MLX directory, llama GGUF file or llama2.c .bin) into a Hugging Face\n"
    "style directory (config.json, model.safetensors or shards + index, tokenizer files) or, when --out\n"
    "ends in .gguf, a GGUF file (llama.cpp names; tokenizer metadata from GGUF sources). A GGUF or llama2.c\n"
    "source's vocabulary is written as tokenizer.json + tokenizer_config.json + generation_config.json.\n"
    "\n"
    "options:\n"
    "  --model PATH          the model to convert\n"
    "  --out PATH            output directory, or a .gguf file\n"
    "  --dtype T             f16, bf16 or f32: cast the floating weights\n"
    "  -q, --quantize        quantize linear and embedding weights (directory: MLX affine; GGUF: 4 bits ->\n"
    "                        Q4_0, 5 -> Q5_K, 6 -> Q6_K, 8 -> Q8_0)\n"
    "  --q-bits N            bits per weight: 2, 3, 4, 5, 6 or 8 (default 4)\n"
    "  --q-group-size N      values per scale/bias: 32, 64 or 128 (default 64)\n"
    "  --q-recipe R          mixed_2_6, mixed_3_4, mixed_3_6 or mixed_4_6: embeddings, lm_head and some\n"
    "                        v_proj/down_proj layers at the high bits, the rest at the low bits (MLX-LM);\n"
    "                        fused matrices take their roles' higher bits (Phi-3 qkv_proj as v_proj)\n"
    "  --dequantize          store quantized weights dense\n"
    "  --tokenizer PATH      tokenizer directory, tokenizer.json or SentencePiece .model to copy\n"
    "  --max-shard-size GB   safetensors shard size (default 5)\n"
    "  -h, --help            show this help\n";

}  // namespace

int convert_main(int argc, char** argv) {
  std::string model_path, out_path;
  lm::ConvertOptions options;
  try {
    FlagTable t;
    t.switches["-q"] = t.switches["--quantize"] = [&] { options.quantize = true; };
    t.switches["--dequantize"] = [&] { options.dequantize = true; };
    t.options["--model"] = [&](const std::string& v) { model_path = v; };
    t.options["--out"] = [&](const std::string& v) { out_path = v; };
    t.options["--dtype"] = [&](const std::string& v) { options.dtype = parse_dtype("--dtype", v); };
    t.options["--q-bits"] = [&](const std::string& v) { options.quantization.bits = parse_int("--q-bits", v); };
    t.options["--q-group-size"] = [&](const std::string& v) {
      options.quantization.group_size = parse_int("--q-group-size", v);
    };
    t.options["--q-recipe"] = [&](const std::string& v) { options.quantization.recipe = v; };
    t.options["--tokenizer"] = [&](const std::string& v) { options.tokenizer_path = v; };
    t.options["--max-shard-size"] = [&](const std::string& v) {
      double gb = parse_number("--max-shard-size", v);
      if (!(gb > 0)) throw UsageError("--max-shard-size must be positive");
      options.max_shard_bytes = static_cast<int64_t>(gb * (1 << 30));
    };
    if (!parse_flags(argc, argv, t, kUsage)) return 0;
    if (model_path.empty() || out_path.empty()) throw UsageError("--model and --out are required");
    if (!options.quantize && (!options.quantization.recipe.empty()))
      options.quantize = true;  // a recipe implies quantization
    if (options.quantize) lm::validate_quantize_options(options.quantization);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "tessera convert: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera convert: %s\n%s", e.what(), kUsage);
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  options.progress = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };
  options.tensor_progress = lm::terminal_progress_bar();
  try {
    lm::convert(model_path, out_path, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera convert: error: %s\n", e.what());
    return 1;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "[convert] done in %.1f s\n", s);
  return 0;
}

}  // namespace tessera::cli
