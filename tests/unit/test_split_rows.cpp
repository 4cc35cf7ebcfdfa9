// The rows of a split keep naming the user's file and data row in messages (Table::origin,
// Table::row_label): labels, the schema check and the feature matrix.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "netsentry/schema/check.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"
#include "support/error_text.hpp"

namespace netsentry {
namespace {

using test::error_of;

Table table(const std::string& csv) { return parse_csv(csv, "flows.csv"); }

TEST(SplitRows, MessagesNameTheUsersFileAndDataRow) {
  // Data rows 1..5 of flows.csv; the split holds data rows 5, 2 and 4 (0-based 4, 1, 3).
  const Table all = table("x,y,Result\n1,a,1\n2,b,-1\n3,c,1\n4,d,7\n5,e,oops\n");
  const Table split = all.take_rows({4, 1, 3});
  EXPECT_EQ(split.source, "flows.csv");
  EXPECT_EQ(split.origin, (std::vector<std::size_t>{4, 1, 3}));
  EXPECT_EQ(split.row_label(0), "data row 5 (line 6)");
  EXPECT_EQ(split.take_rows({2}).row_label(0), "data row 4 (line 5)");  // a split of a split
  LabelSpec spec;
  spec.mapping = {{"-1", 0}, {"1", 1}};
  const LabelSpace classes = LabelSpace::derive(spec, all.take_rows({0, 1}), "Result");
  auto err = error_of([&] { (void)classes.labels(split, "Result"); });
  EXPECT_NE(err.find("flows.csv: data row 5 (line 6), column 'Result': value 'oops'"), std::string::npos)
      << err;
  err = error_of([&] { (void)classes.labels(split.take_rows({1, 2}), "Result"); });
  EXPECT_NE(err.find("flows.csv: data row 4 (line 5), column 'Result': value '7'"), std::string::npos) << err;
  err = error_of([&] { split.to_matrix({"x", "y"}); });
  EXPECT_NE(err.find("flows.csv: column 'y' is not numeric: data row 5 (line 6) has 'e'"), std::string::npos)
      << err;
  // A blank line or a record over several lines: the data row alone (its line is no longer N + 1).
  const Table gaps = table("x,Result\n1,1\n\n2,bad\n");
  EXPECT_EQ(gaps.row_label(1), "data row 2");
  // A source without lines (a database table): the data row alone.
  Table db = all;
  db.source = "sqlite:flows.db?table=flows";
  db.lines_before.reset();
  EXPECT_EQ(db.take_rows({3}).row_label(0), "data row 4");
}

TEST(SplitRows, SchemaCheckNamesTheUsersRow) {
  Schema schema = Schema::from_yaml_text("columns:\n  - x: int64\n  - Result: int64\n", "s.yaml");
  const Table all = table("x,Result\n1,1\n2,-1\nthree,1\n4,-1\n");
  const auto problems = check_against_schema(all.take_rows({3, 2}), schema);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "flows.csv: column 'x' must be numeric, data row 3 (line 4) has 'three'");
}

}  // namespace
}  // namespace netsentry
