// `netsentry registry list | show V | promote V [--force] | rollback`: the local model registry.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "netsentry/cli/command.hpp"
#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/registry/registry.hpp"

namespace {

using namespace netsentry;
using json = nlohmann::json;

struct RegistryArgs {
  std::string dir;
  std::string version;
  bool json_out = false;
  bool force = false;
  bool verify = false;
};

// The config when it exists (registry.* keys), the built-in defaults otherwise.
PipelineConfig load_config_or_defaults(const std::string& path) {
  if (std::filesystem::exists(path)) return PipelineConfig::load(path);
  spdlog::debug("{} not found: registry defaults (dir registry, metric f1, min_improvement 0)", path);
  return PipelineConfig{};
}

Registry open_registry(const cli::Context& ctx, const RegistryArgs& a) {
  auto cfg = load_config_or_defaults(ctx.config_path);
  auto opt = RegistryOptions::from_config(cfg);
  return Registry(a.dir.empty() ? registry_dir_from_config(cfg) : std::filesystem::path(a.dir), opt);
}

void common_options(CLI::App* cmd, RegistryArgs& a) {
  cmd->add_option("--registry", a.dir, "registry directory (default: registry.dir in the config, registry/)");
  cmd->add_flag("--json", a.json_out, "print JSON on stdout");
}

std::string score(const json& metrics, const char* name) {
  if (!metrics.is_object() || !metrics.contains(name) || !metrics[name].is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", metrics[name].get<double>());
  return buf;
}

void print_gate(const GateDecision& g, bool promoted, const std::string& v) {
  std::printf("%s: %s\n", v.c_str(),
              promoted ? "promoted to production" : (g.passed ? "unchanged" : "stays a candidate"));
  std::printf("gate: %s\n", g.reason.c_str());
}

}  // namespace

NETSENTRY_COMMAND(registry, 70, [](CLI::App& app, cli::Context& ctx) {
  auto* reg =
      app.add_subcommand("registry", "model registry: list, show, promote (through the gate), rollback");
  reg->require_subcommand(1);

  auto la = std::make_shared<RegistryArgs>();
  auto* list = reg->add_subcommand("list", "list the complete versions with their status and metrics");
  common_options(list, *la);
  list->add_flag("--verify", la->verify,
                 "also check every version's files (sha256) and that its bundle loads");
  list->callback([la, &ctx] {
    auto r = open_registry(ctx, *la);
    auto versions = r.list();
    json out = json::array();
    bool broken = false;
    for (auto& v : versions) {
      json j = v.to_json();
      if (la->verify) {
        auto problems = r.verify(v.name);
        j["intact"] = problems.empty();
        if (!problems.empty()) {
          j["problems"] = problems;
          broken = true;
        }
      }
      out.push_back(j);
    }
    if (la->json_out) {
      std::cout << json{{"registry", std::filesystem::absolute(r.dir()).string()},
                        {"production", r.production() ? json(*r.production()) : json()},
                        {"versions", out}}
                       .dump()
                << std::endl;
    } else if (out.empty()) {
      std::printf("registry %s: no versions yet (train a model, or `netsentry pull`)\n", r.dir().c_str());
    } else {
      const std::string metric = r.options().gate.metric;
      std::printf("%-7s %-11s %-21s %-9s %-9s %s\n", "VERSION", "STATUS", "CREATED", metric.c_str(),
                  "ACCURACY", "GATE");
      for (auto& j : out) {
        std::string gate = "-";
        if (j["gate"].is_object())
          gate = (j["gate"].value("passed", false) ? "passed: " : "failed: ") +
                 j["gate"].value("reason", std::string());
        if (la->verify) gate = (j["intact"].get<bool>() ? "[intact] " : "[BROKEN] ") + gate;
        std::printf("%-7s %-11s %-21s %-9s %-9s %s\n", j["version"].get<std::string>().c_str(),
                    j["status"].get<std::string>().c_str(), j["created_at"].get<std::string>().c_str(),
                    score(j["metrics"], metric.c_str()).c_str(), score(j["metrics"], "accuracy").c_str(),
                    gate.c_str());
      }
    }
    if (broken) ctx.exit_code = kExitInvalidData;
  });

  auto sa = std::make_shared<RegistryArgs>();
  auto* show = reg->add_subcommand("show", "show one version: metrics, gate decisions, history");
  show->add_option("version", sa->version, "version (v1, v2, ...)")->required();
  common_options(show, *sa);
  show->callback([sa, &ctx] {
    auto r = open_registry(ctx, *sa);
    auto v = r.show(sa->version);
    json j = v.to_json();
    j["record"] = v.record;
    j["state"] = v.state;
    j["path"] = std::filesystem::absolute(r.version_dir(v.name)).string();
    if (sa->json_out) {
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << j.dump(2) << std::endl;
    }
  });

  auto pa = std::make_shared<RegistryArgs>();
  auto* promote = reg->add_subcommand("promote", "promote a version to production if it passes the gate");
  promote->add_option("version", pa->version, "version (v1, v2, ...)")->required();
  promote->add_flag("--force", pa->force, "switch even if the gate refuses (the decision is still recorded)");
  common_options(promote, *pa);
  promote->callback([pa, &ctx] {
    auto r = open_registry(ctx, *pa);
    auto res = r.promote(pa->version, pa->force);
    if (pa->json_out) {
      auto j = res.to_json();
      j["production"] = r.production() ? json(*r.production()) : json();
      std::cout << j.dump() << std::endl;
    } else {
      print_gate(res.gate, res.promoted, res.version);
    }
    if (!res.promoted && !res.gate.passed) ctx.exit_code = kExitGateFailed;
  });

  auto aa = std::make_shared<RegistryArgs>();
  auto aopt = std::make_shared<std::pair<std::string, std::string>>();  // test split, run dir
  auto* add = reg->add_subcommand("add",
                                  "register a model bundle as a candidate (what `train` does at its end), "
                                  "then apply registry.auto_promote through the gate");
  add->add_option("bundle", aa->version, "model bundle directory (e.g. final_model)")->required();
  add->add_option("--test-split", aopt->first, "the test split CSV to evaluate it on");
  add->add_option("--run-dir", aopt->second, "the training run folder (its ingestion test split is used)");
  common_options(add, *aa);
  add->callback([aa, aopt, &ctx] {
    auto cfg = load_config_or_defaults(ctx.config_path);
    auto r = open_registry(ctx, *aa);
    std::filesystem::path test;
    json extra = json::object();
    if (!aopt->first.empty()) {
      test = aopt->first;
    } else if (!aopt->second.empty()) {
      test = find_test_split(aopt->second, cfg.ingestion.test_file);
      extra["run_dir"] = std::filesystem::absolute(aopt->second).string();
    } else {
      throw UsageError(
          "registry add: give the test split (--test-split CSV) or the run folder (--run-dir DIR)");
    }
    auto out = register_and_gate(r, aa->version, test, extra);
    if (aa->json_out)
      std::cout << out.dump() << std::endl;
    else
      std::printf("%s: %s\ngate: %s\n", out["version"].get<std::string>().c_str(),
                  out["promoted"].get<bool>() ? "promoted to production" : "registered as a candidate",
                  out["gate"]["reason"].get<std::string>().c_str());
  });

  auto ra = std::make_shared<RegistryArgs>();
  auto* rollback = reg->add_subcommand("rollback", "make the previous production version production again");
  common_options(rollback, *ra);
  rollback->callback([ra, &ctx] {
    auto r = open_registry(ctx, *ra);
    auto before = r.production();
    auto now = r.rollback();
    if (ra->json_out)
      std::cout << json{{"production", now}, {"rolled_back", before ? json(*before) : json()}}.dump()
                << std::endl;
    else
      std::printf("production: %s (was %s)\n", now.c_str(), before ? before->c_str() : "-");
  });
});
