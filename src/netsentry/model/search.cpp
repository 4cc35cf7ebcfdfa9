#include "netsentry/model/search.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <string_view>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "netsentry/core/error.hpp"
#include "netsentry/core/parallel.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/transform/smote.hpp"

namespace netsentry {

using json = nlohmann::json;

json CandidateResult::to_json() const {
  return {{"family", family},
          {"params", params},
          {"cv_mean", cv_mean},
          {"cv_std", cv_std},
          {"fold_scores", fold_scores},
          {"fit_seconds", fit_seconds},
          {"budget_stage", budget_stage},
          {"budget", budget}};
}

std::vector<std::vector<std::size_t>> stratified_kfold(const Labels& y, int k, std::uint64_t seed) {
  if (k < 2) throw UsageError("cross-validation needs at least 2 folds");
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < y.size(); ++i) by_class[y[i]].push_back(i);
  for (auto& [c, idx] : by_class)
    if (idx.size() < static_cast<std::size_t>(k))
      throw DataError("class " + std::to_string(c) + " has only " + std::to_string(idx.size()) +
                      " rows, fewer than the " + std::to_string(k) + " cross-validation folds");
  std::mt19937_64 rng(seed);
  std::vector<std::vector<std::size_t>> folds(static_cast<std::size_t>(k));
  std::size_t offset = 0;  // rotate where each class starts so fold sizes stay balanced overall
  for (auto& [c, idx] : by_class) {
    std::shuffle(idx.begin(), idx.end(), rng);
    for (std::size_t i = 0; i < idx.size(); ++i) folds[(i + offset) % folds.size()].push_back(idx[i]);
    offset += idx.size();
  }
  for (auto& f : folds) std::sort(f.begin(), f.end());
  return folds;
}

std::vector<std::vector<std::size_t>> stratified_holdout(const Labels& y, double share, std::uint64_t seed) {
  if (!(share > 0 && share < 1)) throw UsageError("the validation share must be in (0, 1)");
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < y.size(); ++i) by_class[y[i]].push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> val;
  for (auto& [c, idx] : by_class) {
    std::shuffle(idx.begin(), idx.end(), rng);
    // At least one row of a class of two or more validates, at least one trains.
    const auto n = idx.size();
    const auto want = static_cast<std::size_t>(std::llround(share * static_cast<double>(n)));
    const std::size_t take = n < 2 ? 0 : std::clamp<std::size_t>(want, 1, n - 1);
    val.insert(val.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(take));
  }
  if (val.empty()) throw DataError("too few rows to hold out a validation share");
  std::sort(val.begin(), val.end());
  return {val};
}

namespace {

std::string range_text(double v, bool integer) {
  if (integer) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The range of `param` of family `f`, nthread and seed included; nullptr when it has no such parameter.
std::optional<ParamRange> param_range(const FamilyInfo& f, const std::string& param) {
  if (param == "nthread") return ParamRange{"nthread", 1, 1024};
  if (param == "seed") return ParamRange{"seed", 0, 2147483647};
  for (const auto& r : f.params)
    if (r.name == param) return r;
  return std::nullopt;
}

}  // namespace

void check_grid(const json& families, const GridLimits& limits) {
  if (!families.is_object() || families.empty())
    throw UsageError("model_trainer.families must name at least one family");
  long double candidates = 0;
  for (auto& [fam, grid] : families.items()) {
    const FamilyInfo& f = family(fam);  // throws on an unknown family
    const std::string key = "model_trainer.families." + fam;
    if (!grid.is_null() && !grid.is_object())
      throw UsageError(key + " must map parameter names to values or lists");
    long double combos = 1;
    if (grid.is_object())
      for (auto& [param, values] : grid.items()) {
        const auto range = param_range(f, param);
        if (!range) {
          std::string known;
          for (const auto& r : f.params) known += (known.empty() ? "" : ", ") + r.name;
          throw UsageError(key + " has no parameter '" + param + "' (known: " + known + ", nthread, seed)");
        }
        const json vals = values.is_array() ? values : json::array({values});
        if (vals.empty()) throw UsageError(key + "." + param + " is an empty list");
        const double hi = range->trees ? static_cast<double>(limits.max_trees) : range->hi;
        for (const auto& v : vals) {
          const bool number = v.is_number() && std::isfinite(v.get<double>());
          const bool ok = number && (!range->integer || v.is_number_integer()) &&
                          v.get<double>() >= range->lo && v.get<double>() <= hi;
          if (!ok)
            throw UsageError(key + "." + param + " must be " + (range->integer ? "an integer" : "a number") +
                             " in [" + range_text(range->lo, range->integer) + ", " +
                             range_text(hi, range->integer) + "] (got " + v.dump() + ")" +
                             (range->trees && number && v.get<double>() > hi
                                  ? "; the limit is model_trainer.max_trees"
                                  : ""));
        }
        combos *= static_cast<long double>(vals.size());
      }
    candidates += combos;
  }
  if (candidates > static_cast<long double>(limits.max_candidates))
    throw UsageError(
        "model_trainer.families expand to " + std::to_string(static_cast<double>(candidates)) +
        " candidates, over model_trainer.max_candidates = " + std::to_string(limits.max_candidates));
}

std::vector<std::pair<std::string, json>> expand_grid(const json& families, const GridLimits& limits) {
  check_grid(families, limits);
  std::vector<std::pair<std::string, json>> out;
  for (auto& [fam, grid] : families.items()) {
    family(fam);  // throws on an unknown family
    std::vector<json> combos{json::object()};
    if (!grid.is_null() && !grid.is_object())
      throw UsageError("model_trainer.families." + fam + " must map parameter names to values or lists");
    if (grid.is_object())
      for (auto& [param, values] : grid.items()) {
        json vals = values.is_array() ? values : json::array({values});
        if (vals.empty())
          throw UsageError("model_trainer.families." + fam + "." + param + " is an empty list");
        std::vector<json> next;
        for (auto& c : combos)
          for (auto& v : vals) {
            json n = c;
            n[param] = v;
            next.push_back(std::move(n));
          }
        combos = std::move(next);
      }
    for (auto& c : combos) out.emplace_back(fam, c);
  }
  if (out.empty()) throw UsageError("model_trainer.families is empty: nothing to search");
  return out;
}

std::vector<float> balanced_weights(const Labels& y) {
  std::map<int, double> count;
  for (int c : y) count[c] += 1;
  const double present = static_cast<double>(count.size());
  std::vector<float> w(y.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    w[i] = static_cast<float>(static_cast<double>(y.size()) / (present * count[y[i]]));
  return w;
}

Collapsed collapse_duplicates(const Matrix& X, const Labels& y, const std::vector<float>& w) {
  Collapsed out;
  std::unordered_map<std::string_view, std::size_t> first;  // row bytes + label -> output row
  first.reserve(X.rows);
  const std::size_t row_bytes = X.cols * sizeof(double);
  std::string keys(X.rows * (row_bytes + sizeof(int)), '\0');
  std::vector<std::size_t> keep;
  std::vector<double> weight;
  for (std::size_t i = 0; i < X.rows; ++i) {
    char* k = keys.data() + i * (row_bytes + sizeof(int));
    std::memcpy(k, X.row(i).data(), row_bytes);
    std::memcpy(k + row_bytes, &y[i], sizeof(int));
    const double wi = w.empty() ? 1.0 : static_cast<double>(w[i]);
    auto [it, fresh] = first.emplace(std::string_view(k, row_bytes + sizeof(int)), keep.size());
    if (fresh) {
      keep.push_back(i);
      weight.push_back(wi);
    } else {
      weight[it->second] += wi;
    }
  }
  out.X = X.take_rows(keep);
  out.y = take(y, keep);
  out.w.assign(weight.begin(), weight.end());
  return out;
}

namespace {

// One fit shared by candidates that differ only in n_estimators (for staged families).
struct Unit {
  std::string family;
  json fit_params;
  std::vector<std::size_t> cands;  // indices into the candidate list
  bool by_rounds = false;          // halving budget = boosting rounds (staged families)
};

// One cross-validation fold: the shared training set and the validation rows.
struct FoldData {
  std::unique_ptr<SharedTrainingSet> train;
  Matrix Xva;
  Labels yva;
};

double stddev(const std::vector<double>& v, double mean) {
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return v.size() > 1 ? std::sqrt(s / static_cast<double>(v.size())) : 0.0;
}

// A simpler model wins ties: lower family rank, then fewer estimators, then shallower trees.
std::tuple<int, double, double> complexity(const std::string& fam, const json& p) {
  auto num = [&](const char* k) { return p.contains(k) && p[k].is_number() ? p[k].get<double>() : 0.0; };
  return {family(fam).complexity_rank, num("n_estimators"), num("max_depth")};
}

// Probabilities per row in predict_proba's layout: 1 for two classes, K for more.
std::size_t proba_width(const SearchOptions& opt) {
  return opt.classes > 2 ? static_cast<std::size_t>(opt.classes) : 1;
}

// The validation sets of the rows `y`: k stratified folds, or one held-out share.
std::vector<std::vector<std::size_t>> validation_sets(const Labels& y, const SearchOptions& opt) {
  return opt.holdout > 0 ? stratified_holdout(y, opt.holdout, opt.seed)
                         : stratified_kfold(y, opt.folds, opt.seed);
}

// How many validation sets each candidate is scored on.
std::size_t fold_count(const SearchOptions& opt) {
  return opt.holdout > 0 ? 1 : static_cast<std::size_t>(opt.folds);
}

// Stratified subsample of `frac` of the rows (all rows when frac >= 1).
std::vector<std::size_t> subsample(const Labels& y, double frac, std::uint64_t seed) {
  std::vector<std::size_t> all(y.size());
  std::iota(all.begin(), all.end(), 0);
  if (frac >= 1) return all;
  std::map<int, std::vector<std::size_t>> by_class;
  for (auto i : all) by_class[y[i]].push_back(i);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<std::size_t> out;
  for (auto& [c, idx] : by_class) {
    std::shuffle(idx.begin(), idx.end(), rng);
    auto n =
        std::max<std::size_t>(8, static_cast<std::size_t>(std::ceil(frac * static_cast<double>(idx.size()))));
    idx.resize(std::min(n, idx.size()));
    out.insert(out.end(), idx.begin(), idx.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The candidate fitted on all rows, with the same SMOTE / class-weight treatment as the CV fits.
std::unique_ptr<Classifier> fit_all_rows(const Matrix& X, const Labels& y, const std::string& fam,
                                         const json& params, const SearchOptions& opt, int nthread) {
  const Matrix* Xfit = &X;
  const Labels* yfit = &y;
  Resampled sm;
  if (opt.smote) {
    sm = smote(X, y, opt.smote_k, opt.seed);
    Xfit = &sm.X;
    yfit = &sm.y;
  }
  std::vector<float> w;
  if (opt.class_weights) w = balanced_weights(*yfit);
  json p = params;
  p["seed"] = opt.seed;
  p["nthread"] = nthread;
  Collapsed c;
  if (opt.collapse_duplicates) {
    c = collapse_duplicates(*Xfit, *yfit, w);
    Xfit = &c.X;
    yfit = &c.y;
    w = std::move(c.w);
  }
  auto model = create_classifier(fam, p, opt.cardinality, opt.classes);
  model->fit(*Xfit, *yfit, w.empty() ? nullptr : &w);
  return model;
}

// ---- unit grouping ------------------------------------------------------------------------------

// Candidates into fits: those of a staged family that differ only in n_estimators share one fit with
// the largest of their values; every other candidate is a fit of its own. Units keep the order of
// their first candidate.
std::vector<Unit> group_units(const std::vector<std::pair<std::string, json>>& cands) {
  std::vector<Unit> units;
  std::map<std::string, std::size_t> key_to_unit;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    auto& [fam, params] = cands[i];
    json fit_params = params;
    std::string key = fam + "#" + std::to_string(i);
    if (family(fam).staged_n_estimators && params.contains("n_estimators")) {
      json rest = params;
      rest.erase("n_estimators");
      key = fam + "#" + rest.dump();
    }
    auto it = key_to_unit.find(key);
    if (it == key_to_unit.end()) {
      key_to_unit[key] = units.size();
      units.push_back({fam, fit_params, {i}});
    } else {
      auto& u = units[it->second];
      u.cands.push_back(i);
      if (params["n_estimators"].get<double>() > u.fit_params["n_estimators"].get<double>())
        u.fit_params["n_estimators"] = params["n_estimators"];
    }
  }
  for (auto& u : units)
    u.by_rounds = family(u.family).staged_n_estimators && u.fit_params.contains("n_estimators");
  return units;
}

// ---- halving schedule ---------------------------------------------------------------------------

// Successive halving keeps the best 1/factor of the fits at each stage and multiplies their budget by
// the factor (3, as scikit-learn's, unless configured), ending with one fit on the full budget. The
// budget is the number of boosting rounds for staged families (every fit sees all rows, and each
// n_estimators value up to the budget is scored exactly from the one fit) and the number of training
// rows for the others (at least kMinRows). Grid = one stage with the full budget.
struct Schedule {
  static constexpr double kMinRows = 300;
  double eta = 3;
  int stages = 1;

  Schedule(std::size_t units, const SearchOptions& opt) : eta(opt.halving_factor) {
    if (!(eta >= 2)) throw UsageError("model_trainer.halving_factor must be at least 2");
    if (opt.strategy == "halving") {
      while (std::pow(eta, stages - 1) < static_cast<double>(units)) ++stages;
    } else if (opt.strategy != "grid") {
      throw UsageError("model_trainer.search must be grid or halving, not '" + opt.strategy + "'");
    }
  }
  // The share of the full budget at `stage`.
  double fraction(int stage) const { return std::pow(eta, stage - (stages - 1)); }
  // The fits left after a stage of n.
  std::size_t kept(std::size_t n) const {
    return std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(static_cast<double>(n) / eta)));
  }
  // Fits x folds over all stages (for the progress report).
  std::size_t total_tasks(std::size_t units, std::size_t folds) const {
    std::size_t total = 0;
    for (int s = 0; s < stages; ++s, units = kept(units)) total += units * folds;
    return total;
  }
};

// What one stage fits on: the rows and folds of its row budget (families without staged rounds) or
// all rows (staged families, whose budget is rounds).
struct View {
  const Matrix* X;
  const Labels* y;
  const std::vector<std::vector<std::size_t>>* folds;
};

struct Stage {
  bool final = false;
  double frac = 1;  // of the full budget
  View rows, all;
  const View& view_of(const Unit& u) const { return u.by_rounds ? all : rows; }
  // A staged unit's rounds at this stage.
  int rounds_of(const Unit& u) const {
    const int max_n = u.fit_params["n_estimators"].get<int>();
    return std::clamp(static_cast<int>(std::ceil(frac * max_n)), 1, max_n);
  }
};

// The rows a stage of row budget `frac` fits and scores on, and their validation sets (positions in
// those rows). k folds: a stratified subsample, cut into its own folds. Holdout: the same held-out
// share at every stage, so that every stage and family is scored on the same rows (a share of a
// subsample would be a few hundred rows: too few to rank on), and a subsample of the other rows to
// train on.
struct StageRows {
  std::vector<std::size_t> rows;
  std::vector<std::vector<std::size_t>> folds;
};
StageRows stage_rows(const Labels& y, double frac, const std::vector<std::vector<std::size_t>>& full,
                     const SearchOptions& opt, std::uint64_t seed) {
  if (frac >= 1) {
    StageRows all{std::vector<std::size_t>(y.size()), full};
    std::iota(all.rows.begin(), all.rows.end(), 0);
    return all;
  }
  if (opt.holdout <= 0) {
    auto rows = subsample(y, frac, seed);
    auto folds = stratified_kfold(take(y, rows), opt.folds, opt.seed);
    return {std::move(rows), std::move(folds)};
  }
  const auto& val = full[0];
  std::vector<char> is_val(y.size(), 0);
  for (auto i : val) is_val[i] = 1;
  std::vector<std::size_t> pool;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!is_val[i]) pool.push_back(i);
  StageRows out;
  for (auto k : subsample(take(y, pool), frac, seed)) out.rows.push_back(pool[k]);
  out.rows.insert(out.rows.end(), val.begin(), val.end());
  std::sort(out.rows.begin(), out.rows.end());
  out.folds.resize(1);
  for (std::size_t p = 0; p < out.rows.size(); ++p)
    if (is_val[out.rows[p]]) out.folds[0].push_back(p);
  return out;
}

// ---- fold cache ---------------------------------------------------------------------------------

// The training set of fold f of a view (its other folds, SMOTE-resampled, weighted, collapsed as
// configured) and its validation rows.
FoldData build_fold(std::size_t f, const View& v, const SearchOptions& opt) {
  const auto& vfolds = *v.folds;
  const Labels& vy = *v.y;
  std::vector<char> in_val(vy.size(), 0);
  for (auto i : vfolds[f]) in_val[i] = 1;
  std::vector<std::size_t> tr;
  for (std::size_t i = 0; i < vy.size(); ++i)
    if (!in_val[i]) tr.push_back(i);
  Matrix Xtr = v.X->take_rows(tr);
  Labels ytr = take(vy, tr);
  if (opt.smote) {  // training folds only: the validation fold is never resampled
    auto r = smote(Xtr, ytr, opt.smote_k, opt.seed + f);
    Xtr = std::move(r.X);
    ytr = std::move(r.y);
  }
  std::vector<float> w;
  if (opt.class_weights) w = balanced_weights(ytr);
  if (opt.collapse_duplicates) {
    auto c = collapse_duplicates(Xtr, ytr, w);
    Xtr = std::move(c.X);
    ytr = std::move(c.y);
    w = std::move(c.w);
  }
  FoldData fd;
  fd.train = std::make_unique<SharedTrainingSet>(std::move(Xtr), std::move(ytr), std::move(w));
  fd.Xva = v.X->take_rows(vfolds[f]);
  fd.yva = take(vy, vfolds[f]);
  return fd;
}

// Each (view, fold) training set is built once per stage, by the first task that needs it, and
// shared by every fit on it.
class FoldCache {
 public:
  explicit FoldCache(const SearchOptions& opt) : opt_(opt) {
    for (int k = 0; k < 2; ++k) {
      data_[k].resize(fold_count(opt));
      once_[k] = std::vector<std::once_flag>(fold_count(opt));
    }
  }
  const FoldData& get(const Stage& stage, const Unit& u, std::size_t f) {
    const int k = u.by_rounds ? 1 : 0;
    std::call_once(once_[k][f], [&] { data_[k][f] = build_fold(f, stage.view_of(u), opt_); });
    return data_[k][f];
  }

 private:
  const SearchOptions& opt_;
  std::array<std::vector<FoldData>, 2> data_;
  std::array<std::vector<std::once_flag>, 2> once_;
};

// ---- task runner --------------------------------------------------------------------------------

// A stage's work: a (unit, fold) fit scored on the fold, or (unit, folds) the unit's refit on all rows.
struct Task {
  std::size_t unit, fold;
};

// Runs one stage's tasks on the worker pool (core/parallel.hpp); every result goes to its own slot
// (candidate, fold, row), so the scores do not depend on which thread ran what, or when.
class StageRunner {
 public:
  StageRunner(const Matrix& X, const Labels& y, const SearchOptions& opt, const std::vector<Unit>& units,
              const Stage& stage, SearchResult& res, std::vector<std::vector<double>>& oof,
              std::atomic<std::size_t>& done, std::size_t total_tasks)
      : X_(X),
        y_(y),
        opt_(opt),
        units_(units),
        stage_(stage),
        res_(res),
        oof_(oof),
        done_(done),
        total_tasks_(total_tasks),
        folds_(opt) {}

  void run(const std::vector<Task>& tasks, unsigned threads) {
    parallel_for(
        tasks.size(), [&](std::size_t t) { run_task(tasks[t]); }, threads);
    for (auto& [fam, t] : fam_time_)
      spdlog::debug("  {}: fit {:.3f}s predict {:.3f}s", fam, t.first, t.second);
  }

 private:
  void run_task(Task task) {
    const Unit& unit = units_[task.unit];
    const std::size_t f = task.fold;
    if (f == fold_count(opt_)) {
      auto m = fit_all_rows(X_, y_, unit.family, unit.fit_params, opt_, 1);
      std::lock_guard lock(mu_);
      res_.model = std::move(m);
      return;
    }
    const auto& vfolds = *stage_.view_of(unit).folds;
    const FoldData& fd = folds_.get(stage_, unit, f);
    json params = unit.fit_params;
    params["nthread"] = 1;
    params["seed"] = opt_.seed;
    const int rounds = unit.by_rounds ? stage_.rounds_of(unit) : 0;
    if (unit.by_rounds) params["n_estimators"] = rounds;
    auto clf = create_classifier(unit.family, params, opt_.cardinality, opt_.classes);
    auto f0 = std::chrono::steady_clock::now();
    clf->fit(*fd.train);
    double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
    auto p0 = std::chrono::steady_clock::now();
    // Staged units: every n_estimators value within the budget from one pass over the trees.
    std::map<int, std::vector<double>> staged;  // n_estimators -> probabilities
    if (unit.by_rounds) {
      std::vector<int> ns;
      for (auto c : unit.cands)
        ns.push_back(std::min(rounds, res_.candidates[c].params["n_estimators"].get<int>()));
      std::sort(ns.begin(), ns.end());
      ns.erase(std::unique(ns.begin(), ns.end()), ns.end());
      auto ps = clf->predict_proba_staged(fd.Xva, ns);
      if (!ps) throw std::logic_error(unit.family + ": staged predictions are not available");
      for (std::size_t i = 0; i < ns.size(); ++i) staged.emplace(ns[i], std::move((*ps)[i]));
    }
    for (auto c : unit.cands) {
      const json& cp = res_.candidates[c].params;
      std::vector<double> p;
      if (!unit.by_rounds) {
        p = clf->predict_proba(fd.Xva);
      } else {
        p = staged.at(std::min(rounds, cp["n_estimators"].get<int>()));
      }
      const double score = fold_score(fd.yva, p);
      std::lock_guard lock(mu_);
      res_.candidates[c].fold_scores[f] = score;
      res_.candidates[c].fit_seconds += fit_s / static_cast<double>(unit.cands.size());
      const std::size_t width = proba_width(opt_);
      if (stage_.final)
        for (std::size_t i = 0; i < vfolds[f].size(); ++i)
          for (std::size_t j = 0; j < width; ++j) oof_[c][vfolds[f][i] * width + j] = p[i * width + j];
    }
    {
      double pred_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
      std::lock_guard lock(mu_);
      fam_time_[unit.family].first += fit_s;
      fam_time_[unit.family].second += pred_s;
    }
    auto d = done_.fetch_add(1) + 1;
    if (opt_.progress) {
      std::lock_guard lock(mu_);
      opt_.progress(d, total_tasks_);
    }
  }

  // The validation fold's score: binary metrics of P(class 1) at 0.5, or every metric of K classes
  // (the binary view by the verdict rule at 0.5).
  double fold_score(const Labels& y, const std::vector<double>& p) const {
    const bool auc = opt_.metric == "roc_auc" || opt_.metric == "macro_roc_auc";
    if (opt_.classes == 2 && opt_.threat.empty()) return compute_metrics(y, p, 0.5, auc).get(opt_.metric);
    const std::vector<bool> threat = opt_.threat.empty() ? std::vector<bool>{false, true} : opt_.threat;
    return compute_class_metrics(y, class_probabilities(p, y.size(), opt_.classes), threat, 0.5, {}, auc)
        .get(opt_.metric);
  }

  const Matrix& X_;
  const Labels& y_;
  const SearchOptions& opt_;
  const std::vector<Unit>& units_;
  const Stage& stage_;
  SearchResult& res_;
  std::vector<std::vector<double>>& oof_;
  std::atomic<std::size_t>& done_;
  const std::size_t total_tasks_;
  FoldCache folds_;
  std::mutex mu_;
  std::map<std::string, std::pair<double, double>> fam_time_;  // family -> fit, predict seconds
};

// The tasks of a stage, longest first so that the threads finish the stage together: the refit (when
// one fit is left in the final stage, its refit on all rows runs alongside its cross-validation; a
// staged family is refit with its largest n_estimators and cut to the selected one afterwards), then
// the staged fits, then the others.
std::vector<Task> stage_tasks(const std::vector<Unit>& units, const std::vector<std::size_t>& alive,
                              const Stage& stage, const SearchOptions& opt) {
  std::vector<Task> tasks;
  const auto folds = fold_count(opt);
  if (opt.refit && stage.final && alive.size() == 1) tasks.push_back({alive[0], folds});
  for (int pass = 0; pass < 2; ++pass)
    for (auto u : alive)
      if (units[u].by_rounds == (pass == 0))
        for (std::size_t f = 0; f < folds; ++f) tasks.push_back({u, f});
  return tasks;
}

// The candidates of the fits alive at a stage: fresh fold scores and the budget they get (and, in
// the final stage, their out-of-fold probabilities).
void open_stage(SearchResult& res, const std::vector<Unit>& units, const std::vector<std::size_t>& alive,
                const Stage& stage, int index, std::size_t budget_rows, std::size_t all_rows,
                const SearchOptions& opt, std::vector<std::vector<double>>& oof) {
  for (auto u : alive)
    for (auto c : units[u].cands) {
      auto& r = res.candidates[c];
      r.fold_scores.assign(fold_count(opt), 0.0);
      r.budget_stage = index;
      if (units[u].by_rounds) {
        r.budget = {
            {"rows", all_rows},
            {"n_estimators", std::min(stage.rounds_of(units[u]), r.params["n_estimators"].get<int>())}};
      } else {
        r.budget = {{"rows", budget_rows}};
      }
      if (stage.final) oof[c].assign(all_rows * proba_width(opt), 0.0);
    }
}

// Their CV means and deviations once the stage's folds are scored.
void close_stage(SearchResult& res, const std::vector<Unit>& units, const std::vector<std::size_t>& alive) {
  for (auto u : alive)
    for (auto c : units[u].cands) {
      auto& r = res.candidates[c];
      r.cv_mean = std::accumulate(r.fold_scores.begin(), r.fold_scores.end(), 0.0) /
                  static_cast<double>(r.fold_scores.size());
      r.cv_std = stddev(r.fold_scores, r.cv_mean);
    }
}

// ---- selection ----------------------------------------------------------------------------------

// The best candidate: highest CV mean in the final stage; ties go to the simpler model.
std::size_t select_best(const std::vector<CandidateResult>& candidates, int last_stage) {
  std::optional<std::size_t> best;
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    const auto& r = candidates[c];
    if (r.budget_stage != last_stage) continue;
    if (!best) {
      best = c;
      continue;
    }
    const auto& b = candidates[*best];
    if (r.cv_mean > b.cv_mean + 1e-12 || (std::abs(r.cv_mean - b.cv_mean) <= 1e-12 &&
                                          complexity(r.family, r.params) < complexity(b.family, b.params)))
      best = c;
  }
  return *best;
}

// The fits that go on to the next stage: the best 1/eta by their best candidate's CV mean (stable:
// ties keep the earlier unit).
void halve(std::vector<std::size_t>& alive, const std::vector<Unit>& units, const SearchResult& res,
           const Schedule& schedule) {
  auto unit_score = [&](std::size_t u) {
    double b = -1;
    for (auto c : units[u].cands) b = std::max(b, res.candidates[c].cv_mean);
    return b;
  };
  std::stable_sort(alive.begin(), alive.end(), [&](auto a, auto b) { return unit_score(a) > unit_score(b); });
  alive.resize(schedule.kept(alive.size()));
}

}  // namespace

SearchResult search_models(const Matrix& X, const Labels& y, const json& families, const SearchOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.smote && std::any_of(opt.cardinality.begin(), opt.cardinality.end(), [](int k) { return k > 0; }))
    throw UsageError(
        "transformation.sampler: smote interpolates numbers and the data has categorical "
        "features; use model_trainer.class_weights: true to balance the classes instead");
  auto cands = expand_grid(families, opt.limits);
  SearchResult res;
  res.candidates.resize(cands.size());
  for (std::size_t i = 0; i < cands.size(); ++i) {
    res.candidates[i].family = cands[i].first;
    res.candidates[i].params = cands[i].second;
    (void)create_classifier(cands[i].first, cands[i].second);  // rejects unknown parameters up front
  }
  std::vector<Unit> units = group_units(cands);
  const unsigned threads =
      opt.threads > 0 ? static_cast<unsigned>(opt.threads) : static_cast<unsigned>(parallel_threads());
  const Schedule schedule(units.size(), opt);
  std::vector<std::size_t> alive(units.size());
  std::iota(alive.begin(), alive.end(), 0);
  const std::size_t total_tasks = schedule.total_tasks(units.size(), fold_count(opt));
  std::atomic<std::size_t> done{0};
  std::vector<std::vector<double>> oof(cands.size());
  const auto full_folds = validation_sets(y, opt);

  for (int s = 0; s < schedule.stages; ++s) {
    const auto stage_t0 = std::chrono::steady_clock::now();
    Stage stage;
    stage.final = s == schedule.stages - 1;
    stage.frac = schedule.fraction(s);
    // Row budget (families without staged rounds).
    const double row_frac =
        std::max(stage.frac, Schedule::kMinRows / static_cast<double>(std::max<std::size_t>(1, y.size())));
    const auto [rows, folds] =
        stage_rows(y, row_frac, full_folds, opt, opt.seed + static_cast<std::uint64_t>(s));
    const Labels ys = take(y, rows);
    const Matrix Xs = X.take_rows(rows);
    stage.rows = {&Xs, &ys, &folds};
    stage.all = {&X, &y, &full_folds};
    open_stage(res, units, alive, stage, s, ys.size(), y.size(), opt, oof);
    StageRunner(X, y, opt, units, stage, res, oof, done, total_tasks)
        .run(stage_tasks(units, alive, stage, opt), threads);
    spdlog::debug("search: stage {}/{}: {} fits x {} folds ({} rows / {:.0f}% of the rounds) in {:.3f}s",
                  s + 1, schedule.stages, alive.size(), fold_count(opt), ys.size(), 100 * stage.frac,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - stage_t0).count());

    close_stage(res, units, alive);
    if (!stage.final) halve(alive, units, res, schedule);
  }
  res.best = select_best(res.candidates, schedule.stages - 1);
  res.oof_proba = oof[res.best];
  if (opt.holdout > 0) res.oof_rows = full_folds[0];
  if (opt.refit) {
    const auto& b = res.candidates[res.best];
    const bool staged = b.params.contains("n_estimators") && family(b.family).staged_n_estimators;
    if (res.model && staged && !res.model->keep_first(b.params["n_estimators"].get<int>())) res.model.reset();
    if (res.model) {
      spdlog::debug("search: the refit ran alongside the last stage");
    } else {
      res.model = fit_all_rows(X, y, b.family, b.params, opt, static_cast<int>(threads));
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace netsentry
