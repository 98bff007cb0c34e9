// convert(): load a checkpoint's weights, cast / quantize / dequantize them, and write a HF directory or GGUF.
#include "tessera/lm/convert.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <vector>

#include "tessera/io.h"
#include "tessera/lm/gguf_tokenizer.h"
#include "tessera/lm/load.h"
#include "tessera/lm/tokenizer_json_writer.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

void say(const ConvertOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Row order that maps llama.cpp's q/k layout (adjacent RoPE pairs per head) to HF's halves (to_hf) or back.
array qk_row_order(int heads, int head_dim, bool to_hf) {
  std::vector<int32_t> idx(static_cast<size_t>(heads) * head_dim);
  const int half = head_dim / 2;
  for (int h = 0; h < heads; ++h) {
    for (int t = 0; t < 2; ++t) {
      for (int j = 0; j < half; ++j) {
        int hf = h * head_dim + t * half + j, gg = h * head_dim + 2 * j + t;
        if (to_hf) idx[hf] = gg;
        else idx[gg] = hf;
      }
    }
  }
  return array(idx, {static_cast<int>(idx.size())}, int32);
}

// Permutes the q/k rows of every layer (any storage: rows of dense weights, blocks, scales and biases).
void permute_qk(WeightMap& w, const LlamaConfig& c, bool to_hf) {
  const int D = c.head_dim_or_default();
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    for (auto [proj, heads] : {std::pair{"q_proj", c.num_attention_heads}, std::pair{"k_proj", c.kv_heads()}}) {
      std::string p = "model.layers." + std::to_string(i) + ".self_attn." + proj;
      array order = qk_row_order(heads, D, to_hf);
      for (const char* part : {".weight", ".scales", ".biases"}) {
        auto it = w.find(p + part);
        if (it == w.end()) continue;
        if (it->second.ndim() != 2 || it->second.shape(0) != heads * D) {
          throw std::invalid_argument("[convert] " + p + part + " has shape " + shape_str(it->second.shape()) +
                                      ", expected " + std::to_string(heads * D) + " rows.");
        }
        it->second = take(it->second, order, 0);
        it->second.eval();
      }
    }
  }
}

bool has_gguf_blocks(const WeightMap& w) {
  for (const auto& [name, a] : w) {
    if (ends_with(name, ".gguf_type")) return true;
  }
  return false;
}

bool has_affine(const WeightMap& w) {
  for (const auto& [name, a] : w) {
    if (ends_with(name, ".scales")) return true;
  }
  return false;
}

std::string dtype_hf_name(Dtype d) {
  if (d == float16) return "float16";
  if (d == bfloat16) return "bfloat16";
  return "float32";
}

// The dtype of the floating weights (for config.json torch_dtype).
Dtype weights_dtype(const WeightMap& w) {
  for (const auto& [name, a] : w) {
    if (is_floating_point(a.dtype()) && a.ndim() == 2) return a.dtype();
  }
  return float32;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("[convert] cannot write " + path.string());
}

// Copies tokenizer files into dir; returns the names copied.
std::vector<std::string> copy_tokenizer(const ModelWeights& src, const ConvertOptions& o, const fs::path& dir) {
  static const char* kFiles[] = {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                                 "special_tokens_map.json", "generation_config.json", "chat_template.jinja",
                                 "added_tokens.json"};
  std::vector<std::string> copied;
  auto copy = [&](const fs::path& from, const std::string& name) {
    fs::copy_file(from, dir / name, fs::copy_options::overwrite_existing);
    copied.push_back(name);
  };
  fs::path from;
  if (!o.tokenizer_path.empty()) {
    fs::path t(o.tokenizer_path);
    if (fs::is_directory(t)) {
      from = t;
    } else if (t.extension() == ".json") {
      copy(t, "tokenizer.json");
    } else if (t.extension() == ".model") {
      copy(t, "tokenizer.model");
    } else {
      throw std::invalid_argument("[convert] --tokenizer must be a directory, tokenizer.json or a SentencePiece "
                                  ".model file: " + o.tokenizer_path);
    }
  } else if (src.format == "hf") {
    from = src.path;
  } else if (src.format == "llama2c") {
    // A SentencePiece model next to the checkpoint (stories260K ships tok512.model beside tok512.bin).
    fs::path d = fs::path(src.path).parent_path();
    if (d.empty()) d = ".";
    std::vector<fs::path> models;
    for (const auto& e : fs::directory_iterator(d)) {
      if (e.is_regular_file() && e.path().extension() == ".model") models.push_back(e.path());
    }
    std::sort(models.begin(), models.end());
    if (!models.empty()) copy(models.front(), "tokenizer.model");
  }
  if (!from.empty()) {
    for (const char* f : kFiles) {
      if (fs::is_regular_file(from / f)) copy(from / f, f);
    }
  }
  if (std::find(copied.begin(), copied.end(), "tokenizer.model") != copied.end() &&
      !fs::exists(dir / "tokenizer_config.json")) {
    nlohmann::json tc = {{"tokenizer_class", "LlamaTokenizer"}, {"add_bos_token", true}, {"add_eos_token", false},
                         {"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"},
                         {"legacy", true}, {"clean_up_tokenization_spaces", false}};
    write_text(dir / "tokenizer_config.json", tc.dump(2));
    copied.push_back("tokenizer_config.json");
  }
  return copied;
}

// The tokenizer of a GGUF (tokenizer.ggml.* metadata) or llama2.c (tokenizer.bin) source as tokenizer.json,
// tokenizer_config.json and generation_config.json; HF sources keep their own files (copied). Returns the names.
std::vector<std::string> write_source_tokenizer(const ModelWeights& src, const fs::path& dir) {
  if (src.format == "gguf") {
    if (!src.gguf_metadata.count("tokenizer.ggml.tokens")) return {};
    return write_tokenizer_files(vocab_spec_from_gguf(src.gguf_metadata), dir.string());
  }
  if (src.format != "llama2c") return {};
  std::shared_ptr<Tokenizer> tok;
  try {
    tok = find_tokenizer(src);
  } catch (const std::runtime_error&) {
    return {};  // no tokenizer.bin next to the checkpoint
  }
  auto* l2c = dynamic_cast<const Llama2cTokenizer*>(tok.get());
  return l2c ? write_tokenizer_files(vocab_spec_from_llama2c(*l2c), dir.string()) : std::vector<std::string>{};
}

void save_directory(ModelWeights& src, const fs::path& dir, const nlohmann::json& quant_section,
                    const ConvertOptions& o) {
  fs::create_directories(dir);
  nlohmann::json cfg = src.format == "hf" ? src.config_json : llama_hf_config_json(src.config);
  cfg.erase("quantization");
  cfg.erase("quantization_config");
  if (!quant_section.is_null()) cfg["quantization"] = cfg["quantization_config"] = quant_section;
  cfg["torch_dtype"] = dtype_hf_name(weights_dtype(src.weights));
  if (src.format != "hf") cfg["tie_word_embeddings"] = !src.weights.count("lm_head.weight");
  write_text(dir / "config.json", cfg.dump(2));

  // Shards in name order, each at most max_shard_bytes (a larger single tensor gets its own shard).
  std::map<std::string, array> sorted(src.weights.begin(), src.weights.end());
  std::vector<std::vector<std::string>> shards(1);
  int64_t current = 0, total = 0;
  for (const auto& [name, a] : sorted) {
    int64_t n = static_cast<int64_t>(a.nbytes());
    if (current > 0 && current + n > o.max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(name);
    current += n;
    total += n;
  }
  const StringMap meta = {{"format", quant_section.is_null() ? "pt" : "mlx"}};
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    std::string file = "model.safetensors";
    if (shards.size() > 1) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
      file = buf;
    }
    ArrayMap part;
    for (const auto& name : shards[s]) {
      auto& a = sorted.at(name);
      if (o.tensor_progress) {  // computed one by one so the bar moves (save would evaluate them anyway)
        a.eval();
        o.tensor_progress("writing " + file, part.size() + 1, shards[s].size());
      }
      part.emplace(name, a);
      weight_map[name] = file;
    }
    save_safetensors((dir / file).string(), part, meta);
    say(o, "[convert] wrote " + (dir / file).string() + " (" + std::to_string(shards[s].size()) + " tensors)");
  }
  if (shards.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_text(dir / "model.safetensors.index.json", index.dump(2));
  }
  auto copied = o.tokenizer_path.empty() ? write_source_tokenizer(src, dir) : std::vector<std::string>{};
  for (auto& c : copy_tokenizer(src, o, dir)) copied.push_back(std::move(c));
  if (copied.empty()) {
    say(o, "[convert] no tokenizer files written (no tokenizer.json / SentencePiece .model / tokenizer metadata "
           "found): pass --tokenizer, or a tokenizer path when loading");
  } else {
    std::string names;
    for (const auto& c : copied) names += (names.empty() ? "" : ", ") + c;
    say(o, "[convert] tokenizer files: " + names);
  }
}

// The ggml type for a layer's bits.
GGMLType ggml_type_for_bits(int bits) {
  switch (bits) {
    case 4: return GGMLType::Q4_0;
    case 5: return GGMLType::Q5_K;
    case 6: return GGMLType::Q6_K;
    case 8: return GGMLType::Q8_0;
    default:
      throw std::invalid_argument("[convert] GGUF output quantizes to 4, 5, 6 or 8 bits, not " +
                                  std::to_string(bits) + ".");
  }
}

std::string gguf_name_of(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+)\.weight)");
  static const std::pair<const char*, const char*> kParts[] = {
      {"self_attn.q_proj", "attn_q"},   {"self_attn.k_proj", "attn_k"},  {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"mlp.gate_proj", "ffn_gate"}, {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},   {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"}};
  std::smatch m;
  if (std::regex_match(hf, m, layer)) {
    for (const auto& [h, g] : kParts) {
      if (m[2] == h) return "blk." + m[1].str() + "." + g + ".weight";
    }
  }
  throw std::invalid_argument("[convert] tensor " + hf + " has no llama GGUF name.");
}

void save_gguf_file(ModelWeights& src, const fs::path& out, const ConvertOptions& o) {
  const LlamaConfig& c = src.config;
  llama_hf_config_json(c);  // refuses non-llama variants
  if (c.rope_type != "default") throw std::invalid_argument("[convert] GGUF output does not write RoPE scaling yet.");
  permute_qk(src.weights, c, false);
  GGUFMetadata md;
  for (const auto& [k, v] : src.gguf_metadata) {
    if (k.rfind("tokenizer.", 0) == 0) md[k] = v;
  }
  md["general.architecture"] = GGUFValue("llama");
  md["general.name"] = GGUFValue(fs::path(src.path).filename().string());
  md["llama.embedding_length"] = GGUFValue(static_cast<uint32_t>(c.hidden_size));
  md["llama.feed_forward_length"] = GGUFValue(static_cast<uint32_t>(c.intermediate_size));
  md["llama.block_count"] = GGUFValue(static_cast<uint32_t>(c.num_hidden_layers));
  md["llama.attention.head_count"] = GGUFValue(static_cast<uint32_t>(c.num_attention_heads));
  md["llama.attention.head_count_kv"] = GGUFValue(static_cast<uint32_t>(c.kv_heads()));
  md["llama.attention.key_length"] = GGUFValue(static_cast<uint32_t>(c.head_dim_or_default()));
  md["llama.attention.value_length"] = GGUFValue(static_cast<uint32_t>(c.head_dim_or_default()));
  md["llama.rope.dimension_count"] = GGUFValue(static_cast<uint32_t>(c.head_dim_or_default()));
  md["llama.vocab_size"] = GGUFValue(static_cast<uint32_t>(c.vocab_size));
  md["llama.context_length"] = GGUFValue(static_cast<uint32_t>(c.max_position_embeddings));
  md["llama.attention.layer_norm_rms_epsilon"] = GGUFValue(c.rms_norm_eps);
  md["llama.rope.freq_base"] = GGUFValue(c.rope_theta);
  if (!md.count("tokenizer.ggml.model")) {
    say(o, "[convert] no tokenizer metadata written (only GGUF sources carry it): pass a tokenizer when loading");
  }
  std::map<std::string, array> sorted(src.weights.begin(), src.weights.end());
  const size_t total_tensors = sorted.size();
  std::vector<std::pair<std::string, GGUFTensor>> tensors;
  const Dtype dense_dtype = o.dtype.value_or(float32);
  for (const auto& [name, a] : sorted) {
    if (ends_with(name, ".gguf_type")) continue;
    const std::string prefix = name.substr(0, name.size() - 7);
    std::optional<GGUFTensor> t;
    if (auto it = src.weights.find(prefix + ".gguf_type"); it != src.weights.end()) {
      auto type = static_cast<GGMLType>(astype(it->second, int32).item<int32_t>());
      const int in = in_features_of(prefix, c);
      t = GGUFTensor{type, {a.shape(0), in}, reshape(a, {static_cast<int>(a.size())})};
    } else if (name.find("norm") != std::string::npos || a.ndim() != 2) {
      t = gguf_quantize(astype(a, float32), GGMLType::F32);
    } else if (o.quantize) {
      const int bits = quantized_layer_bits(prefix, o.quantization, c.num_hidden_layers);
      GGMLType type = ggml_type_for_bits(bits);
      if (a.shape(1) % static_cast<int>(ggml_traits(type).block_size) != 0) type = GGMLType::Q8_0;
      if (a.shape(1) % 32 != 0) type = dense_dtype == float16 ? GGMLType::F16 : GGMLType::F32;
      t = gguf_quantize(a, type);
    } else {
      GGMLType type = dense_dtype == float16 ? GGMLType::F16 : dense_dtype == bfloat16 ? GGMLType::BF16 : GGMLType::F32;
      t = gguf_quantize(a, type);
    }
    tensors.emplace_back(gguf_name_of(name), std::move(*t));
    if (o.tensor_progress) o.tensor_progress("encoding " + out.filename().string(), tensors.size(), total_tensors);
  }
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  save_gguf(out.string(), tensors, md);
  say(o, "[convert] wrote " + out.string() + " (" + std::to_string(tensors.size()) + " tensors)");
}

}  // namespace

nlohmann::json llama_hf_config_json(const LlamaConfig& c) {
  if (c.model_type != "llama" || c.attention_bias || c.o_proj_bias || c.qk_norm || c.sandwich_norms ||
      c.hidden_act != "silu" || c.embedding_scale > 0 || c.sliding_window > 0 || c.attn_logit_softcapping > 0 ||
      c.final_logit_softcapping > 0 || c.partial_rotary_factor != 1.0f || c.rope_traditional) {
    throw std::invalid_argument("[convert] only plain Llama configs can be written as a llama config.json.");
  }
  nlohmann::json j = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.kv_heads()},
      {"head_dim", c.head_dim_or_default()},
      {"vocab_size", c.vocab_size},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"max_position_embeddings", c.max_position_embeddings},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
  };
  if (c.rope_type == "linear") {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_factor}};
  } else if (c.rope_type == "llama3") {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_factor},
                         {"low_freq_factor", c.rope_low_freq_factor},
                         {"high_freq_factor", c.rope_high_freq_factor},
                         {"original_max_position_embeddings", c.rope_original_max_position_embeddings}};
  }
  return j;
}

void convert(const std::string& input, const std::string& output, const ConvertOptions& o) {
  if (o.quantize && o.dequantize) throw std::invalid_argument("[convert] --quantize and --dequantize exclude each other.");
  if (o.quantize) validate_quantize_options(o.quantization);
  if (o.max_shard_bytes <= 0) throw std::invalid_argument("[convert] the shard size must be positive.");
  if (output.empty()) throw std::invalid_argument("[convert] no output path given.");
  const bool to_gguf = ends_with(output, ".gguf");
  if (!to_gguf && fs::exists(fs::path(output) / "config.json") && fs::equivalent(fs::path(output), fs::path(input))) {
    throw std::invalid_argument("[convert] the output directory is the input.");
  }
  say(o, "[convert] loading " + input);
  // GGUF blocks stay native only when they go on into a GGUF file unchanged.
  const bool keep_blocks = to_gguf && !o.dequantize && !o.dtype && !o.quantize;
  ModelWeights src = load_weights(input, std::nullopt, keep_blocks, /*sanitize=*/false);
  say(o, "[convert] " + src.format + " checkpoint: " + std::to_string(src.config.num_hidden_layers) + " layers, " +
             std::to_string(src.weights.size()) + " tensors");
  if (src.format == "gguf") {
    permute_qk(src.weights, src.config, true);  // llama.cpp's q/k row order -> HF's
    src.config.rope_traditional = false;
  }
  if (to_gguf && has_affine(src.weights)) dequantize_weights(src.weights, src.config);
  if (o.dequantize || (!to_gguf && has_gguf_blocks(src.weights))) {
    if (!o.quantize) {
      say(o, "[convert] dequantizing");
      dequantize_weights(src.weights, src.config, o.dtype);
    }
  }
  if (o.dtype) {
    say(o, "[convert] casting to " + dtype_name(*o.dtype));
    if (!o.quantize || !to_gguf) {
      dequantize_weights(src.weights, src.config, *o.dtype);
      cast_weights(src.weights, *o.dtype);
    }
  }
  if (to_gguf) {
    save_gguf_file(src, output, o);
    return;
  }
  nlohmann::json section;
  if (o.quantize) {
    say(o, "[convert] quantizing (" +
               (o.quantization.recipe.empty() ? std::to_string(o.quantization.bits) + " bits" : o.quantization.recipe) +
               ", group size " + std::to_string(o.quantization.group_size) + ")");
    section = quantize_weights(src.weights, src.config, o.quantization);
  } else if (has_affine(src.weights)) {
    // An already quantized source keeps its section.
    for (const char* key : {"quantization", "quantization_config"}) {
      if (src.config_json.contains(key)) {
        section = src.config_json[key];
        break;
      }
    }
  }
  save_directory(src, output, section, o);
}

}  // namespace tessera::lm
