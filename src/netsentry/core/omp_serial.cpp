// Single-thread OpenMP regions without a thread team.
//
// The search trains many XGBoost models side by side, each with nthread=1 in its own thread.
// XGBoost still opens an OpenMP parallel region for every histogram build, row partition and split
// evaluation (`#pragma omp parallel num_threads(1)`), well over 100,000 of them in one `train`, and
// GCC's libgomp starts a team of one for each and ends it with a futex wake-up system call even when
// no thread waits. This definition of libgomp's entry point for parallel regions is found before
// libgomp's own (the executable comes first in symbol lookup): a region asked for exactly one thread,
// opened outside any other parallel region, runs its body directly in the calling thread. That is
// what OpenMP specifies for such a region's result, and libgomp runs work-sharing constructs, barriers
// and `single` met outside a team ("orphaned") serially. Every other region goes to libgomp unchanged.
// (omp_get_level() counts enclosing regions, active or not: inside another region, even one of one
// thread, the body must see a team of its own, so libgomp keeps those.)
//
// It still pays with Debian's libxgboost 1.7 (README: the default `train` on the UCI file with and
// without it). NETSENTRY_OMP_SERIAL=0 in the environment turns it off (every region goes to libgomp);
// omp_serial_status() says whether it is the GOMP_parallel in use, and `netsentry version` prints it.
// It becomes unnecessary once XGBoost opens no region for one thread: XGBoost 2's
// common::ParallelFor already runs a one-thread loop inline, but its ParallelFor2d (histograms) and
// its plain `omp parallel` blocks still open one, so measure again before removing it.

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "netsentry/core/omp_serial.hpp"

namespace {

using ParallelFn = void (*)(void (*)(void*), void*, unsigned, unsigned);
using LevelFn = int (*)();

struct Gomp {
  ParallelFn parallel = nullptr;
  LevelFn level = nullptr;
  bool enabled = true;  // NETSENTRY_OMP_SERIAL=0: off
  Gomp() {
    const char* env = std::getenv("NETSENTRY_OMP_SERIAL");
    enabled = !(env && std::strcmp(env, "0") == 0);
    // The versioned name XGBoost and OpenCV are linked against; the plain name as a fallback.
    parallel = reinterpret_cast<ParallelFn>(dlvsym(RTLD_NEXT, "GOMP_parallel", "GOMP_4.0"));
    if (!parallel) parallel = reinterpret_cast<ParallelFn>(dlsym(RTLD_NEXT, "GOMP_parallel"));
    level = reinterpret_cast<LevelFn>(dlsym(RTLD_DEFAULT, "omp_get_level"));
  }
};

const Gomp& gomp() {
  static const Gomp g;
  return g;
}

thread_local unsigned long t_serial_regions = 0;

}  // namespace

extern "C" void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads, unsigned flags);

namespace netsentry {

unsigned long omp_serial_regions() { return t_serial_regions; }

OmpSerialStatus omp_serial_status() {
  OmpSerialStatus s;
  s.enabled = gomp().enabled;
  // The definition every library's call binds to: ours only when the executable's comes first.
  s.in_use = reinterpret_cast<void*>(dlsym(RTLD_DEFAULT, "GOMP_parallel")) ==
             reinterpret_cast<void*>(&GOMP_parallel);
  return s;
}

}  // namespace netsentry

extern "C" __attribute__((visibility("default"))) void GOMP_parallel(void (*fn)(void*), void* data,
                                                                     unsigned num_threads, unsigned flags) {
  const Gomp& g = gomp();
  if (num_threads == 1 && g.enabled && g.level && g.level() == 0) {
    ++t_serial_regions;
    fn(data);
    return;
  }
  if (!g.parallel) {  // no libgomp in the process: only single-thread execution is possible
    fn(data);
    return;
  }
  g.parallel(fn, data, num_threads, flags);
}
