#include "netsentry/registry/registry.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/registry/crash_point.hpp"

namespace netsentry {

namespace {

constexpr const char* kStateFile = "registry.json";
constexpr const char* kVersionFile = "version.json";
constexpr const char* kProductionLink = "production";

std::optional<int> version_number(const std::string& name) {
  static const std::regex re("v([1-9][0-9]{0,8})");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return std::nullopt;
  return std::stoi(m[1].str());
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000007ULL);
}

void fsync_fd_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// fsyncs every file and directory below `root` (and root itself).
void fsync_tree(const fs::path& root) {
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file())
      fsync_fd_path(e.path(), O_RDONLY);
    else if (e.is_directory())
      fsync_dir(e.path());
  }
  fsync_dir(root);
}

void write_plain(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// sha256 and size of every regular file under `root` (relative paths with '/'), except `skip`.
nlohmann::json file_manifest(const fs::path& root, const std::string& skip) {
  nlohmann::json files = nlohmann::json::object();
  std::vector<fs::path> paths;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (auto& p : paths) {
    std::string rel = fs::relative(p, root).generic_string();
    if (rel == skip) continue;
    files[rel] = {{"sha256", sha256_file(p)}, {"size", fs::file_size(p)}};
  }
  return files;
}

bool process_alive(long pid) {
  if (pid <= 0) return true;  // unknown: keep
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

std::string status_of(const std::string& v, const nlohmann::json& state) {
  if (state.value("production", nlohmann::json()).is_string() && state["production"] == v)
    return "production";
  if (state.contains("versions") && state["versions"].contains(v) &&
      state["versions"][v].value("was_production", false))
    return "archived";
  return "candidate";
}

void add_event(nlohmann::json& entry, const std::string& event, const nlohmann::json& detail = nullptr) {
  nlohmann::json e = {{"event", event}, {"at", utc_iso8601()}};
  if (!detail.is_null()) e["detail"] = detail;
  entry["events"].push_back(e);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
RegistryOptions RegistryOptions::from_config(const PipelineConfig& cfg) {
  RegistryOptions o;
  o.gate = GateConfig::from_config(cfg);
  o.missing_values = cfg.data.missing_values;
  return o;
}

fs::path registry_dir_from_config(const PipelineConfig& cfg) { return cfg.resolve(cfg.registry.dir); }

nlohmann::json VersionInfo::to_json() const {
  nlohmann::json j = {{"version", name},
                      {"status", status},
                      {"created_at", record.value("created_at", std::string())},
                      {"metrics", record.value("metrics", nlohmann::json::object())},
                      {"gate", state.value("gate", nlohmann::json())}};
  if (record.contains("bundle")) j["bundle"] = record["bundle"];
  if (state.contains("origin")) j["origin"] = state["origin"];
  return j;
}

nlohmann::json PromoteResult::to_json() const {
  return {{"version", version},
          {"promoted", promoted},
          {"forced", forced},
          {"previous_production", previous ? nlohmann::json(*previous) : nlohmann::json()},
          {"gate", gate.to_json()}};
}

// ---------------------------------------------------------------------------------------------------
struct Registry::Lock {
  explicit Lock(const fs::path& dir) {
    fs::create_directories(dir);
    fd = ::open((dir / ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error((dir / ".lock").string() + ": cannot open: " + std::strerror(errno));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd);
        throw std::runtime_error((dir / ".lock").string() + ": cannot lock: " + std::strerror(errno));
      }
    }
  }
  ~Lock() {
    ::flock(fd, LOCK_UN);
    ::close(fd);
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  int fd = -1;
};

Registry::Registry(fs::path dir, RegistryOptions opt) : dir_(std::move(dir)), opt_(std::move(opt)) {}

nlohmann::json Registry::read_state() const {
  const fs::path p = dir_ / kStateFile;
  nlohmann::json s;
  if (fs::exists(p)) {
    try {
      s = nlohmann::json::parse(read_file(p));
    } catch (const nlohmann::json::exception& e) {
      throw DataError(p.string() + ": not valid JSON: " + e.what());
    }
    if (!s.is_object() || s.value("format", "") != "netsentry-registry")
      throw DataError(p.string() + ": not a netsentry registry state file (format != netsentry-registry)");
  } else {
    s = {{"format", "netsentry-registry"}, {"format_version", 1}};
  }
  if (!s.contains("production")) s["production"] = nullptr;
  if (!s.contains("history") || !s["history"].is_array()) s["history"] = nlohmann::json::array();
  if (!s.contains("versions") || !s["versions"].is_object()) s["versions"] = nlohmann::json::object();
  return s;
}

void Registry::write_state(const nlohmann::json& state) const {
  nlohmann::json s = state;
  for (auto& [v, entry] : s["versions"].items()) entry["status"] = status_of(v, s);
  s["updated_at"] = utc_iso8601();
  write_file_atomic(dir_ / kStateFile, s.dump(2) + "\n");
}

void Registry::sync_symlink(const nlohmann::json& state) const {
  const fs::path link = dir_ / kProductionLink;
  std::error_code ec;
  if (!state["production"].is_string()) {
    if (fs::is_symlink(link, ec)) fs::remove(link, ec);
    return;
  }
  const std::string want = state["production"].get<std::string>();
  if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec).string() == want) return;
  fs::path tmp = dir_ / (std::string(kProductionLink) + ".tmp." + random_suffix());
  fs::create_directory_symlink(want, tmp);
  crash_point("promote.symlink_created");
  fs::rename(tmp, link);  // rename(2) replaces the old link atomically
  fsync_dir(dir_);
}

bool Registry::complete(const std::string& version) const {
  return version_number(version).has_value() && fs::is_regular_file(dir_ / version / kVersionFile);
}

void Registry::clean_stale_temps() const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return;
  static const std::regex re(R"(.*\.tmp\.([0-9]+)\.[0-9]+)");
  for (auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, re)) continue;
    if (process_alive(std::stol(m[1].str()))) continue;
    spdlog::debug("registry: removing {} left by a process that is gone", e.path().string());
    fs::remove_all(e.path(), ec);
  }
}

fs::path Registry::make_staging_dir() const {
  fs::create_directories(dir_);
  clean_stale_temps();
  fs::path p = dir_ / (".tmp." + random_suffix());
  fs::create_directory(p);
  return p;
}

std::string Registry::publish(const fs::path& staged) {
  fsync_tree(staged);
  int next = 1;
  for (auto& e : fs::directory_iterator(dir_))
    if (auto n = version_number(e.path().filename().string())) next = std::max(next, *n + 1);
  for (;; ++next) {
    std::string vname = "v";
    vname += std::to_string(next);  // (not "v" + to_string: GCC 12 -Wrestrict false positive)
    const fs::path target = dir_ / vname;
    if (::mkdir(target.c_str(), 0755) == 0) {
      crash_point("register.claimed");
      // rename(2) onto an empty directory replaces it atomically.
      if (::rename(staged.c_str(), target.c_str()) != 0) {
        int err = errno;
        ::rmdir(target.c_str());
        throw std::runtime_error("cannot publish " + staged.string() + " as " + target.string() + ": " +
                                 std::strerror(err));
      }
      fsync_dir(dir_);
      return target.filename().string();
    }
    if (errno != EEXIST)
      throw std::runtime_error("cannot create " + target.string() + ": " + std::strerror(errno));
  }
}

std::string Registry::register_candidate(const fs::path& bundle_dir, const fs::path& test_split_csv,
                                         const nlohmann::json& extra) {
  if (!fs::is_directory(bundle_dir)) throw UsageError(bundle_dir.string() + ": not a model bundle directory");
  if (!fs::is_regular_file(test_split_csv))
    throw UsageError(test_split_csv.string() + ": test split not found");
  const fs::path staged = make_staging_dir();
  try {
    fs::copy(bundle_dir, staged / "bundle", fs::copy_options::recursive);
    fs::copy_file(test_split_csv, staged / "test.csv");
    // Evaluated on the copies: what is stored is what was measured.
    Metrics m = evaluate_bundle(staged / "bundle", staged / "test.csv", opt_.missing_values);
    nlohmann::json meta;
    try {
      meta = nlohmann::json::parse(read_file(staged / "bundle" / "metadata.json"));
    } catch (const std::exception&) {
      meta = nlohmann::json::object();
    }
    nlohmann::json record = {
        {"format", "netsentry-registry-version"},
        {"format_version", 1},
        {"created_at", utc_iso8601()},
        {"metrics", m.to_json()},
        {"test_split",
         {{"file", "test.csv"}, {"rows", m.n}, {"source", fs::absolute(test_split_csv).string()}}},
        {"bundle",
         {{"source", fs::absolute(bundle_dir).string()},
          {"family", meta.value("family", nlohmann::json())},
          {"data_sha256", meta.value("data_sha256", nlohmann::json())},
          {"netsentry_version", meta.value("netsentry_version", nlohmann::json())},
          {"bundle_version", meta.value("version", nlohmann::json())}}}};
    for (auto& [k, v] : extra.items()) record[k] = v;
    record["files"] = file_manifest(staged, kVersionFile);
    write_plain(staged / kVersionFile, record.dump(2) + "\n");
    crash_point("register.staged");
    const std::string name = publish(staged);
    crash_point("register.published");
    Lock lock(dir_);
    auto state = read_state();
    auto& entry = state["versions"][name];
    entry["events"] = nlohmann::json::array();
    add_event(entry, "registered");
    write_state(state);
    sync_symlink(state);
    spdlog::info("registry {}: registered {} ({} {:.4f} on its test split)", dir_.string(), name,
                 opt_.gate.metric, m.get(opt_.gate.metric));
    return name;
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staged, ec);
    throw;
  }
}

std::string Registry::import_version(const fs::path& staged, const nlohmann::json& origin) {
  if (fs::weakly_canonical(staged).parent_path() != fs::weakly_canonical(dir_))
    throw std::logic_error("import_version: the staged dir must come from make_staging_dir()");
  auto problems = verify_dir(staged);
  if (!problems.empty()) {
    std::string msg;
    for (auto& p : problems) msg += "\n  " + p;
    throw DataError(staged.string() + ": the version is not complete or not intact:" + msg);
  }
  const std::string name = publish(staged);
  crash_point("register.published");
  Lock lock(dir_);
  auto state = read_state();
  auto& entry = state["versions"][name];
  entry["events"] = nlohmann::json::array();
  entry["origin"] = origin;
  add_event(entry, "imported", origin);
  write_state(state);
  sync_symlink(state);
  return name;
}

std::vector<std::string> Registry::verify_dir(const fs::path& vdir) const {
  std::vector<std::string> problems;
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(read_file(vdir / kVersionFile));
  } catch (const std::exception& e) {
    problems.push_back((vdir / kVersionFile).string() + ": cannot read: " + e.what());
    return problems;
  }
  if (!record.contains("files") || !record["files"].is_object() || record["files"].empty()) {
    problems.push_back((vdir / kVersionFile).string() + ": no file list");
    return problems;
  }
  auto actual = file_manifest(vdir, kVersionFile);
  for (auto& [rel, want] : record["files"].items()) {
    if (!actual.contains(rel)) {
      problems.push_back((vdir / rel).string() + ": missing");
      continue;
    }
    if (actual[rel]["sha256"] != want["sha256"] || actual[rel]["size"] != want["size"])
      problems.push_back((vdir / rel).string() + ": content differs from version.json (sha256 " +
                         actual[rel]["sha256"].get<std::string>() + ", expected " +
                         want.value("sha256", "?") + ")");
  }
  for (auto& [rel, _] : actual.items())
    if (!record["files"].contains(rel))
      problems.push_back((vdir / rel).string() + ": not listed in version.json");
  if (problems.empty()) {
    try {
      ModelBundle::load(vdir / "bundle");
    } catch (const std::exception& e) {
      problems.push_back((vdir / "bundle").string() + ": does not load: " + e.what());
    }
  }
  return problems;
}

std::vector<std::string> Registry::verify(const std::string& version) const {
  if (!complete(version)) return {(dir_ / version).string() + ": no such complete version"};
  return verify_dir(dir_ / version);
}

std::vector<VersionInfo> Registry::list() const {
  std::vector<VersionInfo> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  const auto state = read_state();
  for (auto& e : fs::directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    auto n = version_number(name);
    if (!n || !complete(name)) continue;  // an empty claimed vN (its writer died) is not a version
    VersionInfo vi;
    vi.name = name;
    vi.number = *n;
    try {
      vi.record = nlohmann::json::parse(read_file(e.path() / kVersionFile));
    } catch (const std::exception&) {
      continue;
    }
    vi.state = state["versions"].value(name, nlohmann::json::object());
    vi.status = status_of(name, state);
    out.push_back(std::move(vi));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.number < b.number; });
  return out;
}

VersionInfo Registry::show(const std::string& version) const {
  for (auto& v : list())
    if (v.name == version) return v;
  throw UsageError("registry " + dir_.string() + ": no version '" + version +
                   "' (see `netsentry registry list`)");
}

std::optional<std::string> Registry::production() const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return std::nullopt;
  auto state = read_state();
  if (!state["production"].is_string()) return std::nullopt;
  return state["production"].get<std::string>();
}

std::optional<fs::path> Registry::production_dir() const {
  auto p = production();
  if (!p) return std::nullopt;
  return dir_ / *p / "bundle";
}

GateDecision Registry::run_gate(const std::string& version, const nlohmann::json& state) const {
  const auto info = show(version);
  const Metrics cand = Metrics::from_json(info.record.at("metrics"));
  const double c = cand.get(opt_.gate.metric);
  std::optional<double> prod;
  std::optional<std::string> prod_version;
  if (state["production"].is_string() && state["production"] != version) {
    prod_version = state["production"].get<std::string>();
    try {
      prod =
          evaluate_bundle(dir_ / *prod_version / "bundle", dir_ / version / "test.csv", opt_.missing_values)
              .get(opt_.gate.metric);
    } catch (const std::exception& e) {
      GateDecision d = decide(opt_.gate, c, std::nullopt, prod_version);
      d.passed = false;
      d.reason = "production " + *prod_version + " cannot be scored on " + version + "'s test split (" +
                 e.what() + "); the models are not comparable: promote with --force if this is intended";
      return d;
    }
  }
  return decide(opt_.gate, c, prod, prod_version);
}

GateDecision Registry::evaluate(const std::string& version) {
  if (!complete(version)) throw UsageError("registry " + dir_.string() + ": no version '" + version + "'");
  Lock lock(dir_);
  auto state = read_state();
  GateDecision d = run_gate(version, state);
  auto& entry = state["versions"][version];
  entry["gate"] = d.to_json();
  entry["evaluations"].push_back(d.to_json());
  write_state(state);
  sync_symlink(state);
  return d;
}

PromoteResult Registry::promote(const std::string& version, bool force) {
  if (!complete(version))
    throw UsageError("registry " + dir_.string() + ": no version '" + version +
                     "' (see `netsentry registry list`)");
  Lock lock(dir_);
  auto state = read_state();
  sync_symlink(state);  // repairs a link left behind by a crash between the state write and the switch
  PromoteResult r;
  r.version = version;
  r.forced = force;
  if (state["production"].is_string()) r.previous = state["production"].get<std::string>();
  if (r.previous == version) {
    r.promoted = false;
    r.gate.passed = true;
    r.gate.metric = opt_.gate.metric;
    r.gate.reason = version + " is already the production version";
    r.gate.evaluated_at = utc_iso8601();
    return r;
  }
  auto problems = verify(version);
  if (!problems.empty()) {
    std::string msg;
    for (auto& p : problems) msg += "\n  " + p;
    throw DataError(version + " cannot be promoted, it is damaged:" + msg);
  }
  auto& entry = state["versions"][version];
  if (force) {
    r.gate = run_gate(version, state);  // recorded for information
    r.gate.reason = "forced (gate not applied): " + r.gate.reason;
    r.gate.passed = true;
  } else {
    r.gate = run_gate(version, state);
  }
  entry["gate"] = r.gate.to_json();
  entry["evaluations"].push_back(r.gate.to_json());
  if (!r.gate.passed) {
    add_event(entry, "gate_failed", r.gate.reason);
    write_state(state);
    return r;
  }
  state["production"] = version;
  state["history"].push_back(version);
  entry["was_production"] = true;
  add_event(entry, force ? "promoted_forced" : "promoted",
            r.previous ? nlohmann::json(*r.previous) : nlohmann::json());
  if (r.previous) add_event(state["versions"][*r.previous], "archived", version);
  write_state(state);
  crash_point("promote.state_written");
  sync_symlink(state);
  r.promoted = true;
  return r;
}

std::string Registry::rollback() {
  Lock lock(dir_);
  auto state = read_state();
  auto& hist = state["history"];
  if (!state["production"].is_string())
    throw UsageError("registry " + dir_.string() + ": nothing is in production, nothing to roll back");
  const std::string current = state["production"].get<std::string>();
  if (hist.empty() || hist.back() != current) hist.push_back(current);
  if (hist.size() < 2)
    throw UsageError("registry " + dir_.string() + ": " + current +
                     " is the first production version; there is "
                     "no previous one to roll back to");
  hist.erase(hist.size() - 1);
  const std::string previous = hist.back().get<std::string>();
  auto problems = verify(previous);
  if (!problems.empty())
    throw DataError("cannot roll back to " + previous + ", it is damaged: " + problems.front());
  state["production"] = previous;
  add_event(state["versions"][current], "rolled_back", previous);
  add_event(state["versions"][previous], "restored", current);
  write_state(state);
  crash_point("promote.state_written");
  sync_symlink(state);
  return previous;
}

// ---------------------------------------------------------------------------------------------------
fs::path find_test_split(const fs::path& run_dir, const std::string& test_file) {
  fs::path test;
  {
    // The ingestion stage's test split: data_ingestion/artifact.json names it; otherwise search the run
    // folder for the configured test file, preferring the ingestion stage's copy.
    const fs::path artifact = run_dir / "data_ingestion" / "artifact.json";
    if (fs::is_regular_file(artifact)) {
      try {
        auto a = nlohmann::json::parse(read_file(artifact));
        if (a.contains("test") && a["test"].is_string()) test = a["test"].get<std::string>();
      } catch (const std::exception&) {
      }
    }
    if (test.empty() || !fs::is_regular_file(test)) {
      std::vector<fs::path> found;
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(run_dir, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file() && it->path().filename() == test_file) found.push_back(it->path());
      if (found.empty())
        throw DataError(run_dir.string() + ": no test split '" + test_file +
                        "' in the run folder to register with");
      auto rank = [](const fs::path& p) {
        bool ingest = p.generic_string().find("ingest") != std::string::npos;
        return std::make_pair(ingest ? 0 : 1, std::distance(p.begin(), p.end()));
      };
      std::sort(found.begin(), found.end(),
                [&](auto& a, auto& b) { return rank(a) != rank(b) ? rank(a) < rank(b) : a < b; });
      test = found.front();
    }
  }
  return test;
}

nlohmann::json register_and_gate(Registry& reg, const fs::path& bundle_dir, const fs::path& test_csv,
                                 const nlohmann::json& extra) {
  const std::string v = reg.register_candidate(bundle_dir, test_csv, extra);
  nlohmann::json out = {{"registry", fs::absolute(reg.dir()).string()}, {"version", v}};
  if (reg.options().gate.auto_promote) {
    auto r = reg.promote(v, false);
    out["promoted"] = r.promoted;
    out["gate"] = r.gate.to_json();
    out["previous_production"] = r.previous ? nlohmann::json(*r.previous) : nlohmann::json();
  } else {
    auto d = reg.evaluate(v);
    out["promoted"] = false;
    out["gate"] = d.to_json();
    out["gate"]["note"] = "registry.auto_promote is off: run `netsentry registry promote " + v + "`";
    auto p = reg.production();
    out["previous_production"] = p ? nlohmann::json(*p) : nlohmann::json();
  }
  auto p = reg.production();
  out["production"] = p ? nlohmann::json(*p) : nlohmann::json();
  out["status"] = reg.show(v).status;
  if (out["promoted"].get<bool>())
    spdlog::info("registry: {} promoted to production: {}", v, out["gate"]["reason"].get<std::string>());
  else
    spdlog::warn("registry: {} stays a candidate: {}", v, out["gate"]["reason"].get<std::string>());
  return out;
}

nlohmann::json register_after_training(const PipelineConfig& cfg, const fs::path& bundle_dir,
                                       const fs::path& run_dir, const std::optional<fs::path>& test_csv) {
  const fs::path test = test_csv ? *test_csv : find_test_split(run_dir, cfg.ingestion.test_file);
  Registry reg(registry_dir_from_config(cfg), RegistryOptions::from_config(cfg));
  return register_and_gate(reg, bundle_dir, test, {{"run_dir", fs::absolute(run_dir).string()}});
}

}  // namespace netsentry
