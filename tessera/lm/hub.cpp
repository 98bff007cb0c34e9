// Resolving "org/name" to a snapshot in the Hugging Face cache (models--org--name/snapshots/<commit>/).
#include "tessera/lm/hub.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace tessera::lm {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool valid_part(const std::string& s) {
  if (s.empty() || s[0] == '.' || s.size() > 96) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return false;
  }
  return s.find("..") == std::string::npos;
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool has_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);  // follows the snapshot's symlinks into blobs/
}

// Shard file names listed in a model.safetensors.index.json; empty when unreadable.
std::set<std::string> index_shards(const fs::path& index) {
  std::ifstream in(index);
  std::set<std::string> out;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& [name, file] : j.at("weight_map").items()) out.insert(file.get<std::string>());
  } catch (const std::exception&) {
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::string hf_hub_cache_dir() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HF_HOME"); !v.empty()) return (fs::path(v) / "hub").string();
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return (fs::path(v) / "huggingface" / "hub").string();
  return (fs::path(env("HOME")) / ".cache" / "huggingface" / "hub").string();
}

bool is_hub_repo_id(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return false;
  return valid_part(s.substr(0, slash)) && valid_part(s.substr(slash + 1));
}

std::string hub_repo_dir(const std::string& repo_id) {
  if (!is_hub_repo_id(repo_id)) throw std::invalid_argument("[hub] not a model id of the form org/name: " + repo_id);
  std::string name = "models--" + repo_id;
  name.replace(name.find('/'), 1, "--");
  return (fs::path(hf_hub_cache_dir()) / name).string();
}

std::optional<std::string> hub_snapshot_dir(const std::string& repo_id, const std::string& revision) {
  fs::path repo(hub_repo_dir(repo_id));
  std::string commit = revision;
  if (!is_commit_hash(revision)) {
    if (!valid_part(revision)) throw std::invalid_argument("[hub] bad revision name: " + revision);
    std::ifstream ref(repo / "refs" / revision);
    if (!ref) return std::nullopt;
    std::getline(ref, commit);
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r' || commit.back() == ' '))
      commit.pop_back();
    if (!is_commit_hash(commit)) return std::nullopt;
  }
  fs::path snap = repo / "snapshots" / commit;
  std::error_code ec;
  if (!fs::is_directory(snap, ec)) return std::nullopt;
  return snap.string();
}

std::vector<std::string> missing_model_files(const std::string& dir) {
  fs::path d(dir);
  std::error_code ec;
  if (fs::is_directory(d, ec)) {
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".gguf" && has_file(e.path())) return {};
  }
  std::vector<std::string> missing;
  if (!has_file(d / "config.json")) missing.push_back("config.json");
  if (has_file(d / "model.safetensors.index.json")) {
    auto shards = index_shards(d / "model.safetensors.index.json");
    if (shards.empty()) missing.push_back("a readable model.safetensors.index.json");
    for (const auto& s : shards)
      if (!has_file(d / s)) missing.push_back(s);
  } else if (!has_file(d / "model.safetensors")) {
    missing.push_back("model.safetensors (or model.safetensors.index.json)");
  }
  if (!has_file(d / "tokenizer.json") && !has_file(d / "tokenizer.model"))
    missing.push_back("tokenizer.json (or tokenizer.model)");
  return missing;
}

std::string resolve_model_path(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path, ec) || !is_hub_repo_id(path)) return path;
  const std::string cache = hf_hub_cache_dir();
  auto snap = hub_snapshot_dir(path);
  std::vector<std::string> missing = missing_model_files(snap ? *snap : std::string());
  if (snap && missing.empty()) return *snap;
  std::ostringstream msg;
  msg << "[hub] " << path << " is neither a local path nor complete in the Hugging Face cache " << cache;
  msg << (snap ? " (snapshot " + *snap + ")" : std::string(" (no snapshot of refs/main)"));
  msg << "; missing: " << join(missing) << ". Download it with `tessera download " << path
      << "` (or python -m tessera.lm.download " << path << ") on a machine with network access.";
  throw std::runtime_error(msg.str());
}

}  // namespace tessera::lm
