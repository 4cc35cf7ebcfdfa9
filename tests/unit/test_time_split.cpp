// The time split (ISO-8601 and numeric time values, the latest rows test, stable on ties) and its
// configuration checks.
#include <gtest/gtest.h>

#include <ctime>
#include <functional>

#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/ingest/split.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/table/time_text.hpp"
#include "support/error_text.hpp"

namespace netsentry {
namespace {

using json = nlohmann::json;

// timegm of a broken-down UTC time: the C library's answer, independent of parse_iso8601.
double utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<double>(timegm(&tm));
}

using test::error_of;

TEST(TimeText, Iso8601DatesAndTimesAreSecondsSinceTheEpoch) {
  EXPECT_EQ(parse_iso8601("1970-01-01"), 0.0);
  EXPECT_EQ(parse_iso8601("2024-02-29"), utc(2024, 2, 29));
  EXPECT_EQ(parse_iso8601("2024-05-01T13:45"), utc(2024, 5, 1, 13, 45));
  EXPECT_EQ(parse_iso8601("2024-05-01 13:45:07"), utc(2024, 5, 1, 13, 45, 7));
  EXPECT_EQ(parse_iso8601("2024-05-01t13:45:07z"), utc(2024, 5, 1, 13, 45, 7));
  EXPECT_EQ(parse_iso8601("  2024-05-01T13:45:07Z "), utc(2024, 5, 1, 13, 45, 7));
  EXPECT_EQ(parse_iso8601("2024-05-01T13:45:07+02:00"), utc(2024, 5, 1, 11, 45, 7));
  EXPECT_EQ(parse_iso8601("2024-05-01T13:45:07+0200"), utc(2024, 5, 1, 11, 45, 7));
  EXPECT_EQ(parse_iso8601("2024-05-01T13:45:07-05"), utc(2024, 5, 1, 18, 45, 7));
  EXPECT_EQ(parse_iso8601("1969-12-31T23:59:59Z"), -1.0);
  EXPECT_DOUBLE_EQ(*parse_iso8601("2024-05-01T13:45:07.25Z"), utc(2024, 5, 1, 13, 45, 7) + 0.25);
  EXPECT_DOUBLE_EQ(*parse_iso8601("2024-05-01T13:45:07,5"), utc(2024, 5, 1, 13, 45, 7) + 0.5);
  for (const char* bad : {"", "2024", "2024-5-1", "2023-02-29", "2024-13-01", "2024-04-31",
                          "2024-05-01T25:00", "2024-05-01T12:60", "2024-05-01T12", "2024-05-01X12:00",
                          "2024-05-01T12:00:00+", "2024-05-01T12:00:00+02:", "2024-05-01T12:00:00Zjunk",
                          "2024-05-01T12:00:00.", "yesterday", "1714571107"})
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
}

Table table(const std::string& csv) { return parse_csv(csv, "flows.csv"); }

TEST(TimeText, ColumnValuesAreNumbersOrIsoTextAndBadOnesNameTheRow) {
  EXPECT_EQ(time_values(table("t,x\n3,0\n1.5,1\n"), "t"), (std::vector<double>{3, 1.5}));
  EXPECT_EQ(time_values(table("t,x\n2024-01-02,0\n2024-01-01T12:00:00Z,1\n"), "t"),
            (std::vector<double>{utc(2024, 1, 2), utc(2024, 1, 1, 12)}));
  auto err = error_of([] { time_values(table("t,x\n2024-01-02,0\n2024-01-03,1\nnot a date,0\n"), "t"); });
  EXPECT_NE(err.find("flows.csv: data row 3 (line 4), column 't'"), std::string::npos) << err;
  EXPECT_NE(err.find("'not a date'"), std::string::npos) << err;
  err = error_of([] { time_values(table("t,x\n5,0\n,1\n"), "t"); });
  EXPECT_NE(err.find("flows.csv: data row 2 (line 3), column 't'"), std::string::npos) << err;
  EXPECT_NE(err.find("missing time value"), std::string::npos) << err;
  err = error_of([] { time_values(table("t,x\n1,0\n"), "when"); });
  EXPECT_NE(err.find("flows.csv: time column 'when' is missing"), std::string::npos) << err;
}

TEST(TimeSplit, TheLatestShareTestsAndTiesKeepTheirOrder) {
  // Rows 0..9 at times 5,1,5,0,9,9,2,7,7,3: sorted (stable) 3,1,6,9,0,2,7,8,4,5.
  const std::vector<double> times = {5, 1, 5, 0, 9, 9, 2, 7, 7, 3};
  auto s = time_split(times, 0.3);
  EXPECT_EQ(s.train, (std::vector<std::size_t>{3, 1, 6, 9, 0, 2, 7}));
  EXPECT_EQ(s.test, (std::vector<std::size_t>{8, 4, 5}));
  s = time_split(times, 0.35);  // round(3.5) = 4: the tie 7, 8 at time 7 split in file order
  EXPECT_EQ(s.test, (std::vector<std::size_t>{7, 8, 4, 5}));
  s = time_split(times, 0.01);  // at least one row tests
  EXPECT_EQ(s.test, (std::vector<std::size_t>{5}));
  EXPECT_EQ(time_split(times, 0.99).train.size(), 1u);  // and at least one trains
}

TEST(TimeSplit, ConfigurationErrorsNameTheKey) {
  const json families = {{"logistic_regression", json::object()}};
  auto config_error = [&](json ingestion) {
    return error_of([&] {
      PipelineConfig::from_json({{"ingestion", ingestion}, {"model_trainer", {{"families", families}}}},
                                "p.yaml");
    });
  };
  EXPECT_NE(config_error({{"split", "time"}}).find("ingestion.time_column"), std::string::npos);
  EXPECT_NE(config_error({{"time_column", "ts"}})
                .find("ingestion.time_column is only used by ingestion.split: time"),
            std::string::npos);
  EXPECT_NE(
      config_error({{"split", "latest"}}).find("ingestion.split must be random, duplicate_aware or time"),
      std::string::npos);
  EXPECT_NE(config_error({{"split", "time"}, {"time_column", "Result"}})
                .find("ingestion.time_column cannot be the target column 'Result'"),
            std::string::npos);
  EXPECT_NE(config_error({{"split", "time"}, {"time_column", "_id"}}).find("is in data.drop_columns"),
            std::string::npos);
  for (double r : {0.0, 1.0, 1.5})
    EXPECT_NE(config_error({{"split", "time"}, {"time_column", "ts"}, {"test_ratio", r}})
                  .find("ingestion.test_ratio must be a number in (0, 1)"),
              std::string::npos)
        << r;
  const auto ok = PipelineConfig::from_json({{"data", {{"test_source", "later.csv"}}},
                                             {"ingestion", {{"split", "time"}, {"time_column", "ts"}}},
                                             {"model_trainer", {{"families", families}}}},
                                            "p.yaml");
  EXPECT_EQ(ok.data.test_source, "later.csv");
  EXPECT_EQ(ok.ingestion.time_column, "ts");
  EXPECT_EQ(ok.ingestion.feature_store_file, "");  // named after the source
}

}  // namespace
}  // namespace netsentry
