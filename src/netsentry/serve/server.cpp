#include "netsentry/serve/server.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <thread>
#include <unordered_map>

#include "netsentry/core/error.hpp"
#include "netsentry/core/memory.hpp"
#include "netsentry/serve/answer_write.hpp"
#include "netsentry/serve/assets.hpp"
#include "netsentry/serve/http.hpp"
#include "netsentry/serve/jobs.hpp"
#include "netsentry/serve/metrics.hpp"
#include "netsentry/serve/model_store.hpp"
#include "netsentry/serve/multipart.hpp"
#include "netsentry/serve/request_parse.hpp"
#include "netsentry/serve/scoring.hpp"
#include "netsentry/serve/training_sources.hpp"

namespace netsentry::serve {

namespace {

// The media type of the request body, lower case, without parameters ("application/json").
std::string media_type(const http::Request& req) {
  std::string_view ct = req.header("Content-Type");
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  while (!ct.empty() && ct.front() == ' ') ct.remove_prefix(1);
  std::string out(ct);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool accepts_json(const http::Request& req) {
  const std::string_view a = req.header("Accept");
  return a.find("application/json") != std::string_view::npos && a.find("text/csv") == std::string_view::npos;
}

bool param_false(const http::Request& req, const char* name) {
  const auto v = req.param(name);
  return v && (*v == "0" || *v == "false" || *v == "no");
}

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> d{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

// Small prediction requests run the model in the request's own thread: an OpenMP team per request
// would oversubscribe the cores many times over under concurrent load. Large batches may use every
// core. (OpenMP's thread count is per calling thread. libgomp is already loaded by XGBoost; it is
// looked up rather than linked so that the build needs no OpenMP flags.)
void openmp_threads_for(std::size_t rows) {
  using SetThreads = void (*)(int);
  static const auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  static const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  thread_local int current = 0;
  const int want = rows >= 256 ? all : 1;
  if (fn && want != current) {
    fn(want);
    current = want;
  }
}

const char* content_type_for(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

// The route of an answer's tag: the errors the HTTP layer answers itself (no route: a malformed
// request, an unknown path, a method a path does not take) count as "other".
Route route_of(int tag) {
  return tag >= 0 && tag < static_cast<int>(Route::kCount) ? static_cast<Route>(tag) : Route::Other;
}

void send_error(http::Response& res, int status, const std::string& message,
                const std::optional<std::string>& column = std::nullopt,
                const std::optional<std::size_t>& row = std::nullopt) {
  res.status = status;
  res.set_body(error_json(message, column, row), "application/json");
}

}  // namespace

struct Server::Impl {
  ServeOptions opt;
  ModelStore store;
  TrainingJobs jobs;
  Metrics metrics;
  http::HttpServer http;
  InputRules rules;
  std::optional<std::array<unsigned char, 32>> token_digest;
  std::unordered_map<std::string_view, const Asset*> assets;
  int port = -1;
  std::atomic<bool> stopping{false};
  TrainingSources sources;

  static http::Limits limits_of(const ServeOptions& o) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    http::Limits l;
    l.io_threads = o.threads > 0 ? o.threads : 2 * cores;
    l.workers = o.workers > 0 ? o.workers : std::max(2, cores);
    l.max_body_bytes = o.max_body_bytes;
    l.max_header_bytes = o.max_header_bytes;
    l.max_header_fields = o.max_header_fields;
    l.inline_body_bytes = o.inline_body_bytes;
    l.read_timeout = std::chrono::seconds(o.read_timeout_seconds);
    l.keep_alive_timeout = std::chrono::seconds(o.keep_alive_timeout_seconds);
    l.request_timeout = std::chrono::seconds(o.request_timeout_seconds);
    l.min_body_bytes_per_second = static_cast<std::size_t>(o.min_body_bytes_per_second);
    l.max_connections = o.max_connections;
    l.shutdown_grace = std::chrono::seconds(o.shutdown_grace_seconds);
    return l;
  }

  explicit Impl(ServeOptions o)
      : opt(std::move(o)),
        store(opt.model_dir, opt.class_names, opt.explain_method),
        jobs(opt.pipeline, opt.model_dir),
        http(limits_of(opt)) {
    rules.max_rows = opt.max_rows;
    rules.ignored_columns = opt.pipeline.data.drop_columns;
    rules.ignored_columns.push_back(opt.pipeline.data.target);
    rules.missing_values = opt.pipeline.data.missing_values;
    if (opt.api_token) token_digest = sha256(*opt.api_token);
    sources.uri_prefixes = opt.training_source_uris;
    for (const auto& root : opt.training_data_roots) sources.data_roots.emplace_back(root);
    for (const auto& a : serve::assets()) assets.emplace(a.name, &a);
    jobs.on_published([this] { store.reload(); });
    setup_http();
    setup_routes();
  }

  // ---- helpers -------------------------------------------------------------------------------

  std::shared_ptr<const LoadedModel> model_or_503() const {
    auto m = store.current();
    if (!m) throw RequestError(503, "no model is loaded yet");
    return m;
  }

  // Bearer token check, in constant time (digests of equal length compared with CRYPTO_memcmp).
  void require_token(const http::Request& req, http::Response& res) const {
    res.set_header("WWW-Authenticate", "Bearer realm=\"netsentry\"");
    if (!token_digest)
      throw RequestError(
          401, "this server has no API token configured (set NETSENTRY_API_TOKEN when starting it)");
    const std::string_view h = req.header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer)
      throw RequestError(401, "missing bearer token (Authorization: Bearer <token>)");
    const auto given = sha256(h.substr(kBearer.size()));
    if (CRYPTO_memcmp(given.data(), token_digest->data(), given.size()) != 0)
      throw RequestError(401, "wrong bearer token");
  }

  // A route's handler: the route id for the metrics, and the errors it throws as JSON answers.
  template <class F>
  http::Handler handler(Route route, F f) {
    return [route, f](http::Request& req, http::Response& res) {
      res.tag = static_cast<int>(route);
      answer_errors(route, res, [&] { f(req, res); });
    };
  }

  // Runs f(res) now, or, when `later`, on the worker pool once the handler has returned
  // (explanations that take milliseconds), with the same errors.
  template <class F>
  static void answer_now_or_later(Route route, http::Response& res, bool later, F f) {
    if (!later) return f(res);
    res.defer = [route, f = std::move(f)](http::Response& r) mutable {
      answer_errors(route, r, [&] { f(r); });
    };
  }

  template <class F>
  static void answer_errors(Route route, http::Response& res, F&& f) {
    try {
      f();
    } catch (const RequestError& e) {
      res.headers.erase(std::remove_if(res.headers.begin(), res.headers.end(),
                                       [](const auto& h) { return h.first != "WWW-Authenticate"; }),
                        res.headers.end());
      send_error(res, e.status, e.what(), e.column, e.row);
    } catch (const DataError& e) {
      res.headers.clear();
      send_error(res, 400, e.what());
    } catch (const std::exception& e) {
      // Exception texts come from the model or the library, never from request bodies or headers.
      spdlog::error("{}: {}", route_name(route), e.what());
      res.headers.clear();
      send_error(res, 500, "internal error");
    }
  }

  // Whether to explain `rows` rows: asked for, possible, and within the cost budget. When asked for
  // but over budget, `note` says why the reasons are missing.
  bool explain_within_budget(const LoadedModel& m, std::size_t rows, bool asked, std::string& note) const {
    if (!asked || opt.explain_top_k <= 0 || !m.can_explain) return false;
    const double ms = static_cast<double>(rows) * m.explain_seconds_per_row * 1e3;
    if (ms <= opt.explain_budget_ms) return true;
    note = fmt::format(
        "omitted: explaining {} row(s) would take about {:.0f} ms with this model, over the {:.0f} ms budget "
        "(serve.explain_budget_ms)",
        rows, ms, opt.explain_budget_ms);
    return false;
  }

  // A prediction is answered on its connection's event loop (large bodies: on the worker pool,
  // http::Limits::inline_body_bytes), except explanations that the model's cost model estimates at
  // more than a couple of milliseconds: those are deferred to the pool (the estimate depends on the
  // model and the row count only, so the same request always goes the same way).
  static bool slow_explanations(const LoadedModel& m, std::size_t rows) {
    return static_cast<double>(rows) * m.explain_seconds_per_row * 1e3 > 2.0;
  }

  void count(const Scores& s) {
    std::uint64_t ones = 0;
    for (int l : s.scored.label) ones += l == 1;
    if (ones) metrics.count_predictions(1, ones);
    if (s.scored.label.size() > ones) metrics.count_predictions(0, s.scored.label.size() - ones);
  }

  // The CSV text of a request: a text/csv body, or the multipart field "file" (a view into the body).
  static std::string_view csv_body(const http::Request& req, const std::string& type) {
    if (type == "multipart/form-data") {
      std::vector<FormPart> parts;
      try {
        parts = parse_multipart(req.body, req.header("Content-Type"));
      } catch (const MultipartError& e) {
        throw RequestError(400, std::string("malformed multipart upload: ") + e.what());
      }
      const FormPart* file = nullptr;
      for (const auto& p : parts) {
        if (p.name != "file") continue;
        if (file) throw RequestError(400, "the multipart form has more than one field \"file\"", "file");
        file = &p;
      }
      if (!file) throw RequestError(400, "the multipart form has no field \"file\"", "file");
      return file->content;
    }
    if (type == "text/csv" || type == "application/csv" || type == "text/plain") return req.body;
    throw RequestError(415, "expected Content-Type text/csv or multipart/form-data with a field \"file\"");
  }

  void start_training(const http::Request& req, http::Response& res, bool with_body) {
    require_token(req, res);
    std::optional<std::string> data, test_data;
    if (with_body && !req.body.empty()) {
      if (media_type(req) != "application/json")
        throw RequestError(415, "expected Content-Type: application/json (or an empty body)");
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(req.body);
      } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number beyond double's range
        throw RequestError(400, std::string("invalid JSON: ") + e.what());
      }
      if (!j.is_object()) throw RequestError(400, "expected a JSON object, e.g. {\"data\": \"path/to.csv\"}");
      for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "data" && it.key() != "test_data")
          throw RequestError(400, "unknown field \"" + it.key() + "\" (expected data, test_data)");
      for (auto [key, out] : {std::pair{"data", &data}, std::pair{"test_data", &test_data}}) {
        if (!j.contains(key)) continue;
        if (!j[key].is_string() || j[key].get<std::string>().empty())
          throw RequestError(400, std::string("\"") + key + "\" must be a CSV path or source URI", key);
        const auto allowed = allowed_training_source(j[key].get<std::string>(), sources);
        if (const auto* no = std::get_if<Refused>(&allowed)) throw RequestError(403, no->reason, key);
        *out = std::get<std::string>(allowed);
      }
    }
    auto id = jobs.start(std::move(data), std::move(test_data));
    if (!id) throw RequestError(409, "a training job is already running; one runs at a time");
    res.status = 202;
    res.set_header("Location", "/api/v1/train/" + *id);
    res.set_body(
        nlohmann::json{{"id", *id}, {"status", "queued"}, {"status_url", "/api/v1/train/" + *id}}.dump(),
        "application/json");
  }

  void serve_asset(http::Response& res, std::string_view name) {
    auto it = assets.find(name);
    if (it == assets.end()) throw RequestError(404, "not found");
    res.set_body(std::string(it->second->data), content_type_for(name));
    res.set_header("Cache-Control", "no-cache");
    if (name.ends_with(".html"))
      res.set_header(
          "Content-Security-Policy",
          "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'");
  }

  // ---- setup ---------------------------------------------------------------------------------

  void setup_http() {
    http.default_headers = {{"X-Content-Type-Options", "nosniff"}};
    http.error_body = [](int, const std::string& message) { return error_json(message); };
    http.on_exception = [](std::string_view method, int tag, const std::string& what) {
      spdlog::error("{} {}: {}", method, route_name(route_of(tag)), what);
    };
    // After the answer was written: metrics and the access log (no bodies, headers or queries).
    http.after = [this](std::string_view method, const http::Response& res, double secs) {
      const auto route = route_of(res.tag);
      metrics.record(route, res.status, secs);
      if (opt.access_log)
        spdlog::debug("{} {} {} {:.3f} ms", method, route_name(route), res.status, secs * 1e3);
    };
  }

  void setup_routes() {
    auto& s = http;
    s.route("GET", "/", handler(Route::Index, [this](http::Request&, http::Response& res) {
              serve_asset(res, "index.html");
            }));
    s.route_pattern("GET", R"(/([A-Za-z0-9_-]+\.(html|js|css|svg|png|ico)))",
                    handler(Route::Asset, [this](http::Request& req, http::Response& res) {
                      serve_asset(res, req.matches[1]);
                    }));

    s.route("GET", "/healthz", handler(Route::Healthz, [](http::Request&, http::Response& res) {
              res.set_body("{\"status\":\"ok\"}", "application/json");
            }));
    s.route("GET", "/readyz", handler(Route::Readyz, [this](http::Request&, http::Response& res) {
              auto m = store.current();
              if (!m || stopping) {
                res.status = 503;
                res.set_body(std::string("{\"status\":\"") + (stopping ? "stopping" : "no model") + "\"}",
                             "application/json");
                return;
              }
              std::string o = "{\"status\":\"ready\",\"model_version\":";
              append_json_string(o, m->version);
              o += '}';
              res.set_body(std::move(o), "application/json");
            }));
    s.route("GET", "/metrics", handler(Route::Metrics, [this](http::Request&, http::Response& res) {
              auto m = store.current();
              res.set_body(metrics.render(m ? m->version : std::string(), m ? m->verdict[0] : "0",
                                          m ? m->verdict[1] : "1", store.reloads(), store.reload_failures(),
                                          m != nullptr),
                           "text/plain; version=0.0.4; charset=utf-8");
            }));
    s.route("GET", "/openapi.json", handler(Route::OpenApi, [](http::Request&, http::Response& res) {
              res.set_body(openapi_json(), "application/json");
            }));

    s.route("GET", "/api/v1/model", handler(Route::ApiModel, [this](http::Request&, http::Response& res) {
              auto m = model_or_503();
              res.set_body(m->info_json, "application/json");
              res.set_header("X-Model-Version", m->version);
            }));

    s.route("POST", "/api/v1/predict",
            handler(Route::ApiPredict, [this](http::Request& req, http::Response& res) {
              auto m = model_or_503();
              if (media_type(req) != "application/json")
                throw RequestError(415, "expected Content-Type: application/json");
              auto pr = parse_predict_json(req.body, *m, rules);
              std::string note;
              const bool explain =
                  explain_within_budget(*m, pr.X.rows, pr.explain && !param_false(req, "explain"), note);
              const bool later = explain && slow_explanations(*m, pr.X.rows);
              metrics.count_unseen(pr.unseen.total);
              auto answer = [this, m, X = std::move(pr.X), explain, note,
                             unseen = std::move(pr.unseen)](http::Response& r) {
                openmp_threads_for(X.rows);
                auto sc = run_model(*m, X, explain);
                count(sc);
                std::string out;
                append_predictions_json(out, *m, X, sc, opt.explain_top_k, note, &unseen);
                r.set_body(std::move(out), "application/json");
                r.set_header("X-Model-Version", m->version);
              };
              answer_now_or_later(Route::ApiPredict, res, later, std::move(answer));
            }));

    s.route("POST", "/api/v1/predict/csv",
            handler(Route::ApiPredictCsv, [this](http::Request& req, http::Response& res) {
              auto m = model_or_503();
              const auto text = csv_body(req, media_type(req));
              auto cr = parse_predict_csv(text, *m, rules);
              std::string note;
              const bool explain = explain_within_budget(*m, cr.X.rows, !param_false(req, "explain"), note);
              const bool json = accepts_json(req);
              const bool later = explain && slow_explanations(*m, cr.X.rows);
              metrics.count_unseen(cr.unseen.total);
              auto answer = [this, m, cr = std::move(cr), explain, note, json](http::Response& r) {
                openmp_threads_for(cr.X.rows);
                auto sc = run_model(*m, cr.X, explain);
                count(sc);
                r.set_header("X-Model-Version", m->version);
                if (!note.empty()) r.set_header("X-Explanations", "omitted: over serve.explain_budget_ms");
                if (json) {
                  std::string out;
                  append_predictions_json(out, *m, cr.X, sc, opt.explain_top_k, note, &cr.unseen);
                  r.set_body(std::move(out), "application/json");
                } else {
                  r.set_body(predictions_csv(cr.table, *m, cr.X, sc, opt.explain_top_k),
                             "text/csv; charset=utf-8");
                  r.set_header("Content-Disposition", "attachment; filename=\"predictions.csv\"");
                }
              };
              answer_now_or_later(Route::ApiPredictCsv, res, later, std::move(answer));
            }));

    s.route("POST", "/api/v1/train",
            handler(Route::ApiTrain,
                    [this](http::Request& req, http::Response& res) { start_training(req, res, true); }));
    s.route_pattern("GET", R"(/api/v1/train/([A-Za-z0-9]{1,64}))",
                    handler(Route::ApiTrainJob, [this](http::Request& req, http::Response& res) {
                      require_token(req, res);  // a job's status names its data and run folder
                      auto j = jobs.get(req.matches[1]);
                      if (!j) throw RequestError(404, "no training job with this id");
                      res.set_body(j->dump(), "application/json");
                    }));

    // The reference app's routes.
    s.route("POST", "/predict",
            handler(Route::LegacyPredict, [this](http::Request& req, http::Response& res) {
              auto m = model_or_503();
              if (media_type(req) != "multipart/form-data")
                throw RequestError(415, "expected a multipart/form-data upload with a field \"file\"");
              const auto text = csv_body(req, "multipart/form-data");
              auto cr = parse_predict_csv(text, *m, rules);
              metrics.count_unseen(cr.unseen.total);
              openmp_threads_for(cr.X.rows);
              auto sc = run_model(*m, cr.X, false);
              count(sc);
              res.set_body(predictions_html(cr.table, sc), "text/html; charset=utf-8");
            }));
    s.route("GET", "/train", handler(Route::LegacyTrain, [this](http::Request& req, http::Response& res) {
              start_training(req, res, false);
            }));
    s.route("POST", "/train", handler(Route::LegacyTrain, [this](http::Request& req, http::Response& res) {
              start_training(req, res, false);
            }));
  }
};

Server::Server(ServeOptions options, bool allow_no_model)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  keep_freed_memory();  // a 1,000-row upload allocates its table, matrix, bins and a ~600 KB answer
  std::string error;
  if (!impl_->store.reload(&error) && !allow_no_model) throw DataError(error);
}

Server::~Server() {
  stop();
  impl_->store.stop_watching();
}

int Server::bind() {
  if (impl_->port > 0) return impl_->port;
  auto& o = impl_->opt;
  try {
    impl_->port = impl_->http.bind(o.host, o.port);
  } catch (const std::exception& e) {
    throw UsageError("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (" + e.what() +
                     "; in use, or not an address of this machine)");
  }
  return impl_->port;
}

void Server::run() {
  bind();
  impl_->store.watch(impl_->opt.reload_poll);
  spdlog::info("serving on http://{}:{}/", impl_->opt.host, impl_->port);
  if (!impl_->opt.api_token) spdlog::warn("NETSENTRY_API_TOKEN is not set: training routes will answer 401");
  impl_->http.run();
  impl_->store.stop_watching();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

bool Server::running() const { return impl_->http.running(); }
bool Server::reload(std::string* error) { return impl_->store.reload(error); }
int Server::port() const { return impl_->port; }
const ServeOptions& Server::options() const { return impl_->opt; }
ModelStore& Server::models() { return impl_->store; }
TrainingJobs& Server::jobs() { return impl_->jobs; }

}  // namespace netsentry::serve
