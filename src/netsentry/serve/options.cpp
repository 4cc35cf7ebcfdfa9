#include "netsentry/serve/options.hpp"

#include <cstdlib>

#include "netsentry/core/error.hpp"

namespace netsentry::serve {

namespace {

template <class T>
void read_int(const nlohmann::json& s, const char* key, T& out, long long lo, long long hi,
              const std::string& src) {
  if (!s.contains(key)) return;
  const auto& v = s[key];
  if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
    throw UsageError(src + ": serve." + key + " must be an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "] (got " + v.dump() + ")");
  out = static_cast<T>(v.get<long long>());
}

}  // namespace

ServeOptions options_from_config(const PipelineConfig& cfg) {
  ServeOptions o;
  o.pipeline = cfg;
  const std::string src = cfg.config_path.empty() ? std::string("config") : cfg.config_path.string();
  if (!cfg.raw.is_object() || !cfg.raw.contains("serve")) return o;
  const auto& s = cfg.raw["serve"];
  if (s.is_null()) return o;
  if (!s.is_object()) throw UsageError(src + ": serve must be a mapping");
  if (s.contains("host")) {
    if (!s["host"].is_string()) throw UsageError(src + ": serve.host must be a string");
    o.host = s["host"].get<std::string>();
  }
  read_int(s, "port", o.port, 0, 65535, src);
  read_int(s, "threads", o.threads, 0, 1024, src);
  read_int(s, "workers", o.workers, 0, 1024, src);
  read_int(s, "inline_body_bytes", o.inline_body_bytes, 0, 1LL << 30, src);
  read_int(s, "max_body_bytes", o.max_body_bytes, 1024, 1LL << 34, src);
  read_int(s, "max_rows", o.max_rows, 1, 100000000, src);
  read_int(s, "explain_top_k", o.explain_top_k, 0, 1000, src);
  read_int(s, "read_timeout_seconds", o.read_timeout_seconds, 1, 3600, src);
  read_int(s, "keep_alive_timeout_seconds", o.keep_alive_timeout_seconds, 1, 3600, src);
  if (s.contains("explain_method")) {
    const auto& v = s["explain_method"];
    const auto m = ModelBundle::parse_explain_method(v.is_string() ? v.get<std::string>() : std::string());
    if (!m) throw UsageError(src + ": serve.explain_method must be auto, shap or path");
    o.explain_method = *m;
  }
  long long budget = static_cast<long long>(o.explain_budget_ms);
  read_int(s, "explain_budget_ms", budget, 0, 3600000, src);
  o.explain_budget_ms = static_cast<double>(budget);
  long long poll_ms = o.reload_poll.count();
  read_int(s, "reload_poll_ms", poll_ms, 0, 3600000, src);
  o.reload_poll = std::chrono::milliseconds(poll_ms);
  if (s.contains("access_log")) {
    if (!s["access_log"].is_boolean()) throw UsageError(src + ": serve.access_log must be true or false");
    o.access_log = s["access_log"].get<bool>();
  }
  if (s.contains("class_names")) {
    if (!s["class_names"].is_object())
      throw UsageError(src + ": serve.class_names must map class values to names");
    o.class_names.clear();
    for (auto it = s["class_names"].begin(); it != s["class_names"].end(); ++it) {
      if (!it.value().is_string())
        throw UsageError(src + ": serve.class_names." + it.key() + " must be a string");
      o.class_names[it.key()] = it.value().get<std::string>();
    }
  }
  return o;
}

std::optional<std::string> api_token_from_env() {
  const char* t = std::getenv("NETSENTRY_API_TOKEN");
  if (!t || !*t) return std::nullopt;
  return std::string(t);
}

}  // namespace netsentry::serve
