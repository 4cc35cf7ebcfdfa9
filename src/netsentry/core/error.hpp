#pragma once
// Error types. Each maps to a distinct process exit code (see README "Exit codes").
#include <stdexcept>
#include <string>

namespace netsentry {

enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,     // a bug or an environment failure (I/O, library error)
  kExitUsage = 2,        // bad command line or configuration
  kExitInvalidData = 3,  // the data failed ingestion or validation
  kExitGateFailed = 4,   // the model did not reach the expected score / fit thresholds
  kExitUnreachable = 5,  // a data source or store could not be reached (MongoDB server, S3 endpoint)
};

// A mistake in how netsentry was called or configured.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Input data that cannot be used; the message names the file, row and column.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A data source or store that could not be reached; the message names it (credentials redacted)
// and why.
struct UnreachableError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The trained model failed a quality gate (expected score, over/under-fitting).
struct GateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace netsentry
