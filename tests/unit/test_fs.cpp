// Atomic writes (core/fs.hpp) never replace what is not a regular file: symbolic links are followed,
// FIFOs and devices written through, directories refused; new files get the configured mode, replaced
// ones keep theirs; a published bundle directory's files all get the mode.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "netsentry/config/config.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "support/paths.hpp"

using namespace netsentry;
using netsentry::test::TempDir;

namespace {

unsigned mode_of(const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions()) & 0777; }

unsigned process_umask() {
  const mode_t m = ::umask(022);
  ::umask(m);
  return m;
}

// Restores the process-wide file mode when the test ends.
struct FileModeGuard {
  unsigned saved = file_mode();
  ~FileModeGuard() { set_file_mode(saved); }
};

}  // namespace

TEST(AtomicWrite, NewFilesGetTheFileModeReplacedOnesKeepTheirs) {
  FileModeGuard guard;
  TempDir dir;
  set_file_mode(0640);
  write_file_atomic(dir / "new.txt", "a");
  EXPECT_EQ(mode_of(dir / "new.txt"), 0640u & ~process_umask());
  set_file_mode(0600);
  write_file_atomic(dir / "private.txt", "b");
  EXPECT_EQ(mode_of(dir / "private.txt"), 0600u);
  fs::permissions(dir / "new.txt", fs::perms(0604), fs::perm_options::replace);
  write_file_atomic(dir / "new.txt", "c");
  EXPECT_EQ(mode_of(dir / "new.txt"), 0604u);
  EXPECT_EQ(read_file(dir / "new.txt"), "c");
  // No temp file is left behind.
  std::size_t entries = 0;
  for (auto& e : fs::directory_iterator(dir.path())) entries += !e.path().empty();
  EXPECT_EQ(entries, 2u);
}

TEST(AtomicWrite, SymbolicLinksAreFollowedNotReplaced) {
  TempDir dir;
  write_file_atomic(dir / "target.csv", "old");
  fs::create_symlink("target.csv", dir / "link.csv");  // relative to the link's folder
  write_file_atomic(dir / "link.csv", "new");
  EXPECT_TRUE(fs::is_symlink(dir / "link.csv"));
  EXPECT_EQ(read_file(dir / "target.csv"), "new");
  // A dangling link: its target is created.
  fs::create_symlink(dir / "later.csv", dir / "dangling.csv");
  write_file_atomic(dir / "dangling.csv", "made");
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.csv"));
  EXPECT_EQ(read_file(dir / "later.csv"), "made");
  // A loop is an error naming the path, not a hang.
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  try {
    write_file_atomic(dir / "loop_a", "x");
    ADD_FAILURE() << "a symbolic-link loop was written";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("loop_a"), std::string::npos) << e.what();
  }
}

TEST(AtomicWrite, FifosAndDevicesAreWrittenThroughDirectoriesRefused) {
  TempDir dir;
  const auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] {
    std::ifstream in(fifo);
    std::ostringstream s;
    s << in.rdbuf();
    got = s.str();
  });
  write_file_atomic(fifo, "through the pipe");
  reader.join();
  EXPECT_EQ(got, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(fifo));
  write_file_atomic("/dev/null", "discarded");
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  fs::create_directory(dir / "folder");
  try {
    write_file_atomic(dir / "folder", "x");
    ADD_FAILURE() << "a directory was written over";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(dir / "folder"));
}

// Reading refuses what is not a regular file before opening it (a FIFO would block, /dev/zero never
// ends) and a file over the caller's limit, naming the setting that raises it.
TEST(ReadFile, SpecialFilesAndFilesOverTheLimitAreRefused) {
  TempDir dir;
  const auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto error = [](const fs::path& p, std::uintmax_t max = UINTMAX_MAX) {
    try {
      read_file(p, max, "data.max_file_bytes");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(error(fifo), fifo.string() + ": is a FIFO; netsentry reads regular files only");
  EXPECT_EQ(error("/dev/zero"), "/dev/zero: is a character device; netsentry reads regular files only");
  EXPECT_NE(error(dir.path()).find("is a directory"), std::string::npos);
  std::ofstream(dir / "f.csv") << "a,b\n1,2\n";
  EXPECT_EQ(read_file(dir / "f.csv", 8), "a,b\n1,2\n");
  EXPECT_EQ(error(dir / "f.csv", 7),
            (dir / "f.csv").string() + ": 8 bytes, over the limit of 7 bytes (data.max_file_bytes)");
  EXPECT_THROW(read_file(dir / "absent"), DataError);
  std::ofstream(dir / "empty");
  EXPECT_EQ(read_file(dir / "empty"), "");
}

TEST(AtomicWrite, PublishedDirectoriesHaveEveryFileAtTheFileMode) {
  FileModeGuard guard;
  set_file_mode(0600);
  TempDir dir;
  fs::create_directories(dir / "tmp" / "model");
  std::ofstream(dir / "tmp" / "model" / "library_file.bin") << "written by a library, under the umask";
  ::chmod((dir / "tmp" / "model" / "library_file.bin").c_str(), 0644);
  write_file_atomic(dir / "tmp" / "metadata.json", "{}");
  publish_dir(dir / "tmp", dir / "bundle");
  EXPECT_EQ(mode_of(dir / "bundle" / "model" / "library_file.bin"), 0600u);
  EXPECT_EQ(mode_of(dir / "bundle" / "metadata.json"), 0600u);
}

TEST(AtomicWrite, TheFileModeIsReadFromTheConfig) {
  FileModeGuard guard;
  TempDir dir;
  auto load = [&](const std::string& line) {
    std::ofstream(dir / "c.yaml") << "pipeline:\n  " << line
                                  << "\nmodel_trainer:\n  families:\n    logistic_regression: {}\n";
    return PipelineConfig::load(dir / "c.yaml");
  };
  EXPECT_EQ(load("file_mode: \"0600\"").pipeline.file_mode, 0600u);
  EXPECT_EQ(file_mode(), 0600u);  // applied to what the command writes next
  EXPECT_EQ(load("artifact_dir: x").pipeline.file_mode, 0640u);
  for (const char* bad :
       {"file_mode: \"0400\"", "file_mode: \"rw\"", "file_mode: 640", "file_mode: \"01777\""}) {
    try {
      load(bad);
      ADD_FAILURE() << bad;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("pipeline.file_mode"), std::string::npos) << e.what();
    }
  }
}
