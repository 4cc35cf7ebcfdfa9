// Values outside the schema's domains: counted per split and column into the drift report, a
// warning by default, a failure with validation.fail_on_domain.
#include <gtest/gtest.h>

#include <memory>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/schema/domain_check.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/validate/validation.hpp"
#include "support/paths.hpp"

namespace netsentry {
namespace {

using json = nlohmann::json;

TEST(ValidationDomain, CheckCountsUnknownCategoriesOutOfRangeValuesAndMissingShare) {
  const auto schema = Schema::from_yaml_text(
      "columns:\n  - proto: object\n  - bytes: float64\n  - y: int64\n"
      "domains:\n"
      "  proto: {values: [icmp, tcp, udp], missing_ratio: 0}\n"
      "  bytes: {min: 0, max: 100, missing_ratio: 0.5}\n",
      "s.yaml");
  // A later period: two new protocols (one of them twice), a missing one, values out of range.
  const auto t = parse_csv(
      "proto,bytes,y\n"
      "tcp,5,0\n"
      "sctp,-1,1\n"
      "gre,100,1\n"
      ",250,0\n"
      "sctp,101,1\n"
      "udp,,0\n",
      "later.csv");
  const auto f = check_domains(t, schema);
  ASSERT_EQ(f.size(), 2u);  // y has no domain
  const DomainFinding& proto = f[0];
  EXPECT_EQ(proto.column, "proto");
  EXPECT_EQ(proto.rows, 6u);
  EXPECT_EQ(proto.unknown_values, 3u);
  EXPECT_EQ(proto.examples, (std::vector<std::string>{"sctp", "gre"}));
  EXPECT_TRUE(proto.missing_above());  // 1 of 6 missing, the domain says none
  const DomainFinding& bytes = f[1];
  EXPECT_EQ(bytes.below_min, 1u);
  EXPECT_EQ(bytes.above_max, 2u);
  EXPECT_EQ(bytes.out_of_domain(), 3u);
  EXPECT_EQ(bytes.examples, (std::vector<std::string>{"-1", "250", "101"}));
  EXPECT_FALSE(bytes.missing_above());  // 1 of 6 <= 0.5
  const auto m = proto.describe("later.csv");
  EXPECT_NE(m.find("later.csv: column 'proto': 3 of 6 values"), std::string::npos) << m;
  EXPECT_NE(m.find("'sctp'"), std::string::npos) << m;
  EXPECT_EQ(proto.to_json()["out_of_domain"], 3);
}

// A split pair in memory, as ingestion hands it to validation: `code` is a categorical column of
// integer codes (listed under categorical_columns) with a values domain.
struct Fixture {
  test::TempDir dir;
  PipelineConfig cfg;
  IngestionArtifact in;
  Fixture() {
    cfg.data.target = "y";
    cfg.data.label_mapping = {{"0", 0}, {"1", 1}};
    auto schema = std::make_shared<const Schema>(
        Schema::from_yaml_text("columns:\n  - code: int64\n  - x: float64\n  - y: int64\n"
                               "categorical_columns: [code]\n"
                               "domains:\n  code: {values: [\"1\", \"2\", \"3\"]}\n  x: {min: 0, max: 10}\n",
                               "s.yaml"));
    auto train = std::make_shared<Table>(parse_csv(
        "code,x,y\n1,0.5,0\n2,1.5,1\n3,2.5,0\n1,3.5,1\n2,4.5,0\n3,5.5,1\n1,6.5,0\n2,7.5,1\n", "train.csv"));
    auto test = std::make_shared<Table>(parse_csv("code,x,y\n1,1,0\n7,2,1\n9,3,0\n7,11,1\n", "test.csv"));
    in.train = dir / "train.csv";
    in.test = dir / "test.csv";
    auto labels = std::make_shared<const LabelSpace>(LabelSpace::derive(label_spec(cfg.data), *train, "y"));
    in.data = {schema, train, test, labels};
  }
};

TEST(ValidationDomain, ReportCountsOutOfDomainValuesWithoutFailingTheRun) {
  Fixture fx;
  const auto a = run_validation(fx.cfg, fx.in, fx.dir / "validation");
  EXPECT_TRUE(a.status);
  const auto report = json::parse(read_file(a.report_json));
  const auto& test_code = report["domain"]["test"]["columns"]["code"];
  EXPECT_EQ(report["domain"]["test"]["file"], "test.csv");
  EXPECT_EQ(test_code["unknown_values"], 3);
  EXPECT_EQ(test_code["examples"], json::array({"7", "9"}));
  EXPECT_EQ(report["domain"]["test"]["columns"]["x"]["above_max"], 1);
  EXPECT_EQ(report["domain"]["train"]["columns"]["code"]["out_of_domain"], 0);
  EXPECT_EQ(report["domain"]["train"]["columns"]["x"]["out_of_domain"], 0);
}

TEST(ValidationDomain, FailOnDomainFailsNamingFileAndColumn) {
  Fixture fx;
  fx.cfg.validation.fail_on_domain = true;
  try {
    run_validation(fx.cfg, fx.in, fx.dir / "validation");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test.csv: column 'code': 3 of 4 values are not in the schema's domain"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("test.csv: column 'x'"), std::string::npos) << m;
    EXPECT_EQ(m.find("train.csv: column"), std::string::npos) << m;
  }
  const auto report = json::parse(read_file(fx.dir / "validation" / "drift_report" / "report.json"));
  EXPECT_FALSE(report["status"].get<bool>());
}

}  // namespace
}  // namespace netsentry
