#pragma once
// The training pipeline: ingest -> validate -> transform -> train -> evaluate -> bundle.
// The only place that knows the order of the stages. A run lives in <artifact_dir>/<UTC stamp>/.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/config/config.hpp"

namespace netsentry {

struct TrainOptions {
  std::optional<std::string> data;  // a CSV path or a source URI; overrides the config
  // A separate evaluation set (CSV path or source URI) tested instead of a split; overrides
  // data.test_source ("" there: none).
  std::optional<std::string> test_data;
  std::optional<std::filesystem::path> model_dir;  // where final_model/ goes (default: <run_dir>/final_model)
  std::optional<std::filesystem::path> artifact_dir;
  // The model registry the evaluated model is registered in as a candidate (and gated): a folder;
  // unset: registry.dir of the config; "none": no registry (the model is published when it passes
  // the quality gate).
  std::optional<std::string> registry;
  std::function<void(const std::string& stage, double fraction)> progress;  // optional
  // Optional, the same reports with counts: during "train", the search's fit tasks done / total
  // (0 / 0 in the other stages).
  std::function<void(const std::string& stage, double fraction, std::size_t done, std::size_t total)>
      progress_counts;
};

struct TrainResult {
  std::filesystem::path run_dir;
  std::filesystem::path model_dir;  // where the bundle is published (when `published`)
  bool published = false;           // false: the registry's gate kept the model a candidate
  nlohmann::json summary;           // the `train --json` object
};

// Runs every stage, then registers the evaluated model (unless opt.registry is "none") and publishes
// it as final_model only when the registry promoted it (without a registry: when it passed the
// quality gate), in one rename, after every check that can fail. Throws DataError (invalid data),
// GateError (model below the expected score or over/under-fitting), UsageError (bad config, checked
// before any stage runs); nothing is published as final_model on failure or refusal.
TrainResult run_training(const PipelineConfig& cfg, const TrainOptions& opt);

// A new, unique run folder <artifact_dir>/<UTC stamp>[-N] (created atomically).
std::filesystem::path new_run_dir(const std::filesystem::path& artifact_dir);
// The source URI to ingest: `data` or the config's; "demo" generates the demo data into run_dir
// (demo.csv).
std::string resolve_source(const PipelineConfig& cfg, const std::optional<std::string>& data,
                           const std::filesystem::path& run_dir);
// The separate evaluation set: `test_data` or data.test_source; empty: none (the source is split).
std::string resolve_test_source(const PipelineConfig& cfg, const std::optional<std::string>& test_data);

}  // namespace netsentry
