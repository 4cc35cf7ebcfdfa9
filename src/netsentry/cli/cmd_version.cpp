// `netsentry version`: prints the version and the versions of the libraries it was built with.
#include <xgboost/c_api.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/core/version.hpp>

#include "netsentry/cli/command.hpp"
#include "netsentry/core/omp_serial.hpp"

NETSENTRY_COMMAND(version, 100, [](CLI::App& app, netsentry::cli::Context&) {
  auto* cmd = app.add_subcommand("version", "print netsentry's and its libraries' versions as JSON");
  cmd->callback([] {
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    nlohmann::json j = {
        {"netsentry", NETSENTRY_VERSION},
        {"xgboost", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch)},
        {"opencv", CV_VERSION}};
    const auto omp = netsentry::omp_serial_status();
    // One-thread OpenMP regions run without a libgomp team (core/omp_serial.cpp).
    j["omp_serial_regions"] = omp.in_use && omp.enabled ? "on"
                              : omp.in_use              ? "off (NETSENTRY_OMP_SERIAL=0)"
                                                        : "not in use";
    std::cout << j.dump() << "\n";
  });
});
