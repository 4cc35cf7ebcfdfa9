#pragma once
// The `--no-header [--names a,b,...]` options of the commands that read a CSV file which may have no
// header row (`predict`, `schema infer`), and their one rule: --names only with --no-header.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace netsentry::cli {

struct HeaderOptions {
  bool no_header = false;
  std::vector<std::string> names;  // the columns in file order, from --names
};

// Adds both options to `cmd`; `no_header_help` says where the names come from without --names.
void add_header_options(CLI::App* cmd, HeaderOptions& h, const std::string& no_header_help);

// A UsageError naming `command` for --names without --no-header, and (when `names_required`) for
// --no-header without --names.
void check_header_options(const HeaderOptions& h, const std::string& command, bool names_required);

}  // namespace netsentry::cli
