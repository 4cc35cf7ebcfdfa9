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

// A one-column table keeps its missing values through a write and a read ("" is a missing value, a
// truly empty line is a blank line), and a BOM after leading blank lines is not part of a name.
TEST(Csv, OneColumnMissingValuesAndALateBomSurviveARoundTrip) {
  auto num = parse_csv("x\n1\n\"\"\n3\n", "one.csv");
  ASSERT_EQ(num.rows(), 3u);
  EXPECT_TRUE(std::isnan(num.columns[0].num[1]));
  const std::string written = to_csv(num);
  EXPECT_EQ(written, "x\n1\n\"\"\n3\n");
  auto again = parse_csv(written, "again.csv");
  ASSERT_EQ(again.rows(), 3u);
  EXPECT_TRUE(std::isnan(again.columns[0].num[1]));
  auto text = parse_csv("name\nalpha\n\"\"\nbeta\n", "text.csv");
  ASSERT_EQ(text.rows(), 3u);
  EXPECT_EQ(parse_csv(to_csv(text), "again.csv").rows(), 3u);
  // A blank line is still skipped, in one column as in many.
  EXPECT_EQ(parse_csv("x\n1\n\n3\n", "blank.csv").rows(), 2u);
  for (const char* csv : {"\n\xEF\xBB\xBF"
                          "a,b\n1,2\n",
                          "\r\n\r\n\xEF\xBB\xBF"
                          "a,b\n1,2\n",
                          "\xEF\xBB\xBF"
                          "a,b\n1,2\n"}) {
    auto t = parse_csv(csv, "bom.csv");
    EXPECT_EQ(t.columns[0].name, "a") << csv;
    auto fast = parse_numeric_csv(csv, "bom.csv");
    ASSERT_TRUE(fast.has_value()) << csv;
    EXPECT_EQ(fast->columns[0].name, "a") << csv;
  }
  CsvOptions no_header;
  no_header.header = false;
  no_header.names = {"a", "b"};
  EXPECT_EQ(parse_csv("\n\xEF\xBB\xBF"
                      "1,2\n",
                      "bom.csv", no_header)
                .columns[0]
                .num[0],
            1.0);
  // Only a byte order mark opening the text is one: a quoted first name that starts with U+FEFF keeps
  // it, and the writer quotes such a name so that it reads back (found by fuzz_csv's round trip).
  const auto odd = parse_csv("\n\"\xEF\xBB\xBFx\",y\n1,2\n", "odd.csv");
  EXPECT_EQ(odd.columns[0].name, "\xEF\xBB\xBFx");
  EXPECT_EQ(to_csv(odd), "\"\xEF\xBB\xBFx\",y\n1,2\n");
  EXPECT_EQ(parse_csv(to_csv(odd), "again.csv").columns[0].name, "\xEF\xBB\xBFx");
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

TEST(Csv, WithoutAHeaderRowTheGivenNamesNameTheColumns) {
  CsvOptions o;
  o.header = false;
  o.names = {"n", "proto"};
  auto t = parse_csv("1,tcp\n\n2,na\n", "nohead.csv", o);
  ASSERT_EQ(t.rows(), 2u);
  EXPECT_EQ(t.names(), (std::vector<std::string>{"n", "proto"}));
  EXPECT_EQ(t.columns[0].num[0], 1);
  EXPECT_EQ(t.columns[1].text, (std::vector<std::string>{"tcp", ""}));
  EXPECT_FALSE(parse_numeric_csv("1,2\n3,4\n", "nohead.csv", o));  // the one-pass reader takes a header
  o.names = {"a", "b"};
  EXPECT_EQ(parse_csv("1,2\n3,4\n", "nohead.csv", o).rows(), 2u);
  EXPECT_THROW(parse_csv("", "nohead.csv", o), DataError);
  o.names.clear();
  EXPECT_THROW(parse_csv("1,2\n", "nohead.csv", o), UsageError);
  o.names = {"a", "a"};
  EXPECT_THROW(parse_csv("1,2\n", "nohead.csv", o), UsageError);
}

TEST(Csv, WithoutAHeaderRowARaggedRowNamesFileAndLine) {
  CsvOptions o;
  o.header = false;
  o.names = {"a", "b", "c"};
  o.names_from = "the schema";
  try {
    parse_csv("1,2,3\n4,5,6\n7,8\n", "nohead.csv", o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("nohead.csv: line 3"), std::string::npos) << m;
    EXPECT_NE(m.find("2 fields"), std::string::npos) << m;
    EXPECT_NE(m.find("expected 3"), std::string::npos) << m;
    EXPECT_NE(m.find("the schema"), std::string::npos) << m;
  }
}

TEST(Csv, ReadsTheUciFile) {
  NETSENTRY_NEEDS_UCI();
  auto t = read_csv(test::phishing_csv());
  EXPECT_EQ(t.rows(), 11055u);
  EXPECT_EQ(t.cols(), 31u);
  for (auto& c : t.columns) EXPECT_EQ(c.type, ColumnType::Numeric) << c.name;
}

TEST(Csv, OnePassReaderGivesParseCsvsTableOrNothing) {
  const std::vector<std::string> texts = {"a,b\n1,2\n-1,0.5\n",
                                          "a,b\r\n1,NA\r\n,-0\r\n",
                                          "\xEF\xBB\xBF"
                                          "a\n1\n\n2",
                                          "a,b\n1,x\n",
                                          "a,b\n\"1\",2\n",
                                          "a,b\n1\n",
                                          "a,a\n1,2\n",
                                          "a,b\n",
                                          ""};
  for (const auto& text : texts) {
    SCOPED_TRACE(text);
    const auto fast = parse_numeric_csv(text, "mem.csv");
    if (!fast) continue;  // left to parse_csv
    const Table want = parse_csv(text, "mem.csv");
    EXPECT_EQ(fast->source, want.source);
    EXPECT_EQ(to_csv(*fast), to_csv(want));
    for (std::size_t j = 0; j < want.cols(); ++j) EXPECT_EQ(fast->columns[j].type, want.columns[j].type);
  }
  EXPECT_TRUE(parse_numeric_csv("a,b\n1,2\n", "mem.csv"));
  EXPECT_FALSE(parse_numeric_csv("a,b\n1,x\n", "mem.csv"));
  EXPECT_FALSE(parse_numeric_csv("a;b\n1;2\n", "mem.csv", CsvOptions{';'}));
  // A column name that is not UTF-8 (here two bytes of a byte order mark) is parse_csv's to read, as
  // Latin-1: found by fuzzing the two readers against each other (tests/fuzz/fuzz_numeric_csv.cpp).
  const std::string half_bom = "\xEF\xBB,b\n1,2\n";
  EXPECT_FALSE(parse_numeric_csv(half_bom, "mem.csv"));
  EXPECT_EQ(parse_csv(half_bom, "mem.csv").columns[0].name, "\xC3\xAF\xC2\xBB");
}

TEST(Csv, FieldsAreQuotedOnlyWhenTheyMustBe) {
  TextWriter out(0);
  for (std::string_view f : {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""}) {
    write_csv_field(out, f);
    out.put('|');
  }
  EXPECT_EQ(out.finish(), "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"cr\r\"||");
}
