// `netsentry serve` as a process: it starts on a free port, reloads on SIGHUP, stops gracefully on
// SIGTERM (exit 0) within the shutdown grace even while a client trickles a request (a training job
// still running then is abandoned: exit 1), and writes neither the API token nor request bodies to
// its log.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "support/paths.hpp"
#include "support/serve_harness.hpp"

extern char** environ;

namespace netsentry::test {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ServeProcess {
 public:
  // `config`: the --config file (none: the default path, absent from the test's directory).
  ServeProcess(const std::filesystem::path& model_dir, const std::filesystem::path& log,
               const std::string& token, const std::filesystem::path& config = {}) {
    std::vector<std::string> args = {cli_binary().string(), "-v"};
    if (!config.empty()) args.insert(args.end(), {"--config", config.string()});
    args.insert(args.end(), {"serve", "--model-dir", model_dir.string(), "--port", "0", "--threads", "8"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s = {"NETSENTRY_API_TOKEN=" + token, "PATH=/usr/bin:/bin"};
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    // The log names the port once it listens.
    const std::regex re(R"(serving on http://127\.0\.0\.1:(\d+)/)");
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
      std::smatch m;
      const std::string text = slurp(log);
      if (std::regex_search(text, m, re)) {
        port_ = std::stoi(m[1]);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Waits for the exit; returns the exit code, or -1 on timeout / signal.
  int wait(std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
};

TEST(ServeProcess, ReloadsOnSighupStopsOnSigtermAndLogsNoSecrets) {
  TempDir tmp;
  const auto dir = tmp / "final_model";
  copy_bundle(serve_bundle('a'), dir);
  const std::string token = "s3cr3t-token-that-must-not-be-logged";
  ServeProcess p(dir, tmp / "serve.log", token);
  ASSERT_GT(p.port(), 0) << slurp(tmp / "serve.log");
  httplib::Client c("127.0.0.1", p.port());
  c.set_read_timeout(30);
  auto ready = c.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  // A request whose body holds a marker, refused: the marker must not reach the log.
  const std::string marker = "BODY-MARKER-5f3a";
  auto bad = c.Post("/api/v1/predict", "{\"records\": [{\"having_IP_Address\": \"" + marker + "\"}]}",
                    "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  httplib::Headers wrong = {{"Authorization", "Bearer " + token + "-wrong"}};
  auto unauth = c.Post("/api/v1/train", wrong, "{}", "application/json");
  ASSERT_TRUE(unauth);
  EXPECT_EQ(unauth->status, 401);

  // SIGHUP: the model is loaded again (a new bundle in place is served).
  replace_bundle(serve_bundle('b'), dir);
  ::kill(p.pid(), SIGHUP);
  const std::string vb = nlohmann::json::parse(slurp(serve_bundle('b') / "metadata.json"))["version"];
  bool swapped = false;
  for (int i = 0; i < 200 && !swapped; ++i) {
    auto m = c.Get("/api/v1/model");
    swapped = m && m->status == 200 && nlohmann::json::parse(m->body)["version"] == vb;
    if (!swapped) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(swapped);

  // SIGTERM while a client keeps a connection open: a clean exit, with code 0.
  httplib::Client idle("127.0.0.1", p.port());
  idle.set_keep_alive(true);
  ASSERT_TRUE(idle.Get("/healthz"));
  ::kill(p.pid(), SIGTERM);
  EXPECT_EQ(p.wait(30s), 0);
  const std::string log = slurp(tmp / "serve.log");
  EXPECT_NE(log.find("SIGHUP"), std::string::npos) << log;
  EXPECT_NE(log.find("shutting down"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the API token appears in the log";
  EXPECT_EQ(log.find(marker), std::string::npos) << "a request body appears in the log";
}

// A client that sends a request's body one byte every 0.5 s holds its connection (each byte renews
// the read timeout, and the whole-request deadline is a minute away); SIGTERM still ends the
// process within the configured grace of 2 s (and some leeway), with code 0.
TEST(ServeProcess, SigtermEndsWithinTheShutdownGraceWhileAClientTrickles) {
  TempDir tmp;
  const auto dir = tmp / "final_model";
  copy_bundle(serve_bundle('a'), dir);
  const auto config = tmp / "pipeline.yaml";
  std::ofstream(config) << "model_trainer:\n  families:\n    logistic_regression: {}\n"
                           "serve:\n  shutdown_grace_seconds: 2\n  min_body_bytes_per_second: 0\n";
  ServeProcess p(dir, tmp / "serve.log", "token", config);
  ASSERT_GT(p.port(), 0) << slurp(tmp / "serve.log");
  httplib::Client c("127.0.0.1", p.port());
  auto ready = c.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  const int fd = connect_loopback(p.port());
  ASSERT_GE(fd, 0);
  const std::string header =
      "POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
      "1000\r\n\r\n";
  ASSERT_GT(::send(fd, header.data(), header.size(), MSG_NOSIGNAL), 0);
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop && ::send(fd, " ", 1, MSG_NOSIGNAL) == 1) std::this_thread::sleep_for(500ms);
  });
  std::this_thread::sleep_for(1s);
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(p.pid(), SIGTERM);
  const int code = p.wait(15s);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  trickle.join();
  ::close(fd);
  EXPECT_EQ(code, 0) << slurp(tmp / "serve.log");
  EXPECT_LT(took, 5s);
  EXPECT_NE(slurp(tmp / "serve.log").find("shutdown grace of 2 s is over"), std::string::npos)
      << slurp(tmp / "serve.log");
}

// A training job still running when the grace is over is abandoned: the process exits with the
// code of the second-signal path, within the grace and some leeway. (The job reads its data from a
// FIFO nobody writes: it runs until the process ends.)
TEST(ServeProcess, SigtermAbandonsATrainingJobStillRunningAfterTheGrace) {
  TempDir tmp;
  const auto dir = tmp / "final_model";
  copy_bundle(serve_bundle('a'), dir);
  // A database that never answers: a loopback socket that listens and never reads, so the job waits
  // on its MongoDB connection (libmongoc's timeouts are 10 s and more).
  const int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  ASSERT_EQ(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string db = "mongodb://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const auto config = tmp / "pipeline.yaml";
  std::ofstream(config) << "model_trainer:\n  families:\n    logistic_regression: {}\n"
                           "validation:\n  schema_file: "
                        << (source_dir() / "config" / "schema" / "phishing.yaml").string()
                        << "\nserve:\n  shutdown_grace_seconds: 1\n  training_source_uris: [\"" << db
                        << "/\"]\n";
  const std::string token = "job-token";
  ServeProcess p(dir, tmp / "serve.log", token, config);
  ASSERT_GT(p.port(), 0) << slurp(tmp / "serve.log");
  httplib::Client c("127.0.0.1", p.port());
  c.set_read_timeout(30);
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  auto started =
      c.Post("/api/v1/train", auth, nlohmann::json{{"data", db + "/netsentry?collection=phishing"}}.dump(),
             "application/json");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  const std::string id = nlohmann::json::parse(started->body)["id"];
  std::string status;
  for (int i = 0; i < 500 && status != "running"; ++i) {
    auto j = c.Get("/api/v1/train/" + id, auth);
    ASSERT_TRUE(j);
    status = nlohmann::json::parse(j->body)["status"];
    if (status != "running") std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(status, "running");
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(p.pid(), SIGTERM);
  const int code = p.wait(15s);
  const auto took = std::chrono::steady_clock::now() - t0;
  const std::string log = slurp(tmp / "serve.log");
  EXPECT_EQ(code, 1) << log;
  EXPECT_LT(took, 4s);
  EXPECT_NE(log.find("abandoning the running training job"), std::string::npos) << log;
  EXPECT_NE(log.find("serve.shutdown_grace_seconds"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the API token appears in the log";
  ::close(silent);
}

TEST(ServeProcess, RefusesAMissingModelDirectory) {
  TempDir tmp;
  auto r = run_cli("serve --model-dir " + shell_quote(tmp / "nothing") + " --port 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nothing"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace netsentry::test
