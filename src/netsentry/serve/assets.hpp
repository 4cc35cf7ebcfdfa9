#pragma once
// Web assets (web/*) embedded into the binary at build time by cmake/embed_assets.cmake.
#include <string_view>
#include <vector>

namespace netsentry::serve {

struct Asset {
  std::string_view name;  // file name inside web/, e.g. "index.html"
  std::string_view data;
};

const std::vector<Asset>& assets();

}  // namespace netsentry::serve
