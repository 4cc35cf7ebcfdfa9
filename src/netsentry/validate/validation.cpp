#include "netsentry/validate/validation.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/split.hpp"
#include "netsentry/schema/check.hpp"
#include "netsentry/schema/domain_check.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/table/number_text.hpp"
#include "netsentry/validate/ks.hpp"

namespace netsentry {

using json = nlohmann::json;

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ValidationArtifact, status, drift_detected, train, test,
                                                report_yaml, report_json, duplicate_rows, messages)

json ValidationArtifact::to_json() const { return *this; }
ValidationArtifact ValidationArtifact::from_json(const json& j) { return j.get<ValidationArtifact>(); }

ValidationArtifact run_validation(const PipelineConfig& cfg, const IngestionArtifact& in,
                                  const fs::path& stage_dir) {
  const SplitData data = in.data.or_read(cfg, in.train, in.test);
  const Schema& schema = *data.schema;
  const Table &train = *data.train, &test = *data.test;
  ValidationArtifact a;
  a.train = in.train;
  a.test = in.test;
  a.data = data;
  for (const Table* t : {&train, &test}) {
    auto p = check_against_schema(*t, schema);
    a.messages.insert(a.messages.end(), p.begin(), p.end());
  }
  if (!schema.has(cfg.data.target))
    a.messages.push_back("schema has no target column '" + cfg.data.target + "'");
  const LabelSpace& classes = *data.labels;
  std::size_t unmapped_test = 0;
  if (train.find(cfg.data.target)) {
    const Labels y = classes.labels(train, cfg.data.target);  // throws naming the row
    if (std::all_of(y.begin(), y.end(), [&](int c) { return c == y.front(); }))
      a.messages.push_back(train.source + ": the target '" + cfg.data.target + "' has a single class");
  }
  // A later test period may hold attack names no class knows: counted, not an error.
  if (test.find(cfg.data.target)) unmapped_test = classes.encode(test, cfg.data.target, true).unmapped;

  // Values outside the schema's domains: reported, and a failure only with validation.fail_on_domain.
  json domain = json::object();
  for (const auto& [split, t] : {std::pair{"train", &train}, std::pair{"test", &test}}) {
    json cols = json::object();
    for (auto& f : check_domains(*t, schema)) {
      cols[f.column] = f.to_json();
      if (!f.any()) continue;
      spdlog::warn("validate: {}", f.describe(t->source));
      if (cfg.validation.fail_on_domain)
        a.messages.push_back(f.describe(t->source) + " (validation.fail_on_domain is set)");
    }
    domain[split] = {{"file", t->source}, {"columns", cols}};
  }

  // Drift: KS per numeric column present in both splits.
  json report = json::object();
  YAML::Emitter yaml;
  yaml << YAML::BeginMap;
  for (auto& c : train.columns) {
    auto j = test.find(c.name);
    if (!j || c.type != ColumnType::Numeric || test.columns[*j].type != ColumnType::Numeric) continue;
    auto r = ks_2samp(c.num, test.columns[*j].num);
    bool drift = r.p_value < cfg.validation.drift_p_value;
    a.drift_detected |= drift;
    report[c.name] = {{"p_value", r.p_value}, {"statistic", r.statistic}, {"drift_status", drift}};
    yaml << YAML::Key << c.name << YAML::Value << YAML::BeginMap << YAML::Key << "p_value" << YAML::Value
         << r.p_value << YAML::Key << "drift_status" << YAML::Value << drift << YAML::EndMap;
  }
  if (a.messages.empty()) {
    std::vector<std::string> features;
    for (auto& c : train.columns)
      if (c.name != cfg.data.target) features.push_back(c.name);
    // Duplicates over the whole data set (train + test): copies within and across the splits, every
    // column compared (text columns by value), the target as written.
    const Table both = concat_rows(train, test);
    features.push_back(cfg.data.target);
    a.duplicate_rows = count_duplicate_rows(both.to_key_matrix(features), {});
  }
  a.status = a.messages.empty() && !(cfg.validation.fail_on_drift && a.drift_detected);
  yaml << YAML::EndMap;
  json full = {{"status", a.status},
               {"drift_detected", a.drift_detected},
               {"drift_p_value_threshold", cfg.validation.drift_p_value},
               {"duplicate_rows", a.duplicate_rows},
               {"classes", classes.to_json()},
               {"unmapped_test_labels", unmapped_test},
               {"messages", a.messages},
               {"columns", report},
               {"domain", domain}};
  a.report_yaml = stage_dir / "drift_report" / "report.yaml";
  a.report_json = stage_dir / "drift_report" / "report.json";
  write_file_atomic(a.report_yaml, std::string(yaml.c_str()) + "\n");
  write_file_atomic(a.report_json, full.dump(2));
  write_file_atomic(stage_dir / "artifact.json", a.to_json().dump(2));
  std::size_t drifted = 0;
  for (auto& [k, v] : report.items()) drifted += v["drift_status"].get<bool>();
  spdlog::info("validate: {} columns, {} with drift (p < {}), {} duplicate rows", report.size(), drifted,
               cfg.validation.drift_p_value, a.duplicate_rows);
  if (!a.messages.empty()) {
    std::string all;
    for (auto& m : a.messages) all += "\n  - " + m;
    throw DataError("validation failed (" + std::to_string(a.messages.size()) + " problem" +
                    (a.messages.size() == 1 ? "" : "s") + "; report: " + a.report_json.string() + "):" + all);
  }
  if (!a.status)
    throw DataError("data drift detected and validation.fail_on_drift is set; report: " +
                    a.report_json.string());
  return a;
}

}  // namespace netsentry
