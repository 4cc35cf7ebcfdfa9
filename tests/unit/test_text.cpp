// Text helpers (core/text.hpp): UTF-8 validation, Latin-1 to UTF-8, values quoted for messages; the
// CSV reader reads bytes that are not UTF-8 as Latin-1.
#include <gtest/gtest.h>

#include "netsentry/core/text.hpp"
#include "netsentry/table/csv.hpp"

using namespace netsentry;

TEST(Text, Utf8IsValidatedStrictly) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x92"));  // é, €, a 4-byte emoji
  EXPECT_FALSE(valid_utf8("\xFF\xFE"));
  EXPECT_FALSE(valid_utf8("caf\xE9"));           // Latin-1 é
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // an overlong '/'
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xE2\x82"));          // cut short
}

TEST(Text, Latin1BecomesUtf8) {
  EXPECT_EQ(latin1_to_utf8("caf\xE9"), "caf\xC3\xA9");
  EXPECT_EQ(latin1_to_utf8("\xFF\xFE"), "\xC3\xBF\xC3\xBE");
  EXPECT_EQ(latin1_to_utf8("ascii"), "ascii");
  EXPECT_TRUE(valid_utf8(latin1_to_utf8(std::string("\x80\x9F\xA0\xFF", 4))));
}

TEST(Text, ValuesAreQuotedEscapedAndCutShort) {
  EXPECT_EQ(quote_value("abc"), "'abc'");
  EXPECT_EQ(quote_value("a\nb\tc\r"), "'a\\nb\\tc\\r'");
  EXPECT_EQ(quote_value("it's \\"), "'it\\'s \\\\'");
  EXPECT_EQ(quote_value("\xFF\x01z"), "'\\xFF\\x01z'");
  EXPECT_EQ(quote_value("caf\xC3\xA9"), "'caf\xC3\xA9'");  // UTF-8 stays as it is
  const std::string big(1 << 20, 'x');
  EXPECT_EQ(quote_value(big), "'" + std::string(40, 'x') + "...' (1048576 bytes)");
  // A character cut by the limit is escaped, never split into invalid UTF-8.
  EXPECT_TRUE(valid_utf8(quote_value(std::string(39, 'a') + "\xC3\xA9", 40)));
}

TEST(Text, CsvBytesThatAreNotUtf8AreReadAsLatin1) {
  const Table t = parse_csv("na\xEFme,v\ncaf\xE9,1\nok,2\n", "latin1.csv", {});
  EXPECT_EQ(t.columns[0].name, "na\xC3\xAFme");
  EXPECT_EQ(t.columns[0].text[0], "caf\xC3\xA9");
  EXPECT_EQ(t.columns[0].text[1], "ok");
  EXPECT_EQ(t.columns[1].num[1], 2.0);
}

// A text column that should be numeric is reported at its first cell that is not a number, not at
// its first non-empty cell.
TEST(Text, ANonNumericColumnIsReportedAtItsFirstBadCell) {
  const Table t = parse_csv("a,b\n,1\n1,2\n2.5,3\nabc,4\n", "cells.csv", {});
  try {
    (void)t.to_matrix({"a", "b"});
    ADD_FAILURE() << "text in a numeric column";
  } catch (const std::exception& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("has 'abc'"), std::string::npos) << m;
    EXPECT_NE(m.find("row 4"), std::string::npos) << m;
  }
}
