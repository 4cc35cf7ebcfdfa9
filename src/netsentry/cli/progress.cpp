#include "netsentry/cli/progress.hpp"

#include <cstdio>

namespace netsentry::cli {

void ProgressBar::update(const std::string& stage, double fraction) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (stage != stage_) {
    stage_ = stage;
    stage_start_ = now;
  } else if (fraction < 1 && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  const int width = 30;
  int filled = static_cast<int>(fraction * width + 0.5);
  double elapsed = std::chrono::duration<double>(now - stage_start_).count();
  double eta = fraction > 0.02 ? elapsed * (1 - fraction) / fraction : 0;
  std::fprintf(stderr, "\r\033[K%-9s [%.*s%*s] %3.0f%%  ETA %4.1fs", stage.c_str(), filled,
               "##############################", width - filled, "", fraction * 100, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace netsentry::cli
