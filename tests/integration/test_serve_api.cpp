// The JSON API, the web UI and the reference routes of `netsentry serve`, against a server on a
// free loopback port with a model trained by `netsentry train`.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <variant>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/serve/jobs.hpp"
#include "netsentry/serve/model_store.hpp"
#include "netsentry/serve/options.hpp"
#include "netsentry/serve/scoring.hpp"
#include "netsentry/serve/training_sources.hpp"
#include "netsentry/table/csv.hpp"
#include "support/paths.hpp"
#include "support/serve_harness.hpp"

namespace netsentry::test {
namespace {

using nlohmann::json;

class ServeApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_ / "final_model";
    copy_bundle(serve_bundle('a'), dir_);
    auto opt = test_serve_options(dir_);
    opt.pipeline.pipeline.artifact_dir = (tmp_ / "artifacts").string();
    opt.training_data_roots = {(tmp_ / "data").string(), serve_bundle('b').parent_path().string()};
    opt.training_source_uris = {"mongodb://db.internal:27017"};
    std::filesystem::create_directories(tmp_ / "data");
    h_ = std::make_unique<ServeHarness>(opt);
    cli_ = h_->client();
  }

  // The first n sample rows as JSON records (without the target).
  json records(std::size_t n) {
    Table t = parse_csv(sample_csv_rows(n, false), "sample");
    json recs = json::array();
    for (std::size_t r = 0; r < t.rows(); ++r) {
      json o = json::object();
      for (const auto& c : t.columns) o[c.name] = c.num[r];
      recs.push_back(o);
    }
    return recs;
  }

  json post_json(const std::string& path, const json& body, int expect = 200) {
    auto res = cli_->Post(path, body.dump(), "application/json");
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, expect) << res->body;
    return json::parse(res->body);
  }

  TempDir tmp_;
  std::filesystem::path dir_;
  std::unique_ptr<ServeHarness> h_;
  std::unique_ptr<httplib::Client> cli_;
};

TEST_F(ServeApi, HealthReadinessAndOpenApi) {
  auto h = cli_->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r = cli_->Get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ready");
  auto o = cli_->Get("/openapi.json");
  ASSERT_TRUE(o);
  ASSERT_EQ(o->status, 200);
  auto doc = json::parse(o->body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const char* p :
       {"/api/v1/predict", "/api/v1/predict/csv", "/api/v1/model", "/api/v1/train", "/api/v1/train/{id}",
        "/healthz", "/readyz", "/metrics", "/openapi.json", "/predict", "/train"})
    EXPECT_TRUE(doc["paths"].contains(p)) << p;
}

TEST_F(ServeApi, ServesTheEmbeddedWebUi) {
  auto i = cli_->Get("/");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->status, 200);
  EXPECT_NE(i->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(i->body.find("app.js"), std::string::npos);
  EXPECT_FALSE(i->get_header_value("Content-Security-Policy").empty());
  auto js = cli_->Get("/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->get_header_value("Content-Type").find("javascript"), std::string::npos);
  auto css = cli_->Get("/style.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  auto missing = cli_->Get("/nothing-here.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(json::parse(missing->body).contains("error"));
}

TEST_F(ServeApi, ModelDescribesVersionFeaturesAndMetrics) {
  auto res = cli_->Get("/api/v1/model");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  auto m = json::parse(res->body);
  auto bundle = ModelBundle::load(dir_);
  EXPECT_EQ(m["version"], bundle.version());
  ASSERT_EQ(m["features"].size(), bundle.features().size());
  EXPECT_EQ(m["features"][0]["name"], bundle.features()[0]);
  // The shipped config scores phishing: the threat class, at index 1.
  ASSERT_EQ(m["classes"].size(), 2u);
  EXPECT_EQ(m["classes"][0]["verdict"], "legitimate");
  EXPECT_EQ(m["classes"][0]["threat"], false);
  EXPECT_EQ(m["classes"][1]["verdict"], "phishing");
  EXPECT_EQ(m["classes"][1]["threat"], true);
  EXPECT_TRUE(m["metrics"].is_object());
  EXPECT_EQ(m["feature_importance"].size(), bundle.features().size());
  EXPECT_EQ(res->get_header_value("X-Model-Version"), bundle.version());
}

TEST_F(ServeApi, PredictsOneRecordWithVerdictProbabilityAndReasons) {
  auto out = post_json("/api/v1/predict", {{"records", records(1)}});
  ASSERT_EQ(out["count"], 1);
  const auto& p = out["predictions"][0];
  EXPECT_TRUE(p["verdict"] == "phishing" || p["verdict"] == "legitimate") << p;
  EXPECT_TRUE(p["label"] == "-1" || p["label"] == "1") << p;
  // "probability" is P(threat) = P(phishing), whatever the verdict.
  const double threat = p["probability"].get<double>();
  EXPECT_EQ(threat >= json::parse(cli_->Get("/api/v1/model")->body)["threshold"].get<double>(),
            p["verdict"] == "phishing")
      << p;
  EXPECT_DOUBLE_EQ(p["probabilities"]["-1"].get<double>(), threat);
  EXPECT_NEAR(p["probabilities"]["-1"].get<double>() + p["probabilities"]["1"].get<double>(), 1.0, 1e-5);
  auto model = json::parse(cli_->Get("/api/v1/model")->body);
  if (model["can_explain"].get<bool>()) {
    ASSERT_TRUE(p.contains("reasons"));
    EXPECT_LE(p["reasons"].size(), 3u);
    EXPECT_GE(p["reasons"].size(), 1u);
    std::set<std::string> names;
    for (const auto& f : model["features"]) names.insert(f["name"].get<std::string>());
    double last = 1e300;
    for (const auto& r : p["reasons"]) {
      EXPECT_TRUE(names.count(r["feature"].get<std::string>())) << r;
      const double c = std::fabs(r["contribution"].get<double>());
      EXPECT_LE(c, last);  // largest first
      last = c;
      EXPECT_EQ(r["towards"], r["contribution"].get<double>() > 0 ? "phishing" : "legitimate");
    }
  }
}

TEST_F(ServeApi, RecordsRowsAndTheBundleAgree) {
  const std::size_t n = 60;
  auto recs = records(n);
  auto by_records = post_json("/api/v1/predict", {{"records", recs}, {"explain", false}});
  auto model = json::parse(cli_->Get("/api/v1/model")->body);
  json rows = json::array();
  for (const auto& r : recs) {
    json a = json::array();
    for (const auto& f : model["features"]) a.push_back(r[f["name"].get<std::string>()]);
    rows.push_back(a);
  }
  auto by_rows = post_json("/api/v1/predict", {{"rows", rows}});
  auto bundle = ModelBundle::load(dir_);
  auto X = bundle.features_from(parse_csv(sample_csv_rows(n, false), "sample"));
  auto scored = bundle.score(X);
  ASSERT_EQ(by_records["predictions"].size(), n);
  ASSERT_EQ(by_rows["predictions"].size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(by_records["predictions"][i]["class"], scored.label[i]) << i;
    EXPECT_EQ(by_rows["predictions"][i]["class"], scored.label[i]) << i;
    EXPECT_NEAR(by_records["predictions"][i]["probabilities"]["-1"].get<double>(), scored.probability[i],
                1e-5);
    EXPECT_FALSE(by_records["predictions"][i].contains("reasons"));
  }
  // The target column is accepted and ignored.
  auto with_target = recs;
  with_target[0]["Result"] = 1;
  auto t = post_json("/api/v1/predict", {{"records", json::array({with_target[0]})}});
  EXPECT_EQ(t["predictions"][0]["class"], scored.label[0]);
  // Null means missing: the model imputes it.
  auto with_null = recs[0];
  with_null[model["features"][0]["name"].get<std::string>()] = nullptr;
  post_json("/api/v1/predict", {{"records", json::array({with_null})}});
}

TEST_F(ServeApi, ExplanationsCanBeTurnedOffPerRequest) {
  auto res =
      cli_->Post("/api/v1/predict?explain=false", json{{"records", records(2)}}.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_FALSE(json::parse(res->body)["predictions"][0].contains("reasons"));
}

TEST(ServeExplainMethod, ShapOrPathAttributionsAsConfigured) {
  using namespace netsentry::serve;
  // The served model's reasons by exact SHAP or by path attributions (serve.explain_method), and
  // what GET /api/v1/model says of them.
  const auto dir = serve_bundle('a');
  const std::map<std::string, std::string> names = {{"-1", "phishing"}, {"1", "legitimate"}};
  auto shap = load_model(dir, names, ExplainMethod::Shap);
  auto path = load_model(dir, names, ExplainMethod::Path);
  auto automatic = load_model(dir, names, ExplainMethod::Auto);
  ASSERT_TRUE(shap->can_explain);
  ASSERT_TRUE(path->can_explain);
  EXPECT_TRUE(automatic->can_explain);
  EXPECT_EQ(shap->attribution, ModelBundle::Attribution::Shap);
  const bool has_path =
      path->bundle.explain(Matrix(1, path->features.size(), 0.0), ModelBundle::Attribution::Path).has_value();
  EXPECT_EQ(path->attribution, has_path ? ModelBundle::Attribution::Path : ModelBundle::Attribution::Shap);
  EXPECT_EQ(json::parse(shap->info_json)["explain_method"], "shap");
  EXPECT_EQ(json::parse(path->info_json)["explain_method"], has_path ? "path" : "shap");
  // Both decompose the same margin: per row the two sets of shares have the same sum.
  auto X = shap->bundle.features_from(parse_csv(sample_csv_rows(40, false), "sample"));
  auto a = run_model(*shap, X, true), b = run_model(*path, X, true);
  ASSERT_TRUE(a.contributions && b.contributions);
  EXPECT_EQ(a.scored.probability, b.scored.probability);
  bool differ = false;
  for (std::size_t r = 0; r < X.rows; ++r) {
    double sa = 0, sb = 0;
    for (double v : a.contributions->row(r)) sa += v;
    for (double v : b.contributions->row(r)) sb += v;
    EXPECT_NEAR(sa, sb, 1e-3 * std::max(1.0, std::fabs(sa))) << "row " << r;
    for (std::size_t c = 0; c < X.cols; ++c)
      differ = differ || (*a.contributions)(r, c) != (*b.contributions)(r, c);
  }
  EXPECT_EQ(differ, has_path);
  // The option, and a bad value named.
  const json families = {{"model_trainer", {{"families", {{"logistic_regression", json::object()}}}}}};
  auto with = [&](json serve) {
    json j = families;
    j["serve"] = std::move(serve);
    return PipelineConfig::from_json(j, "test");
  };
  EXPECT_EQ(options_from_config(with({{"explain_method", "path"}})).explain_method, ExplainMethod::Path);
  try {
    with({{"explain_method", "lime"}});
    ADD_FAILURE() << "no error for explain_method: lime";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("serve.explain_method"), std::string::npos) << e.what();
  }
}

TEST_F(ServeApi, PredictCsvAnswersCsvOrJsonByAccept) {
  const std::string csv = sample_csv_rows(25, true);
  auto as_csv = cli_->Post("/api/v1/predict/csv", csv, "text/csv");
  ASSERT_TRUE(as_csv);
  ASSERT_EQ(as_csv->status, 200) << as_csv->body;
  EXPECT_NE(as_csv->get_header_value("Content-Type").find("text/csv"), std::string::npos);
  Table out = parse_csv(as_csv->body, "answer");
  EXPECT_EQ(out.rows(), 25u);
  ASSERT_TRUE(out.find("verdict"));
  ASSERT_TRUE(out.find("probability"));
  ASSERT_TRUE(out.find("label"));
  ASSERT_TRUE(out.find("Result"));  // the upload's columns come back
  for (const auto& v : out.at("verdict").text) EXPECT_TRUE(v == "phishing" || v == "legitimate") << v;

  httplib::Headers accept_json = {{"Accept", "application/json"}};
  auto as_json = cli_->Post("/api/v1/predict/csv", accept_json, csv, "text/csv");
  ASSERT_TRUE(as_json);
  ASSERT_EQ(as_json->status, 200);
  auto j = json::parse(as_json->body);
  EXPECT_EQ(j["count"], 25);
  for (std::size_t i = 0; i < 25; ++i)
    EXPECT_EQ(j["predictions"][i]["verdict"].get<std::string>(), out.at("verdict").text[i]);
}

TEST_F(ServeApi, PredictCsvTakesAMultipartUpload) {
  httplib::MultipartFormDataItems items = {{"file", sample_csv_rows(10, false), "upload.csv", "text/csv"}};
  httplib::Headers accept_json = {{"Accept", "application/json"}};
  auto res = cli_->Post("/api/v1/predict/csv", accept_json, items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["count"], 10);
}

TEST_F(ServeApi, ReferencePredictRouteAnswersAnHtmlTable) {
  httplib::MultipartFormDataItems items = {{"file", sample_csv_rows(7, false), "test.csv", "text/csv"}};
  auto res = cli_->Post("/predict", items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(res->body.find("<table"), std::string::npos);
  EXPECT_NE(res->body.find("table table-striped"), std::string::npos);
  EXPECT_NE(res->body.find("<th>predicted_column</th>"), std::string::npos);
  std::size_t rows = 0;
  for (auto p = res->body.find("<tr>"); p != std::string::npos; p = res->body.find("<tr>", p + 1)) ++rows;
  EXPECT_EQ(rows, 7u);
}

TEST_F(ServeApi, HtmlTableEscapesTextFromTheUpload) {
  auto model = json::parse(cli_->Get("/api/v1/model")->body);
  // A text column the model ignores (the target) with markup in it.
  std::string csv = sample_csv_rows(1, false);
  auto nl = csv.find('\n');
  csv = csv.substr(0, nl) + ",Result\n" + csv.substr(nl + 1, csv.size() - nl - 2) + ",<script>x</script>\n";
  httplib::MultipartFormDataItems items = {{"file", csv, "x.csv", "text/csv"}};
  auto res = cli_->Post("/predict", items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body.find("<script>"), std::string::npos);
  EXPECT_NE(res->body.find("&lt;script&gt;"), std::string::npos);
}

// A CSV answer may be opened in a spreadsheet: text cells that would start a formula get a leading
// "'" (numbers such as -1 do not), and the answer still reads back as an upload.
TEST_F(ServeApi, CsvAnswersDefuseFormulasAndReadBackAsInput) {
  std::string csv = sample_csv_rows(5, false);  // the target column carries the text: it is not a feature
  auto nl = csv.find('\n');
  std::string body = csv.substr(0, nl) + ",Result\n";
  const std::vector<std::string> notes = {"=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "@SUM(1)", "-1",
                                          "-abc"};
  std::size_t pos = nl + 1;
  for (const auto& note : notes) {
    const auto end = csv.find('\n', pos);
    body += csv.substr(pos, end - pos) + ",\"" + [&] {
      std::string q;
      for (char ch : note) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return q;
    }() + "\"\n";
    pos = end + 1;
  }
  auto res = cli_->Post("/api/v1/predict/csv", body, "text/csv");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const Table out = parse_csv(res->body, "answer");
  const Column& note = out.at("Result");
  ASSERT_EQ(note.type, ColumnType::Text);
  EXPECT_EQ(note.text[0], "'=HYPERLINK(\"http://x\")");
  EXPECT_EQ(note.text[1], "'+cmd|' /C calc'!A0");
  EXPECT_EQ(note.text[2], "'@SUM(1)");
  EXPECT_EQ(note.text[3], "-1");  // a number stays a number
  EXPECT_EQ(note.text[4], "'-abc");
  auto again = cli_->Post("/api/v1/predict/csv", res->body, "text/csv");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
}

TEST_F(ServeApi, MetricsCountRequestsPredictionsAndShowTheModelVersion) {
  post_json("/api/v1/predict", {{"records", records(5)}});
  post_json("/api/v1/predict", {{"records", records(3)}});
  cli_->Post("/api/v1/predict", "{", "application/json");
  // A request is counted after its response was written: wait for the last one to be.
  std::string m;
  for (int i = 0; i < 100; ++i) {
    auto res = cli_->Get("/metrics");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    m = res->body;
    if (m.find("netsentry_http_request_duration_seconds_count{route=\"/api/v1/predict\"} 3") !=
        std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(m.find("netsentry_http_requests_total{route=\"/api/v1/predict\",code=\"200\"} 2"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("netsentry_http_requests_total{route=\"/api/v1/predict\",code=\"400\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("netsentry_http_request_duration_seconds_bucket{route=\"/api/v1/predict\",le=\"+Inf\"} 3"),
            std::string::npos);
  EXPECT_NE(m.find("netsentry_http_request_duration_seconds_count{route=\"/api/v1/predict\"} 3"),
            std::string::npos);
  // 8 rows scored in all, split by class.
  std::size_t total = 0;
  for (const char* cls : {"phishing", "legitimate"}) {
    auto key = std::string("netsentry_predictions_total{class=\"") + cls + "\"} ";
    auto p = m.find(key);
    ASSERT_NE(p, std::string::npos) << m;
    total += std::stoul(m.substr(p + key.size()));
  }
  EXPECT_EQ(total, 8u);
  auto version = ModelBundle::load(dir_).version();
  EXPECT_NE(m.find("netsentry_model_info{version=\"" + version + "\"} 1"), std::string::npos);
}

TEST_F(ServeApi, TrainingJobRunsInTheBackgroundAndItsModelIsSwappedIn) {
  const auto before = json::parse(cli_->Get("/api/v1/model")->body)["version"].get<std::string>();
  httplib::Headers auth = {{"Authorization", "Bearer test-token"}};
  // Different data than bundle a was trained on, so the new model has another version.
  const auto data = serve_bundle('b').parent_path() / "sample.csv";
  auto res = cli_->Post("/api/v1/train", auth, json{{"data", data.string()}}.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const auto id = json::parse(res->body)["id"].get<std::string>();
  EXPECT_EQ(res->get_header_value("Location"), "/api/v1/train/" + id);
  EXPECT_EQ(id.size(), 32u) << "128 random bits";
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  auto anonymous = cli_->Get("/api/v1/train/" + id);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401) << "a job's status needs the token";
  json job;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  bool saw_running = false;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto s = cli_->Get("/api/v1/train/" + id, auth);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->status, 200);
    job = json::parse(s->body);
    if (job["status"] == "running") saw_running = true;
    // Predictions keep being answered while the job runs.
    auto p = cli_->Post("/api/v1/predict", json{{"records", records(1)}}.dump(), "application/json");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->status, 200);
  } while ((job["status"] == "running" || job["status"] == "queued") &&
           std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(job["status"], "succeeded") << job.dump(2);
  EXPECT_DOUBLE_EQ(job["progress"].get<double>(), 1.0);
  EXPECT_TRUE(job["result"].is_object());
  (void)saw_running;
  const auto info = json::parse(cli_->Get("/api/v1/model")->body);
  const auto after = info["version"].get<std::string>();
  EXPECT_NE(after, before);
  // The unauthenticated model answer says what kind of source trained it, never its path.
  EXPECT_FALSE(info["metadata"].contains("source")) << info["metadata"].dump();
  EXPECT_EQ(info["metadata"]["source_kind"], "file");
  EXPECT_EQ(info.dump().find(data.parent_path().string()), std::string::npos);
  EXPECT_EQ(after, ModelBundle::load(dir_).version());
}

TEST_F(ServeApi, TrainingJobTakesASeparateEvaluationSet) {
  std::promise<TrainOptions> seen;
  auto got = seen.get_future();
  h_->server().jobs().set_runner([&seen](const PipelineConfig&, const TrainOptions& o) -> TrainResult {
    seen.set_value(o);
    throw GateError("test: not trained");
  });
  httplib::Headers auth = {{"Authorization", "Bearer test-token"}};
  auto bad = cli_->Post("/api/v1/train", auth, R"({"test_data": 5})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["column"], "test_data");
  const auto root = std::filesystem::canonical(tmp_ / "data");
  auto r = cli_->Post("/api/v1/train", auth,
                      json{{"data", (tmp_ / "data" / "early.csv").string()},
                           {"test_data", (tmp_ / "data" / "sub" / ".." / "later.csv").string()}}
                          .dump(),
                      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  ASSERT_EQ(got.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const TrainOptions o = got.get();
  // The job reads the canonical path that was checked.
  EXPECT_EQ(o.data, std::optional<std::string>((root / "early.csv").string()));
  EXPECT_EQ(o.test_data, std::optional<std::string>((root / "later.csv").string()));
  ASSERT_TRUE(h_->server().jobs().wait_idle(std::chrono::seconds(10)));
}

// A token holder may only train on what the operator configured: files under
// serve.training_data_roots (after resolving "..", symbolic links) and URIs under
// serve.training_source_uris. Anything else is a 403 naming the setting, before any job starts, and
// nothing of the file is read or echoed.
TEST_F(ServeApi, TrainingSourcesAreLimitedToTheConfiguredRoots) {
  std::atomic<int> runs{0};
  h_->server().jobs().set_runner([&runs](const PipelineConfig&, const TrainOptions&) -> TrainResult {
    ++runs;
    throw GateError("test: not trained");
  });
  httplib::Headers auth = {{"Authorization", "Bearer test-token"}};
  std::filesystem::create_symlink("/etc/passwd", tmp_ / "data" / "passwd.csv");
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"data", "/etc/shadow"},
      {"data", "/etc/passwd"},
      {"data", (tmp_ / "data" / ".." / ".." / "etc" / "passwd").string()},
      {"data", (tmp_ / "data" / "passwd.csv").string()},  // a link out of the root
      {"data", "file:/etc/passwd"},
      {"data", "sqlite:/etc/passwd?table=t"},
      {"test_data", "/etc/hostname"},
      {"data", "mongodb://db.internal:27017.evil.example/x"},
      {"data", "mongodb://db.internal:270170/x"},
      {"data", "mongodb://attacker.example:27017/x"},
      {"data", "mongodb"},
  };
  for (const auto& [key, value] : refused) {
    auto res = cli_->Post("/api/v1/train", auth, json{{key, value}}.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << value << ": " << res->body;
    const auto body = json::parse(res->body);
    EXPECT_EQ(body["column"], key);
    EXPECT_NE(res->body.find("serve.training_"), std::string::npos) << res->body;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << "no file contents in the answer";
  }
  EXPECT_EQ(runs.load(), 0);
  auto ok = cli_->Post("/api/v1/train", auth, R"({"data": "mongodb://db.internal:27017/netsentry?x=1"})",
                       "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202) << ok->body;
  ASSERT_TRUE(h_->server().jobs().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(runs.load(), 1);
}

TEST(ServeTrainingSources, WithoutRootsOnlyTheConfiguredSourceTrains) {
  const serve::TrainingSources none;
  const auto refused = serve::allowed_training_source("data/x.csv", none);
  ASSERT_TRUE(std::holds_alternative<serve::Refused>(refused));
  EXPECT_NE(std::get<serve::Refused>(refused).reason.find("serve.training_data_roots"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<serve::Refused>(serve::allowed_training_source("mongodb://h/db", none)));
  serve::TrainingSources some;
  some.data_roots = {"/srv/data/"};
  some.uri_prefixes = {"mongodb://h:27017/"};
  EXPECT_EQ(std::get<std::string>(serve::allowed_training_source("/srv/data/a/b.csv", some)),
            "/srv/data/a/b.csv");
  EXPECT_TRUE(
      std::holds_alternative<serve::Refused>(serve::allowed_training_source("/srv/database.csv", some)));
  EXPECT_TRUE(
      std::holds_alternative<serve::Refused>(serve::allowed_training_source("/srv/data/../x.csv", some)));
  EXPECT_EQ(std::get<std::string>(serve::allowed_training_source("mongodb://h:27017/db", some)),
            "mongodb://h:27017/db");
}

TEST_F(ServeApi, OneTrainingJobAtATime) {
  std::promise<void> release;
  auto released = release.get_future().share();
  h_->server().jobs().set_runner([released](const PipelineConfig&, const TrainOptions& o) -> TrainResult {
    if (o.progress) o.progress("train", 0.5);
    released.wait();
    throw GateError("test model below the expected score");
  });
  httplib::Headers auth = {{"Authorization", "Bearer test-token"}};
  auto first = cli_->Post("/api/v1/train", auth, "", "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  auto second = cli_->Post("/api/v1/train", auth, "{}", "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409) << second->body;
  auto legacy = cli_->Get("/train", auth);
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->status, 409);
  release.set_value();
  ASSERT_TRUE(h_->server().jobs().wait_idle(std::chrono::seconds(10)));
  auto id = json::parse(first->body)["id"].get<std::string>();
  auto job = json::parse(cli_->Get("/api/v1/train/" + id, auth)->body);
  EXPECT_EQ(job["status"], "failed");
  EXPECT_EQ(job["error"]["kind"], "gate_failed");
  // Idle again: the reference route starts the next one.
  auto again = cli_->Get("/train", auth);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202) << again->body;
  ASSERT_TRUE(h_->server().jobs().wait_idle(std::chrono::seconds(10)));
}

}  // namespace
}  // namespace netsentry::test
