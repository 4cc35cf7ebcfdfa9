#pragma once
// Built-in demo data of the second kind: network connection records with three categorical fields
// (protocol_type, service, flag), counts and rates on very different scales, and a text label with
// ten attack names (normal, neptune, smurf, satan, ...), drawn per attack name from the category
// counts and number quantiles measured on the NSL-KDD training file, so that the README's demo of
// categorical features and text labels needs no download. Deterministic for a seed. Column names
// are NSL-KDD's (a subset of its 41 features).
#include <cstdint>

#include "netsentry/table/table.hpp"

namespace netsentry {

Table sample_connection_data(std::size_t rows, std::uint64_t seed);

}  // namespace netsentry
