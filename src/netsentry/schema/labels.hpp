#pragma once
// Target column -> class indices through the configured label mapping (e.g. {"-1": 0, "1": 1}).
#include <map>
#include <string>

#include "netsentry/core/matrix.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

// DataError naming the row and value when a target value is missing or not in the mapping.
Labels map_labels(const Table& t, const std::string& target, const std::map<std::string, int>& mapping);

}  // namespace netsentry
