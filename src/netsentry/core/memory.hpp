#pragma once

namespace netsentry {

// Every command allocates and frees large blocks (tables, matrices, model documents, answers), in
// several threads. glibc maps blocks above 128 KiB fresh and unmaps them when freed, and returns the
// top of a heap to the kernel, so the next large block page-faults all over again (a few percent of
// a `train`, about a quarter of parsing an upload and writing its answer in the server). After this
// call the process keeps freed memory for reuse instead, bounded by what it held at its peak.
// Idempotent; call it before the work starts.
void keep_freed_memory();

}  // namespace netsentry
