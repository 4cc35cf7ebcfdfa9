#include "netsentry/cli/command.hpp"

namespace netsentry::cli {

std::vector<CommandInfo>& commands() {
  static std::vector<CommandInfo> all;
  return all;
}

}  // namespace netsentry::cli
