#pragma once
// The one-thread OpenMP region entry point (omp_serial.cpp): whether it is on and in use.

namespace netsentry {

struct OmpSerialStatus {
  bool enabled = true;  // not turned off by NETSENTRY_OMP_SERIAL=0
  bool in_use = false;  // the process's GOMP_parallel is netsentry's (the executable's comes first)
};
OmpSerialStatus omp_serial_status();

// Regions the calling thread ran without a team so far (for tests and debugging).
unsigned long omp_serial_regions();

}  // namespace netsentry
