#pragma once
// The served model and its hot reload. The current model is an immutable LoadedModel behind an
// atomic shared_ptr: a request takes its own reference once and finishes with that model even when
// a reload swaps in another one meanwhile. A reload loads and warms the new bundle fully before the
// swap; a failed reload keeps the old model.
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "netsentry/bundle/bundle.hpp"

namespace netsentry::serve {

struct LoadedModel {
  ModelBundle bundle;
  std::filesystem::path dir;
  std::string version;
  std::vector<std::string> features;                   // schema order: the columns of X
  std::unordered_map<std::string, std::size_t> index;  // feature name -> column of X
  std::string target;
  std::vector<std::string> class_value;  // per class index, the target's class ("-1", "1", "dos")
  std::vector<std::string> verdict;      // per class index, a name for people ("phishing")
  std::vector<bool> threat;              // per class index, whether it is a threat class
  std::vector<char> categorical;         // per feature: its values are categories (codes in X)
  bool can_explain = false;
  double explain_seconds_per_row = 0.0;  // estimated by the family's cost model (never measured)
  ModelBundle::Attribution attribution = ModelBundle::Attribution::Shap;  // how reasons are computed
  std::string info_json;  // the body of GET /api/v1/model, built once
};

// How a served model's reasons are computed (ModelBundle::choose_explanation).
using ExplainMethod = ModelBundle::ExplainMethod;

// Loads, checks and warms up (one prediction) the bundle in `dir`. Throws what ModelBundle::load
// throws (DataError naming the file).
std::shared_ptr<const LoadedModel> load_model(const std::filesystem::path& dir,
                                              const std::map<std::string, std::string>& class_names,
                                              ExplainMethod method = ExplainMethod::Auto);

// What identifies one published version of the directory without reading it: the directory's and
// metadata.json's inode, metadata.json's size and mtime. A bundle is published by a rename, so any
// new bundle changes it.
struct DirStamp {
  bool present = false;
  std::uint64_t dir_dev = 0, dir_ino = 0, meta_ino = 0, meta_size = 0;
  std::int64_t meta_mtime_ns = 0;
  bool operator==(const DirStamp&) const = default;
};
DirStamp stamp_of(const std::filesystem::path& dir);

class ModelStore {
 public:
  ModelStore(std::filesystem::path dir, std::map<std::string, std::string> class_names,
             ExplainMethod method = ExplainMethod::Auto);
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  // The model being served (null until one loaded).
  std::shared_ptr<const LoadedModel> current() const { return current_.load(std::memory_order_acquire); }

  // Loads the directory and swaps the new model in. On failure keeps the old model, logs and
  // returns false with the reason in `error`. Serialised: one reload at a time.
  bool reload(std::string* error = nullptr);

  // Starts a thread that reloads when the directory's stamp changes (checked every `poll`).
  void watch(std::chrono::milliseconds poll);
  void stop_watching();

  std::uint64_t reloads() const { return reloads_.load(); }
  std::uint64_t reload_failures() const { return failures_.load(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  void watch_loop(std::chrono::milliseconds poll);

  std::filesystem::path dir_;
  std::map<std::string, std::string> class_names_;
  ExplainMethod method_;
  std::atomic<std::shared_ptr<const LoadedModel>> current_;
  std::mutex reload_mu_;
  DirStamp last_attempt_;  // guarded by reload_mu_: the stamp of the last load tried
  std::atomic<std::uint64_t> reloads_{0}, failures_{0};

  std::thread watcher_;
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
};

}  // namespace netsentry::serve
