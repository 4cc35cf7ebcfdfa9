#pragma once
// Settings of `netsentry serve`: the `serve:` section of config/pipeline.yaml, overridden by the
// command line, plus the API token from the environment.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "netsentry/config/config.hpp"
#include "netsentry/serve/model_store.hpp"

namespace netsentry::serve {

struct ServeOptions {
  std::filesystem::path model_dir;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (tests)
  // Event-loop threads of the HTTP server (0: two per core); each serves any number of connections.
  int threads = 0;
  // Threads for requests that may take long: bodies over inline_body_bytes, explanations of more than
  // a few milliseconds (0: one per core, at least two).
  int workers = 0;
  std::size_t inline_body_bytes = 256u << 10;
  std::size_t max_body_bytes = 32u << 20;  // 413 above
  std::size_t max_rows = 100000;           // rows per prediction request; 413 above
  int explain_top_k = 3;                   // reasons per prediction (0 = none)
  // Explanations may cost (rows x the cost per row the model's cost model estimates) at most this per
  // request; past it a request is answered without reasons, and says so. Exact SHAP on deep forests is slow.
  double explain_budget_ms = 50.0;
  // How reasons are computed: auto (exact SHAP unless it costs over 1 ms per row and the model has
  // path attributions), shap, or path (see model_store.hpp).
  ExplainMethod explain_method = ExplainMethod::Auto;
  std::chrono::milliseconds reload_poll{1000};  // how often the model directory is checked (0 = never)
  int read_timeout_seconds = 10;
  int keep_alive_timeout_seconds = 5;
  // Verdict names per class value (the target's original values).
  std::map<std::string, std::string> class_names = {{"-1", "phishing"}, {"1", "legitimate"}};
  // Bearer token for state-changing routes; none = those routes answer 401.
  std::optional<std::string> api_token;
  // Debug-level access log lines (method, route, status, latency; never bodies or headers).
  bool access_log = false;
  // The pipeline configuration training jobs run with.
  PipelineConfig pipeline;
};

// Reads `serve:` from cfg.raw (every key optional); throws UsageError naming a key with a bad value.
ServeOptions options_from_config(const PipelineConfig& cfg);

// NETSENTRY_API_TOKEN, when set and not empty.
std::optional<std::string> api_token_from_env();

}  // namespace netsentry::serve
