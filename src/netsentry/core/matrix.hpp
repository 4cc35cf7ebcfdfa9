#pragma once
// Dense row-major matrix of doubles; NaN marks a missing value.
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

namespace netsentry {

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

struct Matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<double> data;

  Matrix() = default;
  Matrix(std::size_t r, std::size_t c, double fill = 0.0) : rows(r), cols(c), data(r * c, fill) {}

  double& operator()(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  double operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
  std::span<double> row(std::size_t r) { return {data.data() + r * cols, cols}; }
  std::span<const double> row(std::size_t r) const { return {data.data() + r * cols, cols}; }

  // The rows at the given indices, in that order.
  Matrix take_rows(std::span<const std::size_t> idx) const {
    Matrix m(idx.size(), cols);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      auto src = row(idx[i]);
      std::copy(src.begin(), src.end(), m.data.begin() + static_cast<std::ptrdiff_t>(i * cols));
    }
    return m;
  }
};

using Labels = std::vector<int>;  // class indices 0 / 1

template <class T>
std::vector<T> take(const std::vector<T>& v, std::span<const std::size_t> idx) {
  std::vector<T> out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(v[i]);
  return out;
}

}  // namespace netsentry
