// `netsentry serve --model-dir DIR [--host H] [--port P] [--threads N]`: the web UI and JSON API.
// SIGTERM / SIGINT stop it gracefully (requests in flight finish); SIGHUP reloads the model.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
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

  std::atomic<bool> done{false};
  std::thread signals([&] {
    bool stopping = false;
    while (!done.load()) {
      timespec ts{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&set, nullptr, &ts);
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading the model");
        server.reload();
      } else if (sig == SIGINT || sig == SIGTERM) {
        if (stopping && server.jobs().busy()) {
          spdlog::warn("second signal: abandoning the running training job (it publishes nothing half-done)");
          spdlog::default_logger()->flush();
          std::_Exit(kExitInternal);
        }
        spdlog::info("{}: shutting down; requests in flight finish", sig == SIGINT ? "SIGINT" : "SIGTERM");
        stopping = true;
      }
      // stop() only takes once the server listens: repeat it until run() returns.
      if (stopping) server.stop();
    }
  });

  server.run();
  if (server.jobs().busy()) {
    spdlog::warn("waiting for the running training job to finish (signal again to abandon it)");
    server.jobs().wait_idle(std::chrono::hours(24 * 365));
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
