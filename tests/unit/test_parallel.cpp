// The worker pool (core/parallel.hpp): every item runs once, nested loops run inline, the lowest
// failing item's exception is the one rethrown, concurrent callers share the pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "netsentry/core/parallel.hpp"

using namespace netsentry;

TEST(Parallel, EveryItemRunsOnceIntoItsSlot) {
  for (std::size_t n : {0u, 1u, 2u, 3u, 1000u})
    for (std::size_t threads : {0u, 1u, 2u, 8u}) {
      std::vector<int> hits(n, 0);
      parallel_for(
          n, [&](std::size_t i) { ++hits[i]; }, threads);
      EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), static_cast<long>(n)) << n << " " << threads;
    }
}

TEST(Parallel, NestedLoopsRunOnTheItemsThread) {
  std::vector<std::vector<std::size_t>> out(16, std::vector<std::size_t>(16));
  std::atomic<int> elsewhere{0};
  parallel_for(out.size(), [&](std::size_t i) {
    const auto me = std::this_thread::get_id();
    parallel_for(out[i].size(), [&](std::size_t j) {
      if (std::this_thread::get_id() != me) ++elsewhere;
      out[i][j] = i * 16 + j;
    });
  });
  EXPECT_EQ(elsewhere.load(), 0);
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t j = 0; j < out[i].size(); ++j) EXPECT_EQ(out[i][j], i * 16 + j);
}

TEST(Parallel, TheLowestFailingItemIsRethrownAfterEveryItemRan) {
  for (std::size_t threads : {1u, 0u}) {
    std::atomic<int> ran{0};
    try {
      parallel_for(
          100,
          [&](std::size_t i) {
            ++ran;
            if (i == 70 || i == 30) throw std::runtime_error(std::to_string(i));
          },
          threads);
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "30");
    }
    EXPECT_EQ(ran.load(), 100);
  }
}

TEST(Parallel, ConcurrentCallersEachGetTheirOwnResults) {
  std::vector<std::thread> callers;
  std::vector<long> sums(4, 0);
  for (std::size_t k = 0; k < sums.size(); ++k)
    callers.emplace_back([&, k] {
      for (int rep = 0; rep < 50; ++rep) {
        std::vector<long> v(200);
        parallel_for(v.size(), [&](std::size_t i) { v[i] = static_cast<long>(i * (k + 1)); });
        sums[k] += std::accumulate(v.begin(), v.end(), 0L);
      }
    });
  for (auto& t : callers) t.join();
  for (std::size_t k = 0; k < sums.size(); ++k) EXPECT_EQ(sums[k], 50L * 19900 * static_cast<long>(k + 1));
}

TEST(Parallel, LowLatencyBatchCoversTheRangeInChunks) {
  for (bool helper : {false, true}) {
    std::vector<int> hits(10000, 0);
    LowLatencyBatch batch(helper);
    batch.run(hits.size(), 128, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) ++hits[i];
    });
    EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), 10000);
  }
}
