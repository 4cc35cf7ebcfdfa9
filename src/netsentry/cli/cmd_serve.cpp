// `netsentry serve --model-dir DIR [--host H] [--port P] [--threads N]`: the web UI and JSON API.
// SIGHUP reloads the model. SIGTERM / SIGINT stop it gracefully, within serve.shutdown_grace_seconds
// of the signal whatever the clients do: the server stops accepting, requests in flight and a running
// training job may finish within the grace; past it the connections still open are closed (http.hpp)
// and a job still running is abandoned (exit 1; the registry's publishes are atomic, so it publishes
// nothing half-done). A second signal abandons a running job at once, with the same exit code.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "netsentry/cli/command.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/serve/jobs.hpp"
#include "netsentry/serve/server.hpp"

namespace {

struct ServeArgs {
  std::string model_dir;
  std::string host;
  int port = -1;
  int threads = -1;
  bool wait_for_model = false;
};

void serve(const ServeArgs& a, const netsentry::cli::Context& ctx) {
  using namespace netsentry;
  // Signals go to one thread that waits for them; every other thread (created below) inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  PipelineConfig cfg;
  if (std::filesystem::exists(ctx.config_path)) {
    cfg = PipelineConfig::load(ctx.config_path);
  } else {
    spdlog::warn("{}: not found; serving with default settings (training jobs use the defaults too)",
                 ctx.config_path);
  }
  auto opt = serve::options_from_config(cfg);
  opt.model_dir = a.model_dir;
  if (!a.host.empty()) opt.host = a.host;
  if (a.port >= 0) opt.port = a.port;
  if (a.threads >= 0) opt.threads = a.threads;
  opt.api_token = serve::api_token_from_env();
  if (ctx.verbose) opt.access_log = true;

  serve::Server server(opt, a.wait_for_model);
  server.bind();

  // A running training job given up: its thread is not waited for (TrainingJobs would).
  auto abandon_job = [](const std::string& why) {
    spdlog::warn("{}: abandoning the running training job (it publishes nothing half-done)", why);
    spdlog::default_logger()->flush();
    std::_Exit(kExitInternal);
  };
  using Clock = std::chrono::steady_clock;
  const auto grace = std::chrono::seconds(opt.shutdown_grace_seconds);
  std::atomic<bool> done{false};
  std::atomic<Clock::rep> stop_at{0};  // when the first SIGINT / SIGTERM came (0: none yet)
  std::thread signals([&] {
    bool stopping = false;
    while (!done.load()) {
      timespec ts{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading the model");
        server.reload();
      } else if (sig == SIGINT || sig == SIGTERM) {
        if (stopping && server.jobs().busy()) abandon_job("second signal");
        if (!stopping) {
          stop_at = Clock::now().time_since_epoch().count();
          spdlog::info("{}: shutting down; requests in flight may finish within {} s",
                       sig == SIGINT ? "SIGINT" : "SIGTERM", grace.count());
        }
        stopping = true;
      }
      // stop() only takes once the server listens: repeat it until run() returns.
      if (stopping) server.stop();
    }
  });

  server.run();  // returns within the grace (and about half a second) of the stop
  if (server.jobs().busy()) {
    const Clock::rep at = stop_at.load();
    const auto end = (at ? Clock::time_point(Clock::duration(at)) : Clock::now()) + grace;
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(std::max(end - Clock::now(), Clock::duration::zero()));
    spdlog::warn("waiting up to {:.1f} s for the running training job to finish (signal again to abandon it)",
                 static_cast<double>(left.count()) / 1e3);
    if (!server.jobs().wait_idle(left))
      abandon_job("the shutdown grace of " + std::to_string(grace.count()) +
                  " s (serve.shutdown_grace_seconds) is over");
  }
  done = true;
  signals.join();
  spdlog::info("stopped");
}

}  // namespace

NETSENTRY_COMMAND(serve, 50, [](CLI::App& app, netsentry::cli::Context& ctx) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve",
                                 "serve the web UI and the JSON API for a model bundle (hot reload on SIGHUP "
                                 "or when the directory is replaced)");
  cmd->add_option("--model-dir", a->model_dir, "the model bundle directory (a final_model/)")->required();
  cmd->add_option("--host", a->host, "address to listen on (default: serve.host, 127.0.0.1)");
  cmd->add_option("--port", a->port, "port (default: serve.port, 8080; 0 = any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option(
         "--threads", a->threads,
         "event-loop threads, each serving many connections (default: serve.threads; 0: two per core)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--wait-for-model", a->wait_for_model,
                "start even when the directory holds no model yet (not ready until one is published)");
  cmd->callback([a, &ctx] { serve(*a, ctx); });
});
