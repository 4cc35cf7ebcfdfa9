#include <gtest/gtest.h>

#include <cmath>

#include "netsentry/core/error.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"

using namespace netsentry;

TEST(Csv, ParsesTypesMissingAndQuotes) {
  auto t = parse_csv("a,b,c\n1,x,na\n2.5,\"y,z\",\n-3,\"q\"\"\",NaN\n", "mem.csv");
  ASSERT_EQ(t.rows(), 3u);
  ASSERT_EQ(t.cols(), 3u);
  EXPECT_EQ(t.columns[0].type, ColumnType::Numeric);
  EXPECT_DOUBLE_EQ(t.columns[0].num[1], 2.5);
  EXPECT_EQ(t.columns[1].type, ColumnType::Text);
  EXPECT_EQ(t.columns[1].text[1], "y,z");
  EXPECT_EQ(t.columns[1].text[2], "q\"");
  EXPECT_EQ(t.columns[2].type, ColumnType::Numeric);
  EXPECT_EQ(t.columns[2].missing_count(), 3u);
}

TEST(Csv, RoundTripsThroughText) {
  auto t = parse_csv("a,b\n1,hello\n0.1,\"x,y\"\n,z\n", "mem.csv");
  auto again = parse_csv(to_csv(t), "again.csv");
  EXPECT_EQ(to_csv(again), to_csv(t));
  EXPECT_TRUE(std::isnan(again.columns[0].num[2]));
}

TEST(Csv, RaggedRowNamesLineAndCounts) {
  try {
    parse_csv("a,b,c\n1,2,3\n4,5\n", "bad.csv");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad.csv"), std::string::npos) << m;
    EXPECT_NE(m.find("line 3"), std::string::npos) << m;
    EXPECT_NE(m.find("2 fields"), std::string::npos) << m;
  }
}

TEST(Csv, EmptyInputAndDuplicateHeaderAreErrors) {
  EXPECT_THROW(parse_csv("", "empty.csv"), DataError);
  EXPECT_THROW(parse_csv("\n\n", "blank.csv"), DataError);
  EXPECT_THROW(parse_csv("a,a\n1,2\n", "dup.csv"), DataError);
  EXPECT_THROW(read_csv("/nonexistent/file.csv"), DataError);
}

TEST(Csv, ReadsTheUciFile) {
  NETSENTRY_NEEDS_UCI();
  auto t = read_csv(test::phishing_csv());
  EXPECT_EQ(t.rows(), 11055u);
  EXPECT_EQ(t.cols(), 31u);
  for (auto& c : t.columns) EXPECT_EQ(c.type, ColumnType::Numeric) << c.name;
}
