// The training progress bar's text: fits done / total, percent, ETA extrapolated from elapsed time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "netsentry/cli/progress.hpp"

using netsentry::cli::format_progress;

TEST(ProgressBar, ShowsFitsDoneOfTotalPercentAndEta) {
  // 57 of 129 fits in 1.0 s: 72 left at the same rate.
  const double elapsed = 1.0, eta = elapsed * (129 - 57) / 57.0;
  char expected_eta[32];
  std::snprintf(expected_eta, sizeof expected_eta, "ETA %.1fs", eta);
  const std::string line = format_progress("train", 0.0, 57, 129, elapsed);
  EXPECT_NE(line.find("57/129 fits"), std::string::npos) << line;
  EXPECT_NE(line.find(" 44%"), std::string::npos) << line;  // floor(100 * 57 / 129)
  EXPECT_NE(line.find(expected_eta), std::string::npos) << line;
  const auto open = line.find('['), close = line.find(']');
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos) << line;
  const std::string bar = line.substr(open + 1, close - open - 1);
  const auto filled = static_cast<std::size_t>(std::count(bar.begin(), bar.end(), '#'));
  EXPECT_EQ(filled, bar.size() * 57 / 129) << line;
  EXPECT_EQ(filled + static_cast<std::size_t>(std::count(bar.begin(), bar.end(), '.')), bar.size());
}

TEST(ProgressBar, EtaUnknownBeforeTheFirstFitAndZeroAtTheEnd) {
  EXPECT_NE(format_progress("train", 0.0, 0, 129, 3.0).find("0/129 fits   0%  ETA ?"), std::string::npos);
  const std::string done = format_progress("train", 1.0, 129, 129, 9.0);
  EXPECT_NE(done.find("129/129 fits 100%  ETA 0.0s"), std::string::npos) << done;
  EXPECT_EQ(done.find('.'), done.find("0.0s") + 1);  // the bar is full: the only '.' is the ETA's
  // Long waits in minutes; stages without counts show the fraction alone.
  EXPECT_NE(format_progress("train", 0.0, 1, 100, 10.0).find("ETA 16m30s"), std::string::npos);
  const std::string plain = format_progress("ingest", 0.5, 0, 0, 2.0);
  EXPECT_EQ(plain.find("fits"), std::string::npos) << plain;
  EXPECT_NE(plain.find(" 50%  ETA 2.0s"), std::string::npos) << plain;
}
