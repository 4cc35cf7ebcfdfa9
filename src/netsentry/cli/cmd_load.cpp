// `netsentry load --input F.csv --to URI [--replace] [--json]`: writes a data file into a database
// (the reference project's push_data.py), e.g. --to mongodb://HOST/DB?collection=C or sqlite:F.db?table=T.
// Without --replace, rows are appended to whatever the destination already holds; with it, the
// destination holds exactly these rows afterwards.
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "netsentry/cli/command.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/ingest/source.hpp"

namespace {

struct LoadArgs {
  std::string input;
  std::string to;
  bool replace = false;
  bool json = false;
};

void run_load(const LoadArgs& a) {
  using namespace netsentry;
  auto start = std::chrono::steady_clock::now();
  auto source = open_source(a.input);
  auto sink = open_sink(a.to);
  if (uri_scheme(a.to) == "csv")
    throw UsageError("--to '" + a.to + "': expected a database URI (mongodb://... or sqlite:...)");
  Table t = source->read(SourceOptions{});
  spdlog::info("read {} rows x {} columns from {}", t.rows(), t.cols(), source->describe());
  std::size_t written = sink->write(t, a.replace);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.json) {
    nlohmann::json j = {{"rows_written", written},
                        {"columns", t.cols()},
                        {"input", source->describe()},
                        {"destination", sink->describe()},
                        {"mode", a.replace ? "replace" : "append"},
                        {"seconds", seconds}};
    std::cout << j.dump() << "\n";
  } else if (a.replace) {
    std::cout << "wrote " << written << " rows to " << sink->describe()
              << " (replaced its previous contents)\n";
  } else {
    std::cout << "wrote " << written << " rows to " << sink->describe()
              << " (appended: rows already there were kept; use --replace to keep exactly one copy)\n";
  }
}

}  // namespace

NETSENTRY_COMMAND(load, 60, [](CLI::App& app, netsentry::cli::Context&) {
  auto args = std::make_shared<LoadArgs>();
  auto* cmd = app.add_subcommand("load", "write a CSV file into a MongoDB collection or an SQLite table");
  cmd->add_option("-i,--input", args->input, "data to load: a CSV path (or any source URI)")->required();
  cmd->add_option("--to", args->to,
                  "destination: mongodb://HOST/DB?collection=C, mongodb: (MONGO_DB_URL), sqlite:PATH?table=T")
      ->required();
  cmd->add_flag("--replace", args->replace, "replace the destination's contents instead of appending");
  cmd->add_flag("--json", args->json, "print the result as one JSON line");
  cmd->callback([args] { run_load(*args); });
});
