// `netsentry schema infer DATA [--target COL] [--output schema.yaml] [--no-header --names a,b,...]`:
// writes a schema in the reference schema.yaml format, with each column's domain, inferred from a data
// file or source (schema/infer.hpp). Without --output the YAML goes to stdout.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "netsentry/cli/command.hpp"
#include "netsentry/cli/header_options.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/schema/infer.hpp"
#include "netsentry/schema/write_yaml.hpp"

namespace {

struct InferArgs {
  std::string data, target, output;
  netsentry::cli::HeaderOptions header;
  std::size_t max_values = 1000;
};

void run_infer(const InferArgs& a, const netsentry::cli::Context& ctx) {
  using namespace netsentry;
  cli::check_header_options(a.header, "schema infer", true);
  PipelineConfig cfg;
  if (std::filesystem::exists(ctx.config_path)) cfg = PipelineConfig::load(ctx.config_path);
  auto source = open_source(a.data);
  SourceOptions so;
  so.missing_values = cfg.data.missing_values;
  so.header = !a.header.no_header;
  so.names = a.header.names;
  so.max_file_bytes = cfg.data.max_file_bytes;
  Table t;
  try {
    t = source->read(so);
  } catch (const DataError& e) {
    // A first record taken for a header shows as duplicate or empty column names.
    const std::string m = e.what();
    const bool header_names = m.find("duplicate column") != std::string::npos ||
                              m.find("header has an empty column name") != std::string::npos;
    if (a.header.no_header || uri_scheme(a.data) != "csv" || !header_names) throw;
    throw DataError(m + " (a file without a header row? give --no-header --names a,b,...)");
  }
  InferOptions io;
  io.max_values = a.max_values;
  io.target = a.target;
  const auto inferred = infer_schema(t, io);
  const Schema& s = inferred.schema;
  std::string comment = "Inferred by `netsentry schema infer` from " + redact_uri(source->describe()) + " (" +
                        std::to_string(t.rows()) + " rows).";
  if (!a.target.empty()) comment += "\ntarget: " + a.target + " (listed like the other columns, by its type)";
  const std::string yaml = to_yaml(s, comment, inferred.notes);
  spdlog::info("schema infer: {} columns ({} numerical, {} categorical) from {} rows of {}", s.columns.size(),
               s.numerical_columns.size(), s.categorical_columns.size(), t.rows(), source->describe());
  if (a.output.empty()) {
    std::cout << yaml << std::flush;
  } else {
    write_file_atomic(a.output, yaml);
    spdlog::info("schema infer: wrote {}", a.output);
  }
}

}  // namespace

NETSENTRY_COMMAND(schema, 25, [](CLI::App& app, netsentry::cli::Context& ctx) {
  auto* cmd = app.add_subcommand("schema", "data schemas: infer one from a data file or source");
  cmd->require_subcommand(1);
  auto args = std::make_shared<InferArgs>();
  auto* infer = cmd->add_subcommand(
      "infer",
      "write a schema (reference schema.yaml format, with each column's values, range and missing ratio) "
      "inferred from the data");
  infer->add_option("data", args->data, "CSV file or source URI (sqlite:PATH?table=T, mongodb://...)")
      ->required();
  infer->add_option("--target", args->target, "the target column (must be in the data)");
  infer->add_option("-o,--output", args->output, "where to write the schema YAML (default: stdout)");
  netsentry::cli::add_header_options(infer, args->header, "the CSV file has no header row (give --names)");
  infer
      ->add_option("--max-values", args->max_values,
                   "a categorical column with more distinct values gets no values list")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  infer->callback([args, &ctx] { run_infer(*args, ctx); });
});
