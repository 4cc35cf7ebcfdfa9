// LabelSpace: classes from the data, a mapping or groups; the threat class at index 1 for two
// classes; unmapped test labels counted; format-1 bundles answering with the threat's probability.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "netsentry/bundle/bundle.hpp"
#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/model/classifier.hpp"
#include "netsentry/schema/labels.hpp"
#include "netsentry/table/csv.hpp"
#include "netsentry/transform/preprocessor.hpp"
#include "support/crosscheck.hpp"
#include "support/paths.hpp"

using namespace netsentry;
using json = nlohmann::json;

namespace {
Table target_table(const std::vector<std::string>& values) {
  Table t;
  t.source = "labels.csv";
  t.columns.push_back({"label", ColumnType::Text, {}, values});
  return t;
}
}  // namespace

TEST(Labels, TextClassesComeSortedFromTheTrainingRowsAndTheThreatIsClassOne) {
  const Table t = target_table({"phishing", "legitimate", "phishing", "legitimate", "legitimate"});
  // Without a threat named, the second class in sorted order is the threat (scikit-learn's pos_label).
  auto s = LabelSpace::derive({}, t, "label");
  EXPECT_EQ(s.classes(), (std::vector<std::string>{"legitimate", "phishing"}));
  EXPECT_EQ(s.labels(t, "label"), (Labels{1, 0, 1, 0, 0}));
  // Naming the threat that sorts first still puts it at index 1.
  LabelSpec spec;
  spec.positive_class = "legitimate";
  s = LabelSpace::derive(spec, t, "label");
  EXPECT_EQ(s.classes(), (std::vector<std::string>{"phishing", "legitimate"}));
  EXPECT_TRUE(s.is_threat(1));
  EXPECT_EQ(s.labels(t, "label"), (Labels{0, 1, 0, 1, 1}));
  // benign_classes says the same the other way round.
  LabelSpec benign;
  benign.benign_classes = {"phishing"};
  EXPECT_EQ(LabelSpace::derive(benign, t, "label").to_json(), s.to_json());
}

TEST(Labels, AMappingKeepsItsValuesAndTheThreatMovesToIndexOne) {
  // The shipped phishing config: {-1: 0, 1: 1} with -1 (phishing) the threat.
  Table t;
  t.source = "uci.csv";
  t.columns.push_back({"Result", ColumnType::Numeric, {-1, 1, 1, -1}, {}});
  LabelSpec spec;
  spec.mapping = {{"-1", 0}, {"1", 1}};
  spec.positive_class = "-1";
  auto s = LabelSpace::derive(spec, t, "Result");
  EXPECT_EQ(s.classes(), (std::vector<std::string>{"1", "-1"}));
  EXPECT_EQ(s.threat_classes(), (std::vector<std::string>{"-1"}));
  EXPECT_EQ(s.labels(t, "Result"), (Labels{1, 0, 0, 1}));
  // A mapping that gives two values one index, or skips one, is refused naming the key.
  spec.mapping = {{"-1", 0}, {"1", 0}};
  EXPECT_THROW(LabelSpace::derive(spec, t, "Result"), UsageError);
  spec.mapping = {{"-1", 0}, {"1", 2}};
  EXPECT_THROW(LabelSpace::derive(spec, t, "Result"), UsageError);
}

TEST(Labels, GroupsMapManyAttackNamesToOneClassAndCountUnknownTestLabels) {
  const Table train = target_table({"normal", "neptune", "smurf", "normal", "satan"});
  LabelSpec spec;
  spec.groups = {{"normal", {"normal"}}, {"dos", {"neptune", "smurf", "back"}}, {"probe", {"satan"}}};
  spec.benign_classes = {"normal"};
  // Three classes: this version trains two; the space itself is complete.
  auto s = LabelSpace::derive(spec, train, "label");
  EXPECT_EQ(s.classes(), (std::vector<std::string>{"dos", "normal", "probe"}));
  EXPECT_EQ(s.threat_classes(), (std::vector<std::string>{"dos", "probe"}));
  EXPECT_EQ(s.labels(train, "label"), (Labels{1, 0, 0, 1, 2}));
  // A later period's new attack name is counted, not an error, when allowed.
  const Table test = target_table({"back", "mscan", "normal", "mscan"});
  auto e = s.encode(test, "label", true);
  EXPECT_EQ(e.y, (Labels{0, -1, 1, -1}));
  EXPECT_EQ(e.unmapped, 2u);
  EXPECT_EQ(e.unmapped_values.at("mscan"), 2u);
  try {
    (void)s.encode(test, "label");
    FAIL() << "an unknown label must be an error when not allowed";
  } catch (const DataError& err) {
    EXPECT_NE(std::string(err.what()).find("data row 2"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("'mscan'"), std::string::npos) << err.what();
  }
  // A training value no group lists is an error naming its row.
  const Table bad = target_table({"normal", "neptune", "rootkit"});
  try {
    (void)LabelSpace::derive(spec, bad, "label");
    FAIL() << "a training label in no group must be refused";
  } catch (const DataError& err) {
    EXPECT_NE(std::string(err.what()).find("labels.csv: data row 3"), std::string::npos) << err.what();
  }
}

TEST(Labels, CatchAllGroupMakesBinaryDetectionOfEveryAttackName) {
  const Table train = target_table({"normal", "neptune", "smurf", "normal"});
  LabelSpec spec;
  spec.groups = {{"normal", {"normal"}}, {"attack", {"*"}}};
  spec.positive_class = "attack";
  auto s = LabelSpace::derive(spec, train, "label");
  EXPECT_EQ(s.classes(), (std::vector<std::string>{"normal", "attack"}));
  EXPECT_EQ(s.labels(train, "label"), (Labels{0, 1, 1, 0}));
  // Attack names never seen in training are attacks too; the space survives its JSON form.
  const auto back = LabelSpace::from_json(s.to_json());
  EXPECT_EQ(back.labels(target_table({"mscan", "normal"}), "label"), (Labels{1, 0}));
}

TEST(Labels, ContradictionsAndMissingValuesAreNamed) {
  const Table t = target_table({"a", "b", ""});
  try {
    (void)LabelSpace::derive({}, t, "label");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("data row 3, column 'label': missing target value"),
              std::string::npos)
        << e.what();
  }
  const Table ok = target_table({"a", "b", "c"});
  EXPECT_THROW(LabelSpace::derive({}, ok, "label"), UsageError);  // three classes, no threat named
  LabelSpec spec;
  spec.positive_class = "z";
  try {
    (void)LabelSpace::derive(spec, target_table({"a", "b"}), "label");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'z' is not a class (classes: a, b)"), std::string::npos)
        << e.what();
  }
  spec.benign_classes = {"a"};
  EXPECT_THROW(LabelSpace::derive(spec, target_table({"a", "b"}), "label"), UsageError);  // both set
  EXPECT_THROW(LabelSpace::derive({}, target_table({"a", "a"}), "label"), DataError);     // one class
}

// A bundle written before the classes were recorded (format 1: label_mapping {-1: 0, 1: 1}, the
// model's P(class 1) = P(legitimate), the threshold on it) answers with P(threat = phishing).
TEST(Labels, FormatOneBundlesAnswerWithTheThreatsProbability) {
  NETSENTRY_NEEDS_UCI();
  const auto& d = test::uci_split();
  auto clf = create_classifier("gradient_boosting", {{"n_estimators", 16}});
  clf->fit(d.Xtr, d.ytr);  // y: -1 -> 0, 1 -> 1
  auto b = test::uci_bundle(std::move(clf), {{"version", "old"}, {"threshold", 0.3}});
  test::TempDir dir;
  b.save(dir / "bundle");
  const Scored now = b.score(d.Xte);  // this space: classes by index, the threat ("1") at 1
  // Rewrite metadata.json as format 1 wrote it.
  auto meta = json::parse(read_file(dir / "bundle" / "metadata.json"));
  meta.erase("classes");
  meta["format_version"] = 1;
  write_file_atomic(dir / "bundle" / "metadata.json", meta.dump(2));
  const auto old = ModelBundle::load(dir / "bundle");
  EXPECT_EQ(old.classes().threat_classes(), (std::vector<std::string>{"-1"}));
  EXPECT_DOUBLE_EQ(old.threshold(), 1.0 - 0.3);
  const Scored s = old.score(d.Xte);
  std::size_t agree = 0;
  for (std::size_t i = 0; i < d.Xte.rows; ++i) {
    EXPECT_NEAR(s.probability[i], 1.0 - now.probability[i], 1e-12) << i;
    // The same decision as format 1 made (P(class 1) >= 0.3 -> class 1), but for exact ties.
    agree += s.label[i] == (now.probability[i] >= 0.3 ? 1 : 0);
    EXPECT_EQ(old.class_value(s.label[i]), s.label[i] == 1 ? "1" : "-1");
  }
  EXPECT_EQ(agree, d.Xte.rows);
  // Reasons point towards the threat: the sign of every contribution turns.
  auto e_now = b.explain(d.Xte), e_old = old.explain(d.Xte);
  ASSERT_TRUE(e_now && e_old);
  for (std::size_t k = 0; k < e_now->data.size(); ++k) EXPECT_DOUBLE_EQ(e_old->data[k], -e_now->data[k]);
  // A format-1 label mapping that is not two class indices is refused, naming the key.
  for (const json& bad : {json("phishing"), json(4294967296LL), json(-1), json(0.5)}) {
    meta["label_mapping"] = {{"-1", bad}, {"1", 1}};
    write_file_atomic(dir / "bundle" / "metadata.json", meta.dump(2));
    try {
      ModelBundle::load(dir / "bundle");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("label_mapping.-1 must be the class index 0 or 1"),
                std::string::npos)
          << e.what();
    }
  }
}
