#include "netsentry/core/yaml_load.hpp"

#include <cstdlib>
#include <string>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/text.hpp"

namespace netsentry {

namespace {

constexpr int kMaxDepth = 200;  // no settings file nests this deep

std::size_t limit_from_env(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (*end != '\0' || n == 0)
    throw UsageError(std::string(name) + " must be a positive whole number (got " + quote_value(v) + ")");
  return static_cast<std::size_t>(n);
}

// Counts nodes depth-first, aliases expanded; stops as soon as the count passes `limit`, so the walk
// costs at most `limit` steps whatever the document. A key or value that is not UTF-8 text is refused
// here too (YAML is Unicode text; every value read from it ends up in JSON files and messages).
void count_nodes(const YAML::Node& n, std::size_t& count, std::size_t limit, const std::string& source,
                 int depth = 0) {
  if (n.IsScalar() && !valid_utf8(n.Scalar()))
    throw UsageError(source + ": line " + std::to_string(n.Mark().line + 1) + ": " + quote_value(n.Scalar()) +
                     " is not UTF-8 text");
  if (depth > kMaxDepth)
    throw UsageError(source + ": YAML nested more than " + std::to_string(kMaxDepth) + " levels deep");
  if (++count > limit)
    throw UsageError(source + ": more than " + std::to_string(limit) +
                     " YAML nodes with aliases expanded (the limit; NETSENTRY_MAX_YAML_NODES raises it)");
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      count_nodes(it->first, count, limit, source, depth + 1);
      count_nodes(it->second, count, limit, source, depth + 1);
    }
  } else if (n.IsSequence()) {
    for (auto it = n.begin(); it != n.end(); ++it) count_nodes(*it, count, limit, source, depth + 1);
  }
}

}  // namespace

std::size_t yaml_max_bytes() { return limit_from_env("NETSENTRY_MAX_YAML_BYTES", kDefaultYamlBytes); }

YAML::Node parse_yaml(std::string_view text, const std::string& source) {
  const std::size_t max_bytes = yaml_max_bytes();
  if (text.size() > max_bytes)
    throw UsageError(source + ": " + std::to_string(text.size()) + " bytes of YAML, over the limit of " +
                     std::to_string(max_bytes) + " (NETSENTRY_MAX_YAML_BYTES raises it)");
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw UsageError(source + ": invalid YAML: " + e.what());
  }
  std::size_t count = 0;
  count_nodes(root, count, limit_from_env("NETSENTRY_MAX_YAML_NODES", kDefaultYamlNodes), source);
  return root;
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  return parse_yaml(read_file(path, yaml_max_bytes(), "NETSENTRY_MAX_YAML_BYTES"), path.string());
}

}  // namespace netsentry
