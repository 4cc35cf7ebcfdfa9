#include "netsentry/cli/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace netsentry::cli {

namespace {

std::string format_eta(double seconds) {
  char buf[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  else if (seconds < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(seconds) / 3600,
                  static_cast<int>(seconds) % 3600 / 60);
  return buf;
}

}  // namespace

std::string format_progress(const std::string& stage, double fraction, std::size_t done, std::size_t total,
                            double elapsed_seconds) {
  constexpr int kWidth = 30;
  if (total > 0) fraction = static_cast<double>(std::min(done, total)) / static_cast<double>(total);
  if (!std::isfinite(fraction)) fraction = 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kWidth);
  std::string line = stage;
  if (line.size() < 9) line.resize(9, ' ');
  line += " [" + std::string(static_cast<std::size_t>(filled), '#') +
          std::string(static_cast<std::size_t>(kWidth - filled), '.') + "]";
  char buf[96];
  if (total > 0) {
    std::snprintf(buf, sizeof buf, " %zu/%zu fits", std::min(done, total), total);
    line += buf;
  }
  std::snprintf(buf, sizeof buf, " %3.0f%%", std::floor(fraction * 100));
  line += buf;
  // Extrapolated from the stage's elapsed time: known once some work is done (a counted unit, or 2%).
  const bool estimable = total > 0 ? done > 0 : fraction > 0.02;
  const double eta = fraction >= 1 ? 0.0 : estimable ? elapsed_seconds * (1 - fraction) / fraction : -1.0;
  line += "  ETA " + format_eta(eta);
  return line;
}

void ProgressBar::update(const std::string& stage, double fraction, std::size_t done, std::size_t total) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  const bool complete = total > 0 ? done >= total : fraction >= 1;
  if (stage != stage_) {
    stage_ = stage;
    stage_start_ = now;
  } else if (!complete && now - last_draw_ < kMinRedraw) {
    return;
  }
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - stage_start_).count();
  std::fprintf(stderr, "\r\033[K%s", format_progress(stage, fraction, done, total, elapsed).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) std::fprintf(stderr, "\r\033[K");
  drawn_ = false;
}

}  // namespace netsentry::cli
