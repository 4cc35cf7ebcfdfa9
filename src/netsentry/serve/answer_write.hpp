#pragma once
// Answers to prediction requests: predictions out as JSON, as CSV (the upload with the predictions
// appended, as to_csv writes it) or as the reference app's HTML table; and the JSON error body.
// No HTTP here: these functions are tested on their own.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "netsentry/serve/model_store.hpp"
#include "netsentry/serve/scoring.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry::serve {

// {"error": message, "column": ..., "row": ...}
std::string error_json(const std::string& message, const std::optional<std::string>& column = std::nullopt,
                       const std::optional<std::size_t>& row = std::nullopt);

// {"model_version": ..., "count": n, "predictions": [{"row", "class", "label", "verdict",
//  "probability" (of a threat), "probabilities": {value: p}, "reasons": [{feature, value,
//  contribution, towards}]}]} (a categorical feature's value is its category); "explanations": note,
//  when reasons were left out; "unseen_categories": {feature: rows}, when some values were categories
//  the model never saw (scored as missing).
void append_predictions_json(std::string& out, const LoadedModel& m, const Matrix& X, const Scores& s,
                             int top_k, std::string_view note = {}, const UnseenCategories* unseen = nullptr);

// The upload's columns followed by label, verdict, probability and reasons.
std::string predictions_csv(const Table& input, const LoadedModel& m, const Matrix& X, const Scores& s,
                            int top_k);

// The reference app's answer: an HTML page with the upload as a table and a predicted_column
// (the class index, as the reference's model.predict gives it).
std::string predictions_html(const Table& input, const Scores& s);

// s with the characters HTML gives a meaning escaped (&, <, >, both quotes).
std::string html_escape(std::string_view s);
// s as a JSON string, quotes included.
void append_json_string(std::string& out, std::string_view s);
// v as a JSON number with 6 significant digits (null when not finite).
void append_number(std::string& out, double v);

}  // namespace netsentry::serve
