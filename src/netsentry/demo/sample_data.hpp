#pragma once
// Built-in demo data: rows with the phishing schema (30 features in {-1, 0, 1}, target Result in
// {-1, 1}) drawn from the per-class value frequencies measured on the real UCI file, so that the
// demo needs no download. Deterministic for a seed.
#include <cstdint>

#include "netsentry/table/table.hpp"

namespace netsentry {

Table sample_phishing_data(std::size_t rows, std::uint64_t seed);

}  // namespace netsentry
