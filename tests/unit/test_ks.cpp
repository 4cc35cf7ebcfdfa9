// Two-sample KS test: properties, and p-values cross-checked against scipy.stats.ks_2samp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "netsentry/table/csv.hpp"
#include "netsentry/validate/ks.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;

namespace {

std::vector<double> column(const Matrix& m, std::size_t c) {
  std::vector<double> v(m.rows);
  for (std::size_t r = 0; r < m.rows; ++r) v[r] = m(r, c);
  return v;
}

std::vector<double> normals(std::size_t n, double shift, double scale, std::mt19937_64& rng) {
  std::normal_distribution<double> nd(shift, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

}  // namespace

TEST(Ks, EmptyOrAllMissingSampleGivesNoEvidence) {
  std::vector<double> a{1, 2, 3}, none, nans{kMissing, kMissing};
  auto r = ks_2samp(a, none);
  EXPECT_EQ(r.statistic, 0.0);
  EXPECT_EQ(r.p_value, 1.0);
  r = ks_2samp(nans, a);
  EXPECT_EQ(r.statistic, 0.0);
  EXPECT_EQ(r.p_value, 1.0);
}

TEST(Ks, IdenticalSamplesAndDisjointSamples) {
  std::vector<double> a{3, 1, 2, 5, 4}, b{10, 11, 12, 13, 14, 15};
  auto same = ks_2samp(a, a);
  EXPECT_EQ(same.statistic, 0.0);
  EXPECT_EQ(same.p_value, 1.0);
  auto apart = ks_2samp(a, b);
  EXPECT_DOUBLE_EQ(apart.statistic, 1.0);
  EXPECT_LT(apart.p_value, 0.01);
  // Symmetric in its arguments; NaN ignored.
  std::vector<double> b_nan = b;
  b_nan.push_back(kMissing);
  auto swapped = ks_2samp(b_nan, a);
  EXPECT_DOUBLE_EQ(swapped.statistic, apart.statistic);
  EXPECT_NEAR(swapped.p_value, apart.p_value, 1e-15);
}

// The requirement: on the UCI file split 80/20, every column's p-value agrees with scipy.
TEST(Ks, UciSplitMatchesScipy) {
  NETSENTRY_NEEDS_UCI();
  auto t = read_csv(test::phishing_csv());
  auto names = t.names();
  Matrix all = t.to_matrix(names);
  std::vector<std::size_t> idx(all.rows);
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(42);
  std::shuffle(idx.begin(), idx.end(), rng);
  const std::size_t n_train = all.rows * 8 / 10;
  std::vector<std::size_t> tr(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_train));
  std::vector<std::size_t> te(idx.begin() + static_cast<std::ptrdiff_t>(n_train), idx.end());
  Matrix train = all.take_rows(tr), test = all.take_rows(te);

  std::vector<std::vector<double>> tr_cols, te_cols;
  for (std::size_t c = 0; c < all.cols; ++c) {
    tr_cols.push_back(column(train, c));
    te_cols.push_back(column(test, c));
  }
  std::vector<KsResult> ours(all.cols);
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t c = 0; c < all.cols; ++c) ours[c] = ks_2samp(tr_cols[c], te_cols[c]);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  auto batch = ks_2samp_columns(train, test);
  double ms_batch = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("ks_ms_all_columns", std::to_string(ms));
  RecordProperty("ks_ms_batch", std::to_string(ms_batch));  // a figure, not a check: speed is bench/'s
  ASSERT_EQ(batch.size(), all.cols);
  for (std::size_t c = 0; c < all.cols; ++c) {
    EXPECT_EQ(batch[c].statistic, ours[c].statistic) << names[c];
    EXPECT_EQ(batch[c].p_value, ours[c].p_value) << names[c];
  }

  test::TempDir dir;
  test::write_matrix_csv(dir / "train.csv", train, names);
  test::write_matrix_csv(dir / "test.csv", test, names);
  auto ref =
      test::run_reference("ks_reference.py", {(dir / "train.csv").string(), (dir / "test.csv").string()});
  const auto& cols = ref.at("pairs").at(0);
  ASSERT_EQ(cols.size(), all.cols);
  double max_dp = 0, min_p = 1;
  for (std::size_t c = 0; c < all.cols; ++c) {
    const double sp = cols[c].at("pvalue").get<double>(), sd = cols[c].at("statistic").get<double>();
    EXPECT_NEAR(ours[c].statistic, sd, 1e-12) << names[c];
    EXPECT_NEAR(ours[c].p_value, sp, 1e-6) << names[c];
    // Small p-values keep their relative accuracy too.
    if (sp > 1e-300) {
      EXPECT_NEAR(ours[c].p_value / sp, 1.0, 1e-6) << names[c];
    }
    max_dp = std::max(max_dp, std::abs(ours[c].p_value - sp));
    min_p = std::min(min_p, sp);
  }
  RecordProperty("ks_max_abs_dp", std::to_string(max_dp));
  std::printf(
      "[ KS ] UCI 80/20: %zu columns in %.2f ms (%.2f ms threaded), max |dp| vs scipy %s = %.3g (min p "
      "%.3g)\n",
      all.cols, ms, ms_batch, ref.at("scipy").get<std::string>().c_str(), max_dp, min_p);
}

// Every branch: exact (equal and unequal sizes, ties), and the asymptotic mode scipy switches to
// above 10000 observations (one-sample Kolmogorov distribution at n = round(mn/(m+n)): Durbin matrix,
// Pelz-Good, Smirnov tail, small-n cases).
TEST(Ks, SyntheticCasesMatchScipy) {
  std::mt19937_64 rng(7);
  struct Case {
    std::vector<double> a, b;
  };
  std::vector<Case> cases;
  cases.push_back({normals(300, 0, 1, rng), normals(300, 0.1, 1, rng)});     // equal sizes
  cases.push_back({normals(500, 0, 1, rng), normals(500, 0.4, 1, rng)});     // equal, small p
  cases.push_back({normals(700, 0, 1, rng), normals(333, 0.05, 1, rng)});    // unequal, coprime-ish
  cases.push_back({normals(9000, 0, 1, rng), normals(2500, 0.02, 1, rng)});  // large exact
  cases.push_back({normals(4000, 0, 1, rng), normals(1000, 0.3, 1, rng)});   // exact, tiny p
  {
    std::uniform_int_distribution<int> u(-1, 1);  // heavy ties, like the UCI features
    Case c;
    for (int i = 0; i < 3000; ++i) c.a.push_back(u(rng));
    for (int i = 0; i < 800; ++i) c.b.push_back(u(rng) + (i % 50 == 0 ? 1 : 0));
    cases.push_back(c);
  }
  cases.push_back({normals(12000, 0, 1, rng), normals(3000, 0.0, 1, rng)});    // asymptotic, p ~ U(0,1)
  cases.push_back({normals(12000, 0, 1, rng), normals(3000, 0.03, 1, rng)});   // asymptotic
  cases.push_back({normals(12000, 0, 1, rng), normals(3000, 0.1, 1, rng)});    // asymptotic, Smirnov tail
  cases.push_back({normals(20000, 0, 1, rng), normals(20000, 0.01, 1, rng)});  // asymptotic, n = 10000
  cases.push_back({normals(10001, 0, 1, rng), normals(40, 0.2, 1, rng)});      // asymptotic, n <= 140
  cases.push_back({normals(10001, 0, 1, rng), normals(100, 0.5, 1, rng)});     // asymptotic, n <= 140
  cases.push_back({normals(10001, 0, 1, rng), normals(8, 3.0, 1, rng)});       // x >= 0.5
  {
    // Durbin-matrix region of the asymptotic mode: nearly identical large samples.
    auto a = normals(30000, 0, 1, rng);
    std::vector<double> b(a.begin(), a.begin() + 15000);
    cases.push_back({a, b});
  }

  test::TempDir dir;
  std::vector<std::string> args;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string stem = std::to_string(i) + ".csv";
    auto pa = dir / ("a_" + stem), pb = dir / ("b_" + stem);
    test::write_matrix_csv(pa, test::column_matrix(cases[i].a), {"x"});
    test::write_matrix_csv(pb, test::column_matrix(cases[i].b), {"x"});
    args.push_back(pa.string());
    args.push_back(pb.string());
  }
  auto ref = test::run_reference("ks_reference.py", args);
  ASSERT_EQ(ref.at("pairs").size(), cases.size());
  double max_dp = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& r = ref.at("pairs").at(i).at(0);
    auto ours = ks_2samp(cases[i].a, cases[i].b);
    const double sp = r.at("pvalue").get<double>();
    EXPECT_NEAR(ours.statistic, r.at("statistic").get<double>(), 1e-12) << "case " << i;
    EXPECT_NEAR(ours.p_value, sp, 1e-6)
        << "case " << i << " n=" << cases[i].a.size() << "/" << cases[i].b.size() << " D=" << ours.statistic;
    max_dp = std::max(max_dp, std::abs(ours.p_value - sp));
  }
  std::printf("[ KS ] %zu synthetic cases: max |dp| vs scipy = %.3g\n", cases.size(), max_dp);
}
