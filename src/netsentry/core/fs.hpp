#pragma once
// File-system helpers: atomic writes (temp file + fsync + rename), hashing, timestamps.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace netsentry {

namespace fs = std::filesystem;

// Writes `content` to `path` atomically: a temp file in the same directory, fsync, rename. A
// symbolic link is followed (its target is written, the link stays); a FIFO, device or socket is
// written through in place, never renamed over; a directory is an error. A new file gets
// file_mode(), a replaced one keeps its mode. Every failure (open, write, fsync) throws naming the file.
void write_file_atomic(const fs::path& path, std::string_view content);

// The mode of the files netsentry creates (bundles, artifacts, outputs): 0640 unless set
// (pipeline.file_mode); the umask can only narrow it.
void set_file_mode(unsigned mode);
unsigned file_mode();

// Reads a whole regular file; throws DataError naming the path when it cannot be read, UsageError
// when it is not a regular file (a FIFO, a device such as /dev/zero, a socket, a directory: never
// opened for reading, so a FIFO cannot block) or is larger than `max_bytes` (the error names
// `limit_name`, the setting that raises it).
std::string read_file(const fs::path& path, std::uintmax_t max_bytes = UINTMAX_MAX,
                      std::string_view limit_name = {});

// fsyncs a directory so that a rename inside it is durable.
void fsync_dir(const fs::path& dir);

// Atomically publishes a fully written directory `tmp` as `dest`: renamed into place, or, when `dest`
// exists, swapped with it in one step (the old contents are then removed).
void publish_dir(const fs::path& tmp, const fs::path& dest);

// Hex SHA-256 of bytes / of a file.
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const fs::path& path);

// UTC time as "2026-11-25T15-30-00.123Z" (safe in file names, sorts in time order) and ISO 8601
// "2026-11-25T15:30:00Z".
std::string utc_stamp_for_path();
std::string utc_iso8601();
std::string utc_iso8601(std::chrono::system_clock::time_point t);  // of a given time

}  // namespace netsentry
