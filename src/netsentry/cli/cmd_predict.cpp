// `netsentry predict`: scores a CSV with a model bundle; `netsentry sample-data`: writes demo data.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/cli/command.hpp"
#include "netsentry/cli/header_options.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/demo/connection_data.hpp"
#include "netsentry/demo/sample_data.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/table/csv.hpp"

namespace {

using namespace netsentry;
using json = nlohmann::json;

struct PredictArgs {
  std::string model_dir = "final_model", input, output;
  int explain = 0;
  std::string explain_method = "auto";
  bool metrics = false;
  cli::HeaderOptions header;
};

struct SampleArgs {
  std::size_t rows = 11055;
  std::uint64_t seed = 42;
  std::string output, kind = "phishing";
};

}  // namespace

NETSENTRY_COMMAND(predict, 30, [](CLI::App& app, cli::Context&) {
  auto args = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand(
      "predict", "score a CSV with a model bundle (adds prediction and probability: P(threat))");
  cmd->add_option("-m,--model-dir", args->model_dir, "model bundle directory")->capture_default_str();
  cmd->add_option("-i,--input", args->input, "CSV with the schema's feature columns")->required();
  cmd->add_option("-o,--output", args->output, "output CSV (default: stdout)");
  cmd->add_option("--explain", args->explain, "add each row's top K feature contributions")
      ->check(CLI::Range(0, 100));
  cmd->add_option(
         "--explain-method", args->explain_method,
         "shap (exact), path (path attributions of tree ensembles), or auto: shap unless it costs over "
         "1 ms per row and the model has path attributions")
      ->check(CLI::IsMember({"auto", "shap", "path"}))
      ->capture_default_str();
  cmd->add_flag(
      "--metrics", args->metrics,
      "when the input has the target column, print its metrics as JSON (on stdout with -o, else stderr)");
  cli::add_header_options(cmd, args->header,
                          "the CSV has no header row: its columns are --names, else those of the file the "
                          "model was trained on (data.header: false), else the model's schema");
  cmd->callback([args] {
    cli::check_header_options(args->header, "predict", false);
    auto bundle = ModelBundle::load(args->model_dir);
    CsvOptions co;
    if (args->header.no_header) {
      co.header = false;
      const json& m = bundle.metadata();
      if (!args->header.names.empty()) {
        co.names = args->header.names;
        co.names_from = "--names";
      } else if (m.contains("file_columns") && m["file_columns"].is_array()) {
        co.names = m["file_columns"].get<std::vector<std::string>>();
        co.names_from = "the columns of the file the model was trained on";
      } else {
        co.names = bundle.schema().names();
        co.names_from = "the model's schema";
      }
    }
    Table t = read_csv(args->input, co);
    if (t.rows() == 0) throw DataError(args->input + ": no data rows (header only)");
    UnseenCategories unseen;
    const Matrix X = bundle.features_from(t, &unseen);
    const Scored s = bundle.score(X);
    if (unseen.total)
      spdlog::warn(
          "predict: {} values are categories the model never saw in training ({}); scored as missing",
          unseen.total, unseen.describe());
    Column pred{"prediction", ColumnType::Text, {}, {}}, prob{"probability", ColumnType::Numeric, {}, {}};
    for (std::size_t i = 0; i < s.label.size(); ++i) pred.text.push_back(bundle.class_value(s.label[i]));
    prob.num = s.probability;
    t.drop("prediction");
    t.drop("probability");
    // K > 2 classes: every class's probability too (probability_<class>), after P(threat).
    std::vector<Column> per_class;
    if (!bundle.classes().binary())
      for (std::size_t k = 0; k < bundle.classes().size(); ++k) {
        per_class.push_back({"probability_" + bundle.classes().classes()[k], ColumnType::Numeric, {}, {}});
        t.drop(per_class.back().name);
        for (std::size_t i = 0; i < s.class_probability.rows; ++i)
          per_class.back().num.push_back(s.class_probability(i, k));
      }
    if (args->explain > 0) {
      const auto choice = bundle.choose_explanation(*parse_explain_method(args->explain_method));
      auto c = choice.can_explain ? bundle.explain(X, choice.how) : std::nullopt;
      if (!c) throw UsageError("model family '" + bundle.metadata().value("family", "") + "' cannot explain");
      spdlog::info("explanations: {} (about {:.3f} ms per row, estimated)",
                   ModelBundle::attribution_name(choice.how), choice.seconds_per_row * 1e3);
      const auto& f = bundle.features();
      const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(args->explain), f.size());
      std::vector<Column> reasons(k), contrib(k);
      for (std::size_t r = 0; r < k; ++r) {
        reasons[r] = {"reason_" + std::to_string(r + 1), ColumnType::Text, {}, {}};
        contrib[r] = {"contribution_" + std::to_string(r + 1), ColumnType::Numeric, {}, {}};
      }
      std::vector<std::size_t> order(f.size());
      for (std::size_t i = 0; i < X.rows; ++i) {
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                          [&](auto a, auto b) { return std::abs((*c)(i, a)) > std::abs((*c)(i, b)); });
        for (std::size_t r = 0; r < k; ++r) {
          const std::size_t j = order[r];
          // A categorical feature's reason names its value: "service = http".
          reasons[r].text.push_back(bundle.encoder().categorical(j)
                                        ? f[j] + " = " +
                                              (std::isnan(X(i, j)) ? std::string("(missing or unseen)")
                                                                   : bundle.encoder().value_name(j, X(i, j)))
                                        : f[j]);
          contrib[r].num.push_back((*c)(i, order[r]));
        }
      }
      t.columns.push_back(std::move(pred));
      t.columns.push_back(std::move(prob));
      for (auto& pc : per_class) t.columns.push_back(std::move(pc));
      for (std::size_t r = 0; r < k; ++r) {
        t.columns.push_back(std::move(reasons[r]));
        t.columns.push_back(std::move(contrib[r]));
      }
    } else {
      t.columns.push_back(std::move(pred));
      t.columns.push_back(std::move(prob));
      for (auto& pc : per_class) t.columns.push_back(std::move(pc));
    }
    if (args->output.empty())
      std::cout << to_csv(t);
    else
      write_csv_atomic(args->output, t);
    if (args->metrics) {
      if (!t.find(bundle.target()))
        throw UsageError("--metrics needs the target column '" + bundle.target() + "'");
      const auto lm = bundle.metrics_on(t);
      json j = lm.metrics.to_json();
      j["scored_class"] = bundle.classes().threat_classes();
      j["unmapped_rows"] = lm.unmapped;
      std::string line = j.dump();
      if (args->output.empty())
        std::cerr << line << std::endl;
      else
        std::cout << line << std::endl;
    }
    spdlog::info("predict: {} rows scored with model {} ({})", X.rows, bundle.version(),
                 bundle.metadata().value("family", ""));
  });
});

NETSENTRY_COMMAND(sample_data, 40, [](CLI::App& app, cli::Context&) {
  auto args = std::make_shared<SampleArgs>();
  auto* cmd = app.add_subcommand(
      "sample-data", "write demo data (no download needed): phishing sites, or connection records");
  cmd->add_option("-n,--rows", args->rows, "number of rows (10 to 100,000,000)")
      ->check(CLI::Range(10.0, 1e8))
      ->capture_default_str();
  cmd->add_option("-s,--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "output CSV")->required();
  cmd->add_option("-k,--kind", args->kind,
                  "phishing (the UCI phishing schema) or connections (network connection records with "
                  "categorical fields and ten attack names, config/connections.yaml)")
      ->check(CLI::IsMember({"phishing", "connections"}))
      ->capture_default_str();
  cmd->callback([args] {
    write_csv_atomic(args->output, args->kind == "connections"
                                       ? sample_connection_data(args->rows, args->seed)
                                       : sample_phishing_data(args->rows, args->seed));
    spdlog::info("sample-data: {} rows written to {}", args->rows, args->output);
  });
});
