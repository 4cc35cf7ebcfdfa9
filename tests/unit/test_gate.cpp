// The evaluation gate's rule and its configuration keys.
#include <gtest/gtest.h>

#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/evaluate/gate.hpp"

using namespace netsentry;

namespace {
GateConfig gate(double min_improvement, double expected) {
  GateConfig g;
  g.metric = "f1";
  g.min_improvement = min_improvement;
  g.expected_score = expected;
  return g;
}
}  // namespace

TEST(Gate, FirstModelNeedsOnlyTheExpectedScore) {
  auto d = decide(gate(0.01, 0.6), 0.8, std::nullopt);
  EXPECT_TRUE(d.passed);
  EXPECT_NE(d.reason.find("no production model"), std::string::npos);
  auto low = decide(gate(0.0, 0.6), 0.5, std::nullopt);
  EXPECT_FALSE(low.passed);
  EXPECT_NE(low.reason.find("below the expected score"), std::string::npos) << low.reason;
}

TEST(Gate, CandidateMustBeatProductionByMinImprovement) {
  EXPECT_TRUE(decide(gate(0.0, 0.6), 0.90, 0.90, "v1").passed);  // equal is enough with 0.0
  EXPECT_TRUE(decide(gate(0.01, 0.6), 0.92, 0.90, "v1").passed);
  auto d = decide(gate(0.05, 0.6), 0.92, 0.90, "v1");
  EXPECT_FALSE(d.passed);
  EXPECT_NE(d.reason.find("does not beat production v1"), std::string::npos) << d.reason;
  auto worse = decide(gate(0.0, 0.6), 0.85, 0.90, "v1");
  EXPECT_FALSE(worse.passed);
  // Beating production is not enough below the expected score.
  auto both_low = decide(gate(0.0, 0.95), 0.92, 0.90, "v1");
  EXPECT_FALSE(both_low.passed);
  EXPECT_NE(both_low.reason.find("expected score"), std::string::npos);
}

TEST(Gate, DecisionJson) {
  auto j = decide(gate(0.0, 0.6), 0.8, 0.7, "v2").to_json();
  EXPECT_EQ(j["passed"], true);
  EXPECT_EQ(j["production_version"], "v2");
  EXPECT_DOUBLE_EQ(j["production_score"].get<double>(), 0.7);
  EXPECT_FALSE(j["evaluated_at"].get<std::string>().empty());
}

TEST(Gate, ConfigKeys) {
  PipelineConfig cfg;
  cfg.model_trainer.metric = "accuracy";
  cfg.model_trainer.expected_score = 0.7;
  auto g = GateConfig::from_config(cfg);
  EXPECT_EQ(g.metric, "accuracy");  // falls back to model_trainer.metric
  EXPECT_DOUBLE_EQ(g.expected_score, 0.7);
  EXPECT_TRUE(g.auto_promote);
  // The registry section of a file, checked when it is loaded.
  auto with_registry = [](nlohmann::json registry) {
    return PipelineConfig::from_json(
        {{"model_trainer", {{"families", {{"logistic_regression", nlohmann::json::object()}}}}},
         {"registry", std::move(registry)}},
        "test");
  };
  g = GateConfig::from_config(
      with_registry({{"metric", "roc_auc"}, {"min_improvement", 0.02}, {"auto_promote", false}}));
  EXPECT_EQ(g.metric, "roc_auc");
  EXPECT_DOUBLE_EQ(g.min_improvement, 0.02);
  EXPECT_FALSE(g.auto_promote);
  EXPECT_THROW(with_registry({{"metric", "loss"}}), UsageError);
  EXPECT_THROW(with_registry({{"min_improvement", "a lot"}}), UsageError);
}

TEST(Gate, ShippedConfigHasARegistrySection) {
  auto cfg = PipelineConfig::load(std::string(NETSENTRY_SOURCE_DIR) + "/config/pipeline.yaml");
  ASSERT_TRUE(cfg.raw.contains("registry"));
  auto g = GateConfig::from_config(cfg);
  EXPECT_EQ(g.metric, "f1");
  EXPECT_DOUBLE_EQ(g.min_improvement, 0.0);
  EXPECT_TRUE(g.auto_promote);
}
