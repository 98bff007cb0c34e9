// render_chat / encode_chat_text: the chat template engine plus special-token-aware tokenization.
#include "tessera/lm/chat.h"

#include <algorithm>
#include <array>

#include "tessera/lm/chat_template/chat_template.h"

namespace tessera::lm {

std::string render_chat(const Tokenizer& tokenizer, const std::string& template_source,
                        const nlohmann::ordered_json& messages, bool add_generation_prompt) {
  ChatTemplateOptions opts;
  opts.add_generation_prompt = add_generation_prompt;
  if (auto bos = tokenizer.bos_id()) opts.bos_token = tokenizer.id_to_token(*bos);
  auto eos = tokenizer.eos_ids();
  if (!eos.empty()) opts.eos_token = tokenizer.id_to_token(eos.front());
  return apply_chat_template(template_source, messages, opts);
}

std::vector<int32_t> encode_chat_text(const Tokenizer& tokenizer, std::string_view text) {
  // The special tokens' texts, longest first so that a longer token wins at the same position.
  std::vector<std::pair<std::string, int32_t>> specials;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (!tokenizer.is_special(id)) continue;
    std::string t = tokenizer.id_to_token(id);
    if (!t.empty()) specials.emplace_back(std::move(t), id);
  }
  std::stable_sort(specials.begin(), specials.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::array<bool, 256> first_byte{};
  for (const auto& s : specials) first_byte[static_cast<unsigned char>(s.first[0])] = true;
  std::vector<int32_t> out;
  size_t start = 0;  // start of the pending plain text
  auto flush = [&](size_t end) {
    if (end > start) {
      auto ids = tokenizer.encode(text.substr(start, end - start), /*add_special_tokens=*/false);
      out.insert(out.end(), ids.begin(), ids.end());
    }
  };
  for (size_t i = 0; i < text.size();) {
    const std::pair<std::string, int32_t>* hit = nullptr;
    if (first_byte[static_cast<unsigned char>(text[i])]) {
      for (const auto& s : specials)
        if (text.compare(i, s.first.size(), s.first) == 0) {
          hit = &s;
          break;
        }
    }
    if (!hit) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(hit->second);
    i += hit->first.size();
    start = i;
  }
  flush(text.size());
  return out;
}

}  // namespace tessera::lm
