// `tessera info`: a model file's configuration, parameter count, weight dtypes and tokenizer.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "tessera/io/gguf.h"
#include "tessera/lm/gguf_model.h"
#include "tessera/lm/gguf_tokenizer.h"
#include "tessera/lm/load.h"
#include "tessera/lm/random_model.h"

namespace tessera::cli {

namespace {

const char* const kUsage =
    "usage: tessera info --model PATH [--tokenizer PATH]\n"
    "\n"
    "Prints a model's configuration (architecture, layers, hidden size, heads, KV heads, vocabulary,\n"
    "context, RoPE theta, tied embeddings), its parameter count, the dtypes and bytes of its weights as\n"
    "stored, and its tokenizer (kind, vocabulary size, BOS/EOS ids, chat template).\n"
    "\n"
    "options:\n"
    "  --model PATH      a llama GGUF (.gguf) or llama2.c checkpoint (.bin)\n"
    "  --tokenizer PATH  tokenizer to use instead of the model's own\n"
    "  -h, --help        show this help\n";

struct DtypeUse {
  size_t tensors = 0, elements = 0, bytes = 0;
};

void line(const char* key, const std::string& value) { std::printf("%-20s %s\n", key, value.c_str()); }

}  // namespace

int info_main(int argc, char** argv) {
  std::string model_path, tokenizer_path;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      }
      auto [flag, value] = flag_and_value(argc, argv, i);
      if (flag == "--model")
        model_path = value;
      else if (flag == "--tokenizer")
        tokenizer_path = value;
      else
        throw UsageError("unknown option " + a);
    }
    if (model_path.empty()) throw UsageError("--model is required");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera info: %s\n%s", e.what(), kUsage);
    return 2;
  }

  try {
    if (!std::filesystem::exists(model_path))
      throw std::runtime_error("no such file or directory: " + model_path);
    lm::LlamaConfig c;
    std::string architecture, format, tok_kind;
    std::map<std::string, DtypeUse> dtypes;
    size_t params = 0;
    std::shared_ptr<lm::Tokenizer> tok;
    if (std::filesystem::path(model_path).extension() == ".gguf") {
      GGUFFile file = load_gguf_file(model_path);  // header only; tensor data stay mapped
      c = lm::llama_config_from_gguf(file.metadata);
      bool has_output = false;
      for (const auto& [name, t] : file.tensors) {
        has_output |= name == "output.weight";
        size_t n = 1;
        for (int d : t.shape) n *= static_cast<size_t>(d);
        auto& u = dtypes[ggml_traits(t.type).name];
        u.tensors += 1;
        u.elements += n;
        u.bytes += t.data.nbytes();
        params += n;
      }
      c.tie_word_embeddings = !has_output;
      architecture = "llama";
      format = "GGUF v" + std::to_string(file.version);
      if (auto it = file.metadata.find("general.name"); it != file.metadata.end())
        format += " (" + it->second.as_string() + ")";
      if (tokenizer_path.empty()) {
        tok = lm::tokenizer_from_gguf(file.metadata);
        tok_kind = "GGUF, tokenizer.ggml.model = " + file.metadata.at("tokenizer.ggml.model").as_string();
      }
    } else {
      auto loaded = lm::load(model_path, tokenizer_path);  // llama2.c checkpoint (or a clear error)
      c = loaded.model->config();
      params = lm::llama_parameter_count(c);
      dtypes["F32"] =
          DtypeUse{static_cast<size_t>(2 + 9 * c.num_hidden_layers + (c.tie_word_embeddings ? 0 : 1)), params,
                   params * 4};
      architecture = "llama";
      format = "llama2.c checkpoint (v0)";
      tok = loaded.tokenizer;
    }
    if (!tok) tok = open_tokenizer(model_path, tokenizer_path);
    if (tok_kind.empty()) tok_kind = tokenizer_kind(*tok);

    line("file:", model_path);
    line("format:", format);
    line("architecture:", architecture);
    line("layers:", std::to_string(c.num_hidden_layers));
    line("hidden size:", std::to_string(c.hidden_size));
    line("ffn size:", std::to_string(c.intermediate_size));
    line("heads:", std::to_string(c.num_attention_heads));
    line("kv heads:", std::to_string(c.kv_heads()));
    line("head dim:", std::to_string(c.head_dim_or_default()));
    line("vocab size:", std::to_string(c.vocab_size));
    line("context:", std::to_string(c.max_position_embeddings));
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", c.rope_theta);
    line("rope theta:", buf);
    std::snprintf(buf, sizeof(buf), "%g", c.rms_norm_eps);
    line("rms norm eps:", buf);
    line("tied embeddings:", c.tie_word_embeddings ? "yes" : "no");
    std::snprintf(buf, sizeof(buf), "%zu (%.2fM)", params, params / 1e6);
    line("parameters:", buf);
    size_t total_bytes = 0;
    for (const auto& [name, u] : dtypes) {
      std::snprintf(buf, sizeof(buf), "%zu tensors, %zu elements, ", u.tensors, u.elements);
      line(("dtype " + name + ":").c_str(), buf + format_bytes(static_cast<double>(u.bytes)));
      total_bytes += u.bytes;
    }
    std::snprintf(buf, sizeof(buf), "%zu (%s)", total_bytes,
                  format_bytes(static_cast<double>(total_bytes)).c_str());
    line("weight bytes:", buf);
    line("tokenizer:", tok_kind);
    line("tokenizer vocab:", std::to_string(tok->vocab_size()));
    auto bos = tok->bos_id();
    line("bos id:", bos ? std::to_string(*bos) + " " + tok->id_to_token(*bos) : "none");
    std::string eos;
    for (int32_t id : tok->eos_ids())
      eos += (eos.empty() ? "" : ", ") + std::to_string(id) + " " + tok->id_to_token(id);
    line("eos ids:", eos.empty() ? "none" : eos);
    line("chat template:", tok->chat_template() ? "yes" : "no");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera info: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
