// `tessera tokenize`: text to token ids (with their pieces) or ids back to text, with a model's tokenizer.
#include <cstdio>
#include <exception>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"

namespace tessera::cli {

namespace {

const char* const kUsage =
    "usage: tessera tokenize (--model PATH | --tokenizer PATH) [--text T] [--ids] [--decode IDS]\n"
    "\n"
    "Encodes text (--text, else stdin) and prints one token per line as 'id<TAB>piece', or with --ids\n"
    "only the ids on one line. --decode prints the text of the given ids instead.\n"
    "\n"
    "options:\n"
    "  --model PATH      a model whose tokenizer to use (.gguf, llama2.c .bin with its tok*.bin, a model\n"
    "                    directory, tokenizer.json or tokenizer.model)\n"
    "  --tokenizer PATH  a tokenizer file or directory (a llama2.c tokenizer .bin, tokenizer.json, ...)\n"
    "  --text T          the text (default: stdin, without one final newline)\n"
    "  --ids             print only the ids, space-separated\n"
    "  --no-special      do not add special tokens (e.g. BOS) when encoding; skip them when decoding\n"
    "  --decode IDS      decode ids given as \"1 2 3\" (spaces or commas) and print the text\n"
    "  -h, --help        show this help\n";

std::vector<int32_t> parse_ids(const std::string& s) {
  std::string t = s;
  for (char& ch : t)
    if (ch == ',' || ch == '[' || ch == ']') ch = ' ';
  std::istringstream in(t);
  std::vector<int32_t> ids;
  std::string w;
  while (in >> w) ids.push_back(parse_int("--decode", w));
  return ids;
}

// Pieces as printable text: control characters escaped.
std::string printable(const std::string& piece) {
  std::string out;
  for (unsigned char ch : piece) {
    if (ch == '\n')
      out += "\\n";
    else if (ch == '\t')
      out += "\\t";
    else if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
      out += buf;
    } else
      out += static_cast<char>(ch);
  }
  return out;
}

}  // namespace

int tokenize_main(int argc, char** argv) {
  std::string model_path, tokenizer_path;
  std::optional<std::string> text, decode;
  bool ids_only = false, special = true;
  std::vector<int32_t> decode_ids;
  try {
    FlagTable t;
    t.switches["--ids"] = [&] { ids_only = true; };
    t.switches["--no-special"] = [&] { special = false; };
    t.options["--model"] = [&](const std::string& v) { model_path = v; };
    t.options["--tokenizer"] = [&](const std::string& v) { tokenizer_path = v; };
    t.options["--text"] = [&](const std::string& v) { text = v; };
    t.options["--decode"] = [&](const std::string& v) { decode = v; };
    if (!parse_flags(argc, argv, t, kUsage)) return 0;
    if (model_path.empty() && tokenizer_path.empty()) throw UsageError("give --model or --tokenizer");
    if (decode && text) throw UsageError("--decode and --text exclude each other");
    if (decode) decode_ids = parse_ids(*decode);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "tessera tokenize: %s\n%s", e.what(), kUsage);
    return 2;
  }

  try {
    auto tok = open_tokenizer(model_path, tokenizer_path);
    if (decode) {
      for (int32_t id : decode_ids)
        if (id < 0 || id >= tok->vocab_size())
          throw std::runtime_error("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                   std::to_string(tok->vocab_size()) + ")");
      std::string out = tok->decode(decode_ids, /*skip_special_tokens=*/!special);
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fputs("\n", stdout);
      return 0;
    }
    if (!text) {
      std::string in(std::istreambuf_iterator<char>(std::cin), {});
      if (!in.empty() && in.back() == '\n') in.pop_back();
      text = in;
    }
    std::vector<int32_t> ids = tok->encode(*text, special);
    if (ids_only) {
      for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
      std::printf("\n");
    } else {
      for (int32_t id : ids) std::printf("%d\t%s\n", id, printable(tok->id_to_token(id)).c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera tokenize: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace tessera::cli
