// `tessera bench`: prefill and decode throughput of a model file or a random-weight model of a named shape.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/decode_graph.h"
#include "tessera/lm/gguf_model.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/llama2c.h"
#include "tessera/lm/quantize_weights.h"
#include "tessera/lm/random_model.h"
#include "tessera/memory.h"
#include "tessera/ops.h"
#include "tessera/profiler.h"
#include "tessera/random.h"
#include "tessera/scheduler.h"

namespace tessera::cli {

namespace {

const char* const kUsage =
    "usage: tessera bench (--model PATH | --shape 7b|1b|smol|stories) [options]\n"
    "\n"
    "Measures prefill throughput (one forward pass of the prompt into an empty KV cache) and decode\n"
    "throughput (single-token steps through the cache, each step's argmax evaluated before the next)\n"
    "after a warm-up run, as the median over repeats. Prints a table last (or JSON with --json).\n"
    "\n"
    "options:\n"
    "  --model PATH      a llama GGUF (.gguf) or llama2.c checkpoint (.bin), weights cast to --dtype\n"
    "  --shape NAME      random weights (normal * 0.02) of a named shape: 7b (Llama-2-7B), 1b (Llama-3.2-1B\n"
    "                    like, vocab 32000), smol (SmolLM2-135M, untied), stories (stories260K)\n"
    "  --dtype D         bf16, f16 or f32 (default: bf16 for --shape, f32 for --model)\n"
    "  --dequantize      dequantize GGUF block weights at load (default: Q4_0/Q4_1/Q8_0/Q4_K/Q5_K/Q6_K\n"
    "                    stay quantized and run through the quantized matmul)\n"
    "  --quantize Q      int4 or int8: quantize the linear and embedding weights (MLX affine, group 64)\n"
    "                    after loading / making them, as load(..., quantization=Q) does\n"
    "  -p, --prompt-tokens N  prompt length for prefill (default 512)\n"
    "  -n, --gen-tokens N     decode steps (default 128)\n"
    "  --batch B         sequences per step (default 1)\n"
    "  --repeats R       timed runs; the median is reported (default 3)\n"
    "  --device D        cpu or gpu (default: the default device, the GPU when there is one)\n"
    "  --seed S          seed of the random weights and prompt (default 0)\n"
    "  --kv-bits B       quantized KV cache of B bits (4 or 8; default 0 = full precision)\n"
    "  --kv-group-size G group size of the quantized KV cache: 32, 64, 128 (default 64)\n"
    "  --quantized-kv-start N  full-precision positions before the cache is quantized (default 0)\n"
    "  --async           pipelined decode: queue step i+1 before waiting for step i's token\n"
    "  --no-graph        decode without replaying the step as a CUDA graph (the GPU default, as in\n"
    "                    generate, where the model allows it; the capture is part of the decode time)\n"
    "  --json            print the result as one JSON object on stdout (the table goes to stderr)\n"
    "  -h, --help        show this help\n";

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Weights of a model file cast to dtype (on the default device). GGUF blocks the quantized matmul reads stay
// quantized unless dequantize.
lm::WeightMap load_weights(const std::string& path, Dtype dtype, lm::LlamaConfig& config, bool dequantize) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("[bench] no such file: " + path);
  if (std::filesystem::path(path).extension() == ".gguf") {
    GGUFFile file = load_gguf_file(path);
    config = lm::llama_config_from_gguf(file.metadata);
    lm::GGUFModelOptions opt;
    opt.dtype = dtype;
    opt.keep_quantized = !dequantize;
    lm::WeightMap w = lm::llama_weights_from_gguf(file, config, opt);
    for (auto& [name, a] : w) {
      if (!is_floating_point(a.dtype())) continue;  // raw blocks and their markers
      a = astype(a, dtype);  // norms stay float32 in the GGUF loader; the benchmark runs all in dtype
      eval(a);
    }
    return w;
  }
  auto ck = lm::load_llama2c(path);
  config = ck.config;
  for (auto& [name, a] : ck.weights) {
    a = astype(a, dtype);
    eval(a);
  }
  return std::move(ck.weights);
}

struct Timing {
  double prefill_s = 0, decode_s = 0;
  double build_s = 0;  // of decode_s: building the step's graph on the host (the rest is eval)
  size_t kv_bytes = 0;  // the KV cache after the run
  bool graph = false;   // the decode steps were replayed as a CUDA graph
};

struct KVOptions {
  int bits = 0, group_size = 64, start = 0;  // --kv-bits, --kv-group-size, --quantized-kv-start
};

// One prefill of `prompt` into an empty cache, then n_gen decode steps; each step's argmax is evaluated.
// With `pipelined`, step i+1's graph is built on the lazy token of step i and queued (async_eval)
// before step i is waited for, so graph building overlaps the device's work (as MLX-LM does).
Timing run_once(const lm::Llama& model, const array& prompt, int n_gen, const KVOptions& kv = {},
                bool pipelined = false, bool graph = true) {
  const int B = prompt.shape(0), P = prompt.shape(1);
  lm::KVCache cache(model.num_layers(), P + n_gen);
  if (kv.bits > 0) cache.set_quantization(kv.bits, kv.group_size, kv.start);
  Timing t;
  auto t0 = Clock::now();
  array logits = model(prompt, &cache);                                        // (B, P, V)
  array y = argmax(slice(logits, {0, P - 1, 0}, {B, P, logits.shape(2)}), 2);  // (B, 1)
  eval(y);
  synchronize();
  t.prefill_s = seconds_since(t0);
  t0 = Clock::now();
  std::optional<lm::DecodeGraph> dg;
  if (graph && lm::DecodeGraph::usable(model, cache)) dg.emplace(model, cache);
  for (int i = 0; i < n_gen; ++i) {
    auto b0 = Clock::now();
    array tok = astype(y, int32);
    array next = argmax(dg && !dg->failed() ? dg->step(tok, n_gen - i) : model(tok, &cache), 2);  // (B, 1)
    t.build_s += seconds_since(b0);
    if (pipelined) {
      async_eval({next});
      eval(y);  // the previous step's token, as a sampler reading it would
    } else {
      eval(next);
    }
    y = next;
  }
  eval(y);
  synchronize();
  t.decode_s = seconds_since(t0);
  t.graph = dg && !dg->failed();
  if (dg && dg->failed()) std::fprintf(stderr, "tessera bench: no decode graph: %s\n", dg->why_not().c_str());
  t.kv_bytes = cache.nbytes();
  return t;
}

}  // namespace

int bench_main(int argc, char** argv) {
  std::string model_path, shape;
  std::optional<Dtype> dtype;
  std::optional<Device> device;
  int prompt_tokens = 512, gen_tokens = 128, batch = 1, repeats = 3;
  uint64_t seed = 0;
  KVOptions kv;
  bool json = false, dequantize = false, pipelined = false, graph = true;
  std::string quantize;
  try {
    FlagTable t;
    t.switches["--json"] = [&] { json = true; };
    t.switches["--dequantize"] = [&] { dequantize = true; };
    t.switches["--async"] = [&] { pipelined = true; };
    t.switches["--no-graph"] = [&] { graph = false; };
    t.options["--model"] = [&](const std::string& v) { model_path = v; };
    t.options["--shape"] = [&](const std::string& v) { shape = v; };
    t.options["--quantize"] = [&](const std::string& v) { quantize = v; };
    t.options["--dtype"] = [&](const std::string& v) { dtype = parse_dtype("--dtype", v); };
    t.options["-p"] = t.options["--prompt-tokens"] = [&](const std::string& v) {
      prompt_tokens = parse_int("--prompt-tokens", v);
    };
    t.options["-n"] = t.options["--gen-tokens"] = [&](const std::string& v) { gen_tokens = parse_int("--gen-tokens", v); };
    t.options["--batch"] = [&](const std::string& v) { batch = parse_int("--batch", v); };
    t.options["--repeats"] = [&](const std::string& v) { repeats = parse_int("--repeats", v); };
    t.options["--seed"] = [&](const std::string& v) { seed = static_cast<uint64_t>(parse_int("--seed", v)); };
    t.options["--kv-bits"] = [&](const std::string& v) { kv.bits = parse_int("--kv-bits", v); };
    t.options["--kv-group-size"] = [&](const std::string& v) { kv.group_size = parse_int("--kv-group-size", v); };
    t.options["--quantized-kv-start"] = [&](const std::string& v) { kv.start = parse_int("--quantized-kv-start", v); };
    t.options["--device"] = [&](const std::string& v) {
      if (v == "cpu")
        device = Device(Device::cpu);
      else if (v == "gpu")
        device = Device(Device::gpu);
      else
        throw UsageError("--device expects cpu or gpu, got '" + v + "'");
    };
    if (!parse_flags(argc, argv, t, kUsage)) return 0;
    if (model_path.empty() == shape.empty()) throw UsageError("give exactly one of --model and --shape");
    if (!shape.empty()) {
      auto names = lm::llama_shape_names();
      if (std::find(names.begin(), names.end(), shape) == names.end())
        throw UsageError("--shape expects 7b, 1b, smol or stories, got '" + shape + "'");
    }
    if (prompt_tokens < 1) throw UsageError("-p must be >= 1");
    if (gen_tokens < 1) throw UsageError("-n must be >= 1");
    if (batch < 1) throw UsageError("--batch must be >= 1");
    if (repeats < 1) throw UsageError("--repeats must be >= 1");
    validate_kv_flags(kv.bits, kv.group_size, kv.start);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera bench: %s\n%s", e.what(), kUsage);
    return 2;
  }

  try {
    if (device) {
      if (!is_available(*device))
        throw std::runtime_error(std::string("the ") + (device->type == Device::gpu ? "GPU" : "CPU") +
                                 " is not available (built without CUDA or no GPU visible)");
      set_default_device(*device);
    }
    const Device dev = default_device();
    const Dtype dt = dtype.value_or(shape.empty() ? float32 : bfloat16);
    reset_peak_memory();

    lm::LlamaConfig config;
    lm::WeightMap weights;
    std::string name;
    if (!shape.empty()) {
      config = lm::llama_shape(shape);
      std::fprintf(stderr, "tessera bench: making random %s weights (%s)...\n", shape.c_str(),
                   dtype_name(dt).c_str());
      weights = lm::random_llama_weights(config, dt, seed);
      name = shape;
    } else {
      weights = load_weights(model_path, dt, config, dequantize);
      name = std::filesystem::path(model_path).filename().string();
    }
    if (!quantize.empty()) {
      if (quantize != "int4" && quantize != "int8") throw UsageError("--quantize expects int4 or int8, got '" + quantize + "'");
      std::fprintf(stderr, "tessera bench: quantizing to %s...\n", quantize.c_str());
      lm::apply_load_quantization(weights, config, quantize);
      name += " " + quantize;
    }
    if (prompt_tokens + gen_tokens + 2 > config.max_position_embeddings)
      std::fprintf(stderr, "tessera bench: note: %d tokens exceed the model's context of %d\n",
                   prompt_tokens + gen_tokens + 2, config.max_position_embeddings);
    size_t n_params = 0, weight_bytes = 0;
    for (const auto& [k, a] : weights) {
      n_params += a.size();
      weight_bytes += a.nbytes();
    }
    const size_t decode_bytes = lm::llama_decode_weight_bytes(config, weights);
    lm::Llama model(config, std::move(weights));
    weights.clear();

    array prompt =
        random::randint(0, config.vocab_size, {batch, prompt_tokens}, int32, random::key(seed + 1));
    eval(prompt);

    std::fprintf(stderr, "tessera bench: warm-up...\n");
    run_once(model, prompt, std::min(gen_tokens, 4), kv, pipelined, graph);
    profiler::reset();  // TESSERA_PROFILE: the timed runs only
    std::vector<double> prefill_tps, decode_tps, build_us;
    size_t kv_bytes = 0;
    bool graph_used = false;
    for (int r = 0; r < repeats; ++r) {
      Timing t = run_once(model, prompt, gen_tokens, kv, pipelined, graph);
      build_us.push_back(1e6 * t.build_s / gen_tokens);
      kv_bytes = t.kv_bytes;
      graph_used = t.graph;
      prefill_tps.push_back(double(batch) * prompt_tokens / t.prefill_s);
      decode_tps.push_back(double(batch) * gen_tokens / t.decode_s);
      std::fprintf(stderr, "tessera bench: run %d/%d: prefill %.1f tok/s, decode %.1f tok/s (graph building %.0f us a step)\n",
                   r + 1, repeats, prefill_tps.back(), decode_tps.back(), build_us.back());
    }
    const double pf = median(prefill_tps), dc = median(decode_tps);
    const double peak = static_cast<double>(get_peak_memory());
    // A decode step reads the weights once for the whole batch.
    const double gbps = decode_bytes * (dc / batch) / 1e9;
    std::string device_name = dev.type == Device::gpu ? "gpu" : "cpu";
    std::string dtype_str = dtype_name(dt);

    FILE* table = json ? stderr : stdout;
    std::fprintf(
        table,
        "| model | dtype | device | batch | params | prefill p=%d (tok/s) | decode n=%d (tok/s) | peak "
        "memory | weights/token | decode GB/s |\n",
        prompt_tokens, gen_tokens);
    std::fprintf(table, "|---|---|---|---|---|---|---|---|---|---|\n");
    std::fprintf(table, "| %s | %s | %s | %d | %.1fM | %.1f | %.1f | %s | %s | %.2f |\n", name.c_str(),
                 dtype_str.c_str(), device_name.c_str(), batch, n_params / 1e6, pf, dc,
                 format_bytes(peak).c_str(), format_bytes(static_cast<double>(decode_bytes)).c_str(), gbps);
    std::fprintf(table, "decode: %s%s\n", graph_used ? "CUDA graph replay" : "eager steps",
                 pipelined ? ", pipelined" : "");
    if (kv.bits > 0) {
      std::fprintf(table, "KV cache: %d-bit, group %d: %s\n", kv.bits, kv.group_size,
                   format_bytes(static_cast<double>(kv_bytes)).c_str());
    }
    if (json) {
      nlohmann::ordered_json j = {
          {"model", name},
          {"dtype", dtype_str},
          {"device", device_name},
          {"batch", batch},
          {"prompt_tokens", prompt_tokens},
          {"gen_tokens", gen_tokens},
          {"repeats", repeats},
          {"parameters", n_params},
          {"weight_bytes", weight_bytes},
          {"prefill_tps", pf},
          {"decode_tps", dc},
          {"prefill_tps_runs", prefill_tps},
          {"decode_tps_runs", decode_tps},
          {"decode_build_us_per_step", median(build_us)},
          {"pipelined", pipelined},
          {"decode_graph", graph_used},
          {"peak_memory_bytes", static_cast<size_t>(peak)},
          {"decode_weight_bytes_per_token", decode_bytes},
          {"decode_gbps", gbps},
          {"kv_bits", kv.bits},
          {"kv_cache_bytes", kv_bytes},
      };
      std::printf("%s\n", j.dump().c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera bench: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
