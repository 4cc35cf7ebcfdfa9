// `schema infer`: types and domains from data, written in the reference format, read back the same.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/schema/infer.hpp"
#include "netsentry/schema/write_yaml.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"

namespace netsentry {
namespace {

std::string type_of(const Schema& s, const std::string& name) {
  const SchemaColumn* c = s.column(name);
  return c ? c->type : "(absent)";
}

TEST(SchemaInfer, TypesAndDomainsOfASmallTable) {
  const auto t = parse_csv(
      "count,rate,proto,empty,flag\n"
      "3,0.5,tcp,,1\n"
      "-2,1,udp,,0\n"
      ",2.25,tcp,,1\n"
      "7,0,,,1\n",
      "small.csv");
  const auto r = infer_schema(t);
  const Schema& s = r.schema;
  EXPECT_EQ(s.names(), (std::vector<std::string>{"count", "rate", "proto", "empty", "flag"}));
  EXPECT_EQ(type_of(s, "count"), "int64");
  EXPECT_EQ(type_of(s, "rate"), "float64");
  EXPECT_EQ(type_of(s, "proto"), "object");
  EXPECT_EQ(type_of(s, "empty"), "float64");  // no value at all: a number column with nothing in it
  EXPECT_EQ(type_of(s, "flag"), "int64");
  EXPECT_EQ(s.categorical_columns, (std::vector<std::string>{"proto"}));
  EXPECT_EQ(s.numerical_columns, (std::vector<std::string>{"count", "rate", "empty", "flag"}));
  EXPECT_EQ(*s.domain("count")->min, -2);
  EXPECT_EQ(*s.domain("count")->max, 7);
  EXPECT_EQ(*s.domain("count")->missing_ratio, 0.25);
  EXPECT_EQ(*s.domain("rate")->min, 0);
  EXPECT_EQ(*s.domain("rate")->max, 2.25);
  EXPECT_EQ(*s.domain("proto")->values, (std::vector<std::string>{"tcp", "udp"}));
  EXPECT_EQ(*s.domain("proto")->missing_ratio, 0.25);
  EXPECT_FALSE(s.domain("empty")->min);
  EXPECT_EQ(*s.domain("empty")->missing_ratio, 1.0);
  EXPECT_TRUE(r.notes.empty());
}

TEST(SchemaInfer, ValuesOverTheCapAreLeftOutAndSaidSo) {
  const auto t = parse_csv("host,y\na,1\nb,0\nc,1\nb,0\n", "hosts.csv");
  InferOptions o;
  o.max_values = 2;
  const auto r = infer_schema(t, o);
  EXPECT_FALSE(r.schema.domain("host")->values);
  ASSERT_TRUE(r.notes.count("host"));
  EXPECT_NE(r.notes.at("host").find("3 distinct values"), std::string::npos) << r.notes.at("host");
  const std::string yaml = to_yaml(r.schema, "test", r.notes);
  EXPECT_NE(yaml.find("# 3 distinct values"), std::string::npos) << yaml;
  const auto back = Schema::from_yaml_text(yaml, "hosts.yaml");
  EXPECT_FALSE(back.domain("host")->values);
  EXPECT_EQ(*back.domain("host")->missing_ratio, 0.0);
}

TEST(SchemaInfer, WrittenYamlLoadsBackToTheSameSchema) {
  // Values YAML would read as something else unless quoted: numbers, booleans, null, punctuation.
  const auto t = parse_csv(
      "name with space,kind,v\n"
      "1.5,true,\"a: b\"\n"
      "2,null,-\n"
      "3,No,\"x\"\"y\"\n"
      "4,007,[z]\n",
      "odd.csv");
  const auto r = infer_schema(t);
  const std::string yaml = to_yaml(r.schema, "first line\nsecond line", r.notes);
  const auto back = Schema::from_yaml_text(yaml, "odd.yaml");
  EXPECT_EQ(back.to_json(), r.schema.to_json()) << yaml;
  EXPECT_EQ(*back.domain("kind")->values, (std::vector<std::string>{"007", "No", "null", "true"}));
  EXPECT_EQ(*back.domain("v")->values, (std::vector<std::string>{"-", "[z]", "a: b", "x\"y"}));
}

TEST(SchemaInfer, TargetMustBeAColumn) {
  const auto t = parse_csv("a,b\n1,2\n", "t.csv");
  InferOptions o;
  o.target = "Result";
  try {
    infer_schema(t, o);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'Result'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(infer_schema(parse_csv("a,b\n", "header-only.csv")), DataError);
}

TEST(SchemaInfer, PhishingFileAgreesWithTheShippedSchema) {
  NETSENTRY_NEEDS_UCI();
  InferOptions o;
  o.target = "Result";
  const auto r = infer_schema(read_csv(test::phishing_csv()), o);
  const auto shipped = Schema::load_yaml(test::source_dir() / "config" / "schema" / "phishing.yaml");
  const auto back = Schema::from_yaml_text(to_yaml(r.schema, "", r.notes), "inferred.yaml");
  ASSERT_EQ(back.columns.size(), shipped.columns.size());
  for (std::size_t i = 0; i < shipped.columns.size(); ++i) {
    EXPECT_EQ(back.columns[i].name, shipped.columns[i].name) << i;
    EXPECT_EQ(back.columns[i].type, shipped.columns[i].type) << shipped.columns[i].name;
  }
  EXPECT_EQ(back.numerical_columns, shipped.numerical_columns);
  EXPECT_EQ(back.categorical_columns, shipped.categorical_columns);
  // The file's README: every feature takes values among -1, 0 and 1; Result is -1 or 1.
  for (auto& c : back.columns) {
    EXPECT_GE(*back.domain(c.name)->min, -1) << c.name;
    EXPECT_LE(*back.domain(c.name)->max, 1) << c.name;
    EXPECT_EQ(*back.domain(c.name)->missing_ratio, 0.0) << c.name;
  }
  EXPECT_EQ(*back.domain("Result")->min, -1);
  EXPECT_EQ(*back.domain("Result")->max, 1);
}

TEST(SchemaInfer, CliWritesTheSchemaOrSaysWhyNot) {
  NETSENTRY_NEEDS_UCI();
  test::TempDir dir;
  const auto out = dir / "schema.yaml";
  auto r = test::run_cli("schema infer " + test::shell_quote(test::phishing_csv().string()) +
                         " --target Result --output " + test::shell_quote(out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto s = Schema::load_yaml(out);
  EXPECT_EQ(s.columns.size(), 31u);
  EXPECT_EQ(type_of(s, "Result"), "int64");
  EXPECT_NE(read_file(out).find("target: Result"), std::string::npos);

  // Without --output, the same YAML on stdout.
  r = test::run_cli("schema infer " + test::shell_quote(test::phishing_csv().string()) + " --target Result");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_file(out));

  r = test::run_cli("schema infer " + test::shell_quote((dir / "absent.csv").string()));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("absent.csv: file not found"), std::string::npos) << r.err;
  std::ofstream(dir / "empty.csv").close();
  r = test::run_cli("schema infer " + test::shell_quote((dir / "empty.csv").string()));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("empty.csv: empty file"), std::string::npos) << r.err;
  std::ofstream(dir / "nohead.csv") << "0,tcp,0\n1,udp,0\n";
  r = test::run_cli("schema infer " + test::shell_quote((dir / "nohead.csv").string()));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--no-header --names"), std::string::npos) << r.err;
  r = test::run_cli("schema infer " + test::shell_quote((dir / "nohead.csv").string()) +
                    " --no-header --names n,proto,z");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  - proto: object\n"), std::string::npos) << r.out;
  r = test::run_cli("schema infer " + test::shell_quote(test::phishing_csv().string()) + " --target Nope");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("'Nope'"), std::string::npos) << r.err;
  r = test::run_cli("schema infer " + test::shell_quote(test::phishing_csv().string()) + " --no-header");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--names"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace netsentry
