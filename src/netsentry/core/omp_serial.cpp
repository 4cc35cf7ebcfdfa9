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

#include <dlfcn.h>

namespace {

using ParallelFn = void (*)(void (*)(void*), void*, unsigned, unsigned);
using LevelFn = int (*)();

struct Gomp {
  ParallelFn parallel = nullptr;
  LevelFn level = nullptr;
  Gomp() {
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

namespace netsentry {
// Regions the calling thread ran without a team so far (for tests and debugging).
unsigned long omp_serial_regions() { return t_serial_regions; }
}  // namespace netsentry

extern "C" __attribute__((visibility("default"))) void GOMP_parallel(void (*fn)(void*), void* data,
                                                                     unsigned num_threads, unsigned flags) {
  const Gomp& g = gomp();
  if (num_threads == 1 && g.level && g.level() == 0) {
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
