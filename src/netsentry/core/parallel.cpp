#include "netsentry/core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace netsentry {
namespace {

// True on a thread while it runs items of a parallel_for (a worker, or the caller): a parallel_for
// called from there runs inline.
thread_local bool t_in_parallel = false;

class InParallel {
 public:
  InParallel() : was_(t_in_parallel) { t_in_parallel = true; }
  ~InParallel() { t_in_parallel = was_; }
  InParallel(const InParallel&) = delete;
  InParallel& operator=(const InParallel&) = delete;

 private:
  bool was_;
};

// One parallel_for: items are claimed from `next`; the thread that finishes the last one wakes the
// caller. Shared with the workers, which may still hold it after the call returned (they then find
// no item left and touch nothing of the call).
struct Job {
  std::size_t n = 0;
  const void* fn = nullptr;
  detail::ItemFn call = nullptr;
  std::size_t helpers = 0;  // workers that may still join (under the pool's mutex)
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex mutex;
  std::condition_variable finished;
  std::exception_ptr error;  // of the lowest failing item (under `mutex`)
  std::size_t error_item = 0;

  void work() {
    InParallel inside;
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        call(fn, i);
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error || i < error_item) {
          error = std::current_exception();
          error_item = i;
        }
      }
      if (done.fetch_add(1) + 1 == n) {
        std::lock_guard lock(mutex);
        finished.notify_all();
      }
    }
  }
};

// The workers: started by the first parallel job, parked on a condition variable between jobs.
// Never destroyed: a worker may be parked when the process exits.
class Pool {
 public:
  static Pool& get() {
    static Pool* const pool = new Pool;
    return *pool;
  }
  std::size_t workers() const { return workers_; }

  void post(const std::shared_ptr<Job>& job) {
    const std::size_t helpers = job->helpers;  // (workers count it down once it is queued)
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(job);
    }
    if (helpers == 1)
      posted_.notify_one();
    else
      posted_.notify_all();
  }
  // The caller is done with the job: no worker may join it any more.
  void withdraw(const std::shared_ptr<Job>& job) {
    std::lock_guard lock(mutex_);
    std::erase(queue_, job);
  }

 private:
  Pool() {
    const std::size_t want = std::max(1u, std::thread::hardware_concurrency()) - 1;
    for (std::size_t i = 0; i < want; ++i) {
      try {
        std::thread([this] { serve(); }).detach();
        ++workers_;
      } catch (const std::system_error&) {
        break;  // fewer workers: the callers do the rest
      }
    }
  }
  [[noreturn]] void serve() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex_);
        posted_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        if (--job->helpers == 0) queue_.pop_front();
      }
      job->work();
    }
  }
  std::mutex mutex_;
  std::condition_variable posted_;
  std::deque<std::shared_ptr<Job>> queue_;  // oldest first
  std::size_t workers_ = 0;
};

}  // namespace

std::size_t parallel_threads() {
  // (hardware_concurrency() reads /sys on every call; and asking must not start the pool)
  static const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  return threads;
}

namespace detail {

void run_parallel(std::size_t n, std::size_t max_threads, const void* fn, ItemFn call) {
  if (n == 0) return;
  const std::size_t helpers =
      n < 2 || max_threads == 1 || t_in_parallel
          ? 0
          : std::min({Pool::get().workers(), n - 1, max_threads == 0 ? n : max_threads - 1});
  if (helpers == 0) {  // in order on this thread, with nothing shared (no allocation)
    InParallel inside;
    std::exception_ptr error;
    for (std::size_t i = 0; i < n; ++i) {
      try {
        call(fn, i);
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
  auto job = std::make_shared<Job>();
  job->n = n;
  job->fn = fn;
  job->call = call;
  job->helpers = helpers;
  Pool::get().post(job);
  job->work();
  Pool::get().withdraw(job);
  {
    std::unique_lock lock(job->mutex);
    job->finished.wait(lock, [&] { return job->done.load() == n; });
  }
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace detail

// ---- the low-latency variant ----------------------------------------------------------------------

// A batch's chunks, shared by the calling thread and the helper (which may still hold it after the
// call returned: it then finds no chunk left and touches nothing of the call).
struct BatchState {
  std::atomic<int> phase{0};                  // 0: being prepared, 1: running, 2: cancelled
  std::atomic<std::size_t> next{0}, done{0};  // items handed out, items finished
  std::size_t n = 0, chunk = 1;
  const void* fn = nullptr;
  void (*call)(const void*, std::size_t, std::size_t) = nullptr;

  // The caller's chunks are half of what is left (in whole multiples of `chunk`): few passes over
  // the trees while it is alone, and the helper, should it come, still finds a share. The helper's
  // are `chunk`: the caller never waits long for a helper that another process keeps off its core.
  void work(bool helper) {
    for (std::size_t b = next.load();;) {
      std::size_t e;
      do {
        if (b >= n) return;
        e = std::min(n,
                     b + (helper ? 1 : std::max<std::size_t>(1, ((n - b) / 2 + chunk - 1) / chunk)) * chunk);
      } while (!next.compare_exchange_weak(b, e));
      call(fn, b, e);
      done.fetch_add(e - b);
      if (helper) done.notify_all();
      b = next.load();
    }
  }
  void help() {
    phase.wait(0);
    if (phase.load() == 1) work(true);
  }
};

namespace {

// The helper: one thread for the process, started by the first batch that asks for it and parked
// between batches (waking a parked thread costs the caller a system call; starting one, tens of
// microseconds). It helps one batch at a time: a batch posted while it is busy waits in the slot,
// and a later one takes its place (that caller works alone; a batch found after its caller has
// finished has no chunk left). Never destroyed: the thread may be parked when the process exits.
class Helper {
 public:
  // nullptr when no thread can be started.
  static Helper* get() {
    static Helper* const helper = start();
    return helper;
  }
  void post(std::shared_ptr<BatchState> s) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slot_ = std::move(s);
    }
    posted_.fetch_add(1);
    posted_.notify_one();
  }

 private:
  static Helper* start() {
    auto* h = new Helper;
    try {
      std::thread([h] { h->serve(); }).detach();
    } catch (const std::system_error&) {
      delete h;
      return nullptr;
    }
    return h;
  }
  [[noreturn]] void serve() {
    for (std::uint32_t seen = 0;;) {
      posted_.wait(seen);
      seen = posted_.load();
      std::shared_ptr<BatchState> s;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        s = std::move(slot_);
      }
      if (s) s->help();
    }
  }
  std::mutex mutex_;
  std::shared_ptr<BatchState> slot_;
  std::atomic<std::uint32_t> posted_{0};
};

}  // namespace

LowLatencyBatch::LowLatencyBatch(bool helper) : state_(std::make_shared<BatchState>()) {
  if (!helper) return;
  if (Helper* h = Helper::get()) {
    h->post(state_);
    helped_ = true;
  }
}

LowLatencyBatch::~LowLatencyBatch() {
  if (helped_ && state_->phase.load() == 0) {  // never ran (an exception): let the helper go
    state_->phase.store(2);
    state_->phase.notify_all();
  }
}

void LowLatencyBatch::run(std::size_t n, std::size_t chunk, const void* fn,
                          void (*call)(const void*, std::size_t, std::size_t)) {
  BatchState& s = *state_;
  s.n = n;
  s.chunk = helped_ ? chunk : std::max<std::size_t>(n, 1);  // alone: one pass over the trees
  s.fn = fn;
  s.call = call;
  s.phase.store(1);
  if (helped_) s.phase.notify_all();  // (only the helper waits on it: no wake-up call otherwise)
  s.work(false);
  for (std::size_t d = s.done.load(); d < n; d = s.done.load()) s.done.wait(d);
}

}  // namespace netsentry
