// Chat-template front end: context assembly (messages, tools, special tokens, extras) and a compiled-template cache.
#include "tessera/lm/chat_template/chat_template.h"

#include <mutex>
#include <unordered_map>

namespace tessera::lm {

std::string ChatTemplate::apply(const nlohmann::ordered_json& messages, const ChatTemplateOptions& opts) const {
  using jinja::Value;
  Value ctx = Value::new_dict();
  ctx.dict->set("messages", jinja::from_json(messages));
  ctx.dict->set("tools", jinja::from_json(opts.tools));
  ctx.dict->set("documents", jinja::from_json(opts.documents));
  ctx.dict->set("add_generation_prompt", Value::boolean(opts.add_generation_prompt));
  if (opts.bos_token) ctx.dict->set("bos_token", Value::string(*opts.bos_token));
  if (opts.eos_token) ctx.dict->set("eos_token", Value::string(*opts.eos_token));
  if (opts.extra.is_object())
    for (auto it = opts.extra.begin(); it != opts.extra.end(); ++it) ctx.dict->set(it.key(), jinja::from_json(it.value()));
  std::tm now{};
  if (opts.now) {
    now = *opts.now;
  } else {
    std::time_t t = std::time(nullptr);
    localtime_r(&t, &now);
  }
  return tmpl_.render(ctx, now);
}

std::shared_ptr<const ChatTemplate> compile_chat_template(const std::string& source) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const ChatTemplate>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(source);
    if (it != cache.end()) return it->second;
  }
  auto compiled = std::make_shared<const ChatTemplate>(source);
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 64) cache.clear();
  cache.emplace(source, compiled);
  return compiled;
}

std::string apply_chat_template(const std::string& tmpl, const nlohmann::ordered_json& messages,
                                const ChatTemplateOptions& opts) {
  return compile_chat_template(tmpl)->apply(messages, opts);
}

std::string apply_chat_template(const std::string& tmpl, const nlohmann::json& messages,
                                const ChatTemplateOptions& opts) {
  return compile_chat_template(tmpl)->apply(nlohmann::ordered_json(messages), opts);
}

}  // namespace tessera::lm
