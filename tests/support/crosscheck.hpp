#pragma once
// Helpers for tests that cross-check netsentry's numerics against Debian's python3 (scipy, sklearn):
// write matrices as CSV, run a reference script from tests/crosscheck/, parse its JSON answer.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/matrix.hpp"
#include "netsentry/model/classifier.hpp"

namespace netsentry::test {

// Writes `m` as CSV with the given header (NaN as an empty field, doubles in round-trip form).
void write_matrix_csv(const std::filesystem::path& path, const Matrix& m,
                      const std::vector<std::string>& names);

// Runs `/usr/bin/python3 tests/crosscheck/<script> <args...>` and parses its stdout as JSON.
// Throws std::runtime_error naming the script, exit code and stderr when python3 or a module is
// missing or the script fails: a cross-check that cannot run is a failed test, never a skipped one.
nlohmann::json run_reference(const std::string& script, const std::vector<std::string>& args);

// A one-column matrix holding v.
Matrix column_matrix(const std::vector<double>& v);

// A JSON array of rows (null = NaN) as a matrix; throws when rows are ragged.
Matrix json_to_matrix(const nlohmann::json& rows);

// Largest |a - b| over cells where both are numbers; +infinity if shapes or NaN positions differ.
double max_abs_diff(const Matrix& a, const Matrix& b);

// The UCI phishing file: the 30 feature columns (all but "Result") and the labels (-1 -> 0, 1 -> 1).
struct UciData {
  std::vector<std::string> feature_names;
  Matrix X;
  Labels y;
};
UciData load_uci();

// load_uci() split 80/20, stratified, seed 42; loaded once per test process.
struct UciSplit {
  std::vector<std::string> features;
  Matrix X, Xtr, Xte;  // every row, the training split, the test split
  Labels y, ytr, yte;
};
const UciSplit& uci_split();

// A bundle of `fitted` (a classifier trained on uci_split()'s training rows) with a preprocessor
// fitted on those rows, the UCI schema (every column int64) and `metadata` (a label_mapping of
// -1 -> 0, 1 -> 1 unless it has classes or a mapping).
ModelBundle uci_bundle(std::unique_ptr<Classifier> fitted, nlohmann::json metadata);

}  // namespace netsentry::test
