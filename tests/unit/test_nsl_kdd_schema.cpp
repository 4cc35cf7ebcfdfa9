// NSL-KDD (../shared/data/nsl-kdd, no header row): the shipped schema, reading the file through it
// (data.header: false), and `schema infer` on it. Expected facts come from the data's README.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/ingest/ingestion.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/schema/check.hpp"
#include "netsentry/schema/infer.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/schema/write_yaml.hpp"
#include "support/paths.hpp"

namespace netsentry {
namespace {

// The 43 fields in file order (README, "Columns, in file order").
const std::vector<std::string> kNames = {"duration",
                                         "protocol_type",
                                         "service",
                                         "flag",
                                         "src_bytes",
                                         "dst_bytes",
                                         "land",
                                         "wrong_fragment",
                                         "urgent",
                                         "hot",
                                         "num_failed_logins",
                                         "logged_in",
                                         "num_compromised",
                                         "root_shell",
                                         "su_attempted",
                                         "num_root",
                                         "num_file_creations",
                                         "num_shells",
                                         "num_access_files",
                                         "num_outbound_cmds",
                                         "is_host_login",
                                         "is_guest_login",
                                         "count",
                                         "srv_count",
                                         "serror_rate",
                                         "srv_serror_rate",
                                         "rerror_rate",
                                         "srv_rerror_rate",
                                         "same_srv_rate",
                                         "diff_srv_rate",
                                         "srv_diff_host_rate",
                                         "dst_host_count",
                                         "dst_host_srv_count",
                                         "dst_host_same_srv_rate",
                                         "dst_host_diff_srv_rate",
                                         "dst_host_same_src_port_rate",
                                         "dst_host_srv_diff_host_rate",
                                         "dst_host_serror_rate",
                                         "dst_host_srv_serror_rate",
                                         "dst_host_rerror_rate",
                                         "dst_host_srv_rerror_rate",
                                         "label",
                                         "difficulty"};

// The README's label counts in this file.
const std::map<std::string, std::size_t> kLabels = {
    {"normal", 13449},  {"neptune", 8282},      {"ipsweep", 710}, {"satan", 691},
    {"portsweep", 587}, {"smurf", 529},         {"nmap", 301},    {"back", 196},
    {"teardrop", 188},  {"warezclient", 181},   {"pod", 38},      {"guess_passwd", 10},
    {"warezmaster", 7}, {"buffer_overflow", 6}, {"imap", 5},      {"rootkit", 4},
    {"phf", 2},         {"multihop", 2},        {"spy", 1},       {"loadmodule", 1},
    {"land", 1},        {"ftp_write", 1}};

Schema shipped() { return Schema::load_yaml(test::source_dir() / "config" / "schema" / "nsl-kdd.yaml"); }

TEST(NslKddSchema, ShippedSchemaHasTheReadmesColumnsInFileOrder) {
  const auto s = shipped();
  ASSERT_EQ(kNames.size(), 43u);
  EXPECT_EQ(s.names(), kNames);
  for (auto& c : s.columns) {
    const bool text =
        c.name == "protocol_type" || c.name == "service" || c.name == "flag" || c.name == "label";
    EXPECT_EQ(c.type == "object", text) << c.name << ": " << c.type;
    EXPECT_EQ(c.categorical(), text) << c.name;
  }
  EXPECT_EQ(s.column("difficulty")->type, "int64");
  EXPECT_EQ(s.categorical_columns, (std::vector<std::string>{"protocol_type", "service", "flag", "label"}));
  EXPECT_EQ(s.numerical_columns.size(), 39u);
  EXPECT_EQ(*s.domain("protocol_type")->values, (std::vector<std::string>{"icmp", "tcp", "udp"}));
  EXPECT_EQ(s.domain("flag")->values->size(), 11u);
  EXPECT_EQ(s.domain("service")->values->size(), 66u);
  std::vector<std::string> labels;
  for (auto& [name, n] : kLabels) labels.push_back(name);
  EXPECT_EQ(*s.domain("label")->values, labels);
}

TEST(NslKddSchema, HeaderFalseReadsTheFileThroughTheSchema) {
  NETSENTRY_NEEDS_NSL_KDD();
  const auto s = shipped();
  SourceOptions so;
  so.schema = &s;
  so.header = false;
  const Table t = open_source(test::nsl_kdd_csv().string())->read(so);
  EXPECT_EQ(t.rows(), 25192u);
  EXPECT_EQ(t.cols(), 43u);
  EXPECT_EQ(t.names(), kNames);
  EXPECT_TRUE(check_against_schema(t, s).empty());
  EXPECT_EQ(t.at("protocol_type").type, ColumnType::Text);
  std::map<std::string, std::size_t> counts;
  for (auto& v : t.at("label").text) ++counts[v];
  EXPECT_EQ(counts, kLabels);
  // The README's binary task: 11,743 threats, 13,449 normal.
  EXPECT_EQ(t.rows() - counts["normal"], 11743u);
}

TEST(NslKddSchema, WithoutTheFlagTheFirstRecordIsTakenForAHeader) {
  NETSENTRY_NEEDS_NSL_KDD();
  const auto s = shipped();
  SourceOptions so;
  so.schema = &s;
  try {
    open_source(test::nsl_kdd_csv().string())->read(so);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    // The first record's values as column names: "0" (duration) comes again (land, ...).
    EXPECT_NE(std::string(e.what()).find("duplicate column '0'"), std::string::npos) << e.what();
  }
}

TEST(NslKddSchema, IngestionWithHeaderFalseWritesSplitsThatReadBack) {
  NETSENTRY_NEEDS_NSL_KDD();
  test::TempDir dir;
  PipelineConfig cfg;
  cfg.data.header = false;
  cfg.data.target = "label";
  cfg.data.label_groups = {{"normal", {"normal"}}, {"attack", {"*"}}};  // every attack name a threat
  cfg.data.positive_class = "attack";
  cfg.validation.schema_file = (test::source_dir() / "config" / "schema" / "nsl-kdd.yaml").string();
  const auto a = run_ingestion(cfg, test::nsl_kdd_csv().string(), dir.path());
  EXPECT_EQ(a.rows, 25192u);
  EXPECT_EQ(a.train_rows + a.test_rows, 25192u);
  // The split files have a header row: read back (as the stage commands do) whatever data.header says.
  const auto back = SplitData{}.or_read(cfg, a.train, a.test);
  EXPECT_EQ(back.train->rows(), a.train_rows);
  EXPECT_EQ(back.test->rows(), a.test_rows);
  EXPECT_EQ(back.train->names(), kNames);
  EXPECT_EQ(back.test->names(), kNames);
  EXPECT_EQ(back.train->at("service").type, ColumnType::Text);
}

TEST(NslKddSchema, InferWithTheNamesGivesTheReadmesCategoricalColumns) {
  NETSENTRY_NEEDS_NSL_KDD();
  SourceOptions so;
  so.header = false;
  so.names = kNames;
  const Table t = open_source(test::nsl_kdd_csv().string())->read(so);
  InferOptions o;
  o.target = "label";
  const auto r = infer_schema(t, o);
  const auto s = Schema::from_yaml_text(to_yaml(r.schema, "", r.notes), "inferred.yaml");
  EXPECT_EQ(s.names(), kNames);
  for (const char* c : {"protocol_type", "service", "flag", "label"}) {
    EXPECT_EQ(s.column(c)->type, "object") << c;
    EXPECT_TRUE(s.column(c)->categorical()) << c;
  }
  EXPECT_EQ(s.column("difficulty")->type, "int64");
  EXPECT_EQ(*s.domain("protocol_type")->values, (std::vector<std::string>{"icmp", "tcp", "udp"}));
  const auto& flags = *s.domain("flag")->values;
  EXPECT_EQ(flags.size(), 11u);
  for (const char* f : {"SF", "S0", "REJ", "RSTR"})  // the README's examples
    EXPECT_NE(std::find(flags.begin(), flags.end(), f), flags.end()) << f;
  const auto& services = *s.domain("service")->values;
  EXPECT_EQ(services.size(), 66u);
  for (const char* v : {"http", "private", "domain_u", "smtp", "ftp_data"})
    EXPECT_NE(std::find(services.begin(), services.end(), v), services.end()) << v;
  std::vector<std::string> labels;
  for (auto& [name, n] : kLabels) labels.push_back(name);
  EXPECT_EQ(*s.domain("label")->values, labels);
  for (auto& c : s.columns) EXPECT_EQ(*s.domain(c.name)->missing_ratio, 0.0) << c.name;
  // The shipped schema was made this way: the same columns, types and domains.
  const auto ship = shipped();
  EXPECT_EQ(s.to_json()["columns"], ship.to_json()["columns"]);
  EXPECT_EQ(s.domains, ship.domains);
}

}  // namespace
}  // namespace netsentry
