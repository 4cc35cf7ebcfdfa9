#pragma once
// Subcommands register themselves: one file per command under cli/, no central switch.
//   NETSENTRY_COMMAND(train, [](CLI::App& app, netsentry::cli::Context& ctx) { ... });
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace netsentry::cli {

struct Context {
  std::string config_path = "config/pipeline.yaml";
  bool quiet = false;
  bool verbose = false;
  int exit_code = 0;  // a command's callback may set it (e.g. a failed gate)
};

using CommandSetup = std::function<void(CLI::App& app, Context& ctx)>;

struct CommandInfo {
  std::string name;
  int order;  // position in --help
  CommandSetup setup;
};

std::vector<CommandInfo>& commands();

struct CommandRegistrar {
  CommandRegistrar(std::string name, int order, CommandSetup setup) {
    commands().push_back({std::move(name), order, std::move(setup)});
  }
};

}  // namespace netsentry::cli

#define NETSENTRY_COMMAND(name, order, ...) \
  static ::netsentry::cli::CommandRegistrar netsentry_command_##name(#name, order, __VA_ARGS__)
