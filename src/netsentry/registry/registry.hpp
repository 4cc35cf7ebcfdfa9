#pragma once
// The local model registry: a directory of immutable versions and one atomically replaced state file.
//
//   registry/
//     v1/                    a version, published whole by rename(2) (never visible half-written)
//       bundle/              the model bundle (bundle/bundle.hpp), byte-identical to what was registered
//       test.csv             the test split the candidate was evaluated on (the gate scores it again)
//       version.json         created_at, metrics on test.csv, source, sha256 + size of every file
//     v2/ ...
//     registry.json          THE source of truth for everything mutable: production version, production
//                            history (for rollback), per-version status and gate decisions.
//                            Written with write_file_atomic (temp + fsync + rename) under .lock.
//     production -> v2       a symlink kept in step with registry.json (temp symlink + rename), so that
//                            other tools can use the fixed path registry/production/bundle.
//     .lock                  flock(2) taken by every state change (released by the kernel on SIGKILL)
//
// Version numbers: the next vN is claimed with mkdir (EEXIST = somebody else has it, try N+1); the version
// is written into .tmp.<pid>.<rand>/ and renamed onto the empty claimed directory. A version is listed only
// when its version.json exists, so a crash leaves at worst an empty claimed vN (skipped) or a stale temp
// dir (removed by the next registration once its process is gone).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "netsentry/evaluate/gate.hpp"

namespace netsentry {

struct PipelineConfig;

struct RegistryOptions {
  GateConfig gate;
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
  static RegistryOptions from_config(const PipelineConfig& cfg);
};

std::filesystem::path registry_dir_from_config(const PipelineConfig& cfg);

struct VersionInfo {
  std::string name;       // "v3"
  int number = 0;         // 3
  std::string status;     // candidate | production | archived
  nlohmann::json record;  // version.json
  nlohmann::json state;   // this version's entry in registry.json (gate decisions, history)
  nlohmann::json to_json() const;
};

struct PromoteResult {
  bool promoted = false;
  bool forced = false;
  std::string version;
  std::optional<std::string> previous;  // production before
  GateDecision gate;                    // not evaluated when forced (gate.reason says so)
  nlohmann::json to_json() const;
};

class Registry {
 public:
  explicit Registry(std::filesystem::path dir, RegistryOptions opt = {});

  const std::filesystem::path& dir() const { return dir_; }
  const RegistryOptions& options() const { return opt_; }

  // Copies the bundle and its test split into a new version (status candidate) and returns its name.
  // The bundle must load (ModelBundle::load); its metrics on the test split are computed and stored.
  // `extra` is merged into version.json (e.g. {"run_dir": ...}).
  std::string register_candidate(const std::filesystem::path& bundle_dir,
                                 const std::filesystem::path& test_split_csv,
                                 const nlohmann::json& extra = nlohmann::json::object());
  // Publishes a complete version directory (as `pull` writes it: bundle/, test.csv, version.json) as a new
  // version after checking every file against version.json and loading the bundle. `origin` is stored.
  std::string import_version(const std::filesystem::path& staged_dir, const nlohmann::json& origin);

  // Complete versions in number order.
  std::vector<VersionInfo> list() const;
  VersionInfo show(const std::string& version) const;  // UsageError for an unknown version
  std::optional<std::string> production() const;
  // The production bundle's directory (<dir>/vN/bundle), or nullopt when nothing is in production.
  std::optional<std::filesystem::path> production_dir() const;
  std::filesystem::path version_dir(const std::string& version) const { return dir_ / version; }

  // Runs the gate for `version` against production (skipped when `force`) and switches production when it
  // passes. The decision is stored with the version either way.
  PromoteResult promote(const std::string& version, bool force);
  // Evaluates the gate without changing production (the decision is stored).
  GateDecision evaluate(const std::string& version);
  // Back to the previous production version; returns it. UsageError when there is none.
  std::string rollback();

  // Checks a version: every file against version.json's sha256, and the bundle loads. Returns the problems.
  std::vector<std::string> verify(const std::string& version) const;
  // Same checks for any version directory (e.g. one staged by `pull`).
  std::vector<std::string> verify_dir(const std::filesystem::path& version_dir) const;
  // A fresh temp directory inside the registry (same file system, so it can be renamed into place);
  // removes temp dirs left by processes that are gone.
  std::filesystem::path make_staging_dir() const;

 private:
  struct Lock;
  nlohmann::json read_state() const;
  void write_state(const nlohmann::json& state) const;
  void sync_symlink(const nlohmann::json& state) const;
  std::string publish(const std::filesystem::path& staged);
  void clean_stale_temps() const;
  GateDecision run_gate(const std::string& version, const nlohmann::json& state) const;
  bool complete(const std::string& version) const;

  std::filesystem::path dir_;
  RegistryOptions opt_;
};

// The single call the training command makes after writing its bundle: registers `bundle_dir` (its test
// split found in `run_dir`, or `test_csv` when given) as a candidate in the configured registry and, when
// registry.auto_promote is on, runs the gate and promotes it if it passes. Returns the decision as JSON:
//   {"registry", "version", "status", "promoted", "gate": {...}, "production", "previous_production"}
nlohmann::json register_after_training(const PipelineConfig& cfg, const std::filesystem::path& bundle_dir,
                                       const std::filesystem::path& run_dir,
                                       const std::optional<std::filesystem::path>& test_csv = std::nullopt);

// Registers a bundle and applies registry.auto_promote: promote through the gate, or only evaluate and
// store the decision. Returns the JSON summary described above.
nlohmann::json register_and_gate(Registry& reg, const std::filesystem::path& bundle_dir,
                                 const std::filesystem::path& test_csv,
                                 const nlohmann::json& extra = nlohmann::json::object());

// The test split of a training run: data_ingestion/artifact.json's "test", else the file named `test_file`
// in the run folder (the ingestion stage's copy first). DataError when there is none.
std::filesystem::path find_test_split(const std::filesystem::path& run_dir, const std::string& test_file);

}  // namespace netsentry
