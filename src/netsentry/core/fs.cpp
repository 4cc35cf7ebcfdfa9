#include "netsentry/core/fs.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {

void fsync_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string unique_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000007ULL);
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view content) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  fs::path tmp = path;
  tmp += ".tmp." + unique_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw std::runtime_error("write failed: " + tmp.string());
    }
  }
  fsync_path(tmp, O_RDONLY);
  fs::rename(tmp, path);
  fsync_dir(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fsync_dir(const fs::path& dir) { fsync_path(dir, O_RDONLY | O_DIRECTORY); }

void publish_dir(const fs::path& tmp, const fs::path& dest) {
  for (auto& e : fs::recursive_directory_iterator(tmp))
    if (e.is_regular_file()) fsync_path(e.path(), O_RDONLY);
  fsync_dir(tmp);
  fs::path parent = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  if (fs::exists(dest)) {
    // Swap the two directories in one step (Linux renameat2 RENAME_EXCHANGE): a reader sees the old
    // bundle or the new one, never no bundle. `tmp` then holds the old bundle and is removed.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE) != 0)
      throw fs::filesystem_error("cannot swap in the new directory", tmp, dest,
                                 std::error_code(errno, std::generic_category()));
    fsync_dir(parent);
    std::error_code ec;
    fs::remove_all(tmp, ec);
  } else {
    fs::rename(tmp, dest);
    fsync_dir(parent);
  }
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hexd = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hexd[md[i] >> 4];
    out += hexd[md[i] & 15];
  }
  return out;
}

std::string sha256_file(const fs::path& path) { return sha256_hex(read_file(path)); }

static std::string format_utc(const char* fmt, std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

// Milliseconds included: a whole training run can take less than a second, and the stamp names the
// run folder and the bundle version (two trainings must never share a version).
std::string utc_stamp_for_path() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03dZ", static_cast<int>(ms));
  return format_utc("%Y-%m-%dT%H-%M-%S", now) + buf;
}
std::string utc_iso8601() { return format_utc("%Y-%m-%dT%H:%M:%SZ", std::chrono::system_clock::now()); }

}  // namespace netsentry
