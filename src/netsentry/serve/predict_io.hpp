#pragma once
// Prediction requests and answers: JSON records / rows and CSV uploads into a feature matrix (with
// errors that name the column and row), and predictions out as JSON, CSV or the reference app's
// HTML table. No HTTP here: these functions are tested on their own.
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "netsentry/serve/model_store.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry::serve {

// A request the server refuses: HTTP status, message, and where in the input (when known).
struct RequestError : std::runtime_error {
  RequestError(int status, const std::string& message, std::optional<std::string> column = std::nullopt,
               std::optional<std::size_t> row = std::nullopt)
      : std::runtime_error(message), status(status), column(std::move(column)), row(row) {}
  int status;
  std::optional<std::string> column;
  std::optional<std::size_t> row;  // 0-based record index in the request
};

// {"error": message, "column": ..., "row": ...}
std::string error_json(const std::string& message, const std::optional<std::string>& column = std::nullopt,
                       const std::optional<std::size_t>& row = std::nullopt);

struct InputRules {
  std::size_t max_rows = 100000;
  std::vector<std::string> ignored_columns;  // accepted and ignored: the target, the config's drop_columns
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
};

struct PredictRequest {
  Matrix X;
  bool explain = true;
};

// {"records": [{column: value, ...}, ...]} or {"rows": [[values in feature order], ...]},
// optionally "explain": false. Values: numbers, numeric strings, null or a missing token (= missing).
PredictRequest parse_predict_json(std::string_view body, const LoadedModel& m, const InputRules& rules);

struct CsvRequest {
  Table table;  // the upload as parsed (for echoing the input columns back)
  Matrix X;
};
CsvRequest parse_predict_csv(std::string_view text, const LoadedModel& m, const InputRules& rules);

struct Scores {
  Scored scored;
  std::optional<Matrix> contributions;  // rows x (features + 1), when explained
};
Scores run_model(const LoadedModel& m, const Matrix& X, bool explain);

// {"model_version": ..., "count": n, "predictions": [{"row", "class", "label", "verdict",
//  "probability" (of the verdict), "probabilities": {value: p}, "reasons": [{feature, value,
//  contribution, towards}]}]}; "explanations": note, when reasons were left out.
void append_predictions_json(std::string& out, const LoadedModel& m, const Matrix& X, const Scores& s,
                             int top_k, std::string_view note = {});

// The upload's columns followed by label, verdict, probability and reasons.
std::string predictions_csv(const Table& input, const LoadedModel& m, const Matrix& X, const Scores& s,
                            int top_k);

// The reference app's answer: an HTML page with the upload as a table and a predicted_column
// (the class index, as the reference's model.predict gives it).
std::string predictions_html(const Table& input, const Scores& s);

std::string html_escape(std::string_view s);
void append_json_string(std::string& out, std::string_view s);
void append_number(std::string& out, double v);

}  // namespace netsentry::serve
