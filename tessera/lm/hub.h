// Hugging Face Hub model names ("org/name") resolved in the local Hugging Face cache, for offline loading.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tessera::lm {

// The hub cache directory as huggingface_hub chooses it: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
std::string hf_hub_cache_dir();

// Whether s has the shape of a hub model id: "org/name" of letters, digits, '-', '_' and '.', neither
// part empty nor starting with '.'.
bool is_hub_repo_id(const std::string& s);

// <cache>/models--org--name (may not exist).
std::string hub_repo_dir(const std::string& repo_id);

// The snapshot directory of revision ("main" or another ref under refs/, or a commit hash) in the cache,
// or nullopt when the cache has none.
std::optional<std::string> hub_snapshot_dir(const std::string& repo_id, const std::string& revision = "main");

// The files load() needs that dir lacks: "config.json", "model.safetensors (or
// model.safetensors.index.json)", the shards an index names, "tokenizer.json (or tokenizer.model)".
// A directory holding a .gguf file needs nothing else. All of them when dir does not exist.
std::vector<std::string> missing_model_files(const std::string& dir);

// path itself when it exists; else, for a hub id, its cached snapshot when that holds every file load()
// needs. Throws std::runtime_error "[hub] ..." naming the repo, the cache and the missing files otherwise
// (never touches the network).
std::string resolve_model_path(const std::string& path_or_repo_id);

}  // namespace tessera::lm
