#pragma once
// Reading the project's YAML files (config/pipeline.yaml, schema.yaml) within limits, so that a hostile
// file cannot exhaust the machine: at most kDefaultYamlBytes of text and kDefaultYamlNodes nodes
// counted with every alias expanded (an "alias bomb" of a few lines names 10^8 nodes). The limits
// are raised with the environment variables NETSENTRY_MAX_YAML_BYTES and NETSENTRY_MAX_YAML_NODES,
// which the errors name.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace netsentry {

inline constexpr std::size_t kDefaultYamlBytes = 16u << 20;
inline constexpr std::size_t kDefaultYamlNodes = 1000000;

// The byte limit in force (NETSENTRY_MAX_YAML_BYTES, else kDefaultYamlBytes).
std::size_t yaml_max_bytes();

// Parses YAML text; a syntax error or a document over the node limit is a UsageError starting
// with `source`.
YAML::Node parse_yaml(std::string_view text, const std::string& source);

// Reads and parses a YAML file (a regular file within the byte limit).
YAML::Node load_yaml_file(const std::filesystem::path& path);

}  // namespace netsentry
