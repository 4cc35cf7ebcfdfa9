// The single-thread OpenMP region entry point (core/omp_serial.cpp): which regions it runs without a
// team, that OpenMP constructs inside them behave as OpenMP specifies, and that XGBoost trains the
// same model through it as through libgomp's own teams. (This file is compiled with -fopenmp.)
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <thread>
#include <vector>

#include "netsentry/model/classifier.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

#include "netsentry/core/omp_serial.hpp"

using namespace netsentry;
using json = nlohmann::json;

TEST(OmpSerial, LibrariesResolveTheProjectsEntryPoint) {
  // XGBoost and OpenCV call GOMP_parallel through the process's symbol lookup, which must find ours.
  void* found = dlsym(RTLD_DEFAULT, "GOMP_parallel");
  void* libgomp = dlvsym(RTLD_NEXT, "GOMP_parallel", "GOMP_4.0");
  ASSERT_NE(found, nullptr);
  ASSERT_NE(libgomp, nullptr);
  EXPECT_NE(found, libgomp);
  EXPECT_TRUE(omp_serial_status().in_use);
  EXPECT_TRUE(omp_serial_status().enabled);
}

TEST(OmpSerial, TheEnvironmentTurnsItOffAndVersionSaysWhich) {
  auto on = test::run_cli("version");
  ASSERT_EQ(on.exit_code, 0) << on.err;
  EXPECT_EQ(json::parse(on.out)["omp_serial_regions"], "on");
  auto off =
      test::run_command("NETSENTRY_OMP_SERIAL=0 " + test::shell_quote(test::cli_binary()) + " version");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(json::parse(off.out)["omp_serial_regions"], "off (NETSENTRY_OMP_SERIAL=0)");
  EXPECT_EQ(off.err.find("warn"), std::string::npos) << off.err;
}

TEST(OmpSerial, OneThreadRegionRunsInTheCallerWithOrphanedConstructs) {
  const auto before = omp_serial_regions();
  const auto caller = std::this_thread::get_id();
  std::vector<int> hits(1000, 0);
  int singles = 0, threads_seen = 0, thread_num = -1;
  bool same_thread = false;
#pragma omp parallel num_threads(1)
  {
    same_thread = std::this_thread::get_id() == caller;
    threads_seen = omp_get_num_threads();
    thread_num = omp_get_thread_num();
#pragma omp for schedule(dynamic, 7)
    for (int i = 0; i < 1000; ++i) ++hits[static_cast<std::size_t>(i)];
#pragma omp for schedule(guided)
    for (int i = 0; i < 1000; ++i) ++hits[static_cast<std::size_t>(i)];
#pragma omp single
    ++singles;
#pragma omp barrier
  }
  EXPECT_EQ(omp_serial_regions(), before + 1);
  EXPECT_TRUE(same_thread);
  EXPECT_EQ(threads_seen, 1);
  EXPECT_EQ(thread_num, 0);
  EXPECT_EQ(singles, 1);
  for (int h : hits) ASSERT_EQ(h, 2);
}

TEST(OmpSerial, OtherRegionsKeepLibgompTeams) {
  const auto before = omp_serial_regions();
  std::atomic<int> outer{0}, inner_zero{0};
  std::vector<int> hits(1000, 0);
#pragma omp parallel num_threads(2)
  {
    ++outer;
    // Nested in a team: the inner region gets a team of its own (thread number 0 inside it).
#pragma omp parallel num_threads(1)
    {
      if (omp_get_thread_num() == 0 && omp_get_num_threads() == 1) ++inner_zero;
    }
#pragma omp for schedule(dynamic, 3)
    for (int i = 0; i < 1000; ++i) ++hits[static_cast<std::size_t>(i)];
  }
  EXPECT_EQ(omp_serial_regions(), before);
  EXPECT_EQ(outer.load(), 2);
  EXPECT_EQ(inner_zero.load(), 2);
  for (int h : hits) ASSERT_EQ(h, 1);
}

TEST(OmpSerial, XgboostTrainsTheSameModelWithAndWithoutTeams) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = test::uci_split();
  const json params = {
      {"n_estimators", 32}, {"max_depth", 6}, {"subsample", 0.7}, {"nthread", 1}, {"seed", 3}};
  // Through this project's entry point: XGBoost's regions run in this thread without a team.
  const auto before = omp_serial_regions();
  auto direct = create_classifier("gradient_boosting", params);
  direct->fit(d.Xtr, d.ytr);
  EXPECT_GT(omp_serial_regions(), before + 100);  // XGBoost opened its one-thread regions here
  // Through libgomp: the same training inside another region, where one-thread regions get teams.
  std::unique_ptr<Classifier> teams;
#pragma omp parallel num_threads(2)
  {
    if (omp_get_thread_num() == 0) {
      const auto inner_before = omp_serial_regions();
      teams = create_classifier("gradient_boosting", params);
      teams->fit(d.Xtr, d.ytr);
      if (omp_serial_regions() != inner_before) teams.reset();  // must not happen: checked below
    }
  }
  ASSERT_TRUE(teams) << "one-thread regions inside a team must keep libgomp's teams";
  const auto a = direct->predict_proba(d.Xte), b = teams->predict_proba(d.Xte);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "row " << i;
}
