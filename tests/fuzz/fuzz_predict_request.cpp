// Prediction requests as the server parses them, before any model runs: a JSON body (records or
// rows) or a CSV upload (the first byte chooses), for a model with three numeric features and the
// categorical "proto". Any bytes either give a feature matrix of the model's width with one row per
// record, or a RequestError with a 4xx status.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_support.hpp"
#include "netsentry/serve/request_parse.hpp"
#include "support/tiny_bundle.hpp"

using namespace netsentry;
using namespace netsentry::serve;

namespace {

const LoadedModel& model() {
  static const LoadedModel* m = [] {
    auto* lm = new LoadedModel;
    lm->bundle = test::tiny_bundle("logistic_regression");
    lm->features = test::tiny_features();
    for (std::size_t i = 0; i < lm->features.size(); ++i) lm->index.emplace(lm->features[i], i);
    lm->target = "label";
    lm->class_value = {"0", "1"};
    lm->verdict = {"benign", "threat"};
    lm->threat = {false, true};
    lm->categorical = {0, 0, 0, 1};
    return lm;
  }();
  return *m;
}

void check(const Matrix& X) {
  if (X.cols != model().features.size()) fuzz::fail("a matrix of the wrong width");
  if (X.data.size() != X.rows * X.cols) fuzz::fail("a matrix of the wrong size");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::uint8_t mode = in.byte();
  InputRules rules;
  rules.max_rows = 64;
  rules.ignored_columns = {"label"};
  const std::string body(in.rest());
  try {
    if (mode & 1) {
      const CsvRequest r = parse_predict_csv(body, model(), rules);
      check(r.X);
      if (r.X.rows != r.table.rows()) fuzz::fail("a CSV upload's matrix and table differ in rows");
      if (r.X.rows > rules.max_rows) fuzz::fail("more rows than max_rows");
    } else {
      const PredictRequest r = parse_predict_json(body, model(), rules);
      check(r.X);
      if (r.X.rows > rules.max_rows) fuzz::fail("more rows than max_rows");
    }
  } catch (const RequestError& e) {
    if (e.status < 400 || e.status > 499)
      fuzz::fail("a request error with status " + std::to_string(e.status));
  }
  return 0;
}
