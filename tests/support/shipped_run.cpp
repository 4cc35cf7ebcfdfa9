#include "support/shipped_run.hpp"

namespace netsentry::test {

ShippedRun train_shipped(const std::string& config, const std::filesystem::path& data, const TempDir& dir) {
  ShippedRun r;
  r.model = dir / "final_model";
  const std::string with_config =
      config.empty() ? "" : " --config " + shell_quote((source_dir() / config).string());
  r.train = run_cli("-q" + with_config + " train --json --data " + shell_quote(data.string()) +
                    " --artifact-dir " + shell_quote((dir / "artifacts").string()) + " --model-dir " +
                    shell_quote(r.model.string()) + " --registry none");
  if (r.train.exit_code == 0) {
    r.summary = nlohmann::json::parse(r.train.out);
    r.run = r.summary["run_dir"].get<std::string>();
  }
  return r;
}

CommandResult predict_test_split(const ShippedRun& r, const std::filesystem::path& scored_csv) {
  return run_cli("-q predict --model-dir " + shell_quote(r.model.string()) + " --input " +
                 shell_quote(r.test_split().string()) + " --output " + shell_quote(scored_csv.string()) +
                 " --metrics");
}

}  // namespace netsentry::test
