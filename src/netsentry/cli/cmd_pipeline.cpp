// `netsentry train` (the whole pipeline) and the stage commands `ingest`, `validate`, `transform`,
// each of which reads the previous stage's artifact.json from a run folder.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "netsentry/cli/command.hpp"
#include "netsentry/cli/progress.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/ingestion.hpp"
#include "netsentry/pipeline/training_pipeline.hpp"
#include "netsentry/transform/transformation.hpp"
#include "netsentry/validate/validation.hpp"

namespace {

using namespace netsentry;
using json = nlohmann::json;

json read_artifact(const fs::path& run_dir, const char* stage) {
  fs::path p = run_dir / stage / "artifact.json";
  if (!fs::exists(p))
    throw UsageError(p.string() + " not found: run the previous stage first (netsentry " +
                     (std::string(stage) == "data_ingestion" ? "ingest" : "validate") + " --run-dir " +
                     run_dir.string() + ")");
  return json::parse(read_file(p));
}

constexpr const char* kTestDataHelp =
    "a separate evaluation set (CSV file or source URI): every row of the data trains, every row of "
    "this tests, instead of a split; default: data.test_source in the config";

struct TrainArgs {
  std::string data, test_data, model_dir, artifact_dir, registry;
  bool json_out = false;
};

struct StageArgs {
  std::string data, test_data, run_dir, artifact_dir;
};

}  // namespace

NETSENTRY_COMMAND(train, 10, [](CLI::App& app, cli::Context& ctx) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd =
      app.add_subcommand("train", "run the whole pipeline: ingest, validate, transform, train, evaluate");
  cmd->add_option("-d,--data,--source", args->data,
                  "CSV file or source URI (sqlite:PATH?table=T, mongodb://HOST/DB?collection=C, demo); "
                  "default: data.source in the config");
  cmd->add_option("--test-data", args->test_data, kTestDataHelp);
  cmd->add_option("-m,--model-dir", args->model_dir,
                  "where the accepted model bundle is published (default: "
                  "pipeline.model_dir, final_model)");
  cmd->add_option("--artifact-dir", args->artifact_dir,
                  "where run folders go (default: pipeline.artifact_dir)");
  cmd->add_option("--registry", args->registry,
                  "model registry the new model is registered in as a candidate and gated "
                  "(default: registry.dir; 'none' skips registration)");
  cmd->add_flag("--json", args->json_out, "print one JSON summary object on stdout");
  cmd->callback([args, &ctx] {
    auto cfg = PipelineConfig::load(ctx.config_path);
    TrainOptions opt;
    if (!args->data.empty()) opt.data = args->data;
    if (!args->test_data.empty()) opt.test_data = args->test_data;
    if (!args->model_dir.empty()) opt.model_dir = args->model_dir;
    if (!args->artifact_dir.empty()) opt.artifact_dir = args->artifact_dir;
    if (!args->registry.empty()) opt.registry = args->registry;
    cli::ProgressBar bar(!ctx.quiet && ::isatty(STDERR_FILENO));
    opt.progress_counts = [&bar](const std::string& stage, double f, std::size_t done, std::size_t total) {
      bar.update(stage, f, done, total);
    };
    auto r = run_training(cfg, opt);
    bar.finish();
    if (r.summary.contains("registry"))
      spdlog::info("registry: the model is registered as {} ({})",
                   r.summary["registry"].value("version", "?"), r.summary["registry"].value("status", "?"));
    if (args->json_out) {
      std::cout << r.summary.dump() << std::endl;
    } else {
      auto& m = r.summary["metrics"];
      std::printf("best model: %s %s\n", r.summary["best_model"].get<std::string>().c_str(),
                  r.summary["params"].dump().c_str());
      std::string scored;
      for (const auto& c : r.summary.value("scored_class", json::array()))
        scored += (scored.empty() ? "" : ", ") + c.get<std::string>();
      std::printf(
          "test (threat class %s): accuracy %.4f  f1 %.4f  precision %.4f  recall %.4f  roc_auc %.4f\n",
          scored.c_str(), m["accuracy"].get<double>(), m["f1"].get<double>(), m["precision"].get<double>(),
          m["recall"].get<double>(), m["roc_auc"].get<double>());
      const auto& rows = r.summary["rows"];
      if (r.summary.contains("test_source"))
        std::printf("test set: %s (%zu rows; trained on every row of %s)\n",
                    r.summary["test_source"].get<std::string>().c_str(), rows["test"].get<std::size_t>(),
                    r.summary["source"].get<std::string>().c_str());
      else if (r.summary.contains("time_column"))
        std::printf("test set: the latest %zu rows by '%s' (%zu training rows before them)\n",
                    rows["test"].get<std::size_t>(), r.summary["time_column"].get<std::string>().c_str(),
                    rows["train"].get<std::size_t>());
      const std::string published =
          r.published ? r.model_dir.string() : "not published (the registry's gate kept it a candidate)";
      std::printf("run artifacts: %s\nmodel bundle:  %s\ntime: %.2f s\n", r.run_dir.c_str(),
                  published.c_str(), r.summary["seconds"]["total"].get<double>());
    }
  });
});

NETSENTRY_COMMAND(ingest, 20, [](CLI::App& app, cli::Context& ctx) {
  auto args = std::make_shared<StageArgs>();
  auto* cmd =
      app.add_subcommand("ingest", "stage 1 alone: read the source, write the feature store and the split");
  cmd->add_option("-d,--data,--source", args->data,
                  "CSV file or source URI (default: data.source in the config)");
  cmd->add_option("--test-data", args->test_data, kTestDataHelp);
  cmd->add_option("--run-dir", args->run_dir,
                  "run folder to write into (default: a new one under artifact_dir)");
  cmd->add_option("--artifact-dir", args->artifact_dir, "where new run folders go");
  cmd->callback([args, &ctx] {
    auto cfg = PipelineConfig::load(ctx.config_path);
    fs::path run = args->run_dir.empty()
                       ? new_run_dir(args->artifact_dir.empty() ? fs::path(cfg.pipeline.artifact_dir)
                                                                : fs::path(args->artifact_dir))
                       : fs::path(args->run_dir);
    std::optional<std::string> data;
    if (!args->data.empty()) data = args->data;
    std::optional<std::string> test_data;
    if (!args->test_data.empty()) test_data = args->test_data;
    auto a = run_ingestion(cfg, resolve_source(cfg, data, run), run / "data_ingestion",
                           resolve_test_source(cfg, test_data));
    std::cout << json({{"run_dir", run}, {"artifact", a.to_json()}}).dump() << std::endl;
  });
});

NETSENTRY_COMMAND(validate, 21, [](CLI::App& app, cli::Context& ctx) {
  auto args = std::make_shared<StageArgs>();
  auto* cmd =
      app.add_subcommand("validate", "stage 2 alone: schema checks and drift report on an ingested run");
  cmd->add_option("--run-dir", args->run_dir, "run folder written by `netsentry ingest`")->required();
  cmd->callback([args, &ctx] {
    auto cfg = PipelineConfig::load(ctx.config_path);
    fs::path run = args->run_dir;
    auto in = IngestionArtifact::from_json(read_artifact(run, "data_ingestion"));
    auto a = run_validation(cfg, in, run / "data_validation");
    std::cout << json({{"run_dir", run}, {"artifact", a.to_json()}}).dump() << std::endl;
  });
});

NETSENTRY_COMMAND(transform, 22, [](CLI::App& app, cli::Context& ctx) {
  auto args = std::make_shared<StageArgs>();
  auto* cmd = app.add_subcommand("transform",
                                 "stage 3 alone: fit the preprocessor on a validated run's training split");
  cmd->add_option("--run-dir", args->run_dir, "run folder written by `netsentry validate`")->required();
  cmd->callback([args, &ctx] {
    auto cfg = PipelineConfig::load(ctx.config_path);
    fs::path run = args->run_dir;
    auto in = ValidationArtifact::from_json(read_artifact(run, "data_validation"));
    auto a = run_transformation(cfg, in, run / "data_transformation");
    std::cout << json({{"run_dir", run}, {"artifact", a.to_json()}}).dump() << std::endl;
  });
});
