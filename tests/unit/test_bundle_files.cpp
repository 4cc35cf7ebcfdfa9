// A bundle with one bad file is refused with a DataError that names that file, whatever the file
// holds and whichever library reads it (nlohmann/json, yaml-cpp, XGBoost, OpenCV), and before a
// library is handed a file it would misread. Each case was found by fuzzing the loader
// (tests/fuzz/fuzz_bundle.cpp): an OpenCV parse error escaped as an internal error, a preprocessor or
// schema error named no file or the wrong one, a number beyond double's range in a JSON file was not
// a parse error, and XGBoost allocated what a 10-byte model file declared (2^60 bytes).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "support/paths.hpp"
#include "support/tiny_bundle.hpp"

namespace netsentry {
namespace {

namespace fs = std::filesystem;

struct BadFile {
  const char* family;
  const char* file;  // in the bundle
  std::string content;
  const char* says;  // in the message, besides the file's path
};

TEST(BundleFiles, OneBadFileIsADataErrorNamingIt) {
  const std::vector<BadFile> cases = {
      {"decision_tree_gini", "model/opencv_tree.yaml", "%YAML:1.0\n[: {", "not a valid OpenCV tree model"},
      {"knn", "model/opencv_knn.yaml", "\x01\x02 garbage", "not a valid OpenCV kNN model"},
      {"gradient_boosting", "preprocessor.json", R"({"format": "something else"})", "preprocessor"},
      {"gradient_boosting", "schema.json", R"({"columns": 5})", "malformed"},
      {"gradient_boosting", "metadata.json", "", "not valid JSON"},
      {"gradient_boosting", "metadata.json", R"({"format": 9E03524})", "not valid JSON"},  // beyond double
      {"gradient_boosting", "model/xgboost_model.ubj", std::string("SL\x10\0\0\0\0\0\0\0", 10),
       "not a valid XGBoost model"},
      {"random_forest", "model/xgboost_model.ubj", std::string("[$Z#L\x10\0\0\0\0\0\0\0", 13),
       "more values than its size allows"},
      {"random_forest", "model/xgboost_model.ubj", std::string(100000, '['), "nested more than 64 levels"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.family) + " " + c.file);
    test::TempDir dir;
    const fs::path bundle = dir / "bundle";
    test::tiny_bundle(c.family).save(bundle);
    ASSERT_TRUE(fs::exists(bundle / c.file));
    std::ofstream(bundle / c.file, std::ios::binary | std::ios::trunc) << c.content;
    const auto start = std::chrono::steady_clock::now();
    try {
      ModelBundle::load(bundle);
      ADD_FAILURE() << "the bundle loaded";
    } catch (const DataError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find((bundle / c.file).string()), std::string::npos) << m;
      EXPECT_NE(m.find(c.says), std::string::npos) << m;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));  // refused, not expanded
  }
}

TEST(BundleFiles, AThresholdOutsideZeroToOneIsRefused) {
  test::TempDir dir;
  const fs::path bundle = dir / "bundle";
  test::tiny_bundle("gradient_boosting").save(bundle);
  auto meta = nlohmann::json::parse(std::ifstream(bundle / "metadata.json"));
  EXPECT_NO_THROW(ModelBundle::load(bundle));
  meta["threshold"] = 7;
  std::ofstream(bundle / "metadata.json", std::ios::trunc) << meta.dump();
  try {
    ModelBundle::load(bundle);
    ADD_FAILURE() << "a threshold of 7 was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("metadata.json: 'threshold' must be a probability in [0, 1]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace netsentry
