// Reads the single-sequence template of the `tokenizers` post-processors.
#include "tessera/lm/tokenizers/post_processor.h"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace tessera::lm::tok {

using json = nlohmann::json;

PostProcessor post_processor_from_json(const json& j) {
  PostProcessor pp;
  if (j.is_null()) return pp;
  std::string type = j.value("type", "");
  if (type == "ByteLevel") return pp;
  if (type == "TemplateProcessing") {
    bool seen_seq = false;
    for (const auto& item : j.at("single")) {
      if (item.contains("Sequence")) {
        seen_seq = true;
        continue;
      }
      if (!item.contains("SpecialToken")) throw std::invalid_argument("[tokenizer] bad TemplateProcessing item");
      std::string name = item["SpecialToken"].at("id").get<std::string>();
      const auto& st = j.at("special_tokens");
      if (!st.contains(name)) throw std::invalid_argument("[tokenizer] template special token '" + name + "' undefined");
      for (const auto& id : st[name].at("ids")) (seen_seq ? pp.suffix : pp.prefix).push_back(id.get<int32_t>());
    }
    return pp;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    pp.prefix.push_back(j.at("cls").at(1).get<int32_t>());
    pp.suffix.push_back(j.at("sep").at(1).get<int32_t>());
    return pp;
  }
  if (type == "Sequence") {
    for (const auto& e : j.at("processors")) {
      auto sub = post_processor_from_json(e);
      pp.prefix.insert(pp.prefix.end(), sub.prefix.begin(), sub.prefix.end());
      pp.suffix.insert(pp.suffix.end(), sub.suffix.begin(), sub.suffix.end());
    }
    return pp;
  }
  throw std::invalid_argument("[tokenizer] unsupported post-processor type '" + type + "'");
}

}  // namespace tessera::lm::tok
