// KNN imputation with scikit-learn KNNImputer's semantics (metric='nan_euclidean'):
//
//  * distance between a row x and a training row y: sqrt(F / P * sum over the P coordinates present in
//    both of (x_i - y_i)^2), F the number of columns; undefined (NaN) when no coordinate is shared;
//  * for each missing cell (row r, column c) the donors are the training rows whose column c is
//    present; the k nearest donors with a defined distance are averaged (uniform weights, or weights
//    1/d where a zero distance takes all the weight); k is min(n_neighbors, number of donors);
//  * if no donor has a defined distance to r, the cell gets the training mean of column c;
//  * ties in distance go to the lower training row index (sklearn leaves the order to argpartition);
//    when fewer than k donors have a defined distance, the remaining places go to donors without one,
//    lowest index first (they count with weight 1 under uniform weights, 0 under distance weights,
//    as in sklearn);
//  * a column with no value at all in the training rows is kept and set to 0 in every row: this is
//    sklearn's keep_empty_features=True (with the default False sklearn drops the column, which would
//    break the column order the rest of the pipeline relies on).
//
// transform() splits the rows into blocks run on the worker pool; each row is computed by exactly one
// thread with the same arithmetic, so results do not depend on the number of threads.
#include "netsentry/transform/knn_imputer.hpp"

#include <charconv>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "netsentry/core/error.hpp"
#include "netsentry/core/parallel.hpp"

namespace netsentry {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_no_infinity(const Matrix& X, const char* what) {
  for (std::size_t i = 0; i < X.data.size(); ++i)
    if (std::isinf(X.data[i]))
      throw DataError(std::string("KNN imputer ") + what + ": row " + std::to_string(i / X.cols) +
                      ", column " + std::to_string(i % X.cols) +
                      " is infinite (only NaN may mark a missing value)");
}

struct Donor {
  double dist;  // NaN sorts after every number
  std::size_t row;
};

// Strict order used to pick the k nearest donors: defined distances first, smaller first, then index.
bool closer(const Donor& a, const Donor& b) {
  const bool an = std::isnan(a.dist), bn = std::isnan(b.dist);
  if (an != bn) return bn;
  if (!an && a.dist != b.dist) return a.dist < b.dist;
  return a.row < b.row;
}

}  // namespace

KnnImputer::KnnImputer(int n_neighbors, std::string weights) : k_(n_neighbors), weights_(std::move(weights)) {
  if (k_ < 1) throw UsageError("KNN imputer: n_neighbors must be at least 1, got " + std::to_string(k_));
  if (weights_ != "uniform" && weights_ != "distance")
    throw UsageError("KNN imputer: weights must be 'uniform' or 'distance', got '" + weights_ + "'");
}

void KnnImputer::fit(const Matrix& X) {
  if (X.rows == 0 || X.cols == 0) throw DataError("KNN imputer: cannot fit on an empty matrix");
  check_no_infinity(X, "fit");
  fit_X_ = X;
  fit_zero_ = X;
  fit_present_ = Matrix(X.rows, X.cols, 1.0);
  for (std::size_t i = 0; i < X.data.size(); ++i)
    if (std::isnan(X.data[i])) {
      fit_zero_.data[i] = 0.0;
      fit_present_.data[i] = 0.0;
    }
  col_means_.assign(X.cols, kNaN);
  for (std::size_t c = 0; c < X.cols; ++c) {
    double sum = 0;
    std::size_t n = 0;
    for (std::size_t r = 0; r < X.rows; ++r)
      if (!std::isnan(X(r, c))) {
        sum += X(r, c);
        ++n;
      }
    if (n > 0) col_means_[c] = sum / static_cast<double>(n);  // NaN marks a column empty in training
  }
}

Matrix KnnImputer::transform(const Matrix& X) const {
  if (fit_X_.cols == 0) throw UsageError("KNN imputer: transform() called before fit()");
  if (X.cols != fit_X_.cols)
    throw DataError("KNN imputer: fitted on " + std::to_string(fit_X_.cols) + " columns, got " +
                    std::to_string(X.cols));
  check_no_infinity(X, "transform");
  Matrix out = X;
  const std::size_t F = X.cols, N = fit_X_.rows;

  std::vector<std::size_t> receivers;
  for (std::size_t r = 0; r < X.rows; ++r) {
    auto row = X.row(r);
    if (std::any_of(row.begin(), row.end(), [](double v) { return std::isnan(v); })) receivers.push_back(r);
  }

  auto impute_rows = [&](std::size_t begin, std::size_t end) {
    if (begin >= end) return;  // no row to impute: no scratch (dist has one entry per training row)
    std::vector<double> dist(N), x_zero(F), x_present(F);
    std::vector<Donor> best;
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t r = receivers[t];
      auto x = X.row(r);
      for (std::size_t c = 0; c < F; ++c) {
        x_present[c] = std::isnan(x[c]) ? 0.0 : 1.0;
        x_zero[c] = std::isnan(x[c]) ? 0.0 : x[c];
      }
      for (std::size_t i = 0; i < N; ++i) {
        const double* y = &fit_zero_.data[i * F];
        const double* ym = &fit_present_.data[i * F];
        double s = 0, present = 0;
        for (std::size_t c = 0; c < F; ++c) {  // only coordinates present in both rows count
          const double both = x_present[c] * ym[c];
          const double d = (x_zero[c] - y[c]) * both;
          s += d * d;
          present += both;
        }
        dist[i] = present > 0 ? std::sqrt(s * static_cast<double>(F) / present) : kNaN;
      }
      for (std::size_t c = 0; c < F; ++c) {
        if (!std::isnan(x[c]) || std::isnan(col_means_[c])) continue;
        // The k best donors for column c, kept sorted by `closer` (k is small: insertion).
        best.clear();
        bool any_defined = false;
        for (std::size_t i = 0; i < N; ++i) {
          if (std::isnan(fit_X_(i, c))) continue;
          Donor d{dist[i], i};
          any_defined = any_defined || !std::isnan(d.dist);
          if (best.size() == static_cast<std::size_t>(k_) && !closer(d, best.back())) continue;
          if (best.size() == static_cast<std::size_t>(k_)) best.pop_back();
          best.insert(std::upper_bound(best.begin(), best.end(), d, closer), d);
        }
        if (!any_defined) {
          out(r, c) = col_means_[c];
          continue;
        }
        double num = 0, den = 0;
        if (weights_ == "uniform") {
          for (const auto& d : best) num += fit_X_(d.row, c);
          den = static_cast<double>(best.size());
        } else {
          const bool exact =
              std::any_of(best.begin(), best.end(), [](const Donor& d) { return d.dist == 0.0; });
          for (const auto& d : best) {
            double w;
            if (exact)
              w = d.dist == 0.0 ? 1.0 : 0.0;
            else
              w = std::isnan(d.dist) ? 0.0 : 1.0 / d.dist;
            num += w * fit_X_(d.row, c);
            den += w;
          }
        }
        out(r, c) = num / den;
      }
    }
  };

  // Blocks of at least 16 rows, one per thread of the pool (core/parallel.hpp); a request's few rows
  // are imputed on the calling thread, with no hand-off.
  const std::size_t blocks = std::clamp<std::size_t>(receivers.size() / 16, 1, parallel_threads());
  parallel_for(blocks, [&](std::size_t b) {
    impute_rows(b * receivers.size() / blocks, (b + 1) * receivers.size() / blocks);
  });

  // Columns without any training value: constant 0 (sklearn's keep_empty_features=True).
  for (std::size_t c = 0; c < F; ++c)
    if (std::isnan(col_means_[c]))
      for (std::size_t r = 0; r < out.rows; ++r) out(r, c) = 0.0;
  return out;
}

// The training rows are stored as one CSV text (rows separated by newlines, an empty field for a
// missing value, shortest round-trip decimal form): one JSON string parses an order of magnitude
// faster than nested arrays of numbers. from_json also reads the older "fit_X" arrays.
nlohmann::json KnnImputer::to_json() const {
  std::string csv;
  csv.reserve(fit_X_.data.size() * 4);
  char buf[32];
  for (std::size_t r = 0; r < fit_X_.rows; ++r) {
    for (std::size_t c = 0; c < fit_X_.cols; ++c) {
      if (c) csv += ',';
      const double v = fit_X_(r, c);
      if (std::isnan(v)) continue;
      auto res = std::to_chars(buf, buf + sizeof buf, v);
      csv.append(buf, res.ptr);
    }
    csv += '\n';
  }
  return {{"n_neighbors", k_},
          {"weights", weights_},
          {"n_features", fit_X_.cols},
          {"n_rows", fit_X_.rows},
          {"fit_X_csv", std::move(csv)}};  // an empty field marks a missing training value
}

namespace {
Matrix rows_from_csv(const std::string& csv, std::size_t R, std::size_t F) {
  Matrix X(R, F);
  const char* p = csv.data();
  const char* end = p + csv.size();
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t c = 0; c < F; ++c) {
      const char sep = c + 1 == F ? '\n' : ',';
      auto bad = [&] {
        return DataError("KNN imputer: 'fit_X_csv' row " + std::to_string(r + 1) + " does not have " +
                         std::to_string(F) + " numeric fields");
      };
      if (p < end && *p == sep) {
        X(r, c) = kNaN;
      } else {
        double v = 0;
        auto res = std::from_chars(p, end, v);
        if (res.ec != std::errc() || res.ptr == end || *res.ptr != sep || !std::isfinite(v)) throw bad();
        X(r, c) = v;
        p = res.ptr;
      }
      if (p == end || *p != sep) throw bad();
      ++p;
    }
  if (p != end) throw DataError("KNN imputer: 'fit_X_csv' has more than " + std::to_string(R) + " rows");
  return X;
}
}  // namespace

KnnImputer KnnImputer::from_json(const nlohmann::json& j) {
  try {
    KnnImputer imp(j.at("n_neighbors").get<int>(), j.at("weights").get<std::string>());
    const auto F = j.at("n_features").get<std::size_t>();
    if (F == 0) throw DataError("KNN imputer: 'n_features' must be positive");
    if (j.contains("fit_X_csv")) {
      const auto R = j.at("n_rows").get<std::size_t>();
      if (R == 0) throw DataError("KNN imputer: 'n_rows' must be positive");
      imp.fit(rows_from_csv(j.at("fit_X_csv").get_ref<const std::string&>(), R, F));
      return imp;
    }
    const auto& rows = j.at("fit_X");
    if (!rows.is_array() || rows.empty()) throw DataError("KNN imputer: 'fit_X' must be a non-empty array");
    Matrix X(rows.size(), F);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const auto& row = rows[r];
      if (!row.is_array() || row.size() != F)
        throw DataError("KNN imputer: 'fit_X' row " + std::to_string(r) + " does not have " +
                        std::to_string(F) + " values");
      for (std::size_t c = 0; c < F; ++c) X(r, c) = row[c].is_null() ? kNaN : row[c].get<double>();
    }
    imp.fit(X);
    return imp;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("KNN imputer: malformed JSON: ") + e.what());
  } catch (const UsageError& e) {
    throw DataError(std::string("KNN imputer: bad parameter in JSON: ") + e.what());
  }
}

}  // namespace netsentry
