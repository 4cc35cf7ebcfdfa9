#pragma once
// `netsentry serve`: the web UI, the JSON API and the reference app's routes (HTTP: http.hpp).
//
//   Server s(options);        // loads the model (throws DataError/UsageError when it cannot)
//   int port = s.bind();      // options.port, or any free port when it is 0
//   s.run();                  // serves until stop() (from another thread or a signal handler thread)
//
// Requests are answered by a pool of options.threads threads; each takes a reference to the current
// model once, so a hot reload (reload(), or the model directory being replaced) never fails a
// request in flight.
#include <memory>
#include <string>

#include "netsentry/serve/options.hpp"

namespace netsentry::serve {

class ModelStore;
class TrainingJobs;

class Server {
 public:
  // Loads the model from options.model_dir; with allow_no_model, starts without one (not ready).
  explicit Server(ServeOptions options, bool allow_no_model = false);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int bind();            // throws UsageError when the address cannot be bound; returns the port
  void run();            // blocks until stop(); binds first when bind() was not called
  void stop();           // stops accepting; requests in flight may finish within
                         // options.shutdown_grace_seconds, then are cut off. Safe from any thread.
  bool running() const;  // true once run() listens
  bool reload(std::string* error = nullptr);

  int port() const;
  const ServeOptions& options() const;
  ModelStore& models();
  TrainingJobs& jobs();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3 description of every route (served at /openapi.json).
const std::string& openapi_json();

}  // namespace netsentry::serve
