// netsentry: command-line entry point. Subcommands live in cli/cmd_*.cpp and register themselves.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "netsentry/cli/command.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/memory.hpp"
#include "netsentry/core/omp_serial.hpp"

int main(int argc, char** argv) {
  using namespace netsentry;
  keep_freed_memory();
  auto logger = spdlog::stderr_color_mt("netsentry");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%H:%M:%S.%e %l]%$ %v");
  // The one-thread OpenMP entry point must be the one the libraries bind to (core/omp_serial.cpp).
  if (const auto omp = omp_serial_status(); omp.enabled && !omp.in_use)
    spdlog::warn("one-thread OpenMP regions go to libgomp: netsentry's GOMP_parallel is not the one in use");

  CLI::App app{"netsentry: network-threat detection, from data to a served model"};
  app.set_version_flag("--version", std::string(NETSENTRY_VERSION));
  app.require_subcommand(1);
  cli::Context ctx;
  app.add_option("-c,--config", ctx.config_path, "pipeline configuration (YAML)")->capture_default_str();
  app.add_flag("-q,--quiet", ctx.quiet, "only warnings and errors on stderr")
      ->each([](const std::string&) { spdlog::set_level(spdlog::level::warn); })
      ->trigger_on_parse();
  app.add_flag("-v,--verbose", ctx.verbose, "debug logging on stderr")
      ->each([](const std::string&) { spdlog::set_level(spdlog::level::debug); })
      ->trigger_on_parse();
  auto& cmds = cli::commands();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.order < b.order; });
  for (auto& c : cmds) c.setup(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  } catch (const UsageError& e) {
    spdlog::error("{}", e.what());
    return kExitUsage;
  } catch (const DataError& e) {
    spdlog::error("invalid data: {}", e.what());
    return kExitInvalidData;
  } catch (const GateError& e) {
    spdlog::error("model rejected: {}", e.what());
    return kExitGateFailed;
  } catch (const UnreachableError& e) {
    spdlog::error("unreachable: {}", e.what());
    return kExitUnreachable;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return kExitInternal;
  }
  // Every output is checked: a write to standard output that failed (a full disk, /dev/full, a
  // closed pipe) fails the command, naming it, whatever the command printed before.
  std::cout.flush();
  if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    spdlog::error("writing to standard output failed: {}", std::strerror(errno ? errno : EIO));
    return kExitInternal;
  }
  return ctx.exit_code;
}
