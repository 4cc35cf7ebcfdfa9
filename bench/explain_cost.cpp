// The explanation cost model beside the clock: for models of every family fitted on a data file
// (default: the UCI phishing file), the seconds per row that Classifier::contributions_cost and
// path_contributions_cost estimate from the model's structure, and what explaining a row took here
// (the best of a few runs, one row at a time and in a batch). The server chooses how to explain, how
// many rows it explains within serve.explain_budget_ms, and which requests go to the worker pool by
// the estimate alone; this tool is how its constants were fitted and how to check them on a machine.
//   build/release/bench/netsentry_explain_cost [DATA.csv] [--target Result]
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "netsentry/model/classifier.hpp"
#include "netsentry/table/csv.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using netsentry::Matrix;

// The best of `repeat` runs of f(), in seconds.
template <class F>
double best_of(int repeat, F&& f) {
  double best = 1e30;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

struct Case {
  const char* family;
  const char* params;
};

}  // namespace

int main(int argc, char** argv) {
  std::string data = "../shared/data/phishing/phisingData.csv", target = "Result";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--target" && i + 1 < argc)
      target = argv[++i];
    else
      data = a;
  }
  try {
    spdlog::set_level(spdlog::level::warn);
    netsentry::Table t = netsentry::read_csv(data);
    std::vector<std::string> features;
    for (const auto& c : t.columns)
      if (c.name != target) features.push_back(c.name);
    const Matrix X = t.to_matrix(features);
    netsentry::Labels y(t.rows());
    const auto& ycol = t.at(target).num;
    for (std::size_t i = 0; i < t.rows(); ++i) y[i] = ycol[i] > 0 ? 1 : 0;
    const std::vector<Case> cases = {
        {"logistic_regression", R"({})"},
        {"decision_tree", R"({"max_depth": 8})"},
        {"decision_tree", R"({"max_depth": 20})"},
        {"gradient_boosting", R"({"n_estimators": 32, "max_depth": 3})"},
        {"gradient_boosting", R"({"n_estimators": 256, "max_depth": 7})"},
        {"random_forest", R"({"n_estimators": 8, "max_depth": 8})"},
        {"random_forest", R"({"n_estimators": 32, "max_depth": 20})"},
        {"random_forest", R"({"n_estimators": 256, "max_depth": 20})"},
        {"decision_tree_gini", R"({"max_depth": 12})"},
        {"adaboost", R"({"n_estimators": 50})"},
        {"adaboost", R"({"n_estimators": 200, "max_depth": 3})"},
        {"knn", R"({"n_neighbors": 5})"},
    };
    std::printf("%zu rows x %zu features of %s; ms per row: estimated (cost model) / measured\n", X.rows,
                X.cols, data.c_str());
    std::printf("%-20s %-40s %12s %12s %12s | %12s %12s %12s\n", "family", "params", "shap est", "one row",
                "batch of 64", "path est", "one row", "batch of 64");
    std::vector<std::size_t> first64(std::min<std::size_t>(64, X.rows));
    for (std::size_t i = 0; i < first64.size(); ++i) first64[i] = i * (X.rows / first64.size());
    const Matrix batch = X.take_rows(first64), one = X.take_rows(std::vector<std::size_t>{first64[1]});
    for (const auto& c : cases) {
      auto m = netsentry::create_classifier(c.family, nlohmann::json::parse(c.params));
      m->fit(X, y);
      auto measure = [&](bool path, const Matrix& rows) -> std::optional<double> {
        auto run = [&] { return path ? m->path_contributions(rows) : m->contributions(rows); };
        if (!run()) return std::nullopt;
        const int repeat = rows.rows == 1 ? 20 : 3;
        return best_of(repeat, run) / static_cast<double>(rows.rows);
      };
      auto ms = [](std::optional<double> s) { return s ? *s * 1e3 : -1.0; };
      std::printf("%-20s %-40s %12.4f %12.4f %12.4f | %12.4f %12.4f %12.4f\n", c.family, c.params,
                  ms(m->contributions_cost()), ms(measure(false, one)), ms(measure(false, batch)),
                  ms(m->path_contributions_cost()), ms(measure(true, one)), ms(measure(true, batch)));
    }
    std::printf("(-1: the family has no such method)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netsentry_explain_cost: %s\n", e.what());
    return 1;
  }
  return 0;
}
