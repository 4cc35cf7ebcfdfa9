#include "support/crosscheck.hpp"
#include "netsentry/transform/preprocessor.hpp"

#include "netsentry/ingest/split.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"

namespace netsentry::test {

void write_matrix_csv(const std::filesystem::path& path, const Matrix& m,
                      const std::vector<std::string>& names) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  for (std::size_t c = 0; c < names.size(); ++c) out << (c ? "," : "") << names[c];
  out << '\n';
  char buf[64];
  for (std::size_t r = 0; r < m.rows; ++r) {
    for (std::size_t c = 0; c < m.cols; ++c) {
      if (c) out << ',';
      const double v = m(r, c);
      if (std::isnan(v)) continue;
      auto res = std::to_chars(buf, buf + sizeof buf, v);
      out.write(buf, res.ptr - buf);
    }
    out << '\n';
  }
  if (!out) throw std::runtime_error("failed writing " + path.string());
}

nlohmann::json run_reference(const std::string& script, const std::vector<std::string>& args) {
  const auto python = std::filesystem::path("/usr/bin/python3");
  if (!std::filesystem::exists(python))
    throw std::runtime_error(
        "cross-check needs /usr/bin/python3 (apt-get install python3 python3-scipy "
        "python3-sklearn)");
  const auto script_path = source_dir() / "tests" / "crosscheck" / script;
  std::string cmd = shell_quote(python.string()) + " " + shell_quote(script_path.string());
  for (const auto& a : args) {
    cmd += ' ';
    cmd += shell_quote(a);
  }
  auto r = run_command(cmd);
  if (r.exit_code != 0)
    throw std::runtime_error("reference script " + script + " failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.err);
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    throw std::runtime_error("reference script " + script + " printed no JSON: " + e.what() + "\n" + r.out +
                             r.err);
  }
}

Matrix column_matrix(const std::vector<double>& v) {
  Matrix m(v.size(), 1);
  m.data = v;
  return m;
}

Matrix json_to_matrix(const nlohmann::json& rows) {
  if (!rows.is_array() || rows.empty()) return {};
  Matrix m(rows.size(), rows[0].size());
  for (std::size_t r = 0; r < m.rows; ++r) {
    if (rows[r].size() != m.cols) throw std::runtime_error("ragged matrix in reference output");
    for (std::size_t c = 0; c < m.cols; ++c)
      m(r, c) = rows[r][c].is_null() ? std::nan("") : rows[r][c].get<double>();
  }
  return m;
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
  if (a.rows != b.rows || a.cols != b.cols) return HUGE_VAL;
  double worst = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    const bool na = std::isnan(a.data[i]), nb = std::isnan(b.data[i]);
    if (na != nb) return HUGE_VAL;
    if (!na) worst = std::max(worst, std::abs(a.data[i] - b.data[i]));
  }
  return worst;
}

UciData load_uci() {
  auto t = read_csv(phishing_csv());
  UciData d;
  for (const auto& n : t.names())
    if (n != "Result") d.feature_names.push_back(n);
  d.X = t.to_matrix(d.feature_names);
  for (double v : t.at("Result").num) d.y.push_back(v > 0 ? 1 : 0);
  return d;
}

const UciSplit& uci_split() {
  static const UciSplit split = [] {
    auto d = load_uci();
    UciSplit u;
    u.features = std::move(d.feature_names);
    const auto s = stratified_split(d.y, 0.2, 42);
    u.Xtr = d.X.take_rows(s.train);
    u.Xte = d.X.take_rows(s.test);
    u.ytr = take(d.y, s.train);
    u.yte = take(d.y, s.test);
    u.X = std::move(d.X);
    u.y = std::move(d.y);
    return u;
  }();
  return split;
}

ModelBundle uci_bundle(std::unique_ptr<Classifier> fitted, nlohmann::json metadata) {
  const auto& d = uci_split();
  auto pre = std::make_unique<Preprocessor>();
  pre->fit(d.Xtr);
  Schema schema;
  for (auto& f : d.features) schema.columns.push_back({f, "int64"});
  schema.columns.push_back({"Result", "int64"});
  if (!metadata.contains("classes") && !metadata.contains("label_mapping"))
    metadata["label_mapping"] = {{"-1", 0}, {"1", 1}};
  return ModelBundle::assemble(std::move(fitted), std::move(pre), schema, d.features, "Result",
                               std::move(metadata));
}

}  // namespace netsentry::test
