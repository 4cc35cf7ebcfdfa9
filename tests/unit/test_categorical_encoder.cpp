// CategoricalEncoder: codes in sorted order with "other", unseen values missing and counted, the
// saved form, and a numeric feature's bad cell named by its own row.
#include <gtest/gtest.h>

#include <cmath>

#include "netsentry/core/error.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/transform/categorical_encoder.hpp"
#include "support/error_text.hpp"

using namespace netsentry;

TEST(CategoricalEncoder, SortedCodesRareOnesShareOtherAndUnseenOnesAreMissing) {
  const Table train =
      parse_csv("proto,bytes\ntcp,1\nudp,2\ntcp,3\nicmp,4\ntcp,5\nudp,6\ngre,7\n", "train.csv");
  CategoricalEncoder e;
  e.fit(train, {"proto", "bytes"}, {"proto"}, {8, 2});  // gre and icmp: once each, below 2
  EXPECT_EQ(e.categories(0), (std::vector<std::string>{"tcp", "udp", CategoricalEncoder::kOther}));
  EXPECT_EQ(e.cardinality(), (std::vector<int>{3, 0}));
  const Table test = parse_csv("proto,bytes\nudp,1\ngre,2\nsctp,3\n,4\n", "test.csv");
  UnseenCategories unseen;
  const Matrix X = e.encode(test, &unseen);
  EXPECT_EQ(X(0, 0), 1.0);
  EXPECT_EQ(X(1, 0), 2.0);           // a rare training category: other
  EXPECT_TRUE(std::isnan(X(2, 0)));  // never seen
  EXPECT_TRUE(std::isnan(X(3, 0)));  // missing (not counted as unseen)
  EXPECT_EQ(X(2, 1), 3.0);
  EXPECT_EQ(unseen.total, 1u);
  EXPECT_EQ(unseen.describe(), "proto: 1");
  // The saved form gives the same codes.
  const auto back = CategoricalEncoder::from_json(e.to_json());
  const Matrix Y = back.encode(test);
  for (std::size_t k = 0; k < X.data.size(); ++k)
    EXPECT_TRUE(X.data[k] == Y.data[k] || (std::isnan(X.data[k]) && std::isnan(Y.data[k]))) << k;
  // max_categories counts "other": 2 leaves the most frequent category and other.
  CategoricalEncoder two;
  two.fit(train, {"proto", "bytes"}, {"proto"}, {2, 1});
  EXPECT_EQ(two.categories(0), (std::vector<std::string>{"tcp", CategoricalEncoder::kOther}));
  EXPECT_THROW(two.fit(train, {"proto"}, {"proto"}, {1, 1}), UsageError);
}

TEST(CategoricalEncoder, ANumericFeaturesBadCellIsNamedByItsOwnRow) {
  // "bytes" is read as text because of one cell: the numbers are taken, the bad cell is named.
  const Table train = parse_csv("proto,bytes\ntcp,1\nudp,2\n", "train.csv");
  CategoricalEncoder e;
  e.fit(train, {"proto", "bytes"}, {"proto"});
  const Table bad = parse_csv("proto,bytes\ntcp,1\nudp,0\ntcp,\nudp,abc\n", "new.csv");
  const std::string err = test::error_of([&] { (void)e.encode(bad); });
  EXPECT_NE(err.find("new.csv: data row 4 (line 5), column 'bytes': expected a number, got 'abc'"),
            std::string::npos)
      << err;
  const Table good = parse_csv("proto,bytes\ntcp,1\nudp,0\ntcp,\n", "new.csv");
  const Matrix X = e.encode(good);
  EXPECT_EQ(X(1, 1), 0.0);
  EXPECT_TRUE(std::isnan(X(2, 1)));
}
