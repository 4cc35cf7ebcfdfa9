// `netsentry healthcheck [--url http://127.0.0.1:8080/healthz] [--timeout-seconds 2]`: asks a running
// `netsentry serve` whether it answers, for a container's HEALTHCHECK or an exec probe, in an image
// that has no curl. Exit 0 only when the URL answers 200 within the timeout; 1 (Docker's "unhealthy")
// when nothing listens there, no answer comes in time or the answer is another status, with one line
// on stderr saying which; 2 for a malformed URL or timeout.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include "netsentry/cli/command.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/serve/probe.hpp"

namespace {

struct HealthcheckArgs {
  std::string url = "http://127.0.0.1:8080/healthz";
  double timeout_seconds = 2.0;
};

}  // namespace

NETSENTRY_COMMAND(healthcheck, 55, [](CLI::App& app, netsentry::cli::Context& ctx) {
  auto a = std::make_shared<HealthcheckArgs>();
  auto* cmd = app.add_subcommand("healthcheck",
                                 "GET a running server's URL (default its /healthz on loopback): exit 0 "
                                 "on a 200, 1 otherwise (refused, no answer in time, another status)");
  cmd->add_option("--url", a->url, "the URL to ask, http://HOST[:PORT][/PATH]")->capture_default_str();
  cmd->add_option("--timeout-seconds", a->timeout_seconds,
                  "give up after this long (resolving, connecting and reading included)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  cmd->callback([a, &ctx] {
    using namespace netsentry;
    const auto url = serve::parse_probe_url(a->url);
    const auto timeout = std::chrono::milliseconds(std::llround(a->timeout_seconds * 1000.0));
    const auto r = serve::probe(url, timeout);
    const std::string line = "healthcheck " + serve::describe(url, r);
    if (r.outcome == serve::ProbeOutcome::Answered && r.status == 200) {
      std::cout << line << "\n";
      return;
    }
    spdlog::error("{}", line);
    ctx.exit_code = kExitInternal;  // 1: Docker's and Kubernetes' "unhealthy"
  });
});
