#include "netsentry/serve/jobs.hpp"

#include <spdlog/spdlog.h>

#include <openssl/rand.h>

#include <stdexcept>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"

namespace netsentry::serve {

namespace {
// 128 bits from OpenSSL's CSPRNG, as 32 hex digits: not guessable from earlier ids.
std::string new_job_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes for a job id");
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 15]);
  }
  return id;
}
}  // namespace

TrainingJobs::TrainingJobs(PipelineConfig cfg, std::filesystem::path publish_dir, Runner runner)
    : cfg_(std::move(cfg)), publish_dir_(std::move(publish_dir)), runner_(std::move(runner)) {}

TrainingJobs::~TrainingJobs() {
  if (worker_.joinable()) worker_.join();
}

std::optional<std::string> TrainingJobs::start(std::optional<std::string> data,
                                               std::optional<std::string> test_data) {
  std::unique_lock lock(mu_);
  if (running_) return std::nullopt;
  if (worker_.joinable()) worker_.join();  // the previous job has finished: its thread only returns
  running_ = true;
  Job job;
  job.id = new_job_id();
  job.created_at = utc_iso8601();
  const std::string id = job.id;
  jobs_[id] = std::move(job);
  order_.push_back(id);
  while (order_.size() > 50) {
    jobs_.erase(order_.front());
    order_.pop_front();
  }
  worker_ = std::thread(
      [this, id, data = std::move(data), test_data = std::move(test_data)] { run(id, data, test_data); });
  return id;
}

void TrainingJobs::run(std::string id, std::optional<std::string> data,
                       std::optional<std::string> test_data) {
  {
    std::lock_guard lock(mu_);
    jobs_[id].status = "running";
  }
  spdlog::info("training job {} started", id);
  TrainOptions opt;
  opt.data = std::move(data);
  opt.test_data = std::move(test_data);
  opt.model_dir = publish_dir_;
  opt.registry = "none";  // the served folder is the job's output: published when the quality gate passes
  opt.progress = [this, id](const std::string& stage, double fraction) {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    it->second.stage = stage;
    it->second.progress = std::clamp(fraction, 0.0, 1.0);
  };
  nlohmann::json result;
  std::string error, kind;
  try {
    TrainResult r = runner_(cfg_, opt);
    result = r.summary;
    if (!result.is_object()) result = nlohmann::json::object();
    result["run_dir"] = r.run_dir.string();
    result["model_dir"] = r.model_dir.string();
  } catch (const DataError& e) {
    error = e.what();
    kind = "invalid_data";
  } catch (const GateError& e) {
    error = e.what();
    kind = "gate_failed";
  } catch (const UsageError& e) {
    error = e.what();
    kind = "usage";
  } catch (const UnreachableError& e) {
    error = e.what();
    kind = "unreachable";
  } catch (const std::exception& e) {
    error = e.what();
    kind = "internal";
  }
  if (error.empty()) {
    spdlog::info("training job {} succeeded", id);
    if (on_published_) {
      try {
        on_published_();
      } catch (const std::exception& e) {
        spdlog::error("after training job {}: {}", id, e.what());
      }
    }
  } else {
    spdlog::warn("training job {} failed ({}): {}", id, kind, error);
  }
  std::lock_guard lock(mu_);
  if (auto it = jobs_.find(id); it != jobs_.end()) {
    auto& j = it->second;
    j.finished_at = utc_iso8601();
    if (error.empty()) {
      j.status = "succeeded";
      j.progress = 1.0;
      j.stage = "done";
      j.result = std::move(result);
    } else {
      j.status = "failed";
      j.error = error;
      j.error_kind = kind;
    }
  }
  running_ = false;
  idle_cv_.notify_all();
}

std::optional<nlohmann::json> TrainingJobs::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  const auto& j = it->second;
  nlohmann::json o = {{"id", j.id},
                      {"status", j.status},
                      {"stage", j.stage},
                      {"progress", j.progress},
                      {"created_at", j.created_at},
                      {"finished_at", j.finished_at}};
  if (j.status == "succeeded") o["result"] = j.result;
  if (j.status == "failed") o["error"] = {{"kind", j.error_kind}, {"message", j.error}};
  return o;
}

bool TrainingJobs::busy() const {
  std::lock_guard lock(mu_);
  return running_;
}

bool TrainingJobs::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return !running_; });
}

}  // namespace netsentry::serve
