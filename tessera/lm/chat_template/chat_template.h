// Chat-template front end: renders a model's jinja chat template for a conversation, as transformers does.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tessera/lm/chat_template/evaluator.h"
#include "tessera/lm/chat_template/template.h"

namespace tessera::lm {

using ChatTemplateError = jinja::TemplateRaisedError;  // raised by raise_exception(msg) in a template

struct ChatTemplateOptions {
  bool add_generation_prompt = false;
  nlohmann::ordered_json tools = nullptr;      // list of tool schemas, or null (tools = None)
  nlohmann::ordered_json documents = nullptr;  // RAG documents, or null
  std::optional<std::string> bos_token;        // undefined in the template when unset
  std::optional<std::string> eos_token;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // more variables, e.g. enable_thinking
  std::optional<std::tm> now;  // broken-down time for strftime_now (default: current local time)
};

// A parsed chat template (thread-safe to render concurrently).
class ChatTemplate {
 public:
  explicit ChatTemplate(const std::string& source) : tmpl_(source) {}
  std::string apply(const nlohmann::ordered_json& messages, const ChatTemplateOptions& opts = {}) const;

 private:
  jinja::Template tmpl_;
};

// Parses `source` once and caches the compiled template (bounded cache keyed by source text).
std::shared_ptr<const ChatTemplate> compile_chat_template(const std::string& source);

// Renders `tmpl` for `messages` (a JSON list of {"role", "content", ...}). Keys keep their order with
// ordered_json (tojson output follows it); nlohmann::json input arrives with keys sorted.
std::string apply_chat_template(const std::string& tmpl, const nlohmann::ordered_json& messages,
                                const ChatTemplateOptions& opts = {});
std::string apply_chat_template(const std::string& tmpl, const nlohmann::json& messages,
                                const ChatTemplateOptions& opts = {});

}  // namespace tessera::lm
