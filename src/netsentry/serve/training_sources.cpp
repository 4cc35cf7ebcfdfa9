#include "netsentry/serve/training_sources.hpp"

#include <algorithm>
#include <system_error>

#include "netsentry/ingest/source.hpp"

namespace netsentry::serve {

namespace {

namespace fs = std::filesystem;

// `p` inside directory `root` (both canonical): root's components are a prefix of p's.
bool inside(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

fs::path canonical_of(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) return {};
  fs::path c = fs::weakly_canonical(abs, ec);
  return ec ? fs::path() : c;
}

}  // namespace

std::variant<std::string, Refused> allowed_training_source(const std::string& requested,
                                                           const TrainingSources& allowed) {
  const std::string scheme = uri_scheme(requested);
  if (scheme == "csv" || scheme == "sqlite") {
    // The file part: a path, "file:PATH" or "sqlite:PATH?table=T".
    std::string path = requested, rest;
    if (scheme == "sqlite") {
      path = requested.substr(requested.find(':') + 1);
      const auto q = path.find('?');
      if (q != std::string::npos) {
        rest = path.substr(q);
        path.erase(q);
      }
    } else if (requested.rfind("file:", 0) == 0) {
      path = requested.substr(5);
    }
    if (allowed.data_roots.empty())
      return Refused{
          "training on a file named in the request is not enabled: the server trains on its "
          "configured data.source, or on files under serve.training_data_roots when set"};
    const fs::path target = canonical_of(path);
    if (!target.empty())
      for (const auto& root : allowed.data_roots) {
        const fs::path r = canonical_of(root);
        if (!r.empty() && inside(target, r))
          return scheme == "sqlite" ? "sqlite:" + target.string() + rest : target.string();
      }
    return Refused{"the file is not under any of serve.training_data_roots"};
  }
  for (const auto& prefix : allowed.uri_prefixes) {
    if (prefix.empty() || requested.compare(0, prefix.size(), prefix) != 0) continue;
    // "mongodb://db" must not admit "mongodb://db.evil.example": the prefix ends where a URI part does.
    const char last = prefix.back();
    const bool at_boundary = requested.size() == prefix.size() || last == '/' || last == '?' ||
                             requested[prefix.size()] == '/' || requested[prefix.size()] == '?';
    if (at_boundary) return requested;
  }
  return Refused{"the source URI does not start with any of serve.training_source_uris"};
}

}  // namespace netsentry::serve
