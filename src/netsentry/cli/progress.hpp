#pragma once
// A one-line progress bar on stderr (stage, done fraction, ETA); silent when disabled.
#include <chrono>
#include <string>

namespace netsentry::cli {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(const std::string& stage, double fraction);
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string stage_;
  std::chrono::steady_clock::time_point stage_start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace netsentry::cli
