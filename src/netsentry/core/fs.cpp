#include "netsentry/core/fs.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {

[[noreturn]] void io_failure(const std::string& what, const fs::path& p, int err) {
  throw std::runtime_error(what + " " + p.string() + ": " + std::strerror(err));
}

// fsync of a file or directory; a failure is an error naming it (a directory's EINVAL is not: some
// file systems cannot sync directories, and there the rename is as durable as they make it).
void fsync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) io_failure("cannot open to sync", p, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && !((flags & O_DIRECTORY) && err == EINVAL)) io_failure("fsync failed for", p, err);
}

std::atomic<unsigned> g_file_mode{0640};

// The process's umask, from /proc/self/status (umask(2) can only read it by changing it, which would
// race with other threads creating files); 022 where the kernel does not say.
unsigned current_umask() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Umask:", 0) == 0) return static_cast<unsigned>(std::stoul(line.substr(6), nullptr, 8));
  return 022;
}

// Writes all of `content` to `fd`; false (errno set) on a failure.
bool write_all(int fd, std::string_view content) {
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

// A FIFO, a character device or a socket named as an output: written through where it is (a rename
// would replace the special file with a regular one).
void write_through(const fs::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) io_failure("cannot open", path, errno);
  const bool ok = write_all(fd, content);
  const int err = errno;
  ::close(fd);
  if (!ok) io_failure("write failed:", path, err);
}

std::string unique_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000007ULL);
}

}  // namespace

void set_file_mode(unsigned mode) { g_file_mode = mode & 0777; }
unsigned file_mode() { return g_file_mode; }

void write_file_atomic(const fs::path& given, std::string_view content) {
  // Through symbolic links to what they name (a link is never replaced by a file); a chain longer
  // than the kernel's own limit is a loop.
  fs::path path = given;
  for (int hops = 0;; ++hops) {
    std::error_code ec;
    const auto st = fs::symlink_status(path, ec);
    if (st.type() != fs::file_type::symlink) break;
    if (hops == 40)
      throw std::runtime_error("cannot write " + given.string() + ": too many levels of symbolic links");
    const fs::path target = fs::read_symlink(path);
    path = target.is_absolute() ? target : path.parent_path() / target;
  }
  std::error_code ec;
  const auto st = fs::status(path, ec);
  unsigned mode = file_mode();
  const bool replacing = fs::exists(st);
  if (replacing) {
    if (fs::is_directory(st))
      throw std::runtime_error("cannot write " + given.string() + ": it is a directory");
    if (!fs::is_regular_file(st)) return write_through(path, content);
    mode = static_cast<unsigned>(st.permissions()) & 0777;  // a replaced file keeps its mode
  }
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  fs::path tmp = path;
  tmp += ".tmp." + unique_suffix();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) io_failure("cannot write", tmp, errno);
  // A new file: file_mode() narrowed by the umask; a replaced one: exactly its old mode.
  const bool ok = (!replacing || ::fchmod(fd, static_cast<mode_t>(mode)) == 0) && write_all(fd, content) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    fs::remove(tmp, ec);
    io_failure("write failed:", path, err);
  }
  fs::rename(tmp, path);
  fsync_dir(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

std::string read_file(const fs::path& path, std::uintmax_t max_bytes, std::string_view limit_name) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw DataError(path.string() + ": file not found");
    throw DataError(path.string() + ": cannot open file: " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw UsageError(path.string() + ": is " + kind + "; netsentry reads regular files only");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes)
    throw UsageError(path.string() + ": " + std::to_string(st.st_size) + " bytes, over the limit of " +
                     std::to_string(max_bytes) + " bytes" +
                     (limit_name.empty() ? std::string() : " (" + std::string(limit_name) + ")"));
  // O_NONBLOCK: were the path swapped for a FIFO since the stat, the open would not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw DataError(path.string() + ": cannot open file: " + std::strerror(errno));
  struct stat opened {};
  if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode)) {
    ::close(fd);
    throw UsageError(path.string() + ": not a regular file; netsentry reads regular files only");
  }
  std::string out;
  out.resize(static_cast<std::size_t>(opened.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == out.size()) {
      // The file grew after the fstat: read on, within the limit.
      if (out.size() >= max_bytes) {
        char probe;
        const ssize_t n = ::read(fd, &probe, 1);
        if (n == 0) break;
        ::close(fd);
        throw UsageError(path.string() + ": over the limit of " + std::to_string(max_bytes) + " bytes" +
                         (limit_name.empty() ? std::string() : " (" + std::string(limit_name) + ")"));
      }
      out.resize(std::min<std::uintmax_t>(max_bytes, std::max<std::size_t>(4096, out.size() * 2)));
    }
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw DataError(path.string() + ": cannot read file: " + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

void fsync_dir(const fs::path& dir) { fsync_path(dir, O_RDONLY | O_DIRECTORY); }

void publish_dir(const fs::path& tmp, const fs::path& dest) {
  // Every file at file_mode() (the libraries write theirs under the umask alone: XGBoost's and
  // OpenCV's model files would be 0644) and synced.
  const auto perms = static_cast<fs::perms>(file_mode() & ~current_umask());
  for (auto& e : fs::recursive_directory_iterator(tmp))
    if (e.is_regular_file()) {
      fs::permissions(e.path(), perms, fs::perm_options::replace);
      fsync_path(e.path(), O_RDONLY);
    }
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
std::string utc_iso8601() { return utc_iso8601(std::chrono::system_clock::now()); }
std::string utc_iso8601(std::chrono::system_clock::time_point t) {
  return format_utc("%Y-%m-%dT%H:%M:%SZ", t);
}

}  // namespace netsentry
