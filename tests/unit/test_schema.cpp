// The schema format: types (numeric, text = categorical), the column lists, and the domains beyond
// the reference format; every error names the file and the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "netsentry/core/error.hpp"
#include "netsentry/schema/schema.hpp"
#include "support/paths.hpp"

namespace netsentry {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    Schema::from_yaml_text(yaml, "s.yaml");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Schema, UnknownTypeIsAnErrorNamingFileColumnTypeAndTheKnownTypes) {
  const auto m = error_of("columns:\n  - a: int64\n  - spin: quaternion\n");
  EXPECT_NE(m.find("s.yaml"), std::string::npos) << m;
  EXPECT_NE(m.find("'spin'"), std::string::npos) << m;
  EXPECT_NE(m.find("'quaternion'"), std::string::npos) << m;
  for (const char* known : {"int64", "float64", "object", "category"})
    EXPECT_NE(m.find(known), std::string::npos) << known << " not listed in: " << m;
}

TEST(Schema, TextTypesAreCategoricalFeatures) {
  const auto s = Schema::from_yaml_text(
      "columns:\n  - a: int64\n  - b: object\n  - c: category\n  - d: string\n  - e: float64\n  - f: str\n"
      "  - g: text\n  - h: bool\n",
      "s.yaml");
  const std::vector<std::string> categorical = {"b", "c", "d", "f", "g"};
  EXPECT_EQ(s.categorical_columns, categorical);
  const std::vector<std::string> numerical = {"a", "e", "h"};
  EXPECT_EQ(s.numerical_columns, numerical);
  for (auto& c : s.columns) {
    const bool text = std::find(categorical.begin(), categorical.end(), c.name) != categorical.end();
    EXPECT_EQ(c.categorical(), text) << c.name;
    EXPECT_EQ(c.numeric(), !text) << c.name;
  }
}

TEST(Schema, CategoricalColumnsListMakesIntegerCodesCategorical) {
  const auto s = Schema::from_yaml_text(
      "columns:\n  - port: int64\n  - proto: object\n  - bytes: float64\n"
      "categorical_columns:\n  - port\n",
      "s.yaml");
  ASSERT_NE(s.column("port"), nullptr);
  EXPECT_TRUE(s.column("port")->categorical());
  EXPECT_TRUE(s.column("port")->numeric());  // its values are still read as numbers
  EXPECT_TRUE(s.column("proto")->categorical());
  EXPECT_FALSE(s.column("bytes")->categorical());
  // The text column joins the list that left it out; numerical_columns, absent, holds the rest.
  EXPECT_EQ(s.categorical_columns, (std::vector<std::string>{"port", "proto"}));
  EXPECT_EQ(s.numerical_columns, (std::vector<std::string>{"bytes"}));
}

TEST(Schema, ColumnInBothListsIsAnErrorNamingIt) {
  const auto m =
      error_of("columns:\n  - a: int64\n  - b: int64\nnumerical_columns: [a, b]\ncategorical_columns: [b]\n");
  EXPECT_NE(m.find("'b'"), std::string::npos) << m;
  EXPECT_NE(m.find("both"), std::string::npos) << m;
  const auto t = error_of("columns:\n  - a: object\nnumerical_columns: [a]\n");
  EXPECT_NE(t.find("'a'"), std::string::npos) << t;
  EXPECT_NE(t.find("object"), std::string::npos) << t;
  EXPECT_NE(error_of("columns:\n  - a: int64\ncategorical_columns: [z]\n").find("'z'"), std::string::npos);
}

TEST(Schema, DomainsParseAndRoundTripThroughJson) {
  const auto s = Schema::from_yaml_text(
      "columns:\n  - proto: object\n  - bytes: float64\n  - port: int64\n  - note: object\n"
      "categorical_columns: [port]\n"
      "domains:\n"
      "  proto: {values: [icmp, tcp, udp], missing_ratio: 0}\n"
      "  bytes:\n    min: -1.5\n    max: 1e6\n    missing_ratio: 0.25\n"
      "  port: {values: [\"22\", \"80\"]}\n",
      "s.yaml");
  ASSERT_EQ(s.domains.size(), 3u);
  const ColumnDomain* proto = s.domain("proto");
  ASSERT_NE(proto, nullptr);
  EXPECT_EQ(*proto->values, (std::vector<std::string>{"icmp", "tcp", "udp"}));
  EXPECT_EQ(*proto->missing_ratio, 0.0);
  EXPECT_FALSE(proto->min);
  const ColumnDomain* bytes = s.domain("bytes");
  EXPECT_EQ(*bytes->min, -1.5);
  EXPECT_EQ(*bytes->max, 1e6);
  EXPECT_EQ(*bytes->missing_ratio, 0.25);
  EXPECT_FALSE(bytes->values);
  EXPECT_EQ(*s.domain("port")->values, (std::vector<std::string>{"22", "80"}));
  EXPECT_EQ(s.domain("note"), nullptr);

  const auto back = Schema::from_json(nlohmann::json::parse(s.to_json().dump()));
  EXPECT_EQ(back.to_json(), s.to_json());
  EXPECT_EQ(back.domains, s.domains);
  EXPECT_EQ(back.categorical_columns, s.categorical_columns);
  EXPECT_TRUE(back.column("port")->categorical());
}

TEST(Schema, DomainErrorsNameTheColumn) {
  const std::string cols = "columns:\n  - proto: object\n  - bytes: float64\n";
  auto m = error_of(cols + "domains:\n  ghost: {min: 0}\n");
  EXPECT_NE(m.find("'ghost'"), std::string::npos) << m;
  EXPECT_NE(m.find("not in 'columns'"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  bytes: {values: [a]}\n");
  EXPECT_NE(m.find("domains.bytes"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  proto: {min: 0, max: 1}\n");
  EXPECT_NE(m.find("domains.proto"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  bytes: {min: low}\n");
  EXPECT_NE(m.find("domains.bytes.min"), std::string::npos) << m;
  EXPECT_NE(m.find("'low'"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  bytes: {min: 2, max: 1}\n");
  EXPECT_NE(m.find("min is greater than max"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  bytes: {missing_ratio: 1.5}\n");
  EXPECT_NE(m.find("missing_ratio"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  proto: {values: tcp}\n");
  EXPECT_NE(m.find("domains.proto.values"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  proto: {values: [tcp, tcp]}\n");
  EXPECT_NE(m.find("'tcp' twice"), std::string::npos) << m;
  m = error_of(cols + "domains:\n  proto: {valuez: [tcp]}\n");
  EXPECT_NE(m.find("unknown key 'valuez'"), std::string::npos) << m;
}

TEST(Schema, SchemaJsonWrittenBeforeDomainsStillLoads) {
  // What a bundle's schema.json held before categorical columns and domains.
  const auto j = nlohmann::json::parse(
      R"({"columns": [{"URL_Length": "int64"}, {"Result": "int64"}],
          "numerical_columns": ["URL_Length", "Result"], "categorical_columns": []})");
  const auto s = Schema::from_json(j);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"URL_Length", "Result"}));
  EXPECT_EQ(s.numerical_columns, (std::vector<std::string>{"URL_Length", "Result"}));
  EXPECT_TRUE(s.categorical_columns.empty());
  EXPECT_TRUE(s.domains.empty());
  const auto older = Schema::from_json(nlohmann::json::parse(R"({"columns": [{"a": "float64"}]})"));
  EXPECT_EQ(older.numerical_columns, (std::vector<std::string>{"a"}));
}

TEST(Schema, ShippedPhishingSchemaIsAllNumeric) {
  const auto s = Schema::load_yaml(test::source_dir() / "config" / "schema" / "phishing.yaml");
  EXPECT_EQ(s.columns.size(), 31u);
  EXPECT_EQ(s.numerical_columns.size(), 31u);
  EXPECT_TRUE(s.categorical_columns.empty());
}

}  // namespace
}  // namespace netsentry
