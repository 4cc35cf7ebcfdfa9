#include "netsentry/core/memory.hpp"

#include <malloc.h>

namespace netsentry {

void keep_freed_memory() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // (glibc's maximum)
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 64 << 20);  // grow the heap in large steps
    return true;
  }();
  (void)done;
}

}  // namespace netsentry
