// `tessera download org/name`: a model already complete in the Hugging Face cache is reported at once;
// otherwise the download is delegated to the Python module tessera.lm.download (huggingface_hub).
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "tessera/lm/hub.h"

extern char** environ;

namespace tessera::cli {

namespace {

const char* const kUsage =
    "usage: tessera download org/name [--revision REV] [--include PATTERN]... [--cache-dir DIR]\n"
    "\n"
    "Downloads a model from the Hugging Face Hub into the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub\n"
    "or ~/.cache/huggingface/hub), where `tessera generate --model org/name` and tessera.lm.load(\"org/name\")\n"
    "then find it offline. It prints the snapshot directory. A model already complete in the cache is not\n"
    "fetched again. The download itself runs `python3 -m tessera.lm.download` ($PYTHON picks the\n"
    "interpreter), which needs the huggingface_hub package; network timeouts end it with an error naming\n"
    "the missing files.\n"
    "\n"
    "options:\n"
    "  --revision REV      branch, tag or commit (default main)\n"
    "  --include PATTERN   file pattern to fetch (repeatable; default: config, tokenizer and safetensors\n"
    "                      files)\n"
    "  --cache-dir DIR     the hub cache to use instead of the default\n"
    "  -h, --help          show this help\n";

// Runs argv (argv[0] looked up on PATH) with stdio inherited; its exit code, or -1 when it cannot start.
int spawn_and_wait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int download_main(int argc, char** argv) {
  std::string repo, revision = "main", cache_dir;
  std::vector<std::string> includes;
  try {
    FlagTable t;
    t.options["--revision"] = [&](const std::string& v) { revision = v; };
    t.options["--include"] = [&](const std::string& v) { includes.push_back(v); };
    t.options["--cache-dir"] = [&](const std::string& v) { cache_dir = v; };
    t.positional = [&](const std::string& a) {
      if (!repo.empty()) throw UsageError("one model id at a time (got " + repo + " and " + a + ")");
      repo = a;
    };
    if (!parse_flags(argc, argv, t, kUsage)) return 0;
    if (repo.empty()) throw UsageError("missing the model id (org/name)");
    if (!lm::is_hub_repo_id(repo)) throw UsageError("'" + repo + "' is not a model id of the form org/name");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera download: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    if (!cache_dir.empty()) setenv("HF_HUB_CACHE", cache_dir.c_str(), 1);  // for this check and the child
    if (includes.empty()) {
      if (auto snap = lm::hub_snapshot_dir(repo, revision); snap && lm::missing_model_files(*snap).empty()) {
        std::printf("%s\n", snap->c_str());
        return 0;
      }
    }
    const char* py = std::getenv("PYTHON");
    std::vector<std::string> cmd{py && *py ? py : "python3", "-m", "tessera.lm.download", repo, "--revision",
                                 revision};
    for (const auto& inc : includes) {
      cmd.push_back("--include");
      cmd.push_back(inc);
    }
    int rc = spawn_and_wait(cmd);
    if (rc < 0) {
      throw std::runtime_error("[download] " + repo + " is not in the Hugging Face cache " + lm::hf_hub_cache_dir() +
                               " and " + cmd[0] +
                               " could not be started to download it (install Python and the tessera package, "
                               "or set $PYTHON)");
    }
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera download: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
