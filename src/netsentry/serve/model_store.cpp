#include "netsentry/serve/model_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <sstream>

#include "netsentry/core/error.hpp"

namespace netsentry::serve {

namespace {

nlohmann::json read_json_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string build_info(const LoadedModel& m) {
  const auto& meta = m.bundle.metadata();
  nlohmann::json j;
  j["version"] = m.version;
  j["family"] = meta.value("family", std::string{});
  j["created_at"] = meta.value("created_at", std::string{});
  j["target"] = m.target;
  j["threshold"] = m.bundle.threshold();
  j["can_explain"] = m.can_explain;
  j["explain_method"] =
      m.can_explain ? nlohmann::json(ModelBundle::attribution_name(m.attribution)) : nlohmann::json();
  j["explain_ms_per_row"] = m.explain_seconds_per_row * 1e3;
  j["model_dir"] = m.dir.filename().string();
  nlohmann::json classes = nlohmann::json::array();
  for (int c = 0; c < 2; ++c)
    classes.push_back(
        {{"index", c}, {"value", m.class_value[c]}, {"verdict", m.verdict[c]}, {"threat", m.threat[c]}});
  j["classes"] = classes;
  nlohmann::json feats = nlohmann::json::array();
  for (const auto& f : m.features) {
    std::string type = "float64";
    for (const auto& c : m.bundle.schema().columns)
      if (c.name == f) type = c.type;
    feats.push_back({{"name", f}, {"type", type}});
  }
  j["features"] = feats;
  // Test metrics: metadata.metrics, completed by metrics.json (which holds the confusion matrix).
  nlohmann::json metrics = meta.contains("metrics") ? meta["metrics"] : nlohmann::json::object();
  auto file_metrics = read_json_file(m.dir / "metrics.json");
  if (file_metrics.is_object())
    for (auto it = file_metrics.begin(); it != file_metrics.end(); ++it)
      if (!metrics.contains(it.key())) metrics[it.key()] = it.value();
  j["metrics"] = metrics;
  // The confusion matrix, wherever the trainer put it.
  nlohmann::json cm = nullptr;
  for (const nlohmann::json* src : std::array<const nlohmann::json*, 2>{&metrics, &meta})
    for (const char* key : {"confusion_matrix", "confusion"})
      if (cm.is_null() && src->is_object() && src->contains(key)) cm = (*src)[key];
  if (cm.is_null() && metrics.contains("test") && metrics["test"].is_object() &&
      metrics["test"].contains("confusion_matrix"))
    cm = metrics["test"]["confusion_matrix"];
  j["confusion_matrix"] = cm;
  std::vector<double> imp;
  try {
    imp = m.bundle.feature_importance();
  } catch (const std::exception& e) {
    spdlog::warn("model {}: no feature importance: {}", m.version, e.what());
  }
  nlohmann::json fi = nlohmann::json::array();
  std::vector<std::size_t> order(std::min(imp.size(), m.features.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return imp[a] > imp[b]; });
  for (auto i : order) fi.push_back({{"feature", m.features[i]}, {"importance", imp[i]}});
  j["feature_importance"] = fi;
  // Unauthenticated: the bundle's metadata without where its data came from (a path or a URI names
  // the infrastructure); only what kind of source it was.
  nlohmann::json shown = meta;
  for (const char* key : {"source", "test_source"})
    if (shown.contains(key)) {
      const std::string s = shown[key].is_string() ? shown[key].get<std::string>() : "";
      const auto colon = s.find(':');
      shown.erase(key);
      shown[std::string(key) + "_kind"] = s == "demo"                               ? "demo"
                                          : colon != std::string::npos && colon > 1 ? s.substr(0, colon)
                                                                                    : "file";
    }
  j["metadata"] = shown;
  return j.dump();
}

}  // namespace

std::shared_ptr<const LoadedModel> load_model(const std::filesystem::path& dir,
                                              const std::map<std::string, std::string>& class_names,
                                              ExplainMethod method) {
  auto m = std::make_shared<LoadedModel>();
  m->bundle = ModelBundle::load(dir);
  m->dir = dir;
  m->version = m->bundle.version();
  m->features = m->bundle.features();
  m->target = m->bundle.target();
  for (std::size_t i = 0; i < m->features.size(); ++i) {
    m->index.emplace(m->features[i], i);
    m->categorical.push_back(m->bundle.encoder().categorical(i) ? 1 : 0);
  }
  const int classes = static_cast<int>(m->bundle.classes().size());
  for (int c = 0; c < classes; ++c) {
    m->class_value.push_back(m->bundle.class_value(c));
    auto it = class_names.find(m->class_value.back());
    m->verdict.push_back(it != class_names.end() ? it->second : m->class_value.back());
    m->threat.push_back(m->bundle.classes().is_threat(c));
  }
  // Warm up: the first prediction of a model may initialise lazily; do it before anyone waits on it.
  Matrix one(1, m->features.size(), 0.0);
  auto s = m->bundle.score(one);
  if (s.label.size() != 1 || s.probability.size() != 1)
    throw DataError(dir.string() + ": the model answered " + std::to_string(s.label.size()) +
                    " predictions for one row");
  // The method, and the cost of explaining one row with it, which bounds explanations per request.
  try {
    const auto choice = m->bundle.choose_explanation(method);
    m->can_explain = choice.can_explain;
    m->attribution = choice.how;
    m->explain_seconds_per_row = choice.seconds_per_row;
  } catch (const std::exception& e) {
    spdlog::warn("{}: explanations unavailable: {}", dir.string(), e.what());
    m->can_explain = false;
  }
  m->info_json = build_info(*m);
  return m;
}

DirStamp stamp_of(const std::filesystem::path& dir) {
  DirStamp s;
  struct stat d {
  }, f{};
  if (::stat(dir.c_str(), &d) != 0) return s;
  if (::stat((dir / "metadata.json").c_str(), &f) != 0) return s;
  s.present = true;
  s.dir_dev = d.st_dev;
  s.dir_ino = d.st_ino;
  s.meta_ino = f.st_ino;
  s.meta_size = static_cast<std::uint64_t>(f.st_size);
  s.meta_mtime_ns = static_cast<std::int64_t>(f.st_mtim.tv_sec) * 1000000000 + f.st_mtim.tv_nsec;
  return s;
}

ModelStore::ModelStore(std::filesystem::path dir, std::map<std::string, std::string> class_names,
                       ExplainMethod method)
    : dir_(std::move(dir)), class_names_(std::move(class_names)), method_(method) {}

ModelStore::~ModelStore() { stop_watching(); }

bool ModelStore::reload(std::string* error) {
  std::lock_guard lock(reload_mu_);
  std::string why;
  // The directory may be replaced while we read it; then the stamps before and after differ and the
  // load is tried again on the new directory.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const DirStamp before = stamp_of(dir_);
    last_attempt_ = before;
    if (!before.present) {
      why = dir_.string() + ": no model bundle (metadata.json not found)";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    try {
      auto m = load_model(dir_, class_names_, method_);
      if (!(stamp_of(dir_) == before)) {
        why = dir_.string() + ": the directory changed while it was read";
        continue;
      }
      auto old = current_.load();
      current_.store(std::move(m), std::memory_order_release);
      reloads_.fetch_add(1);
      const auto cur = current_.load();
      const std::string expl = cur->can_explain ? fmt::format(", explanations ({}) {:.3f} ms/row",
                                                              ModelBundle::attribution_name(cur->attribution),
                                                              cur->explain_seconds_per_row * 1e3)
                                                : "";
      if (old)
        spdlog::info("model reloaded: version {} -> {} ({} features{})", old->version, cur->version,
                     cur->features.size(), expl);
      else
        spdlog::info("model loaded: version {} from {} ({} features{})", cur->version, dir_.string(),
                     cur->features.size(), expl);
      return true;
    } catch (const std::exception& e) {
      why = e.what();
      if (stamp_of(dir_) == before) break;  // a real error, not a race with a publisher
    }
  }
  failures_.fetch_add(1);
  if (current_.load())
    spdlog::error("model reload failed, still serving version {}: {}", current_.load()->version, why);
  else
    spdlog::error("model load failed: {}", why);
  if (error) *error = why;
  return false;
}

void ModelStore::watch(std::chrono::milliseconds poll) {
  if (poll.count() <= 0 || watcher_.joinable()) return;
  {
    std::lock_guard lock(watch_mu_);
    stopping_ = false;
  }
  watcher_ = std::thread([this, poll] { watch_loop(poll); });
}

void ModelStore::stop_watching() {
  {
    std::lock_guard lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

void ModelStore::watch_loop(std::chrono::milliseconds poll) {
  std::unique_lock lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, poll, [this] { return stopping_; })) {
    lock.unlock();
    const DirStamp now = stamp_of(dir_);
    DirStamp last;
    {
      std::lock_guard rl(reload_mu_);
      last = last_attempt_;
    }
    // A missing directory is the moment between two renames of a publish: wait for the new one.
    if (now.present && !(now == last)) {
      spdlog::info("model directory {} changed; reloading", dir_.string());
      reload();
    }
    lock.lock();
  }
}

}  // namespace netsentry::serve
