// SMOTE: counts, originals kept, geometry of the synthetic points (checked against a brute-force
// neighbour search, independent of the KD-tree), determinism and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "netsentry/core/error.hpp"
#include "netsentry/transform/smote.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;

namespace {

double dist2(std::span<const double> a, std::span<const double> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// Two Gaussian blobs, rows in random order; class 1 is the minority.
void blobs(std::size_t n_major, std::size_t n_minor, std::size_t dims, std::uint64_t seed, Matrix& X,
           Labels& y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  y.assign(n_major, 0);
  y.insert(y.end(), n_minor, 1);
  std::shuffle(y.begin(), y.end(), rng);
  X = Matrix(y.size(), dims);
  for (std::size_t r = 0; r < X.rows; ++r)
    for (std::size_t c = 0; c < dims; ++c) X(r, c) = nd(rng) + (y[r] ? 1.5 : 0.0);
}

// For every synthetic row s, is there a minority row a and one of a's k nearest minority neighbours b
// (brute force; ties allowed) with s = a + g (b - a), 0 <= g <= 1? Returns how many rows fail.
std::size_t rows_off_segments(const Matrix& X, const Labels& y, const Resampled& out, int k) {
  std::vector<std::size_t> minor;
  for (std::size_t r = 0; r < y.size(); ++r)
    if (y[r] == 1) minor.push_back(r);
  // kth-nearest squared distance of every minority row, among the other minority rows.
  std::vector<double> kth(minor.size());
  for (std::size_t i = 0; i < minor.size(); ++i) {
    std::vector<double> d;
    for (std::size_t j = 0; j < minor.size(); ++j)
      if (j != i) d.push_back(dist2(X.row(minor[i]), X.row(minor[j])));
    std::nth_element(d.begin(), d.begin() + (k - 1), d.end());
    kth[i] = d[static_cast<std::size_t>(k - 1)];
  }
  std::size_t bad = 0;
  for (std::size_t s = X.rows; s < out.X.rows; ++s) {
    auto p = out.X.row(s);
    bool ok = false;
    for (std::size_t i = 0; i < minor.size() && !ok; ++i) {
      auto a = X.row(minor[i]);
      for (std::size_t j = 0; j < minor.size() && !ok; ++j) {
        if (j == i) continue;
        auto b = X.row(minor[j]);
        const double dab = dist2(a, b);
        if (dab > kth[i] * (1 + 1e-12) || dab == 0) continue;
        double g = 0;
        for (std::size_t c = 0; c < a.size(); ++c) g += (p[c] - a[c]) * (b[c] - a[c]);
        g /= dab;
        if (g < -1e-12 || g > 1 + 1e-12) continue;
        double res = 0;
        for (std::size_t c = 0; c < a.size(); ++c)
          res = std::max(res, std::abs(a[c] + g * (b[c] - a[c]) - p[c]));
        ok = res < 1e-9;
      }
    }
    if (!ok) ++bad;
  }
  return bad;
}

}  // namespace

TEST(Smote, CountsOriginalsAndGeometry) {
  Matrix X;
  Labels y;
  blobs(600, 150, 4, 1, X, y);
  ASSERT_EQ(std::count(y.begin(), y.end(), 1), 150);
  for (int k : {5, 1}) {
    auto out = smote(X, y, k, 42);
    ASSERT_EQ(out.X.rows, 2 * 600u);
    ASSERT_EQ(out.y.size(), out.X.rows);
    EXPECT_EQ(std::count(out.y.begin(), out.y.end(), 0), 600);
    EXPECT_EQ(std::count(out.y.begin(), out.y.end(), 1), 600);
    // Originals first and unchanged, synthetic rows labelled with the minority class.
    EXPECT_TRUE(std::equal(X.data.begin(), X.data.end(), out.X.data.begin()));
    EXPECT_TRUE(std::equal(y.begin(), y.end(), out.y.begin()));
    EXPECT_TRUE(
        std::all_of(out.y.begin() + static_cast<long>(y.size()), out.y.end(), [](int v) { return v == 1; }));
    EXPECT_EQ(rows_off_segments(X, y, out, k), 0u) << "k=" << k;
  }
}

TEST(Smote, CheckRejectsPointsOffTheSegments) {
  // The geometric check is not vacuous: a point moved off its segment, or interpolated towards a
  // neighbour that is not among the k nearest, is reported.
  Matrix X;
  Labels y;
  blobs(300, 80, 3, 2, X, y);
  auto out = smote(X, y, 1, 7);
  ASSERT_EQ(rows_off_segments(X, y, out, 1), 0u);
  auto moved = out;
  moved.X(X.rows, 0) += 0.05;
  EXPECT_EQ(rows_off_segments(X, y, moved, 1), 1u);
  auto wide = smote(X, y, 10, 7);
  EXPECT_GT(rows_off_segments(X, y, wide, 1), 0u);  // k=10 picks beyond the nearest neighbour
}

TEST(Smote, DeterministicPerSeed) {
  Matrix X;
  Labels y;
  blobs(200, 50, 3, 3, X, y);
  auto a = smote(X, y, 5, 123), b = smote(X, y, 5, 123), c = smote(X, y, 5, 124);
  EXPECT_EQ(a.X.data, b.X.data);
  EXPECT_EQ(a.y, b.y);
  EXPECT_NE(a.X.data, c.X.data);
}

TEST(Smote, BalancedInputAndTwoMinoritySamples) {
  Matrix X(4, 2);
  for (std::size_t i = 0; i < 8; ++i) X.data[i] = static_cast<double>(i);
  Labels y{0, 1, 0, 1};
  auto same = smote(X, y, 5, 1);
  EXPECT_EQ(same.X.data, X.data);
  EXPECT_EQ(same.y, y);
  // Two minority rows among five: k is capped at 1, synthetic rows lie between the two.
  Matrix Z(5, 2);
  const double v[5][2] = {{0, 0}, {1, 1}, {2, 0}, {10, 10}, {12, 14}};
  for (std::size_t r = 0; r < 5; ++r) Z(r, 0) = v[r][0], Z(r, 1) = v[r][1];
  Labels yz{0, 0, 0, 1, 1};
  auto out = smote(Z, yz, 5, 9);
  ASSERT_EQ(out.X.rows, 6u);
  const double g = (out.X(5, 0) - 10) / 2;
  EXPECT_GE(g, 0.0);
  EXPECT_LE(g, 1.0);
  EXPECT_NEAR(out.X(5, 1), 10 + 4 * g, 1e-12);
}

TEST(Smote, Errors) {
  Matrix X(6, 2, 1.0);
  Labels y{0, 0, 0, 0, 1, 1};
  X(2, 1) = kMissing;
  EXPECT_THROW(smote(X, y, 3, 1), DataError);
  X(2, 1) = 1.0;
  EXPECT_THROW(smote(X, Labels(6, 0), 3, 1), DataError);              // single class
  EXPECT_THROW(smote(X, Labels{0, 0, 0, 0, 0, 1}, 3, 1), DataError);  // one minority sample
  EXPECT_THROW(smote(X, Labels{0, 1}, 3, 1), DataError);              // labels do not match rows
  try {
    smote(X, Labels{0, 0, 0, 0, 0, 1}, 3, 1);
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("class 1"), std::string::npos) << e.what();
  }
}

TEST(Smote, UciBalancesTheClasses) {
  NETSENTRY_NEEDS_UCI();
  auto uci = test::load_uci();
  const auto n1 = static_cast<std::size_t>(std::count(uci.y.begin(), uci.y.end(), 1));
  const std::size_t majority = std::max(n1, uci.y.size() - n1);
  auto out = smote(uci.X, uci.y, 5, 42);
  ASSERT_EQ(out.X.rows, 2 * majority);
  EXPECT_TRUE(std::equal(uci.X.data.begin(), uci.X.data.end(), out.X.data.begin()));
  EXPECT_EQ(static_cast<std::size_t>(std::count(out.y.begin(), out.y.end(), 1)), majority);
  // Synthetic values stay inside the features' range [-1, 1].
  EXPECT_TRUE(std::all_of(out.X.data.begin(), out.X.data.end(), [](double v) { return v >= -1 && v <= 1; }));
}
