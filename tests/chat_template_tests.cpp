// Chat-template engine tests: real model templates and language features versus Python jinja2 (committed fixture),
// malformed templates, randomized mutations and resource limits.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "tessera/lm/chat_template/chat_template.h"
#include "tessera/lm/chat_template/template.h"

using tessera::lm::ChatTemplateOptions;
using nlohmann::ordered_json;
namespace jinja = tessera::lm::jinja;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const ordered_json& fixture() {
  static const ordered_json j = ordered_json::parse(
      read_file(std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/chat_templates/chat_template_fixtures.json"));
  return j;
}

std::string template_source(const std::string& rel_path) {
  std::string path = std::string(TESSERA_SHARED_DATA) + "/" + rel_path;
  if (rel_path.size() > 5 && rel_path.substr(rel_path.size() - 5) == ".json")
    return ordered_json::parse(read_file(path))["chat_template"].get<std::string>();
  return read_file(path);
}

std::tm fixed_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  tm.tm_wday = 5;
  tm.tm_yday = 207;
  return tm;
}

ChatTemplateOptions options_for(const ordered_json& c) {
  ChatTemplateOptions o;
  o.add_generation_prompt = c["add_generation_prompt"].get<bool>();
  o.tools = c["tools"];
  const auto& sp = c["specials"];
  if (sp.contains("bos_token")) o.bos_token = sp["bos_token"].get<std::string>();
  if (sp.contains("eos_token")) o.eos_token = sp["eos_token"].get<std::string>();
  o.extra = c["extra"];
  o.now = fixed_now();
  return o;
}

ordered_json conversation(const std::string& name);

}  // namespace

TEST(ChatTemplate, RealTemplatesMatchJinja2) {
  const auto& fx = fixture();
  ASSERT_GE(fx["render_cases"].size(), 40u);
  std::map<std::string, std::string> sources;
  for (auto it = fx["templates"].begin(); it != fx["templates"].end(); ++it)
    sources[it.key()] = template_source(it.value().get<std::string>());
  ASSERT_GE(sources.size(), 4u);
  for (const auto& c : fx["render_cases"]) {
    SCOPED_TRACE(c["template"].get<std::string>() + " / " + c["conversation"].get<std::string>() +
                 (c["add_generation_prompt"].get<bool>() ? " / gen" : ""));
    const std::string& src = sources.at(c["template"].get<std::string>());
    ordered_json messages = conversation(c["conversation"].get<std::string>());
    ChatTemplateOptions opts = options_for(c);
    if (c.contains("expected")) {
      std::string got;
      ASSERT_NO_THROW(got = tessera::lm::apply_chat_template(src, messages, opts));
      EXPECT_EQ(got, c["expected"].get<std::string>());
    } else {
      ASSERT_EQ(c["error"].get<std::string>(), "raise");
      try {
        tessera::lm::apply_chat_template(src, messages, opts);
        ADD_FAILURE() << "expected raise_exception: " << c["message"].get<std::string>();
      } catch (const tessera::lm::ChatTemplateError& e) {
        EXPECT_EQ(e.message(), c["message"].get<std::string>());
        EXPECT_EQ(std::string(e.what()).rfind("[chat_template] ", 0), 0u);
      }
    }
  }
}

TEST(ChatTemplate, LanguageFeaturesMatchJinja2) {
  const auto& fx = fixture();
  ASSERT_GE(fx["unit_cases"].size(), 50u);
  for (const auto& c : fx["unit_cases"]) {
    std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name + ": " + c["template"].get<std::string>());
    jinja::Value ctx = jinja::from_json(c["context"]);
    if (c.contains("expected")) {
      std::string got;
      try {
        jinja::Template t(c["template"].get<std::string>());
        got = t.render(ctx, fixed_now());
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw " << e.what();
        continue;
      }
      EXPECT_EQ(got, c["expected"].get<std::string>());
    } else {
      try {
        jinja::Template t(c["template"].get<std::string>());
        t.render(ctx, fixed_now());
        ADD_FAILURE() << "expected " << c["error"].get<std::string>() << ": " << c["message"].get<std::string>();
      } catch (const jinja::TemplateRaisedError& e) {
        EXPECT_EQ(c["error"].get<std::string>(), "raise");
        EXPECT_EQ(e.message(), c["message"].get<std::string>());
      } catch (const std::runtime_error& e) {
        EXPECT_NE(c["error"].get<std::string>(), "raise");
        EXPECT_EQ(std::string(e.what()).rfind("[chat_template] ", 0), 0u) << e.what();
      }
    }
  }
}

TEST(ChatTemplate, MalformedTemplatesReportPosition) {
  const auto& fx = fixture();
  ASSERT_GE(fx["malformed_cases"].size(), 10u);
  for (const auto& c : fx["malformed_cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    try {
      jinja::Template t(c["template"].get<std::string>());
      ADD_FAILURE() << "accepted malformed template";
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.rfind("[chat_template] syntax error: ", 0), 0u) << msg;
      EXPECT_NE(msg.find(", column "), std::string::npos) << msg;
      if (!c["lineno"].is_null())
        EXPECT_NE(msg.find("line " + std::to_string(c["lineno"].get<int>()) + ","), std::string::npos) << msg;
    }
  }
}

TEST(ChatTemplate, CompiledTemplatesAreCached) {
  std::string src = "{% for m in messages %}{{ m.role }}:{{ m.content }}\n{% endfor %}";
  auto a = tessera::lm::compile_chat_template(src);
  auto b = tessera::lm::compile_chat_template(src);
  EXPECT_EQ(a.get(), b.get());
  ordered_json msgs = ordered_json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(a->apply(msgs), "user:hi\n");
  // nlohmann::json overload (keys arrive sorted) renders the same conversation.
  nlohmann::json plain = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(tessera::lm::apply_chat_template(src, plain), "user:hi\n");
  ChatTemplateOptions o;
  o.extra = {{"enable_thinking", false}};
  EXPECT_EQ(tessera::lm::apply_chat_template("{{ enable_thinking }}|{{ bos_token is defined }}", msgs, o), "False|False");
}

TEST(ChatTemplate, ResourceLimitsStopRunawayTemplates) {
  // A smaller step budget than the default (2M) keeps the test fast; the mechanism is the same.
  jinja::Limits limits;
  limits.max_steps = 200000;
  auto render = [&](const std::string& src) {
    jinja::Template t(src, limits);
    return t.render(jinja::Value::new_dict(), fixed_now());
  };
  EXPECT_THROW(render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"),
               std::runtime_error);
  EXPECT_THROW(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), std::runtime_error);
  EXPECT_THROW(render("{{ 'a' * 10000000000 }}"), std::runtime_error);
  EXPECT_THROW(render("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
               std::runtime_error);
  EXPECT_THROW(render("{{ 2 ** 200 }}"), std::runtime_error);
  EXPECT_THROW(jinja::Template("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"), std::runtime_error);
  std::string chain = "{{ 1";
  for (int k = 0; k < 5000; ++k) chain += " + 1";
  EXPECT_THROW(jinja::Template(chain + " }}"), std::runtime_error);
  std::string nested;
  for (int k = 0; k < 2000; ++k) nested += "{% if true %}";
  EXPECT_THROW(jinja::Template{nested}, std::runtime_error);
}

TEST(ChatTemplate, MutatedRealTemplatesNeverCrash) {
  const auto& fx = fixture();
  std::vector<std::string> sources;
  for (auto it = fx["templates"].begin(); it != fx["templates"].end(); ++it)
    sources.push_back(template_source(it.value().get<std::string>()));
  ordered_json msgs = conversation("tool_call");
  ChatTemplateOptions opts;
  opts.tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {}}}])");
  opts.bos_token = "<s>";
  opts.now = fixed_now();
  const std::string alphabet = "{}%#-+()[]'\"|.,:=~*/ \nabcxyz01 ifforendsetmacro";
  std::mt19937 gen(1234);
  int rendered = 0, rejected = 0;
  auto start = std::chrono::steady_clock::now();
  for (const auto& src : sources) {
    for (int iter = 0; iter < 250; ++iter) {
      std::string s = src;
      int edits = 1 + int(gen() % 4);
      for (int e = 0; e < edits && !s.empty(); ++e) {
        size_t pos = gen() % s.size();
        switch (gen() % 3) {
          case 0: s.erase(pos, 1 + gen() % 3); break;
          case 1: s.insert(pos, 1, alphabet[gen() % alphabet.size()]); break;
          default: s[pos] = alphabet[gen() % alphabet.size()]; break;
        }
      }
      try {
        tessera::lm::ChatTemplate t(s);
        t.apply(msgs, opts);
        ++rendered;
      } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("[chat_template]"), std::string::npos) << e.what();
        ++rejected;
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GT(rendered, 0);
  EXPECT_GT(rejected, 0);
  EXPECT_LT(secs, 60.0);
}

namespace {

// The conversations of make_fixtures.py (kept in the fixture by name; rebuilt from the script's JSON dump).
ordered_json conversation(const std::string& name) {
  static const ordered_json convs = [] {
    // make_fixtures.py stores each render case's messages implicitly by conversation name; the
    // conversations themselves are stored once under "conversations".
    return fixture()["conversations"];
  }();
  return convs.at(name);
}

}  // namespace
