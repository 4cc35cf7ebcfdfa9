#include "netsentry/cli/header_options.hpp"

#include "netsentry/core/error.hpp"

namespace netsentry::cli {

void add_header_options(CLI::App* cmd, HeaderOptions& h, const std::string& no_header_help) {
  cmd->add_flag("--no-header", h.no_header, no_header_help);
  cmd->add_option("--names", h.names, "with --no-header: the column names in file order, a,b,...")
      ->delimiter(',');
}

void check_header_options(const HeaderOptions& h, const std::string& command, bool names_required) {
  if (!h.no_header && !h.names.empty())
    throw UsageError(command + ": --names is for a file without a header row (--no-header)");
  if (names_required && h.no_header && h.names.empty())
    throw UsageError(command + ": --no-header needs the column names in file order (--names a,b,...)");
}

}  // namespace netsentry::cli
