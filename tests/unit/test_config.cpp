// The pipeline configuration is typed and checked once, when it is loaded: defaults in one place
// (PipelineConfig's members), every section's values converted, a bad value or an unknown key named.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/schema/schema.hpp"
#include "support/paths.hpp"

namespace netsentry {
namespace {

using json = nlohmann::json;

const json kFamilies = {{"model_trainer", {{"families", {{"logistic_regression", json::object()}}}}}};

PipelineConfig with(const std::string& section, json values) {
  json j = kFamilies;
  if (section == "model_trainer")
    for (auto& [k, v] : values.items()) j["model_trainer"][k] = v;
  else
    j[section] = std::move(values);
  return PipelineConfig::from_json(j, "test.yaml");
}

std::string error_of(const std::string& section, json values) {
  try {
    with(section, std::move(values));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, TheShippedFileLoadsIntoEverySection) {
  const auto c = PipelineConfig::load(test::source_dir() / "config" / "pipeline.yaml");
  EXPECT_EQ(c.data.target, "Result");
  EXPECT_EQ(c.registry.dir, "registry");
  EXPECT_EQ(c.registry.metric, "f1");
  EXPECT_TRUE(c.registry.auto_promote);
  EXPECT_EQ(c.serve.port, 8080);
  EXPECT_EQ(c.serve.explain_method, ExplainMethod::Auto);
  EXPECT_EQ(c.serve.reload_poll.count(), 1000);
  EXPECT_EQ(c.serve.class_names.at("-1"), "phishing");
  EXPECT_EQ(c.model_trainer.threshold.strategy, "fixed");
  EXPECT_FALSE(c.model_trainer.class_weights);
  EXPECT_TRUE(c.model_trainer.families.contains("gradient_boosting"));
}

TEST(Config, OmittedKeysTakeTheMembersDefaults) {
  const auto c = PipelineConfig::from_json(kFamilies, "test.yaml");
  const ServeSettings serve;
  EXPECT_EQ(c.serve.max_body_bytes, serve.max_body_bytes);
  EXPECT_EQ(c.serve.explain_budget_ms, serve.explain_budget_ms);
  EXPECT_EQ(c.registry.metric, "");  // the gate then uses model_trainer.metric
  EXPECT_EQ(c.model_trainer.threshold.value, 0.5);
}

TEST(Config, TypedValuesAreRead) {
  const auto s = with("serve", {{"port", 0},
                                {"explain_method", "path"},
                                {"reload_poll_ms", 250},
                                {"access_log", true},
                                {"class_names", {{"0", "benign"}, {"1", "attack"}}}});
  EXPECT_EQ(s.serve.port, 0);
  EXPECT_EQ(s.serve.explain_method, ExplainMethod::Path);
  EXPECT_EQ(s.serve.reload_poll.count(), 250);
  EXPECT_TRUE(s.serve.access_log);
  EXPECT_EQ(s.serve.class_names.size(), 2u);
  const auto t = with("model_trainer",
                      {{"class_weights", true}, {"threshold", {{"strategy", "max_fpr"}, {"max_fpr", 0.02}}}});
  EXPECT_TRUE(t.model_trainer.class_weights);
  EXPECT_EQ(t.model_trainer.threshold.strategy, "max_fpr");
  EXPECT_DOUBLE_EQ(t.model_trainer.threshold.max_fpr, 0.02);
  const auto h = with("model_trainer", {{"validation", "holdout"}, {"holdout_share", 0.25}});
  EXPECT_EQ(h.model_trainer.validation, "holdout");
  EXPECT_DOUBLE_EQ(h.model_trainer.holdout_share, 0.25);
}

TEST(Config, BadValuesAndUnknownKeysAreNamed) {
  EXPECT_NE(error_of("serve", {{"prot", 80}}).find("unknown key 'serve.prot'"), std::string::npos);
  EXPECT_NE(error_of("serve", {{"prot", 80}}).find("port"), std::string::npos);  // the known keys listed
  EXPECT_NE(error_of("servr", {{"port", 80}}).find("unknown key 'servr'"), std::string::npos);
  EXPECT_NE(error_of("model_trainer", {{"threshold", {{"stratgy", "fixed"}}}})
                .find("unknown key 'model_trainer.threshold.stratgy'"),
            std::string::npos);
  EXPECT_NE(error_of("serve", {{"port", 70000}}).find("serve.port must be an integer in [0, 65535]"),
            std::string::npos);
  EXPECT_NE(error_of("serve", {{"explain_method", "lime"}}).find("serve.explain_method"), std::string::npos);
  EXPECT_NE(error_of("registry", {{"metric", "loss"}}).find("registry.metric"), std::string::npos);
  EXPECT_NE(error_of("registry", {{"auto_promote", "yes"}}).find("registry.auto_promote"), std::string::npos);
  EXPECT_NE(error_of("model_trainer", {{"threshold", {{"strategy", "best"}}}})
                .find("model_trainer.threshold.strategy"),
            std::string::npos);
  EXPECT_NE(error_of("serve", json::array({1, 2})).find("serve must be a mapping"), std::string::npos);
  // Negative or fractional counts are refused, not wrapped around or truncated.
  EXPECT_NE(
      error_of("data", {{"demo_rows", -1}}).find("data.demo_rows must be an integer in [10, 100000000]"),
      std::string::npos);
  EXPECT_NE(error_of("data", {{"demo_rows", 2.5}}).find("data.demo_rows"), std::string::npos);
  EXPECT_NE(error_of("data", {{"label_mapping", {{"-1", 4294967296LL}}}}).find("data.label_mapping.-1"),
            std::string::npos);
  EXPECT_NE(error_of("transformation", {{"categorical", {{"max_categories", 1}}}})
                .find("transformation.categorical.max_categories"),
            std::string::npos);
  EXPECT_NE(error_of("model_trainer", {{"validation", "loo"}})
                .find("model_trainer.validation must be cv or holdout"),
            std::string::npos);
  EXPECT_NE(error_of("model_trainer", {{"holdout_share", 0.9}}).find("model_trainer.holdout_share"),
            std::string::npos);
  for (const auto& e : {error_of("serve", {{"prot", 80}}), error_of("registry", {{"metric", "loss"}})})
    EXPECT_EQ(e.rfind("test.yaml: ", 0), 0u) << e;  // the file named first
}

// The deadlines and the connection cap of `netsentry serve`: the shipped file says the defaults, each
// value is read, and one out of its range is an error naming the key and the range.
TEST(Config, ServeDeadlinesAndConnectionCapAreReadAndRangeChecked) {
  const ServeSettings defaults;
  EXPECT_EQ(defaults.request_timeout_seconds, 60);
  EXPECT_EQ(defaults.min_body_bytes_per_second, 1024);
  EXPECT_EQ(defaults.max_connections, 10000);
  EXPECT_EQ(defaults.shutdown_grace_seconds, 20);
  const auto shipped = PipelineConfig::load(test::source_dir() / "config" / "pipeline.yaml").serve;
  EXPECT_EQ(shipped.request_timeout_seconds, defaults.request_timeout_seconds);
  EXPECT_EQ(shipped.min_body_bytes_per_second, defaults.min_body_bytes_per_second);
  EXPECT_EQ(shipped.max_connections, defaults.max_connections);
  EXPECT_EQ(shipped.shutdown_grace_seconds, defaults.shutdown_grace_seconds);
  const auto s = with("serve", {{"request_timeout_seconds", 30},
                                {"min_body_bytes_per_second", 0},
                                {"max_connections", 2},
                                {"shutdown_grace_seconds", 0}})
                     .serve;
  EXPECT_EQ(s.request_timeout_seconds, 30);
  EXPECT_EQ(s.min_body_bytes_per_second, 0);
  EXPECT_EQ(s.max_connections, 2);
  EXPECT_EQ(s.shutdown_grace_seconds, 0);
  const std::vector<std::pair<json, std::string>> bad = {
      {json{{"request_timeout_seconds", 0}}, "serve.request_timeout_seconds must be an integer in [1, 3600]"},
      {json{{"request_timeout_seconds", 1.5}},
       "serve.request_timeout_seconds must be an integer in [1, 3600]"},
      {json{{"min_body_bytes_per_second", -1}},
       "serve.min_body_bytes_per_second must be an integer in [0, 1073741824]"},
      {json{{"max_connections", 0}}, "serve.max_connections must be an integer in [1, 1000000]"},
      {json{{"max_connections", "many"}}, "serve.max_connections must be an integer in [1, 1000000]"},
      {json{{"shutdown_grace_seconds", -1}}, "serve.shutdown_grace_seconds must be an integer in [0, 3600]"},
      {json{{"shutdown_grace_seconds", 3601}},
       "serve.shutdown_grace_seconds must be an integer in [0, 3600]"},
  };
  for (const auto& [values, message] : bad) {
    const std::string e = error_of("serve", values);
    EXPECT_NE(e.find(message), std::string::npos) << values << ": " << e;
    EXPECT_EQ(e.rfind("test.yaml: ", 0), 0u) << e;
  }
}

// The request header limits of `netsentry serve`: the shipped file says the defaults, each value is
// read, and one out of its range is an error naming the key and the range.
TEST(Config, ServeHeaderLimitsAreReadAndRangeChecked) {
  const ServeSettings defaults;
  EXPECT_EQ(defaults.max_header_bytes, 16384u);
  EXPECT_EQ(defaults.max_header_fields, 100);
  const auto shipped = PipelineConfig::load(test::source_dir() / "config" / "pipeline.yaml").serve;
  EXPECT_EQ(shipped.max_header_bytes, defaults.max_header_bytes);
  EXPECT_EQ(shipped.max_header_fields, defaults.max_header_fields);
  const auto s = with("serve", {{"max_header_bytes", 4096}, {"max_header_fields", 20}}).serve;
  EXPECT_EQ(s.max_header_bytes, 4096u);
  EXPECT_EQ(s.max_header_fields, 20);
  const std::vector<std::pair<json, std::string>> bad = {
      {json{{"max_header_bytes", 1023}}, "serve.max_header_bytes must be an integer in [1024, 1048576]"},
      {json{{"max_header_bytes", "16k"}}, "serve.max_header_bytes must be an integer in [1024, 1048576]"},
      {json{{"max_header_fields", 0}}, "serve.max_header_fields must be an integer in [1, 10000]"},
      {json{{"max_header_fields", 2.5}}, "serve.max_header_fields must be an integer in [1, 10000]"},
  };
  for (const auto& [values, message] : bad) {
    const std::string e = error_of("serve", values);
    EXPECT_NE(e.find(message), std::string::npos) << values << ": " << e;
  }
}

TEST(Config, HeaderAndFailOnDomainAreRead) {
  const auto d = PipelineConfig::from_json(kFamilies, "test.yaml");
  EXPECT_TRUE(d.data.header);
  EXPECT_FALSE(d.validation.fail_on_domain);
  EXPECT_FALSE(with("data", {{"header", false}}).data.header);
  EXPECT_TRUE(with("validation", {{"fail_on_domain", true}}).validation.fail_on_domain);
  EXPECT_NE(error_of("data", {{"header", "no"}}).find("data.header"), std::string::npos);
  EXPECT_NE(
      error_of("validation", {{"fail_on_domains", true}}).find("unknown key 'validation.fail_on_domains'"),
      std::string::npos);
}

// YAML that the library parses but the config cannot mean, and a folder given as the file: usage
// errors (exit 2) naming the file and the line, never an internal error.
TEST(Config, ComplexKeysAndFoldersAreUsageErrors) {
  test::TempDir dir;
  std::ofstream(dir / "c.yaml") << "pipeline:\n  ? [a, b]\n  : 1\nmodel_trainer:\n  families:\n    knn: {}\n";
  try {
    PipelineConfig::load(dir / "c.yaml");
    ADD_FAILURE() << "a list as a key was accepted";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("c.yaml: line 2: a key must be a plain name"), std::string::npos) << m;
  }
  try {
    PipelineConfig::load(dir.path());
    ADD_FAILURE() << "a folder was read as the config";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Schema::from_yaml_text("columns:\n  - ? [a, b]\n    : int64\n", "s.yaml"), UsageError);
  EXPECT_THROW(Schema::from_yaml_text("columns:\n  - a: int64\nnumerical_columns:\n  - [a]\n", "s.yaml"),
               UsageError);
  EXPECT_THROW(
      Schema::from_yaml_text("columns:\n  - a: int64\ndomains:\n  ? {x: 1}\n  : {min: 0}\n", "s.yaml"),
      UsageError);
  EXPECT_THROW(Schema::load_yaml(dir.path()), UsageError);
  // The same document given as text (what the config fuzz target reads) names the source it is given.
  try {
    PipelineConfig::from_yaml_text("pipeline:\n  ? [a, b]\n  : 1\n", "given.yaml");
    ADD_FAILURE() << "a list as a key was accepted from text";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("given.yaml: line 2: a key must be a plain name"), std::string::npos)
        << e.what();
  }
}

// YAML is Unicode text, and what a config or schema holds ends up in JSON files and messages: bytes
// that are not UTF-8 are refused naming the line (found by fuzzing: a setting's value of such bytes
// made the error message itself fail, an internal error).
TEST(Config, BytesThatAreNotUtf8AreRefusedNamingTheLine) {
  try {
    PipelineConfig::from_yaml_text(
        "pipeline:\n  random_seed: \"4\xff"
        "2\"\n",
        "bad.yaml");
    ADD_FAILURE() << "a value that is not UTF-8 was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml: line 2: '4\\xFF2' is not UTF-8 text"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Schema::from_yaml_text("columns:\n  - \"a\xc3\": int64\n", "s.yaml"), UsageError);
  // A long value is shown cut short in a message.
  try {
    PipelineConfig::from_yaml_text("pipeline:\n  random_seed: \"" + std::string(5000, '7') + "x\"\n",
                                   "c.yaml");
    ADD_FAILURE() << "a text seed was accepted";
  } catch (const UsageError& e) {
    EXPECT_LT(std::string(e.what()).size(), 300u) << e.what();
    EXPECT_NE(std::string(e.what()).find("(5003 bytes)"), std::string::npos) << e.what();
  }
}

TEST(Config, TextAndFileGiveTheSameConfig) {
  const auto path = test::source_dir() / "config" / "pipeline.yaml";
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(PipelineConfig::from_yaml_text(text, path.string()).to_json(),
            PipelineConfig::load(path).to_json());
}

// Every number has a type and a range checked at load: a fraction is not truncated, a boolean is not
// read as 1, a probability outside [0, 1] is not run to a gate refusal.
TEST(Config, NumbersOutsideTheirRangeAreNamed) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"transformation", {{"imputer", {{"n_neighbors", 2.5}}}}},
      {"transformation", {{"imputer", {{"n_neighbors", 0}}}}},
      {"transformation", {{"smote_k", -3}}},
      {"model_trainer", {{"threshold", {{"value", 5}}}}},
      {"model_trainer", {{"threshold", {{"value", "abc"}}}}},
      {"model_trainer", {{"threshold", {{"max_fpr", -0.1}}}}},
      {"model_trainer", {{"expected_score", 1.5}}},
      {"model_trainer", {{"overfitting_threshold", true}}},
      {"model_trainer", {{"cv_folds", 2.5}}},
      {"model_trainer", {{"cv_folds", 1000}}},
      {"model_trainer", {{"halving_factor", 1}}},
      {"model_trainer", {{"max_trees", 0}}},
      {"model_trainer", {{"max_candidates", -1}}},
      {"ingestion", {{"test_ratio", 1}}},
      {"ingestion", {{"test_ratio", true}}},
      {"validation", {{"drift_p_value", 0}}},
      {"registry", {{"min_improvement", 2}}},
      {"pipeline", {{"random_seed", -1}}},
      {"pipeline", {{"random_seed", 1.5}}},
      {"data", {{"max_file_bytes", 10}}},
  };
  for (const auto& [section, values] : cases) {
    const std::string key = values.begin().key();
    const json& v = values.begin().value();
    const std::string leaf = v.is_object() ? key + "." + v.begin().key() : key;
    const std::string e = error_of(section, values);
    EXPECT_NE(e.find(section + "." + leaf + " must be"), std::string::npos) << values.dump() << ": " << e;
    EXPECT_NE(e.find(" in "), std::string::npos) << e;  // the range is named
  }
  // The ends of each range are accepted.
  EXPECT_EQ(with("model_trainer", {{"threshold", {{"value", 1}}}}).model_trainer.threshold.value, 1.0);
  EXPECT_EQ(with("transformation", {{"imputer", {{"n_neighbors", 1}}}}).transformation.knn_neighbors, 1);
  EXPECT_EQ(with("model_trainer", {{"max_trees", 20000}}).model_trainer.max_trees, 20000);
  EXPECT_EQ(with("data", {{"max_file_bytes", 4096}}).data.max_file_bytes, 4096u);
}

// YAML that would take the machine: an alias bomb (ten lines naming 10^9 nodes) and deep nesting are
// refused quickly with the limit named; a device or a FIFO given as the file is refused unopened.
TEST(Config, HostileYamlAndSpecialFilesAreRefusedQuickly) {
  test::TempDir dir;
  std::string bomb =
      "pipeline:\n  name: x\nserve:\n  class_names:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "    a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  std::ofstream(dir / "bomb.yaml") << bomb;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    PipelineConfig::load(dir / "bomb.yaml");
    ADD_FAILURE() << "the alias bomb loaded";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.yaml: more than 1000000 YAML nodes"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("NETSENTRY_MAX_YAML_NODES"), std::string::npos);
  }
  // A generous bound: expanding the aliases would take minutes.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
  try {
    Schema::from_yaml_text("columns:\n  - a: int64\n" + bomb, "s.yaml");
    ADD_FAILURE() << "the alias bomb loaded as a schema";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml: more than"), std::string::npos) << e.what();
  }
  std::string deep = "pipeline:\n  name: " + std::string(500, '[') + std::string(500, ']') + "\n";
  std::ofstream(dir / "deep.yaml") << deep;
  EXPECT_THROW(PipelineConfig::load(dir / "deep.yaml"), UsageError);
  for (const char* special : {"/dev/zero", "/dev/null"}) {
    try {
      PipelineConfig::load(special);
      ADD_FAILURE() << special << " was read as a config";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("character device"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace netsentry
