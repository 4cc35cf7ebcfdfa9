#pragma once
// A schema written in the reference schema.yaml format (columns, numerical_columns,
// categorical_columns) and, beyond it, its domains; Schema::from_yaml_text reads it back to the same
// schema.
#include <map>
#include <string>

#include "netsentry/schema/schema.hpp"

namespace netsentry {

// `comment`: lines written first as YAML comments; `notes`: per column, a comment written in its
// domain (e.g. why it has no values list).
std::string to_yaml(const Schema& s, const std::string& comment = "",
                    const std::map<std::string, std::string>& notes = {});

}  // namespace netsentry
