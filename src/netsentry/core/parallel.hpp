#pragma once
// The one way netsentry runs work in parallel: a persistent pool of hardware_concurrency() - 1
// worker threads, started by the first call that needs them and parked between calls, plus the
// calling thread. A small facility of our own rather than a library (oneTBB): the work is a few
// flat loops (cross-validation fits, KS columns, imputed rows, tree walks) whose results go to fixed
// slots, no new runtime dependency is needed, and the policy that matters here -- what happens to
// nested and small work -- stays explicit:
//   * parallel_for runs fn(i) for i in [0, n); items are claimed one at a time, in order, from an
//     atomic counter, so the first items start first whoever runs them. Results must be written to
//     slot i (never appended in completion order): then they never depend on thread timing;
//   * work from inside a parallel_for item (nested) runs on the calling thread, in order: the pool
//     is already busy with the outer loop, and no thread ever waits for a queued job;
//   * every item runs, even after one has thrown; the exception of the lowest failing item is then
//     rethrown (the same one whatever the timing).
// LowLatencyBatch is the variant for one batch of a few milliseconds on the request path (FlatForest):
// its helper thread is woken before the batch is prepared, and the caller never waits for it to come.
// It stays apart because it is measurably faster there: bench/batch_timing, an 11,055-row upload to a
// 256-tree model on two cores, the model step's median after 5 ms idle is 7.1-7.2 ms with the helper
// and 7.8-8.4 ms with the batch's chunks on the pool (4.4-4.7 against 4.6-4.9 ms without idling).
#include <cstddef>
#include <memory>

namespace netsentry {

// The most threads a parallel_for uses: the workers and the caller (hardware_concurrency()).
std::size_t parallel_threads();

namespace detail {
using ItemFn = void (*)(const void* fn, std::size_t i);
void run_parallel(std::size_t n, std::size_t max_threads, const void* fn, ItemFn call);
}  // namespace detail

// fn(i) for every i in [0, n), on at most `max_threads` threads (the caller's included; 0: all).
template <class Fn>
void parallel_for(std::size_t n, const Fn& fn, std::size_t max_threads = 0) {
  detail::run_parallel(n, max_threads, &fn,
                       [](const void* f, std::size_t i) { (*static_cast<const Fn*>(f))(i); });
}

struct BatchState;

// A batch split into chunks between the calling thread and, optionally, the helper thread (one for
// the process, apart from the pool: it must be parked on this batch alone, not behind queued jobs).
// The helper is called first, before the batch is prepared: waking an idle core can take a
// millisecond (in a virtual machine), as long as the whole batch takes. Chunks go to whichever
// thread asks next; the caller waits only for chunks in progress, never for the helper to come.
class LowLatencyBatch {
 public:
  // Calls the helper (when `helper` and it can be started) before the caller prepares the batch.
  explicit LowLatencyBatch(bool helper);
  // A batch that never ran (an exception on the way) lets the helper go.
  ~LowLatencyBatch();

  // fn(begin, end) over [0, n), in chunks of multiples of `chunk` (but the last). Alone, one call.
  template <class Fn>
  void run(std::size_t n, std::size_t chunk, const Fn& fn) {
    run(n, chunk, &fn,
        [](const void* f, std::size_t b, std::size_t e) { (*static_cast<const Fn*>(f))(b, e); });
  }

  LowLatencyBatch(const LowLatencyBatch&) = delete;
  LowLatencyBatch& operator=(const LowLatencyBatch&) = delete;

 private:
  void run(std::size_t n, std::size_t chunk, const void* fn,
           void (*call)(const void*, std::size_t, std::size_t));
  std::shared_ptr<BatchState> state_;
  bool helped_ = false;
};

}  // namespace netsentry
