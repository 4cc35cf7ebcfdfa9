#include "netsentry/serve/server.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <unordered_map>

#include "netsentry/core/error.hpp"
#include "netsentry/core/memory.hpp"
#include "netsentry/serve/assets.hpp"
#include "netsentry/serve/jobs.hpp"
#include "netsentry/serve/metrics.hpp"
#include "netsentry/serve/model_store.hpp"
#include "netsentry/serve/predict_io.hpp"

namespace netsentry::serve {

namespace {

using Clock = std::chrono::steady_clock;

// Per-request bookkeeping: a request is handled start to end by one pool thread.
struct RequestState {
  Clock::time_point start;
  Route route = Route::Other;
  bool started = false;
};
thread_local RequestState t_request;

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> d{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

// The media type of the request body, lower case, without parameters ("application/json").
std::string media_type(const httplib::Request& req) {
  std::string ct = req.get_header_value("Content-Type");
  auto semi = ct.find(';');
  if (semi != std::string::npos) ct.resize(semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  while (!ct.empty() && ct.front() == ' ') ct.erase(ct.begin());
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return std::tolower(c); });
  return ct;
}

bool accepts_json(const httplib::Request& req) {
  const std::string a = req.get_header_value("Accept");
  return a.find("application/json") != std::string::npos && a.find("text/csv") == std::string::npos;
}

bool param_false(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return false;
  const std::string v = req.get_param_value(name);
  return v == "0" || v == "false" || v == "no";
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

void set_body(httplib::Response& res, std::string body, const char* type) {
  res.body = std::move(body);
  res.set_header("Content-Type", type);
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::optional<std::string>& column = std::nullopt,
                const std::optional<std::size_t>& row = std::nullopt) {
  res.status = status;
  set_body(res, error_json(message, column, row), "application/json");
}

// A request body read through httplib's content reader: at most `limit` bytes are kept; the rest
// is read and dropped, so that the connection stays in step with the client, and answered 413.
// (This httplib version puts no limit on chunked bodies itself.)
struct Body {
  std::string text;
  httplib::MultipartFormDataMap files;
  bool multipart = false;
};

Body read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
               std::size_t limit) {
  Body b;
  std::size_t total = 0;
  bool ok = false;
  if (req.is_multipart_form_data()) {
    b.multipart = true;
    httplib::MultipartFormData* cur = nullptr;
    ok = reader(
        [&](const httplib::MultipartFormData& part) {
          cur = &b.files.emplace(part.name, part)->second;
          return true;
        },
        [&](const char* data, std::size_t n) {
          total += n;
          if (total <= limit && cur) cur->content.append(data, n);
          return true;
        });
  } else {
    ok = reader([&](const char* data, std::size_t n) {
      total += n;
      if (total <= limit) b.text.append(data, n);
      return true;
    });
  }
  if (total > limit || res.status == 413)
    throw RequestError(413, "request body larger than the limit of " + std::to_string(limit) + " bytes");
  if (!ok) throw RequestError(400, "the request body could not be read");
  return b;
}

}  // namespace

struct Server::Impl {
  ServeOptions opt;
  ModelStore store;
  TrainingJobs jobs;
  Metrics metrics;
  httplib::Server http;
  InputRules rules;
  std::optional<std::array<unsigned char, 32>> token_digest;
  std::unordered_map<std::string_view, const Asset*> assets;
  int port = -1;
  std::atomic<bool> stopping{false};

  explicit Impl(ServeOptions o)
      : opt(std::move(o)), store(opt.model_dir, opt.class_names), jobs(opt.pipeline, opt.model_dir) {
    rules.max_rows = opt.max_rows;
    rules.ignored_columns = opt.pipeline.drop_columns;
    rules.ignored_columns.push_back(opt.pipeline.target);
    rules.missing_values = opt.pipeline.missing_values;
    if (opt.api_token) token_digest = sha256(*opt.api_token);
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
  void require_token(const httplib::Request& req, httplib::Response& res) const {
    res.set_header("WWW-Authenticate", "Bearer realm=\"netsentry\"");
    if (!token_digest)
      throw RequestError(
          401, "this server has no API token configured (set NETSENTRY_API_TOKEN when starting it)");
    const std::string h = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0)
      throw RequestError(401, "missing bearer token (Authorization: Bearer <token>)");
    const auto given = sha256(std::string_view(h).substr(kBearer.size()));
    if (CRYPTO_memcmp(given.data(), token_digest->data(), given.size()) != 0)
      throw RequestError(401, "wrong bearer token");
  }

  template <class F>
  httplib::Server::Handler handler(Route route, F f) {
    return [this, route, f](const httplib::Request& req, httplib::Response& res) {
      t_request.route = route;
      try {
        f(req, res);
      } catch (const RequestError& e) {
        send_error(res, e.status, e.what(), e.column, e.row);
      } catch (const DataError& e) {
        send_error(res, 400, e.what());
      } catch (const std::exception& e) {
        // Exception texts come from the model or the library, never from request bodies or headers.
        spdlog::error("{} {}: {}", req.method, route_name(route), e.what());
        send_error(res, 500, "internal error");
      }
    };
  }

  // A POST route: the body is read (bounded) before `f` runs.
  template <class F>
  httplib::Server::HandlerWithContentReader body_handler(Route route, F f) {
    return [this, route, f](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
      handler(route, [&](const httplib::Request& rq, httplib::Response& rs) {
        Body body = read_body(rq, rs, reader, opt.max_body_bytes);
        f(rq, rs, body);
      })(req, res);
    };
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

  void count(const Scores& s) {
    std::uint64_t ones = 0;
    for (int l : s.scored.label) ones += l == 1;
    if (ones) metrics.count_predictions(1, ones);
    if (s.scored.label.size() > ones) metrics.count_predictions(0, s.scored.label.size() - ones);
  }

  // The CSV text of a request: a text/csv body, or the multipart field "file".
  static std::string_view csv_body(const Body& body, const std::string& type) {
    if (type == "multipart/form-data") {
      auto it = body.files.find("file");
      if (it == body.files.end()) throw RequestError(400, "the multipart form has no field \"file\"", "file");
      return it->second.content;
    }
    if (type == "text/csv" || type == "application/csv" || type == "text/plain") return body.text;
    throw RequestError(415, "expected Content-Type text/csv or multipart/form-data with a field \"file\"");
  }

  void start_training(const httplib::Request& req, httplib::Response& res, const Body* body) {
    require_token(req, res);
    std::optional<std::string> data;
    if (body && !body->text.empty()) {
      if (media_type(req) != "application/json")
        throw RequestError(415, "expected Content-Type: application/json (or an empty body)");
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(body->text);
      } catch (const nlohmann::json::parse_error& e) {
        throw RequestError(400, std::string("invalid JSON: ") + e.what());
      }
      if (!j.is_object()) throw RequestError(400, "expected a JSON object, e.g. {\"data\": \"path/to.csv\"}");
      for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "data") throw RequestError(400, "unknown field \"" + it.key() + "\" (expected data)");
      if (j.contains("data")) {
        if (!j["data"].is_string() || j["data"].get<std::string>().empty())
          throw RequestError(400, "\"data\" must be a CSV path or source URI", "data");
        data = j["data"].get<std::string>();
      }
    }
    auto id = jobs.start(std::move(data));
    if (!id) throw RequestError(409, "a training job is already running; one runs at a time");
    res.status = 202;
    res.set_header("Location", "/api/v1/train/" + *id);
    set_body(res,
             nlohmann::json{{"id", *id}, {"status", "queued"}, {"status_url", "/api/v1/train/" + *id}}.dump(),
             "application/json");
  }

  void serve_asset(httplib::Response& res, std::string_view name) {
    auto it = assets.find(name);
    if (it == assets.end()) throw RequestError(404, "not found");
    res.set_content(it->second->data.data(), it->second->data.size(), content_type_for(name));
    res.set_header("Cache-Control", "no-cache");
    if (name.ends_with(".html"))
      res.set_header(
          "Content-Security-Policy",
          "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'");
  }

  // ---- setup ---------------------------------------------------------------------------------

  void setup_http() {
    const std::size_t n_threads = static_cast<std::size_t>(std::max(2, opt.threads));
    http.new_task_queue = [n_threads] { return new httplib::ThreadPool(n_threads); };
    http.set_tcp_nodelay(true);
    http.set_keep_alive_max_count(100000);
    http.set_keep_alive_timeout(opt.keep_alive_timeout_seconds);
    http.set_read_timeout(opt.read_timeout_seconds, 0);
    http.set_write_timeout(opt.read_timeout_seconds, 0);
    http.set_payload_max_length(opt.max_body_bytes);
    http.set_default_headers({{"X-Content-Type-Options", "nosniff"}});

    // Before the body is read: start the clock; refuse a POST that has neither a Content-Length nor
    // a chunked body (this httplib version would wait for the connection to close to read it).
    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      t_request = {Clock::now(), Route::Other, true};
      if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH")
        return httplib::Server::HandlerResponse::Unhandled;
      if (!req.has_header("Transfer-Encoding") && !req.has_header("Content-Length")) {
        send_error(res, 411, "a request body needs a Content-Length (or chunked transfer encoding)");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    // Errors httplib answers itself (404, 413, 400 on a malformed request) get a JSON body too.
    http.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string msg;
          switch (res.status) {
            case 404:
              msg = "not found";
              break;
            case 405:
              msg = "method not allowed";
              break;
            case 413:
              msg = "request body larger than the limit of " + std::to_string(opt.max_body_bytes) + " bytes";
              break;
            case 400:
              msg = "bad request";
              break;
            default:
              msg = "error " + std::to_string(res.status);
          }
          set_body(res, error_json(msg), "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }));

    http.set_exception_handler(
        [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          spdlog::error("{} {}: {}", req.method, route_name(t_request.route), what);
          send_error(res, 500, "internal error");
        });

    // After the response was written: metrics and the access log (no bodies, headers or queries).
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const double secs =
          t_request.started ? std::chrono::duration<double>(Clock::now() - t_request.start).count() : 0.0;
      metrics.record(t_request.route, res.status, secs);
      if (opt.access_log)
        spdlog::debug("{} {} {} {:.3f} ms", req.method, route_name(t_request.route), res.status, secs * 1e3);
      t_request.started = false;
      t_request.route = Route::Other;
    });
  }

  void setup_routes() {
    auto& s = http;
    s.Get("/", handler(Route::Index, [this](const httplib::Request&, httplib::Response& res) {
            serve_asset(res, "index.html");
          }));
    s.Get(R"(/([A-Za-z0-9_-]+\.(html|js|css|svg|png|ico)))",
          handler(Route::Asset, [this](const httplib::Request& req, httplib::Response& res) {
            serve_asset(res, std::string_view(req.matches[1].first, req.matches[1].second));
          }));

    s.Get("/healthz", handler(Route::Healthz, [](const httplib::Request&, httplib::Response& res) {
            set_body(res, "{\"status\":\"ok\"}", "application/json");
          }));
    s.Get("/readyz", handler(Route::Readyz, [this](const httplib::Request&, httplib::Response& res) {
            auto m = store.current();
            if (!m || stopping) {
              res.status = 503;
              set_body(res, std::string("{\"status\":\"") + (stopping ? "stopping" : "no model") + "\"}",
                       "application/json");
              return;
            }
            std::string o = "{\"status\":\"ready\",\"model_version\":";
            append_json_string(o, m->version);
            o += '}';
            set_body(res, std::move(o), "application/json");
          }));
    s.Get("/metrics", handler(Route::Metrics, [this](const httplib::Request&, httplib::Response& res) {
            auto m = store.current();
            set_body(res,
                     metrics.render(m ? m->version : std::string(), m ? m->verdict[0] : "0",
                                    m ? m->verdict[1] : "1", store.reloads(), store.reload_failures(),
                                    m != nullptr),
                     "text/plain; version=0.0.4; charset=utf-8");
          }));
    s.Get("/openapi.json", handler(Route::OpenApi, [](const httplib::Request&, httplib::Response& res) {
            res.set_content(openapi_json(), "application/json");
          }));

    s.Get("/api/v1/model", handler(Route::ApiModel, [this](const httplib::Request&, httplib::Response& res) {
            auto m = model_or_503();
            res.set_content(m->info_json, "application/json");
            res.set_header("X-Model-Version", m->version);
          }));

    s.Post("/api/v1/predict", body_handler(Route::ApiPredict, [this](const httplib::Request& req,
                                                                     httplib::Response& res, Body& body) {
             auto m = model_or_503();
             if (media_type(req) != "application/json")
               throw RequestError(415, "expected Content-Type: application/json");
             auto pr = parse_predict_json(body.text, *m, rules);
             openmp_threads_for(pr.X.rows);
             std::string note;
             const bool explain =
                 explain_within_budget(*m, pr.X.rows, pr.explain && !param_false(req, "explain"), note);
             auto sc = run_model(*m, pr.X, explain);
             count(sc);
             std::string out;
             append_predictions_json(out, *m, pr.X, sc, opt.explain_top_k, note);
             set_body(res, std::move(out), "application/json");
             res.set_header("X-Model-Version", m->version);
           }));

    s.Post("/api/v1/predict/csv",
           body_handler(Route::ApiPredictCsv, [this](const httplib::Request& req, httplib::Response& res,
                                                     Body& body) {
             auto m = model_or_503();
             const auto text = csv_body(body, media_type(req));
             auto cr = parse_predict_csv(text, *m, rules);
             openmp_threads_for(cr.X.rows);
             std::string note;
             const bool explain = explain_within_budget(*m, cr.X.rows, !param_false(req, "explain"), note);
             auto sc = run_model(*m, cr.X, explain);
             count(sc);
             res.set_header("X-Model-Version", m->version);
             if (!note.empty()) res.set_header("X-Explanations", "omitted: over serve.explain_budget_ms");
             if (accepts_json(req)) {
               std::string out;
               append_predictions_json(out, *m, cr.X, sc, opt.explain_top_k, note);
               set_body(res, std::move(out), "application/json");
             } else {
               set_body(res, predictions_csv(cr.table, *m, cr.X, sc, opt.explain_top_k),
                        "text/csv; charset=utf-8");
               res.set_header("Content-Disposition", "attachment; filename=\"predictions.csv\"");
             }
           }));

    s.Post("/api/v1/train",
           body_handler(Route::ApiTrain, [this](const httplib::Request& req, httplib::Response& res,
                                                Body& body) { start_training(req, res, &body); }));
    s.Get(R"(/api/v1/train/([A-Za-z0-9]{1,64}))",
          handler(Route::ApiTrainJob, [this](const httplib::Request& req, httplib::Response& res) {
            auto j = jobs.get(req.matches[1].str());
            if (!j) throw RequestError(404, "no training job with this id");
            set_body(res, j->dump(), "application/json");
          }));

    // The reference app's routes.
    s.Post("/predict", body_handler(Route::LegacyPredict, [this](const httplib::Request& req,
                                                                 httplib::Response& res, Body& body) {
             auto m = model_or_503();
             if (media_type(req) != "multipart/form-data")
               throw RequestError(415, "expected a multipart/form-data upload with a field \"file\"");
             const auto text = csv_body(body, "multipart/form-data");
             auto cr = parse_predict_csv(text, *m, rules);
             openmp_threads_for(cr.X.rows);
             auto sc = run_model(*m, cr.X, false);
             count(sc);
             set_body(res, predictions_html(cr.table, sc), "text/html; charset=utf-8");
           }));
    s.Get("/train", handler(Route::LegacyTrain, [this](const httplib::Request& req, httplib::Response& res) {
            start_training(req, res, nullptr);
          }));
    s.Post("/train",
           body_handler(Route::LegacyTrain, [this](const httplib::Request& req, httplib::Response& res,
                                                   Body&) { start_training(req, res, nullptr); }));
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
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
    if (impl_->port < 0) throw UsageError("cannot listen on " + o.host + " (any port)");
  } else {
    if (!impl_->http.bind_to_port(o.host, o.port))
      throw UsageError("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                       " (in use, or not an address of this machine)");
    impl_->port = o.port;
  }
  return impl_->port;
}

void Server::run() {
  bind();
  impl_->store.watch(impl_->opt.reload_poll);
  spdlog::info("serving on http://{}:{}/ with {} threads", impl_->opt.host, impl_->port, impl_->opt.threads);
  if (!impl_->opt.api_token) spdlog::warn("NETSENTRY_API_TOKEN is not set: training routes will answer 401");
  impl_->http.listen_after_bind();
  impl_->store.stop_watching();
}

void Server::stop() {
  impl_->stopping = true;
  if (impl_->http.is_running()) impl_->http.stop();
}

bool Server::running() const { return impl_->http.is_running(); }
bool Server::reload(std::string* error) { return impl_->store.reload(error); }
int Server::port() const { return impl_->port; }
const ServeOptions& Server::options() const { return impl_->opt; }
ModelStore& Server::models() { return impl_->store; }
TrainingJobs& Server::jobs() { return impl_->jobs; }

}  // namespace netsentry::serve
