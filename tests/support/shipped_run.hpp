#pragma once
// A shipped config end to end through the CLI: `train --json` into a temp dir, then the run's test
// split through the published bundle (`predict --metrics`), as the threat-data tests check it.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "support/paths.hpp"

namespace netsentry::test {

struct ShippedRun {
  CommandResult train;          // the train command's exit code and output
  nlohmann::json summary;       // its --json answer (null when it failed)
  std::filesystem::path run;    // the run folder (summary's run_dir)
  std::filesystem::path model;  // the published bundle (final_model under the temp dir)
  std::filesystem::path test_split() const { return run / "data_ingestion/ingested/test.csv"; }
};

// `train --json --registry none` with `config` (a path under the source tree, e.g.
// "config/nsl-kdd.yaml"; empty: the default config) on `data`, artifacts and bundle under `dir`.
ShippedRun train_shipped(const std::string& config, const std::filesystem::path& data, const TempDir& dir);

// `predict --metrics` of the run's test split through its bundle, the scored rows to `scored_csv`:
// the metrics JSON is on stdout.
CommandResult predict_test_split(const ShippedRun& r, const std::filesystem::path& scored_csv);

}  // namespace netsentry::test
