#pragma once
// What the fuzz targets share: splitting an input into the values a target needs, failing loudly on
// a broken property, and a scratch folder per process for the targets that load files.
//
// A target calls the code under test the way netsentry calls it and lets through only the errors
// that code promises for bad input (UsageError, DataError and the parsers' own error types). Any
// other exception escapes to libFuzzer, which reports it as a finding: a user would have seen it as
// "internal error" (exit 1) instead of a message naming what was wrong.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "netsentry/table/table.hpp"

namespace netsentry::fuzz {

// The code under test logs warnings (a Latin-1 file, a refused model): not once per input.
inline const bool kQuiet = (spdlog::set_level(spdlog::level::off), true);

// Reads control values off the front of an input; the rest is the text under test.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  // One byte (0 when the input is used up).
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Up to the first '\n' (consumed), or everything.
  std::string_view line() {
    const std::size_t n = rest_.find('\n');
    const std::string_view l = rest_.substr(0, n);
    rest_.remove_prefix(n == std::string_view::npos ? rest_.size() : n + 1);
    return l;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// A broken property: prints what and where, then aborts so that libFuzzer saves the input.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// An error for bad input must say where: its message names `where` (the file, the folder).
inline void expect_named(const std::exception& e, const std::string& where) {
  if (std::string_view(e.what()).find(where) == std::string_view::npos)
    fail("an error that does not name " + where + ": " + std::string(e.what()).substr(0, 300));
}

inline bool same_number(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

// "" when the tables hold the same columns, types and cells; otherwise the first difference.
inline std::string table_difference(const Table& a, const Table& b) {
  if (a.names() != b.names()) return "column names differ";
  if (a.rows() != b.rows())
    return "row counts differ: " + std::to_string(a.rows()) + " vs " + std::to_string(b.rows());
  for (std::size_t j = 0; j < a.cols(); ++j) {
    const Column& x = a.columns[j];
    const Column& y = b.columns[j];
    if (x.type != y.type) return "column " + std::to_string(j) + " has different types";
    for (std::size_t i = 0; i < a.rows(); ++i) {
      const bool same =
          x.type == ColumnType::Numeric ? same_number(x.num[i], y.num[i]) : x.text[i] == y.text[i];
      if (!same) return "row " + std::to_string(i) + ", column " + std::to_string(j) + " differs";
    }
  }
  return "";
}

// A folder of this process's own under /dev/shm (or the temp dir), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                     : std::filesystem::temp_directory_path();
    auto d = base / ("netsentry-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

}  // namespace netsentry::fuzz
