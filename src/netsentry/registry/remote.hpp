#pragma once
// Pushing registry versions (and run artifacts) to S3 and pulling them back.
//
// Layout under s3://BUCKET/PREFIX:
//   vN/bundle/...  vN/test.csv  vN/version.json     the version's files, byte for byte
//   vN/manifest.json                                 uploaded LAST: every file's sha256 and size
//   artifacts/<run folder name>/...  + manifest.json (same rule) when --artifacts is given
// A push first deletes an existing different manifest, so an interrupted push is never mistaken for a
// complete one; `pull` refuses a prefix without a manifest and checks every file against it before the
// version is published (atomically) in the local registry.
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/registry/registry.hpp"
#include "netsentry/registry/s3.hpp"

namespace netsentry {

struct PushOptions {
  std::optional<std::string> version;                  // default: the production version
  std::optional<std::filesystem::path> artifacts_dir;  // a run folder to upload too
};

// Returns {"version", "uri", "objects", "bytes", "skipped", "artifacts": {...}}.
nlohmann::json push_to_s3(const Registry& reg, s3::Client& client, const s3::Location& dest,
                          const PushOptions& opt);

// `from` is the pushed version's prefix (s3://BUCKET/PREFIX/vN). Returns {"version" (local name), "from",
// "objects", "bytes"}.
nlohmann::json pull_from_s3(Registry& reg, s3::Client& client, const s3::Location& from);

// Uploads every file of `dir` under `prefix`, then `prefix/manifest.json`. Returns {"uri", "objects",
// "bytes"}.
nlohmann::json upload_tree(s3::Client& client, const std::string& bucket, const std::string& prefix,
                           const std::filesystem::path& dir, const nlohmann::json& manifest_extra);

}  // namespace netsentry
