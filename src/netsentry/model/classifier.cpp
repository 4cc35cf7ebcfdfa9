#include "netsentry/model/classifier.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "netsentry/core/error.hpp"
#include "netsentry/model/one_hot.hpp"

namespace netsentry {

std::shared_ptr<void> SharedTrainingSet::prepared(const std::string& key,
                                                  const std::function<std::shared_ptr<void>()>& make) const {
  std::promise<std::shared_ptr<void>> promise;
  std::shared_future<std::shared_ptr<void>> future;
  bool build = false;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      future = promise.get_future().share();
      cache_.emplace(key, future);
      build = true;
    } else {
      future = it->second;
    }
  }
  if (build) {  // outside the lock: other keys are built in parallel; waiters on this key block below
    try {
      promise.set_value(make());
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
  }
  return future.get();
}

namespace {
std::map<std::string, FamilyInfo>& families() {
  static std::map<std::string, FamilyInfo> m;
  return m;
}
}  // namespace

void register_family(FamilyInfo info) {
  auto name = info.name;
  families()[name] = std::move(info);
}

const FamilyInfo& family(const std::string& name) {
  auto it = families().find(name);
  if (it == families().end()) {
    std::string known;
    for (auto& [k, _] : families()) known += (known.empty() ? "" : ", ") + k;
    throw UsageError("unknown model family '" + name + "' (known: " + known + ")");
  }
  return it->second;
}

std::vector<std::string> family_names() {
  std::vector<std::string> n;
  for (auto& [k, _] : families()) n.push_back(k);
  return n;
}

std::unique_ptr<Classifier> create_classifier(const std::string& name, const nlohmann::json& params,
                                              const std::vector<int>& cardinality, int classes) {
  const FamilyInfo& f = family(name);
  auto clf = f.create(params);
  if (classes < 2) throw UsageError("a model needs at least two classes, not " + std::to_string(classes));
  if (classes != 2) clf->set_classes(classes);
  if (std::none_of(cardinality.begin(), cardinality.end(), [](int k) { return k > 0; })) return clf;
  if (f.native_categorical) {
    clf->use_categories(cardinality);
    return clf;
  }
  return one_hot_classifier(std::move(clf), cardinality);
}

Matrix class_probabilities(const std::vector<double>& p, std::size_t rows, int classes) {
  const auto k = static_cast<std::size_t>(classes);
  Matrix out(rows, k);
  if (classes == 2) {
    if (p.size() != rows) throw std::logic_error("class_probabilities: one probability per row expected");
    for (std::size_t i = 0; i < rows; ++i) out(i, 0) = 1.0 - p[i], out(i, 1) = p[i];
    return out;
  }
  if (p.size() != rows * k) throw std::logic_error("class_probabilities: K probabilities per row expected");
  out.data = p;
  return out;
}

}  // namespace netsentry
