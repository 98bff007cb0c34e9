// Global template functions: range (sandbox-limited), namespace, dict, raise_exception, strftime_now.
#include <ctime>

#include "tessera/lm/chat_template/builtins.h"

namespace tessera::lm::jinja {

void install_globals(Frame& g) {
  g["range"] = Value::function("range", [](Evaluator& ev, CallArgs& a) {
    for (const auto& v : a.args)
      if (v.kind != Kind::Int && v.kind != Kind::Bool) ev.error("range() arguments must be integers");
    if (a.args.empty() || a.args.size() > 3) ev.error("range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.args.size() == 1) stop = a.args[0].as_int();
    else {
      start = a.args[0].as_int();
      stop = a.args[1].as_int();
      if (a.args.size() == 3) step = a.args[2].as_int();
    }
    if (step == 0) ev.error("range() arg 3 must not be zero");
    // jinja2's sandbox refuses ranges with more than MAX_RANGE (100000) items.
    long double count = step > 0 ? (stop > start ? ((long double)stop - start + step - 1) / step : 0)
                                 : (stop < start ? ((long double)start - stop - step - 1) / -step : 0);
    if (count > 100000) ev.error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    std::vector<Value> out;
    for (int64_t k = 0; k < int64_t(count); ++k) out.push_back(Value::integer(start + k * step));
    return Value::new_list(std::move(out));
  });
  auto make_dict = [](bool ns) {
    return [ns](Evaluator& ev, CallArgs& a) {
      Value d = Value::new_dict(ns);
      for (const auto& v : a.args) {
        if (!v.is_dict()) ev.error("namespace()/dict() positional argument must be a mapping");
        for (const auto& kv : v.dict->items) d.dict->set(kv.first, kv.second);
      }
      for (const auto& kv : a.kwargs) d.dict->set(kv.first, kv.second);
      return d;
    };
  };
  g["namespace"] = Value::function("namespace", make_dict(true));
  g["dict"] = Value::function("dict", make_dict(false));
  g["raise_exception"] = Value::function("raise_exception", [](Evaluator&, CallArgs& a) -> Value {
    throw TemplateRaisedError(to_str(a.get(0, "message")));
  });
  g["strftime_now"] = Value::function("strftime_now", [](Evaluator& ev, CallArgs& a) {
    Value fmt = a.get(0, "format");
    if (!fmt.is_string()) ev.error("strftime_now() needs a format string");
    if (fmt.s.size() > 256) ev.error("strftime_now() format too long");
    std::tm tm = ev.now;
    char buf[1024];
    size_t n = std::strftime(buf, sizeof(buf), fmt.s.c_str(), &tm);
    return Value::string(std::string(buf, n));
  });
}

}  // namespace tessera::lm::jinja
