#include <gtest/gtest.h>

#include <set>

#include "netsentry/ingest/split.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"

using namespace netsentry;

namespace {
std::vector<double> row_of(const Matrix& X, std::size_t i) { return {X.row(i).begin(), X.row(i).end()}; }
}  // namespace

TEST(Split, StratifiedKeepsClassSharesAndIsSeeded) {
  Labels y;
  for (int i = 0; i < 1000; ++i) y.push_back(i % 4 == 0);
  auto s = stratified_split(y, 0.2, 1);
  EXPECT_EQ(s.test.size(), 200u);
  EXPECT_EQ(s.train.size(), 800u);
  double pos = 0;
  for (auto i : s.test) pos += y[i];
  EXPECT_DOUBLE_EQ(pos / 200.0, 0.25);
  std::set<std::size_t> all(s.train.begin(), s.train.end());
  all.insert(s.test.begin(), s.test.end());
  EXPECT_EQ(all.size(), 1000u);
  EXPECT_EQ(stratified_split(y, 0.2, 1).test, s.test);
  EXPECT_NE(stratified_split(y, 0.2, 2).test, s.test);
}

TEST(Split, DuplicateAwareKeepsCopiesOnOneSideOfTheUciSplit) {
  NETSENTRY_NEEDS_UCI();
  Table t = read_csv(test::phishing_csv());
  Labels y = LabelSpace::derive({}, t, "Result").labels(t, "Result");
  std::vector<std::string> f;
  for (auto& n : t.names())
    if (n != "Result") f.push_back(n);
  Matrix X = t.to_matrix(f);
  EXPECT_EQ(count_duplicate_rows(X, y), 5206u);

  auto random = stratified_split(y, 0.2, 42);
  std::set<std::vector<double>> train_rows;
  for (auto i : random.train) train_rows.insert(row_of(X, i));
  std::size_t leaked = 0;
  for (auto i : random.test) leaked += train_rows.count(row_of(X, i));
  EXPECT_GT(leaked, 500u);  // a random split puts many copies of training rows into the test set

  auto aware = duplicate_aware_split(X, y, 0.2, 42);
  train_rows.clear();
  for (auto i : aware.train) train_rows.insert(row_of(X, i));
  for (auto i : aware.test)
    EXPECT_FALSE(train_rows.count(row_of(X, i))) << "row " << i << " is on both sides";
  EXPECT_NEAR(static_cast<double>(aware.test.size()) / static_cast<double>(y.size()), 0.2, 0.01);
}
