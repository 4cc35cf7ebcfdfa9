// Real threat data (NSL-KDD): categorical features encoded as scikit-learn does, every family
// training on them, the shipped binary config end to end (text labels, the threat as the positive
// class, the bundle round trip, unseen categories), and the phishing config scoring phishing.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/ingest/source.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/model/metrics.hpp"
#include "netsentry/model/one_hot.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/schema/schema.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/transform/categorical_encoder.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"
#include "support/shipped_run.hpp"

using namespace netsentry;
using namespace netsentry::test;
using json = nlohmann::json;

namespace {

std::string q(const std::filesystem::path& p) { return shell_quote(p.string()); }

const std::vector<std::string> kCategorical = {"protocol_type", "service", "flag"};

// The NSL-KDD file through the shipped schema (no header row).
const Table& nsl_kdd() {
  static const Table t = [] {
    SourceOptions so;
    so.header = false;
    so.names = Schema::load_yaml(source_dir() / "config/schema/nsl-kdd.yaml").names();
    so.drop_columns = {"difficulty"};
    return open_source(nsl_kdd_csv().string())->read(so);
  }();
  return t;
}

std::vector<std::string> features_of(const Table& t) {
  std::vector<std::string> f;
  for (auto& n : t.names())
    if (n != "label") f.push_back(n);
  return f;
}

Table columns(const Table& t, const std::vector<std::string>& names) {
  Table out;
  out.source = t.source;
  for (auto& n : names) out.columns.push_back(t.at(n));
  return out;
}

}  // namespace

// One-hot columns of the three categorical features, fitted on 80 % of the file with a cap and a
// minimum frequency (both making an "other" column), equal to scikit-learn's OneHotEncoder
// (handle_unknown='ignore', max_categories, min_frequency) on the other 20 % and on categories it
// never saw.
TEST(ThreatData, OneHotEncodingMatchesScikitLearn) {
  NETSENTRY_NEEDS_NSL_KDD();
  const Table& all = nsl_kdd();
  std::vector<std::size_t> a, b;
  for (std::size_t i = 0; i < all.rows(); ++i) (i % 5 ? a : b).push_back(i);
  Table train = columns(all.take_rows(a), kCategorical), test = columns(all.take_rows(b), kCategorical);
  test.columns[1].text[0] = "never_seen_service";
  test.columns[2].text[1] = "XX";
  TempDir dir;
  write_csv_atomic(dir / "train.csv", train);
  write_csv_atomic(dir / "test.csv", test);
  for (auto [max_categories, min_frequency] : {std::pair{16, 5}, std::pair{64, 1}}) {
    CategoricalEncoder enc;
    enc.fit(train, kCategorical, kCategorical,
            {static_cast<std::size_t>(max_categories), static_cast<std::size_t>(min_frequency)});
    UnseenCategories unseen;
    const Matrix ours = one_hot_expand(enc.encode(test, &unseen), enc.cardinality());
    EXPECT_EQ(unseen.total, 2u);
    EXPECT_EQ(unseen.per_feature.at("service"), 1u);
    const auto ref = run_reference("sklearn_reference.py",
                                   {"onehot", (dir / "train.csv").string(), (dir / "test.csv").string(),
                                    std::to_string(max_categories), std::to_string(min_frequency)});
    const Matrix theirs = json_to_matrix(ref.at("transformed"));
    ASSERT_EQ(ours.cols, theirs.cols) << max_categories;
    EXPECT_EQ(max_abs_diff(ours, theirs), 0.0) << max_categories;
    // The same categories kept and the same ones merged into "other".
    const json mine = enc.to_json()["columns"];
    for (std::size_t j = 0; j < kCategorical.size(); ++j) {
      std::vector<std::string> frequent;
      const auto infrequent = ref["infrequent"][j].get<std::vector<std::string>>();
      for (auto& c : ref["categories"][j])
        if (std::find(infrequent.begin(), infrequent.end(), c.get<std::string>()) == infrequent.end())
          frequent.push_back(c.get<std::string>());
      EXPECT_EQ(mine[kCategorical[j]]["categories"].get<std::vector<std::string>>(), frequent)
          << kCategorical[j];
      EXPECT_EQ(mine[kCategorical[j]]["infrequent"].get<std::vector<std::string>>(), infrequent)
          << kCategorical[j];
    }
    std::printf("[ OneHot ] max_categories %d, min_frequency %d: %zu columns, equal to sklearn %s\n",
                max_categories, min_frequency, ours.cols, ref.at("sklearn").get<std::string>().c_str());
  }
}

// Every family trains on categorical features (natively or one-hot), explains per original column,
// and predicts the same after a bundle round trip.
TEST(ThreatData, EveryFamilyTrainsOnCategoricalFeaturesAndSurvivesTheBundle) {
  NETSENTRY_NEEDS_NSL_KDD();
  const Table& all = nsl_kdd();
  std::vector<std::size_t> a, b;
  for (std::size_t i = 0; i < all.rows(); i += 4) (i % 20 ? a : b).push_back(i);  // ~5,000 / 1,260 rows
  const Table train = all.take_rows(a), test = all.take_rows(b);
  LabelSpec spec;
  spec.groups = {{"normal", {"normal"}}, {"attack", {"*"}}};
  spec.positive_class = "attack";
  const LabelSpace classes = LabelSpace::derive(spec, train, "label");
  const Labels ytr = classes.labels(train, "label"), yte = classes.labels(test, "label");
  const auto features = features_of(train);
  for (const std::string fam : {"gradient_boosting", "random_forest", "decision_tree", "logistic_regression",
                                "decision_tree_gini", "adaboost", "knn"}) {
    // Robust scaling: the linear model needs it on counts and byte sizes of these ranges.
    auto pre = std::make_unique<Preprocessor>(PreprocessorOptions{3, "uniform", true, {}});
    const Matrix Xtr = pre->fit_transform(pre->fit_encoding(train, features, kCategorical));
    const auto card = pre->cardinality();
    ASSERT_EQ(card[1], 3) << "protocol_type: icmp, tcp, udp";
    json params = json::object();
    if (fam == "gradient_boosting" || fam == "random_forest") params["n_estimators"] = 32;
    if (fam == "adaboost") params["n_estimators"] = 32;
    auto clf = create_classifier(fam, params, card);
    clf->fit(Xtr, ytr);
    Schema schema = Schema::load_yaml(source_dir() / "config/schema/nsl-kdd.yaml").without({"difficulty"});
    auto bundle = ModelBundle::assemble(std::move(clf), std::move(pre), schema, features, "label",
                                        {{"version", fam}, {"classes", classes.to_json()}});
    const Scored s = bundle.score(bundle.features_from(test));
    const Metrics m = compute_metrics(yte, s.probability, 0.5);
    for (double v : s.probability) ASSERT_TRUE(std::isfinite(v)) << fam;
    EXPECT_GT(m.accuracy, 0.95) << fam;
    TempDir dir;
    bundle.save(dir / "b");
    const auto back = ModelBundle::load(dir / "b");
    const Scored s2 = back.score(back.features_from(test));
    EXPECT_EQ(s2.probability, s.probability) << fam;
    if (auto e = back.explain(back.features_from(test.take_rows({0, 1, 2})))) {
      EXPECT_EQ(e->cols, features.size()) << fam << ": reasons are per original column";
      const auto where = std::find(features.begin(), features.end(), "service") - features.begin();
      EXPECT_TRUE(std::isfinite((*e)(0, static_cast<std::size_t>(where)))) << fam;
    }
    const auto imp = back.feature_importance();
    EXPECT_EQ(imp.size(), features.size()) << fam;
    std::printf("[ ThreatData ] %-20s accuracy %.4f threat F1 %.4f (%s)\n", fam.c_str(), m.accuracy, m.f1,
                fam == "gradient_boosting" || fam == "random_forest" ? "native categories" : "one-hot");
  }
}

// The shipped config end to end: the headerless file, text labels grouped into attack / normal, the
// threat scored, the categories in the bundle, unseen categories counted, predict agreeing with the
// run's own evaluation.
TEST(ThreatData, ShippedNslKddConfigTrainsScoresTheThreatAndPredictsUnseenCategories) {
  NETSENTRY_NEEDS_NSL_KDD();
  TempDir dir;
  const auto r = train_shipped("config/nsl-kdd.yaml", nsl_kdd_csv(), dir);
  ASSERT_EQ(r.train.exit_code, 0) << r.train.err;
  const auto& summary = r.summary;
  EXPECT_GT(summary["metrics"]["f1"].get<double>(), 0.98);  // a random split of this one file
  EXPECT_EQ(summary["scored_class"], json({"attack"}));
  EXPECT_EQ(summary["classes"], json({"normal", "attack"}));
  const auto meta = json::parse(read_file(dir / "final_model/metadata.json"));
  EXPECT_EQ(meta["classes"]["classes"], json({"normal", "attack"}));
  EXPECT_EQ(meta["classes"]["threat_classes"], json({"attack"}));
  const auto pre = json::parse(read_file(dir / "final_model/preprocessor.json"));
  EXPECT_EQ(pre["steps"][0]["name"], "categorical_encoder");
  EXPECT_EQ(pre["steps"][0]["state"]["columns"]["protocol_type"]["categories"], json({"icmp", "tcp", "udp"}));
  const auto metrics = json::parse(read_file(r.run / "model_evaluation/metrics.json"));
  EXPECT_EQ(metrics["scored_class"], json({"attack"}));
  // The test split through the published bundle gives the run's own test metrics.
  const auto test_split = r.test_split();
  auto p = predict_test_split(r, dir / "scored.csv");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto pm = json::parse(p.out);
  EXPECT_DOUBLE_EQ(pm["f1"].get<double>(), summary["metrics"]["f1"].get<double>());
  EXPECT_DOUBLE_EQ(pm["roc_auc"].get<double>(), summary["metrics"]["roc_auc"].get<double>());
  EXPECT_EQ(pm["scored_class"], json({"attack"}));
  // probability is P(attack): high for the rows predicted attack, whatever their attack name.
  const Table scored = read_csv(dir / "scored.csv");
  const auto& pred = scored.at("prediction").text;
  const auto& prob = scored.at("probability").num;
  for (std::size_t i = 0; i < pred.size(); ++i)
    EXPECT_EQ(pred[i] == "attack", prob[i] >= meta["threshold"].get<double>()) << i;
  // A category never seen in training: scored (as missing), counted, never an error.
  Table few = read_csv(test_split).take_rows({0, 1, 2, 3});
  few.columns[*few.find("service")].text[2] = "quantum_relay";
  write_csv_atomic(dir / "few.csv", few);
  auto u = run_cli("predict --model-dir " + q(dir / "final_model") + " --input " + q(dir / "few.csv") +
                   " --explain 3");
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_NE(u.err.find("1 values are categories the model never saw in training (service: 1)"),
            std::string::npos)
      << u.err;
  EXPECT_NE(u.out.find("service = "), std::string::npos) << "a categorical reason names its value";
  // A file of the training data's own layout, without a header row: read with the training file's
  // column order (recorded in the bundle), every column kept, its labels scored.
  std::string head;
  {
    const std::string raw = read_file(nsl_kdd_csv());
    std::size_t at = 0;
    for (int line = 0; line < 300; ++line) at = raw.find('\n', at) + 1;
    head = raw.substr(0, at);
  }
  write_file_atomic(dir / "raw_head.txt", head);
  auto h =
      run_cli("-q predict --model-dir " + q(dir / "final_model") + " --input " + q(dir / "raw_head.txt") +
              " --no-header --output " + q(dir / "raw_scored.csv") + " --metrics");
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(json::parse(h.out)["n"], 300);
  const Table raw_scored = read_csv(dir / "raw_scored.csv");
  EXPECT_EQ(raw_scored.rows(), 300u);
  EXPECT_TRUE(raw_scored.find("difficulty") && raw_scored.find("label") && raw_scored.find("prediction"));
  // Without --no-header its first record is taken for a header and refused by name; --names alone is
  // a usage error; names that do not fit the file name the row.
  auto bad =
      run_cli("-q predict --model-dir " + q(dir / "final_model") + " --input " + q(dir / "raw_head.txt"));
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("raw_head.txt"), std::string::npos) << bad.err;
  auto names_only = run_cli("-q predict --model-dir " + q(dir / "final_model") + " --input " +
                            q(dir / "raw_head.txt") + " --names a,b");
  EXPECT_EQ(names_only.exit_code, 2) << names_only.err;
  auto few_names = run_cli("-q predict --model-dir " + q(dir / "final_model") + " --input " +
                           q(dir / "raw_head.txt") + " --no-header --names a,b");
  EXPECT_NE(few_names.exit_code, 0);
  EXPECT_NE(few_names.err.find("--names"), std::string::npos) << few_names.err;
}

// The shipped phishing config scores phishing: F1, precision and recall are those of the phishing
// class ("-1"), computed here from the published model's own predictions on the test split.
TEST(ThreatData, PhishingConfigScoresThePhishingClass) {
  NETSENTRY_NEEDS_UCI();
  TempDir dir;
  const auto r = train_shipped("", phishing_csv(), dir);
  ASSERT_EQ(r.train.exit_code, 0) << r.train.err;
  const auto& summary = r.summary;
  auto p = predict_test_split(r, dir / "scored.csv");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const Table scored = read_csv(dir / "scored.csv");
  const Column &truth = scored.at("Result"), &pred = scored.at("prediction");
  double tp = 0, fp = 0, fn = 0, tn = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const bool actual = truth.text_at(i) == "-1", said = pred.text_at(i) == "-1";
    tp += actual && said, fp += !actual && said, fn += actual && !said, tn += !actual && !said;
  }
  const double f1_phishing = 2 * tp / (2 * tp + fp + fn), f1_legitimate = 2 * tn / (2 * tn + fn + fp);
  EXPECT_NEAR(summary["metrics"]["f1"].get<double>(), f1_phishing, 1e-12);
  EXPECT_NEAR(summary["metrics"]["precision"].get<double>(), tp / (tp + fp), 1e-12);
  EXPECT_NEAR(summary["metrics"]["recall"].get<double>(), tp / (tp + fn), 1e-12);
  std::printf("[ ThreatData ] phishing config: accuracy %.4f, F1 phishing %.4f / legitimate %.4f\n",
              summary["metrics"]["accuracy"].get<double>(), f1_phishing, f1_legitimate);
}
