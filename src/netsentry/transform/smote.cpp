// SMOTE (Chawla et al. 2002) with imbalanced-learn's default strategy ('auto' = every class but the
// majority is grown to the majority's count). For a class c that needs s new rows:
//   repeat s times: pick a row x of class c uniformly, pick one of its k nearest class-c neighbours n
//   uniformly (the row itself excluded), draw g ~ U[0, 1), and append x + g (n - x) labelled c.
// Neighbours come from a nanoflann KD-tree over the class's rows (exact search, squared L2).
// k is capped at (class size - 1), so a class of two rows pairs them with each other.
// Random numbers: one std::mt19937_64 seeded with `seed`, consumed in a fixed order (classes in
// ascending label order, then draws in sequence); integers and uniforms are derived from its raw
// output by fixed formulas, so results are identical on every platform.
#include "netsentry/transform/smote.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <nanoflann.hpp>
#include <random>
#include <string>

#include "netsentry/core/error.hpp"

namespace netsentry {
namespace {

// The rows of one class, seen by nanoflann as a point cloud.
struct ClassCloud {
  const Matrix* X;
  const std::vector<std::size_t>* rows;
  std::size_t kdtree_get_point_count() const { return rows->size(); }
  double kdtree_get_pt(std::size_t i, std::size_t dim) const { return (*X)((*rows)[i], dim); }
  template <class BBox>
  bool kdtree_get_bbox(BBox&) const {
    return false;
  }
};

using KdTree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, ClassCloud>,
                                                   ClassCloud, -1, std::size_t>;

// Uniform integer in [0, n) by rejection (no modulo bias), and uniform double in [0, 1) from 53 bits.
std::size_t uniform_index(std::mt19937_64& rng, std::size_t n) {
  const std::uint64_t range = n, limit = UINT64_MAX - UINT64_MAX % range;
  std::uint64_t v;
  do v = rng();
  while (v >= limit);
  return static_cast<std::size_t>(v % range);
}
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Resampled smote(const Matrix& X, const Labels& y, int k_neighbors, std::uint64_t seed) {
  if (X.rows != y.size())
    throw DataError("SMOTE: " + std::to_string(X.rows) + " rows but " + std::to_string(y.size()) + " labels");
  if (k_neighbors < 1)
    throw UsageError("SMOTE: k_neighbors must be at least 1, got " + std::to_string(k_neighbors));
  for (std::size_t i = 0; i < X.data.size(); ++i)
    if (!std::isfinite(X.data[i]))
      throw DataError("SMOTE: row " + std::to_string(i / X.cols) + ", column " + std::to_string(i % X.cols) +
                      " is missing or infinite (impute before oversampling)");

  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t r = 0; r < y.size(); ++r) by_class[y[r]].push_back(r);
  if (by_class.size() < 2)
    throw DataError("SMOTE: the labels hold " + std::to_string(by_class.size()) +
                    " class(es); at least 2 are needed");
  std::size_t majority = 0;
  for (const auto& [label, rows] : by_class) majority = std::max(majority, rows.size());
  for (const auto& [label, rows] : by_class)
    if (rows.size() < majority && rows.size() < 2)
      throw DataError("SMOTE: class " + std::to_string(label) + " has " + std::to_string(rows.size()) +
                      " sample(s); at least 2 are needed to interpolate");

  const std::size_t total = majority * by_class.size();
  Resampled out;
  out.X = Matrix(total, X.cols);
  std::copy(X.data.begin(), X.data.end(), out.X.data.begin());
  out.y = y;
  out.y.reserve(total);
  std::size_t next = X.rows;

  std::mt19937_64 rng(seed);
  for (const auto& [label, rows] : by_class) {
    const std::size_t need = majority - rows.size();
    if (need == 0) continue;
    const std::size_t k = std::min(static_cast<std::size_t>(k_neighbors), rows.size() - 1);

    // Each row's k nearest neighbours within the class (itself excluded).
    ClassCloud cloud{&X, &rows};
    KdTree tree(X.cols, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(10));
    std::vector<std::size_t> nn(rows.size() * k);
    std::vector<std::size_t> idx(k + 1);
    std::vector<double> d2(k + 1);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const std::size_t found = tree.knnSearch(X.row(rows[i]).data(), k + 1, idx.data(), d2.data());
      // Drop the query row itself; when duplicates hide it, drop the farthest result instead.
      std::size_t w = 0;
      bool skipped = false;
      for (std::size_t j = 0; j < found && w < k; ++j) {
        if (!skipped && idx[j] == i) {
          skipped = true;
          continue;
        }
        nn[i * k + w++] = idx[j];
      }
      if (w != k)
        throw DataError("SMOTE: nearest-neighbour search returned too few points");  // cannot happen
    }

    for (std::size_t s = 0; s < need; ++s) {
      const std::size_t i = uniform_index(rng, rows.size());
      const std::size_t j = nn[i * k + uniform_index(rng, k)];
      const double gap = uniform01(rng);
      auto a = X.row(rows[i]), b = X.row(rows[j]);
      auto dst = out.X.row(next++);
      for (std::size_t c = 0; c < X.cols; ++c) dst[c] = a[c] + gap * (b[c] - a[c]);
      out.y.push_back(label);
    }
  }
  return out;
}

}  // namespace netsentry
