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

// The `serve:` settings (config/config.hpp, where their defaults are) and what only a running server
// has: the model folder, the API token, the configuration training jobs run with.
struct ServeOptions : ServeSettings {
  std::filesystem::path model_dir;
  // Bearer token for state-changing routes; none = those routes answer 401.
  std::optional<std::string> api_token;
  // The pipeline configuration training jobs run with.
  PipelineConfig pipeline;
};

// The server's options from a loaded configuration (its `serve:` section, checked at load).
ServeOptions options_from_config(const PipelineConfig& cfg);

// NETSENTRY_API_TOKEN, when set and not empty.
std::optional<std::string> api_token_from_env();

}  // namespace netsentry::serve
