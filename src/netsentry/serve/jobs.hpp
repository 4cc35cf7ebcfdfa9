#pragma once
// Training jobs started from the API: one at a time, each in its own background thread running the
// training pipeline, which publishes the new bundle into the served model directory (the model
// store's watcher, or on_published, then swaps it in).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "netsentry/pipeline/training_pipeline.hpp"

namespace netsentry::serve {

class TrainingJobs {
 public:
  using Runner = std::function<TrainResult(const PipelineConfig&, const TrainOptions&)>;

  // `publish_dir`: where a successful run puts its bundle (the served model directory).
  TrainingJobs(PipelineConfig cfg, std::filesystem::path publish_dir, Runner runner = run_training);
  ~TrainingJobs();  // waits for a running job
  TrainingJobs(const TrainingJobs&) = delete;
  TrainingJobs& operator=(const TrainingJobs&) = delete;

  // Replaces the training function (tests); only while no job runs.
  void set_runner(Runner r) {
    std::lock_guard lock(mu_);
    runner_ = std::move(r);
  }
  // Called (in the job's thread) after a successful run published its bundle.
  void on_published(std::function<void()> f) { on_published_ = std::move(f); }

  // Starts a job (on `data`, tested on `test_data` when given, else the config's) and returns its id;
  // nullopt when one is already running.
  std::optional<std::string> start(std::optional<std::string> data,
                                   std::optional<std::string> test_data = std::nullopt);
  // The job as JSON: {"id", "status": queued|running|succeeded|failed, "stage", "progress",
  // "created_at", "finished_at", "result" | "error"}.
  std::optional<nlohmann::json> get(const std::string& id) const;
  bool busy() const;
  // Waits until no job runs; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  struct Job {
    std::string id, status = "queued", stage, error, error_kind, created_at, finished_at;
    double progress = 0.0;
    nlohmann::json result;
  };
  void run(std::string id, std::optional<std::string> data, std::optional<std::string> test_data);

  PipelineConfig cfg_;
  std::filesystem::path publish_dir_;
  Runner runner_;
  std::function<void()> on_published_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> order_;  // oldest first; the oldest finished ones are forgotten past 50
  bool running_ = false;
  std::thread worker_;
};

}  // namespace netsentry::serve
