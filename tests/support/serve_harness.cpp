#include "support/serve_harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/paths.hpp"

namespace netsentry::test {

namespace fs = std::filesystem;

namespace {

fs::path cache_root() {
  const auto mtime = fs::last_write_time(cli_binary()).time_since_epoch().count();
  return fs::temp_directory_path() / ("netsentry-serve-tests-" + std::to_string(::getuid())) /
         std::to_string(mtime);
}

// Trains one bundle into `dir` unless a previous process did; an flock keeps parallel test
// processes from training the same bundle twice.
fs::path ensure_bundle(char which) {
  const fs::path root = cache_root();
  fs::create_directories(root);
  const fs::path dir = root / std::string(1, which);
  if (fs::exists(dir / "final_model" / "metadata.json")) return dir;
  const fs::path lock_path = root / (std::string(1, which) + ".lock");
  int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + lock_path.string());
  ::flock(fd, LOCK_EX);
  if (!fs::exists(dir / "final_model" / "metadata.json")) {
    const fs::path work = root / (std::string(1, which) + ".work");
    fs::remove_all(work);
    fs::create_directories(work);
    const std::string seed = which == 'a' ? "7" : "8";
    auto gen = run_cli("-q sample-data --rows 3000 --seed " + seed + " --output " +
                       shell_quote(work / "sample.csv"));
    if (gen.exit_code != 0) throw std::runtime_error("sample-data failed: " + gen.err);
    auto tr = run_cli("-q train --data " + shell_quote(work / "sample.csv") + " --model-dir " +
                      shell_quote(work / "final_model") + " --artifact-dir " +
                      shell_quote(work / "artifacts") + " --registry none");
    if (tr.exit_code != 0)
      throw std::runtime_error("train failed (" + std::to_string(tr.exit_code) + "): " + tr.err);
    fs::remove_all(work / "artifacts");
    fs::remove_all(dir);
    fs::rename(work, dir);
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return dir;
}

}  // namespace

const fs::path& serve_bundle(char which) {
  static const fs::path a = ensure_bundle('a') / "final_model";
  static const fs::path b = ensure_bundle('b') / "final_model";
  return which == 'a' ? a : b;
}

const fs::path& serve_sample_csv() {
  static const fs::path p = ensure_bundle('a') / "sample.csv";
  return p;
}

std::string sample_csv_rows(std::size_t n, bool with_target) {
  std::ifstream in(serve_sample_csv());
  std::string header, line, out;
  std::getline(in, header);
  // Column index of the target ("Result"), dropped when asked.
  std::vector<std::string> names;
  {
    std::stringstream ss(header);
    std::string c;
    while (std::getline(ss, c, ',')) names.push_back(c);
  }
  std::size_t target = names.size();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == "Result") target = i;
  auto keep = [&](const std::string& l) {
    if (with_target || target == names.size()) return l;
    std::stringstream ss(l);
    std::string c, o;
    std::size_t i = 0;
    bool first = true;
    while (std::getline(ss, c, ',')) {
      if (i++ == target) continue;
      if (!first) o += ',';
      o += c;
      first = false;
    }
    return o;
  };
  out = keep(header) + "\n";
  for (std::size_t i = 0; i < n && std::getline(in, line); ++i) out += keep(line) + "\n";
  return out;
}

void copy_bundle(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

void replace_bundle(const fs::path& from, const fs::path& dest) {
  const fs::path tmp = dest.string() + ".incoming", old = dest.string() + ".old";
  fs::remove_all(tmp);
  fs::remove_all(old);
  copy_bundle(from, tmp);
  if (fs::exists(dest)) fs::rename(dest, old);
  fs::rename(tmp, dest);
  fs::remove_all(old);
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

serve::ServeOptions test_serve_options(const fs::path& model_dir) {
  serve::ServeOptions o;
  o.model_dir = model_dir;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 32;
  o.max_body_bytes = 1 << 20;
  o.max_rows = 500;
  o.explain_top_k = 3;
  o.reload_poll = std::chrono::milliseconds(100);
  o.api_token = "test-token";
  o.pipeline = PipelineConfig::load(source_dir() / "config" / "pipeline.yaml");
  return o;
}

ServeHarness::ServeHarness(serve::ServeOptions opt) {
  server_ = std::make_unique<serve::Server>(std::move(opt));
  port_ = server_->bind();
  thread_ = std::thread([this] { server_->run(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->running()) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the test server did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

ServeHarness::~ServeHarness() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<httplib::Client> ServeHarness::client() const {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
  c->set_connection_timeout(5);
  c->set_read_timeout(30);
  c->set_write_timeout(30);
  return c;
}

}  // namespace netsentry::test
