// `netsentry push --to s3://BUCKET/PREFIX` and `netsentry pull --from s3://BUCKET/PREFIX/vN`: registry
// versions to and from S3 (or any S3-compatible endpoint), signed with AWS Signature V4.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "netsentry/cli/command.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/registry/aws_credentials.hpp"
#include "netsentry/registry/registry.hpp"
#include "netsentry/registry/remote.hpp"

namespace {

using namespace netsentry;
using json = nlohmann::json;

struct SyncArgs {
  std::string uri, endpoint, registry, version, artifacts;
  bool json_out = false;
};

Registry open_registry_for(const cli::Context& ctx, const std::string& dir) {
  PipelineConfig cfg;
  if (std::filesystem::exists(ctx.config_path)) cfg = PipelineConfig::load(ctx.config_path);
  return Registry(dir.empty() ? registry_dir_from_config(cfg) : std::filesystem::path(dir),
                  RegistryOptions::from_config(cfg));
}

// Credentials from the AWS default chain (aws_credentials.hpp), refreshed before they expire.
s3::Client open_s3(const std::string& endpoint) {
  auto resolved = aws::resolve_credentials();
  spdlog::info("{}", resolved.log_line());
  return s3::Client(endpoint, std::move(resolved.credentials), aws::refresh_by_resolving());
}

}  // namespace

NETSENTRY_COMMAND(push, 80, [](CLI::App& app, cli::Context& ctx) {
  auto a = std::make_shared<SyncArgs>();
  auto* cmd = app.add_subcommand("push",
                                 "upload a registry version (default: production) and optionally a run's "
                                 "artifacts to S3");
  cmd->add_option("--to", a->uri, "destination s3://BUCKET/PREFIX (the version goes to PREFIX/vN/)")
      ->required();
  cmd->add_option("--endpoint", a->endpoint,
                  "S3-compatible endpoint, e.g. http://127.0.0.1:4568 (default: "
                  "AWS_ENDPOINT_URL, then AWS's regional endpoint)");
  cmd->add_option("--version", a->version, "registry version to push (default: the production version)");
  cmd->add_option("--artifacts", a->artifacts, "also upload this run folder to PREFIX/artifacts/<run>/");
  cmd->add_option("--registry", a->registry, "registry directory (default: registry.dir in the config)");
  cmd->add_flag("--json", a->json_out, "print a JSON summary on stdout");
  cmd->callback([a, &ctx] {
    auto dest = s3::Location::parse(a->uri);
    auto reg = open_registry_for(ctx, a->registry);
    s3::Client client = open_s3(a->endpoint);
    PushOptions opt;
    if (!a->version.empty()) opt.version = a->version;
    if (!a->artifacts.empty()) opt.artifacts_dir = a->artifacts;
    auto out = push_to_s3(reg, client, dest, opt);
    if (a->json_out) {
      std::cout << out.dump() << std::endl;
    } else {
      if (out.contains("version"))
        std::printf("%s -> %s/ (%zu objects%s)\n", out["version"].get<std::string>().c_str(),
                    out["uri"].get<std::string>().c_str(), out["objects"].get<std::size_t>(),
                    out["skipped"].get<bool>() ? ", already there" : "");
      if (out.contains("artifacts"))
        std::printf("artifacts -> %s/ (%zu objects)\n", out["artifacts"]["uri"].get<std::string>().c_str(),
                    out["artifacts"]["objects"].get<std::size_t>());
    }
  });
});

NETSENTRY_COMMAND(pull, 85, [](CLI::App& app, cli::Context& ctx) {
  auto a = std::make_shared<SyncArgs>();
  auto* cmd = app.add_subcommand("pull",
                                 "download a pushed version, check it against its manifest and add it "
                                 "to the local registry as a candidate");
  cmd->add_option("--from", a->uri, "the pushed version: s3://BUCKET/PREFIX/vN")->required();
  cmd->add_option("--endpoint", a->endpoint, "S3-compatible endpoint, e.g. http://127.0.0.1:4568");
  cmd->add_option("--registry", a->registry, "registry directory (default: registry.dir in the config)");
  cmd->add_flag("--json", a->json_out, "print a JSON summary on stdout");
  cmd->callback([a, &ctx] {
    auto from = s3::Location::parse(a->uri);
    auto reg = open_registry_for(ctx, a->registry);
    s3::Client client = open_s3(a->endpoint);
    auto out = pull_from_s3(reg, client, from);
    if (a->json_out)
      std::cout << out.dump() << std::endl;
    else
      std::printf("%s -> %s/%s (candidate; promote with `netsentry registry promote %s`)\n", a->uri.c_str(),
                  reg.dir().c_str(), out["version"].get<std::string>().c_str(),
                  out["version"].get<std::string>().c_str());
  });
});
