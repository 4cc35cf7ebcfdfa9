#pragma once
// Values outside a schema's domains (schema.hpp `domains:`): categorical values not in the list,
// numbers outside [min, max], a larger share of missing values than the domain's. Validation reports
// them per split; they are no schema violation (a later period may bring new categories).
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "netsentry/schema/schema.hpp"
#include "netsentry/table/table.hpp"

namespace netsentry {

struct DomainFinding {
  std::string column;
  std::size_t rows = 0;
  std::size_t unknown_values = 0;            // categorical: values not in the domain's list
  std::size_t below_min = 0, above_max = 0;  // numeric: values outside the domain's range
  std::vector<std::string> examples;         // up to 5 distinct values outside the domain, as first seen
  double missing_ratio = 0;
  std::optional<double> max_missing_ratio;  // the domain's
  std::size_t out_of_domain() const { return unknown_values + below_min + above_max; }
  bool missing_above() const { return max_missing_ratio && missing_ratio > *max_missing_ratio + 1e-12; }
  bool any() const { return out_of_domain() > 0 || missing_above(); }
  // "<source>: column 'service': 3 of 120 values are not in the schema's domain (e.g. 'foo', 'bar')"
  std::string describe(const std::string& source) const;
  nlohmann::json to_json() const;
};

// One finding per column of `t` with a domain in `schema`, in table order.
std::vector<DomainFinding> check_domains(const Table& t, const Schema& schema);

}  // namespace netsentry
