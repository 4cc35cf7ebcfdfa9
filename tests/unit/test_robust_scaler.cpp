// RobustScaler: properties, and agreement with scikit-learn's RobustScaler (1e-12).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "netsentry/core/error.hpp"
#include "netsentry/transform/robust_scaler.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;

TEST(RobustScaler, MedianIqrNanAndConstantColumns) {
  // Column 0: 1..5 plus a NaN -> median 3, percentiles 2 and 4 -> scale 2.
  // Column 1: constant -> scale 1. Column 2: 4 values -> interpolated percentiles.
  Matrix X(6, 3);
  const double c0[] = {5, 1, kMissing, 3, 2, 4}, c2[] = {0, 10, 20, 40, kMissing, kMissing};
  for (std::size_t r = 0; r < 6; ++r) {
    X(r, 0) = c0[r];
    X(r, 1) = 7;
    X(r, 2) = c2[r];
  }
  RobustScaler s;
  s.fit(X);
  EXPECT_DOUBLE_EQ(s.center()[0], 3);
  EXPECT_DOUBLE_EQ(s.scale()[0], 2);
  EXPECT_DOUBLE_EQ(s.center()[1], 7);
  EXPECT_DOUBLE_EQ(s.scale()[1], 1);
  EXPECT_DOUBLE_EQ(s.center()[2], 15);
  EXPECT_DOUBLE_EQ(s.scale()[2], 25 - 7.5);  // percentiles at ranks 0.75 and 2.25
  auto T = s.transform(X);
  EXPECT_DOUBLE_EQ(T(0, 0), 1.0);
  EXPECT_TRUE(std::isnan(T(2, 0)));
  EXPECT_DOUBLE_EQ(T(0, 1), 0.0);
  EXPECT_THROW(s.transform(Matrix(2, 4)), DataError);
}

TEST(RobustScaler, JsonRoundTripIsExact) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> nd;
  Matrix X(101, 4);
  for (auto& v : X.data) v = nd(rng);
  RobustScaler s;
  s.fit(X);
  auto back = RobustScaler::from_json(nlohmann::json::parse(s.to_json().dump()));
  EXPECT_EQ(back.center(), s.center());
  EXPECT_EQ(back.scale(), s.scale());
  EXPECT_EQ(test::max_abs_diff(back.transform(X), s.transform(X)), 0.0);
  EXPECT_THROW(RobustScaler::from_json(nlohmann::json{{"center", {1.0}}}), DataError);
}

TEST(RobustScaler, MatchesSklearn) {
  // Continuous columns of odd and even non-missing counts, NaN holes, a constant and a nearly
  // constant column, heavy ties; plus the UCI features when present.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(2.0, 3.0);
  std::uniform_real_distribution<double> u(0, 1);
  Matrix train(1001, 6), test(257, 6);
  auto fill = [&](Matrix& m) {
    for (std::size_t r = 0; r < m.rows; ++r) {
      m(r, 0) = nd(rng);
      m(r, 1) = u(rng) < 0.1 ? kMissing : std::exp(nd(rng) / 3);
      m(r, 2) = u(rng) < 0.5 ? kMissing : std::floor(u(rng) * 4);
      m(r, 3) = 5.0;
      m(r, 4) = r % 97 == 0 ? 1.0 : 0.0;
      m(r, 5) = u(rng) < 0.3 ? kMissing : nd(rng) * 1e-3;
    }
  };
  fill(train);
  fill(test);
  test::TempDir dir;
  std::vector<std::string> names{"a", "b", "c", "d", "e", "f"};
  auto check = [&](const Matrix& tr, const Matrix& te, const std::vector<std::string>& nm) {
    test::write_matrix_csv(dir / "train.csv", tr, nm);
    test::write_matrix_csv(dir / "test.csv", te, nm);
    auto ref = test::run_reference("sklearn_reference.py",
                                   {"robust", (dir / "train.csv").string(), (dir / "test.csv").string()});
    RobustScaler s;
    s.fit(tr);
    ASSERT_EQ(ref.at("center").size(), tr.cols);
    double worst = 0;
    for (std::size_t c = 0; c < tr.cols; ++c) {
      EXPECT_NEAR(s.center()[c], ref["center"][c].get<double>(), 1e-12) << nm[c];
      EXPECT_NEAR(s.scale()[c], ref["scale"][c].get<double>(), 1e-12) << nm[c];
    }
    worst = test::max_abs_diff(s.transform(te), test::json_to_matrix(ref.at("transformed")));
    EXPECT_LT(worst, 1e-12);
    std::printf("[ RobustScaler ] %zux%zu: max |d| vs sklearn %s = %.3g\n", tr.rows, tr.cols,
                ref.at("sklearn").get<std::string>().c_str(), worst);
  };
  check(train, test, names);
  if (std::filesystem::exists(test::phishing_csv())) {
    auto uci = test::load_uci();
    std::vector<std::size_t> a, b;
    for (std::size_t r = 0; r < uci.X.rows; ++r) (r % 5 ? a : b).push_back(r);
    check(uci.X.take_rows(a), uci.X.take_rows(b), uci.feature_names);
  }
}
