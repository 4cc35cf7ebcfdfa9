#include "netsentry/registry/remote.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/registry/crash_point.hpp"

namespace netsentry {

namespace {

constexpr const char* kManifest = "manifest.json";

std::string join_key(const std::string& prefix, const std::string& rel) {
  return prefix.empty() ? rel : prefix + "/" + rel;
}

// A relative path from a manifest must stay inside the destination: no absolute paths, no "..", no empty
// or "." components, no backslashes.
bool safe_relative(const std::string& rel) {
  if (rel.empty() || rel.front() == '/' || rel.find('\\') != std::string::npos ||
      rel.find('\0') != std::string::npos)
    return false;
  std::size_t start = 0;
  while (start <= rel.size()) {
    auto end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

nlohmann::json upload_tree(s3::Client& client, const std::string& bucket, const std::string& prefix,
                           const fs::path& dir, const nlohmann::json& manifest_extra) {
  std::vector<fs::path> paths;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  nlohmann::json files = nlohmann::json::object();
  std::uint64_t bytes = 0;
  for (auto& p : paths) {
    std::string rel = fs::relative(p, dir).generic_string();
    if (rel == kManifest) continue;
    auto size = fs::file_size(p);
    files[rel] = {{"sha256", sha256_file(p)}, {"size", size}};
    bytes += size;
  }
  const std::string uri = "s3://" + bucket + "/" + prefix;
  const std::string manifest_key = join_key(prefix, kManifest);
  nlohmann::json out = {{"uri", uri}, {"objects", files.size()}, {"bytes", bytes}, {"skipped", false}};

  if (auto existing = client.get_object_if_exists(bucket, manifest_key)) {
    nlohmann::json old;
    try {
      old = nlohmann::json::parse(*existing);
    } catch (const std::exception&) {
      old = nullptr;
    }
    if (old.is_object() && old.value("files", nlohmann::json()) == files) {
      spdlog::info("{}: already pushed with the same content, nothing to upload", uri);
      out["skipped"] = true;
      return out;
    }
    // Different content at the same place: remove the manifest first, so that until the new one is
    // written the prefix reads as "incomplete" rather than as the old version with new files.
    client.delete_object(bucket, manifest_key);
  }
  for (auto& [rel, info] : files.items()) {
    const std::string body = read_file(dir / rel);
    if (sha256_hex(body) != info["sha256"])
      throw DataError((dir / rel).string() + ": changed while being pushed");
    client.put_object(bucket, join_key(prefix, rel), body);
    spdlog::debug("uploaded s3://{}/{} ({} bytes)", bucket, join_key(prefix, rel), body.size());
    crash_point("push.object");
  }
  crash_point("push.before_manifest");
  nlohmann::json manifest = manifest_extra;
  manifest["format"] = "netsentry-push";
  manifest["format_version"] = 1;
  manifest["pushed_at"] = utc_iso8601();
  manifest["netsentry_version"] = NETSENTRY_VERSION;
  manifest["files"] = files;
  client.put_object(bucket, manifest_key, manifest.dump(2) + "\n");
  return out;
}

nlohmann::json push_to_s3(const Registry& reg, s3::Client& client, const s3::Location& dest,
                          const PushOptions& opt) {
  nlohmann::json out = nlohmann::json::object();
  std::optional<std::string> version = opt.version;
  if (!version) version = reg.production();
  if (!version && !opt.artifacts_dir)
    throw UsageError(
        "registry " + reg.dir().string() +
        ": nothing is in production; name a version with --version (see `netsentry registry list`)");
  if (version) {
    const auto info = reg.show(*version);  // UsageError for an unknown version
    auto problems = reg.verify(*version);
    if (!problems.empty())
      throw DataError(*version + " is damaged and will not be pushed: " + problems.front());
    nlohmann::json extra = {{"version", *version},
                            {"status", info.status},
                            {"metrics", info.record.value("metrics", nlohmann::json::object())}};
    auto r = upload_tree(client, dest.bucket, dest.key(*version), reg.version_dir(*version), extra);
    out = r;
    out["version"] = *version;
    spdlog::info("pushed {} to {} ({} objects, {} bytes{})", *version, r["uri"].get<std::string>(),
                 r["objects"].get<std::size_t>(), r["bytes"].get<std::uint64_t>(),
                 r["skipped"].get<bool>() ? ", unchanged" : "");
  }
  if (opt.artifacts_dir) {
    const fs::path run = fs::absolute(*opt.artifacts_dir).lexically_normal();
    if (!fs::is_directory(run)) throw UsageError(opt.artifacts_dir->string() + ": not a run folder");
    std::string name = run.filename().string();
    if (name.empty()) name = run.parent_path().filename().string();
    auto r = upload_tree(client, dest.bucket, dest.key("artifacts/" + name), run, {{"run", name}});
    out["artifacts"] = r;
    spdlog::info("pushed run artifacts {} to {} ({} objects)", run.string(), r["uri"].get<std::string>(),
                 r["objects"].get<std::size_t>());
  }
  return out;
}

nlohmann::json pull_from_s3(Registry& reg, s3::Client& client, const s3::Location& from) {
  const std::string manifest_key = from.key(kManifest);
  auto text = client.get_object_if_exists(from.bucket, manifest_key);
  if (!text)
    throw DataError(
        "s3://" + from.bucket + "/" + manifest_key +
        " not found: nothing was pushed there, or the push did not finish (the manifest is written last)");
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(*text);
  } catch (const std::exception& e) {
    throw DataError("s3://" + from.bucket + "/" + manifest_key + ": not valid JSON: " + e.what());
  }
  if (manifest.value("format", "") != "netsentry-push" || !manifest.contains("files") ||
      !manifest["files"].is_object())
    throw DataError("s3://" + from.bucket + "/" + manifest_key + ": not a netsentry push manifest");
  if (!manifest["files"].contains("version.json") || !manifest["files"].contains("bundle/metadata.json"))
    throw DataError(
        "s3://" + from.bucket + "/" + manifest_key +
        ": lists no registry version (version.json, bundle/metadata.json); was this a run-artifacts push?");

  const fs::path staged = reg.make_staging_dir();
  try {
    std::uint64_t bytes = 0;
    for (auto& [rel, info] : manifest["files"].items()) {
      if (!safe_relative(rel)) throw DataError("manifest lists an unsafe path '" + rel + "'");
      const std::string key = from.key(rel);
      std::string body = client.get_object(from.bucket, key);
      const std::string want = info.value("sha256", "");
      const std::uint64_t want_size = info.value("size", std::uint64_t{0});
      if (body.size() != want_size || sha256_hex(body) != want)
        throw DataError("s3://" + from.bucket + "/" + key + ": content does not match the manifest (size " +
                        std::to_string(body.size()) + ", expected " + std::to_string(want_size) +
                        "; sha256 " + sha256_hex(body) + ", expected " + want + ")");
      const fs::path dest = staged / rel;
      fs::create_directories(dest.parent_path());
      std::ofstream out(dest, std::ios::binary | std::ios::trunc);
      out.write(body.data(), static_cast<std::streamsize>(body.size()));
      out.flush();
      if (!out) throw std::runtime_error("cannot write " + dest.string());
      bytes += body.size();
      crash_point("pull.object");
    }
    crash_point("pull.staged");
    nlohmann::json origin = {{"uri", from.uri()},
                             {"endpoint", client.endpoint()},
                             {"remote_version", manifest.value("version", nlohmann::json())},
                             {"pushed_at", manifest.value("pushed_at", nlohmann::json())},
                             {"manifest_sha256", sha256_hex(*text)}};
    const std::string name = reg.import_version(staged, origin);
    spdlog::info("pulled {} into {} as {} ({} objects, {} bytes)", from.uri(), reg.dir().string(), name,
                 manifest["files"].size(), bytes);
    return {{"version", name},
            {"from", from.uri()},
            {"objects", manifest["files"].size()},
            {"bytes", bytes},
            {"registry", fs::absolute(reg.dir()).string()}};
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staged, ec);
    throw;
  }
}

}  // namespace netsentry
