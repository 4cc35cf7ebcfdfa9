#include "netsentry/ingest/split.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <unordered_map>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {
std::string row_key(const Matrix& X, std::size_t r) {
  std::string k(X.cols * sizeof(double), '\0');
  for (std::size_t j = 0; j < X.cols; ++j) {
    double v = X(r, j);
    if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();  // one NaN bit pattern
    if (v == 0) v = 0;                                                // -0 == +0
    std::memcpy(k.data() + j * sizeof(double), &v, sizeof(double));
  }
  return k;
}

std::size_t quota(std::size_t n, double ratio) {
  return static_cast<std::size_t>(std::llround(static_cast<double>(n) * ratio));
}
}  // namespace

SplitIndices stratified_split(const Labels& y, double test_ratio, std::uint64_t seed) {
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < y.size(); ++i) by_class[y[i]].push_back(i);
  std::mt19937_64 rng(seed);
  SplitIndices s;
  for (auto& [c, idx] : by_class) {
    std::shuffle(idx.begin(), idx.end(), rng);
    std::size_t nt = quota(idx.size(), test_ratio);
    if (idx.size() >= 2) nt = std::clamp<std::size_t>(nt, 1, idx.size() - 1);
    s.test.insert(s.test.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(nt));
    s.train.insert(s.train.end(), idx.begin() + static_cast<std::ptrdiff_t>(nt), idx.end());
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

SplitIndices duplicate_aware_split(const Matrix& X, const Labels& y, double test_ratio, std::uint64_t seed) {
  // Group identical feature rows; a group's class is its majority label.
  std::unordered_map<std::string, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < X.rows; ++i) {
    auto [it, fresh] = group_of.try_emplace(row_key(X, i), groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::map<int, std::vector<std::size_t>> groups_by_class;
  std::map<int, std::size_t> rows_by_class;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    long ones = 0;
    for (auto i : groups[g]) ones += y[i];
    int cls = 2 * ones >= static_cast<long>(groups[g].size()) ? 1 : 0;
    groups_by_class[cls].push_back(g);
    rows_by_class[cls] += groups[g].size();
  }
  std::mt19937_64 rng(seed);
  SplitIndices s;
  for (auto& [c, gs] : groups_by_class) {
    std::shuffle(gs.begin(), gs.end(), rng);
    const std::size_t want = quota(rows_by_class[c], test_ratio);
    std::size_t taken = 0;
    for (auto g : gs) {
      auto& dst = taken < want ? s.test : s.train;
      if (taken < want) taken += groups[g].size();
      dst.insert(dst.end(), groups[g].begin(), groups[g].end());
    }
  }
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

SplitIndices time_split(const std::vector<double>& times, double test_ratio) {
  std::vector<std::size_t> order(times.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return times[a] < times[b]; });
  std::size_t nt = quota(order.size(), test_ratio);
  if (order.size() >= 2) nt = std::clamp<std::size_t>(nt, 1, order.size() - 1);
  const auto cut = order.begin() + static_cast<std::ptrdiff_t>(order.size() - nt);
  return {std::vector<std::size_t>(order.begin(), cut), std::vector<std::size_t>(cut, order.end())};
}

std::size_t count_duplicate_rows(const Matrix& X, const Labels& y) {
  std::unordered_map<std::string, int> seen;
  std::size_t dup = 0;
  for (std::size_t i = 0; i < X.rows; ++i) {
    auto k = row_key(X, i);
    k += std::to_string(y.empty() ? 0 : y[i]);
    if (seen[k]++) ++dup;
  }
  return dup;
}

}  // namespace netsentry
