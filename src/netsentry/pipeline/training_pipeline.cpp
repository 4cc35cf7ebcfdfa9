#include "netsentry/pipeline/training_pipeline.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <optional>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/parallel.hpp"
#include "netsentry/demo/connection_data.hpp"
#include "netsentry/demo/sample_data.hpp"
#include "netsentry/evaluate/evaluation.hpp"
#include "netsentry/ingest/ingestion.hpp"
#include "netsentry/model/search.hpp"
#include "netsentry/registry/registry.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/train/trainer.hpp"
#include "netsentry/transform/transformation.hpp"
#include "netsentry/validate/validation.hpp"

namespace netsentry {

using json = nlohmann::json;

fs::path new_run_dir(const fs::path& artifact_dir) {
  fs::create_directories(artifact_dir);
  const std::string stamp = utc_stamp_for_path();
  for (int i = 0;; ++i) {
    fs::path p = artifact_dir / (i == 0 ? stamp : stamp + "-" + std::to_string(i));
    if (fs::create_directory(p)) return p;  // atomic: two runs never share a folder
  }
}

std::string resolve_source(const PipelineConfig& cfg, const std::optional<std::string>& data,
                           const fs::path& run_dir) {
  std::string src = data ? *data : cfg.data.source;
  if (src == "demo" || src == "demo:connections") {
    const bool connections = src == "demo:connections";
    fs::path p = run_dir / (connections ? "demo_connections.csv" : "demo.csv");
    write_csv_atomic(p, connections ? sample_connection_data(cfg.data.demo_rows, cfg.pipeline.seed)
                                    : sample_phishing_data(cfg.data.demo_rows, cfg.pipeline.seed));
    spdlog::info("data: generated {} demo {} rows into {}", cfg.data.demo_rows,
                 connections ? "connection" : "phishing", p.string());
    return p.string();
  }
  return src;
}

std::string resolve_test_source(const PipelineConfig& cfg, const std::optional<std::string>& test_data) {
  return test_data ? *test_data : cfg.data.test_source;
}

namespace {

// Copies the bundle in `bundle` whole into a temp folder beside `model_dir` and returns it; publish_dir
// then renames it into place in one step (a server watching `model_dir` sees the old bundle or the
// new one). Staged before the registry decides, so that a promotion is followed by a rename alone.
fs::path stage_bundle(const fs::path& bundle, const fs::path& model_dir) {
  fs::path tmp = model_dir;
  tmp += ".incoming." + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp.parent_path().empty() ? fs::path(".") : tmp.parent_path());
  fs::copy(bundle, tmp, fs::copy_options::recursive);
  return tmp;
}

}  // namespace

TrainResult run_training(const PipelineConfig& cfg, const TrainOptions& opt) {
  using clock = std::chrono::steady_clock;
  const auto t_start = clock::now();
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  // The registry and its gate are configured before any stage runs: a bad registry setting stops the
  // run here, not after training.
  // So is a search space with a bad value or too many candidates.
  check_grid(cfg.model_trainer.families, {cfg.model_trainer.max_trees, cfg.model_trainer.max_candidates});
  const bool with_registry = !(opt.registry && *opt.registry == "none");
  std::optional<Registry> registry;
  if (with_registry)
    registry.emplace(opt.registry ? fs::path(*opt.registry) : registry_dir_from_config(cfg),
                     RegistryOptions::from_config(cfg));
  TrainResult r;
  r.model_dir = opt.model_dir ? *opt.model_dir : fs::path(cfg.pipeline.model_dir);
  // What is there and not a directory would be swapped out by the publish, and removed.
  if (fs::exists(r.model_dir) && !fs::is_directory(r.model_dir))
    throw UsageError(r.model_dir.string() +
                     ": exists and is not a directory (the model bundle is published there)");
  r.run_dir = new_run_dir(opt.artifact_dir ? *opt.artifact_dir : fs::path(cfg.pipeline.artifact_dir));
  spdlog::info("run: {}", r.run_dir.string());
  auto report = [&](const char* stage, double f, std::size_t done = 0, std::size_t total = 0) {
    if (opt.progress) opt.progress(stage, f);
    if (opt.progress_counts) opt.progress_counts(stage, f, done, total);
  };
  json seconds;
  json run = {{"run_dir", r.run_dir},
              {"started_at", utc_iso8601()},
              {"seed", cfg.pipeline.seed},
              {"config", cfg.raw}};
  auto finish = [&](const std::string& status, const std::string& error) {
    run["status"] = status;
    if (!error.empty()) run["error"] = error;
    run["seconds"] = seconds;
    // Never an exception here: a message quoting bytes that are not UTF-8 is written with U+FFFD.
    write_file_atomic(r.run_dir / "run.json", run.dump(2, ' ', false, json::error_handler_t::replace));
  };
  try {
    auto t = clock::now();
    report("ingest", 0);
    const auto ing = run_ingestion(cfg, resolve_source(cfg, opt.data, r.run_dir),
                                   r.run_dir / "data_ingestion", resolve_test_source(cfg, opt.test_data));
    seconds["ingest"] = since(t);
    run["source"] = ing.source;
    run["split"] = ing.split;
    if (!ing.test_source.empty()) run["test_source"] = ing.test_source;

    // Validation and transformation both read the ingested splits and run side by side; the
    // transformation is only kept when validation passes (its folder is removed otherwise), and a
    // validation failure is the error reported even when the transformation failed too.
    t = clock::now();
    report("validate", 0);
    ValidationArtifact unchecked;
    unchecked.train = ing.train;
    unchecked.test = ing.test;
    unchecked.data = ing.data;
    const fs::path tr_dir = r.run_dir / "data_transformation";
    // The two stages are the two items of one loop on the worker pool (core/parallel): both run to
    // the end, and the first item's error (validation's) is the one rethrown when both fail.
    std::optional<ValidationArtifact> validated;
    std::optional<TransformationArtifact> transformed;
    double stage_seconds[2] = {0, 0};
    try {
      parallel_for(2, [&](std::size_t i) {
        const auto t0 = clock::now();
        if (i == 0)
          validated = run_validation(cfg, ing, r.run_dir / "data_validation");
        else
          transformed = run_transformation(cfg, unchecked, tr_dir);
        stage_seconds[i] = since(t0);
      });
    } catch (...) {
      if (!validated) {
        std::error_code ec;
        fs::remove_all(tr_dir, ec);
      }
      throw;
    }
    const ValidationArtifact& val = *validated;
    const TransformationArtifact& tr = *transformed;
    seconds["validate"] = stage_seconds[0];
    report("transform", 0);
    seconds["transform"] = stage_seconds[1];

    t = clock::now();
    report("train", 0);
    const auto model =
        run_model_trainer(cfg, ing, tr, r.run_dir / "model_trainer", [&](std::size_t d, std::size_t n) {
          report("train", static_cast<double>(d) / static_cast<double>(n), d, n);
        });
    seconds["train"] = since(t);

    t = clock::now();
    report("evaluate", 0);
    const auto ev = run_evaluation(cfg, tr, model, r.run_dir / "model_evaluation");  // GateError: refused
    seconds["evaluate"] = since(t);
    // Register the evaluated bundle; final_model changes only now, after every check, in one rename:
    // when the registry promoted it, or (without a registry) because it passed the quality gate.
    json registered = nullptr;
    r.published = true;
    const fs::path staged = stage_bundle(ev.model_dir, r.model_dir);
    auto drop_staged = [&] {
      std::error_code ec;
      fs::remove_all(staged, ec);
    };
    if (registry) {
      report("register", 0);
      try {
        registered =
            register_and_gate(*registry, ev.model_dir, ing.test, {{"run_dir", fs::absolute(r.run_dir)}});
      } catch (...) {
        drop_staged();
        throw;
      }
      r.published = registered.value("promoted", false);
    }
    if (r.published) {
      publish_dir(staged, r.model_dir);
    } else {
      drop_staged();
      spdlog::warn("{} left as it was: the model stays candidate {} in the registry", r.model_dir.string(),
                   registered.value("version", "?"));
    }
    seconds["total"] = since(t_start);
    report("done", 1);

    json metrics = json::object();
    for (const char* k : {"accuracy", "f1", "precision", "recall", "roc_auc", "macro_f1", "weighted_f1"})
      metrics[k] = ev.test_metrics[k];
    if (ev.test_metrics.contains("macro_roc_auc"))
      metrics["macro_roc_auc"] = ev.test_metrics["macro_roc_auc"];
    r.summary = {{"run_dir", r.run_dir},
                 {"model_dir", r.model_dir},
                 {"source", ing.source},
                 {"split", ing.split},
                 {"rows", {{"train", ing.train_rows}, {"test", ing.test_rows}}},
                 {"best_model", model.family},
                 {"params", model.params},
                 {"cv", {{"metric", model.metric}, {"score", model.cv_score}}},
                 {"threshold", model.threshold},
                 {"metrics", metrics},
                 {"confusion_matrix", ev.test_metrics["confusion_matrix"]},
                 {"gate", {{"accepted", ev.accepted}, {"reason", ev.reason}}},
                 {"duplicate_rows", val.duplicate_rows},
                 {"drift_detected", val.drift_detected},
                 {"seconds", seconds},
                 {"candidates", model.candidate_table},
                 {"published", r.published}};
    // Which class the binary metrics scored, and the classes.
    r.summary["scored_class"] = ing.classes.value("threat_classes", json::array());
    r.summary["classes"] = ing.classes.value("classes", json::array());
    if (!ing.test_source.empty()) r.summary["test_source"] = ing.test_source;
    if (!ing.time_column.empty()) r.summary["time_column"] = ing.time_column;
    if (registry) r.summary["registry"] = registered;
    run["summary"] = r.summary;
    finish("succeeded", "");
  } catch (const std::exception& e) {
    seconds["total"] = since(t_start);
    finish("failed", e.what());
    throw;
  }
  return r;
}

}  // namespace netsentry
