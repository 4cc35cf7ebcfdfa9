#pragma once
// A one-line progress bar on stderr (stage, fits done / total, percent, ETA); silent when disabled.
#include <chrono>
#include <cstddef>
#include <string>

namespace netsentry::cli {

// The bar's text (without the leading carriage return), e.g.
//   "train     [#############.................] 57/129 fits  44%  ETA 1.2s"
// `done`/`total` are counted units (the search's fit tasks); total 0 = not counted, the fraction
// alone is shown. The ETA extrapolates the stage's elapsed time, and is "?" until it can.
std::string format_progress(const std::string& stage, double fraction, std::size_t done, std::size_t total,
                            double elapsed_seconds);

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  // Redraws at most every kMinRedraw, except on a new stage and at completion.
  void update(const std::string& stage, double fraction, std::size_t done = 0, std::size_t total = 0);
  void finish();

  static constexpr std::chrono::milliseconds kMinRedraw{50};  // at most 20 redraws a second

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string stage_;
  std::chrono::steady_clock::time_point stage_start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace netsentry::cli
