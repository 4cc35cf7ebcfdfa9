#include "netsentry/serve/options.hpp"

#include <cstdlib>

namespace netsentry::serve {

ServeOptions options_from_config(const PipelineConfig& cfg) {
  ServeOptions o;
  static_cast<ServeSettings&>(o) = cfg.serve;
  o.pipeline = cfg;
  for (auto& root : o.training_data_roots) root = cfg.resolve(root).string();
  return o;
}

std::optional<std::string> api_token_from_env() {
  const char* t = std::getenv("NETSENTRY_API_TOKEN");
  if (!t || !*t) return std::nullopt;
  return std::string(t);
}

}  // namespace netsentry::serve
