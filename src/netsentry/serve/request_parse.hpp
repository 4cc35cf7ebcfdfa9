#pragma once
// Prediction requests: JSON records / rows and CSV uploads into a feature matrix, with errors that
// name the column and row. No HTTP here: these functions are tested on their own.
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

struct InputRules {
  std::size_t max_rows = 100000;
  std::vector<std::string> ignored_columns;  // accepted and ignored: the target, the config's drop_columns
  std::vector<std::string> missing_values = {"", "na", "NaN", "nan", "NA"};
};

struct PredictRequest {
  Matrix X;
  bool explain = true;
  UnseenCategories unseen;  // categorical values the model never saw (scored as missing)
};

// {"records": [{column: value, ...}, ...]} or {"rows": [[values in feature order], ...]},
// optionally "explain": false. Values: numbers, numeric strings, null or a missing token (= missing);
// a categorical feature's values are its categories (text, or numbers as the data spells them).
PredictRequest parse_predict_json(std::string_view body, const LoadedModel& m, const InputRules& rules);

struct CsvRequest {
  Table table;  // the upload as parsed (for echoing the input columns back)
  Matrix X;
  UnseenCategories unseen;
};
// A CSV upload as parse_csv reads it (a numeric upload in one pass, by parse_numeric_csv).
CsvRequest parse_predict_csv(std::string_view text, const LoadedModel& m, const InputRules& rules);

}  // namespace netsentry::serve
