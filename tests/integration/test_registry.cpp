// The local registry and the evaluation gate on real bundles made by `netsentry train`.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/registry/registry.hpp"
#include "support/paths.hpp"

using namespace netsentry;
namespace t = netsentry::test;

namespace {

// A small project (one fast model family) with two trained bundles, shared by the tests of this file.
struct Project {
  t::TempDir dir;
  fs::path bundle_a, bundle_b, run_a, test_a, test_b;

  Project() {
    fs::create_directories(dir / "config");
    fs::copy(t::source_dir() / "config" / "schema", dir / "config" / "schema", fs::copy_options::recursive);
    std::ofstream(dir / "config" / "pipeline.yaml") << R"(pipeline: {artifact_dir: artifacts, random_seed: 42}
data: {target_column: Result}
model_trainer:
  expected_score: 0.6
  overfitting_threshold: 0.2
  cv_folds: 2
  metric: f1
  search: grid
  families:
    logistic_regression: {}
registry: {dir: registry, metric: f1, min_improvement: 0.0, auto_promote: true}
)";
    auto sh = [&](const std::string& args) {
      auto r = t::run_command("cd " + t::shell_quote(dir.path()) + " && " + t::shell_quote(t::cli_binary()) +
                              " -q " + args);
      if (r.exit_code != 0) throw std::runtime_error("netsentry " + args + ": " + r.err);
      return r.out;
    };
    sh("sample-data --rows 500 --seed 11 --output a.csv");
    sh("sample-data --rows 400 --seed 12 --output b.csv");
    auto ja = nlohmann::json::parse(sh("train --data a.csv --model-dir model_a --registry none --json"));
    auto jb = nlohmann::json::parse(sh("train --data b.csv --model-dir model_b --registry none --json"));
    bundle_a = dir / "model_a";
    bundle_b = dir / "model_b";
    run_a = dir / ja["run_dir"].get<std::string>();
    test_a = find_test_split(run_a, "test.csv");
    test_b = find_test_split(dir / jb["run_dir"].get<std::string>(), "test.csv");
  }
};

Project& project() {
  static Project p;
  return p;
}

RegistryOptions options(double min_improvement, double expected = 0.6) {
  RegistryOptions o;
  o.gate.metric = "f1";
  o.gate.min_improvement = min_improvement;
  o.gate.expected_score = expected;
  return o;
}

}  // namespace

TEST(Registry, FirstModelPromotedThenGateDecidesAndRollbackRestores) {
  auto& p = project();
  t::TempDir tmp;
  // min_improvement 0.5 cannot be met between two models that both reach 0.6: the second stays a candidate.
  Registry reg(tmp / "registry", options(0.5));
  EXPECT_TRUE(reg.list().empty());
  EXPECT_FALSE(reg.production_dir().has_value());

  auto v1 = reg.register_candidate(p.bundle_a, p.test_a);
  EXPECT_EQ(v1, "v1");
  EXPECT_EQ(reg.show(v1).status, "candidate");
  auto r1 = reg.promote(v1, false);
  EXPECT_TRUE(r1.promoted) << r1.gate.reason;
  EXPECT_NE(r1.gate.reason.find("no production model"), std::string::npos);
  ASSERT_TRUE(reg.production_dir().has_value());
  EXPECT_EQ(*reg.production_dir(), tmp / "registry" / "v1" / "bundle");
  EXPECT_EQ(fs::read_symlink(tmp / "registry" / "production"), "v1");
  EXPECT_NO_THROW(ModelBundle::load(tmp / "registry" / "production" / "bundle"));

  auto v2 = reg.register_candidate(p.bundle_b, p.test_b);
  EXPECT_EQ(v2, "v2");
  auto r2 = reg.promote(v2, false);
  EXPECT_FALSE(r2.promoted);
  EXPECT_FALSE(r2.gate.passed);
  ASSERT_TRUE(r2.gate.production_score.has_value());  // production scored on v2's own test split
  EXPECT_EQ(r2.gate.production_version, "v1");
  EXPECT_NE(r2.gate.reason.find("does not beat production v1"), std::string::npos) << r2.gate.reason;
  auto shown = reg.show(v2);
  EXPECT_EQ(shown.status, "candidate");
  EXPECT_EQ(shown.state["gate"]["reason"], r2.gate.reason);  // stored with the version
  EXPECT_EQ(reg.production(), "v1");

  auto forced = reg.promote(v2, true);
  EXPECT_TRUE(forced.promoted);
  EXPECT_EQ(reg.production(), "v2");
  EXPECT_EQ(reg.show("v1").status, "archived");
  EXPECT_EQ(fs::read_symlink(tmp / "registry" / "production"), "v2");

  EXPECT_EQ(reg.rollback(), "v1");
  EXPECT_EQ(reg.production(), "v1");
  EXPECT_EQ(fs::read_symlink(tmp / "registry" / "production"), "v1");
  EXPECT_THROW(reg.rollback(), UsageError);  // v1 was the first production version
  EXPECT_THROW(reg.show("v9"), UsageError);
  EXPECT_THROW(reg.promote("v9", false), UsageError);
}

TEST(Registry, CandidateBetterThanProductionByMarginIsPromoted) {
  auto& p = project();
  t::TempDir tmp;
  Registry reg(tmp / "registry", options(-1.0));  // any candidate that reaches the expected score wins
  reg.promote(reg.register_candidate(p.bundle_a, p.test_a), false);
  auto v2 = reg.register_candidate(p.bundle_b, p.test_b);
  auto r = reg.promote(v2, false);
  EXPECT_TRUE(r.promoted) << r.gate.reason;
  EXPECT_EQ(r.previous, "v1");
  EXPECT_EQ(reg.production(), "v2");
}

TEST(Registry, ExpectedScoreBlocksEvenTheFirstModel) {
  auto& p = project();
  t::TempDir tmp;
  Registry reg(tmp / "registry", options(0.0, 1.01));
  auto v = reg.register_candidate(p.bundle_a, p.test_a);
  auto r = reg.promote(v, false);
  EXPECT_FALSE(r.promoted);
  EXPECT_NE(r.gate.reason.find("below the expected score"), std::string::npos) << r.gate.reason;
  EXPECT_FALSE(reg.production().has_value());
  EXPECT_FALSE(fs::exists(tmp / "registry" / "production"));
}

TEST(Registry, ConcurrentRegistrationsGetDistinctCompleteVersions) {
  auto& p = project();
  t::TempDir tmp;
  Registry reg(tmp / "registry", options(0.0));
  std::vector<std::string> names(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      Registry mine(tmp / "registry", options(0.0));
      names[i] = mine.register_candidate(p.bundle_a, p.test_a);
    });
  for (auto& th : threads) th.join();
  std::set<std::string> unique(names.begin(), names.end());
  EXPECT_EQ(unique, (std::set<std::string>{"v1", "v2", "v3", "v4"}));
  auto listed = reg.list();
  ASSERT_EQ(listed.size(), 4u);
  for (auto& v : listed) EXPECT_TRUE(reg.verify(v.name).empty());
  auto state = nlohmann::json::parse(read_file(tmp / "registry" / "registry.json"));
  EXPECT_EQ(state["versions"].size(), 4u);  // no lost update of the state file
}

TEST(Registry, IncompleteAndStaleEntriesAreNotVersions) {
  auto& p = project();
  t::TempDir tmp;
  const fs::path dir = tmp / "registry";
  fs::create_directories(dir / "v3");                      // a claim whose writer died before the rename
  fs::create_directories(dir / ".tmp.999999999.1" / "x");  // a staging dir of a process that is gone
  Registry reg(dir, options(0.0));
  EXPECT_TRUE(reg.list().empty());
  EXPECT_EQ(reg.register_candidate(p.bundle_a, p.test_a), "v4");
  EXPECT_FALSE(fs::exists(dir / ".tmp.999999999.1"));
  ASSERT_EQ(reg.list().size(), 1u);
}

TEST(Registry, DamagedVersionIsReportedAndNotPromoted) {
  auto& p = project();
  t::TempDir tmp;
  Registry reg(tmp / "registry", options(0.0));
  auto v = reg.register_candidate(p.bundle_a, p.test_a);
  {
    std::ofstream out(tmp / "registry" / v / "bundle" / "metrics.json", std::ios::app);
    out << " ";
  }
  auto problems = reg.verify(v);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("metrics.json"), std::string::npos) << problems[0];
  EXPECT_THROW(reg.promote(v, true), DataError);
  EXPECT_FALSE(reg.production().has_value());
}

TEST(Registry, RegisterAfterTrainingFindsTheRunsTestSplitAndPromotes) {
  auto& p = project();
  t::TempDir tmp;
  auto cfg = PipelineConfig::load(p.dir / "config" / "pipeline.yaml");
  cfg.registry.dir = (tmp / "reg").string();
  auto out = register_after_training(cfg, p.bundle_a, p.run_a);
  EXPECT_EQ(out["version"], "v1");
  EXPECT_EQ(out["promoted"], true);
  EXPECT_EQ(out["production"], "v1");
  EXPECT_EQ(out["status"], "production");
  EXPECT_TRUE(out["gate"]["passed"].get<bool>());
  EXPECT_EQ(read_file(tmp / "reg" / "v1" / "test.csv"), read_file(p.test_a));
  // The registered bundle is byte-identical to the trained one.
  for (auto& e : fs::recursive_directory_iterator(p.bundle_a)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(sha256_file(e.path()),
              sha256_file(tmp / "reg" / "v1" / "bundle" / fs::relative(e.path(), p.bundle_a)));
  }

  cfg.registry.auto_promote = false;
  auto second = register_after_training(cfg, p.bundle_a, p.run_a);
  EXPECT_EQ(second["version"], "v2");
  EXPECT_EQ(second["promoted"], false);
  EXPECT_EQ(second["status"], "candidate");
  EXPECT_EQ(second["production"], "v1");
}
