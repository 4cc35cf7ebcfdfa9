// The CSV upload path of the server without HTTP: the one-pass reader of numeric uploads gives the
// table parse_csv gives (or leaves the upload to parse_csv), and the CSV and HTML answers are the
// ones the table writer (to_csv, format_number) gives.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "netsentry/serve/answer_write.hpp"
#include "netsentry/serve/request_parse.hpp"
#include "netsentry/serve/scoring.hpp"
#include "netsentry/table/csv.hpp"

using namespace netsentry;
using namespace netsentry::serve;

namespace {

const std::vector<std::string> kFeatures = {"a", "b", "c"};

std::shared_ptr<LoadedModel> model() {
  auto m = std::make_shared<LoadedModel>();
  m->features = kFeatures;
  for (std::size_t i = 0; i < kFeatures.size(); ++i) m->index.emplace(kFeatures[i], i);
  m->target = "Result";
  m->class_value = {"-1", "1"};
  m->verdict = {"phishing", "legit, probably"};  // a comma: quoted in CSV
  m->threat = {false, true};
  m->categorical.assign(kFeatures.size(), 0);
  return m;
}

InputRules rules() {
  InputRules r;
  r.ignored_columns = {"Result"};
  return r;
}

bool same_number(double x, double y) {
  return (std::isnan(x) && std::isnan(y)) || (x == y && std::signbit(x) == std::signbit(y));
}

void expect_same_table(const Table& got, const Table& want) {
  ASSERT_EQ(got.cols(), want.cols());
  ASSERT_EQ(got.rows(), want.rows());
  for (std::size_t j = 0; j < got.cols(); ++j) {
    const Column &g = got.columns[j], &w = want.columns[j];
    EXPECT_EQ(g.name, w.name);
    ASSERT_EQ(g.type, w.type) << g.name;
    EXPECT_EQ(g.text, w.text);
    for (std::size_t i = 0; i < g.num.size(); ++i)
      EXPECT_TRUE(same_number(g.num[i], w.num[i]))
          << g.name << " row " << i << ": " << g.num[i] << " vs " << w.num[i];
  }
}

// Uploads of every shape the reader meets: line ends, a byte order mark, blank lines, missing tokens,
// numbers in every spelling, the target column, and what it leaves to parse_csv (quotes, text).
std::vector<std::string> uploads() {
  std::vector<std::string> u = {
      "a,b,c\n1,0,-1\n-1,1,0\n",
      "a,b,c\r\n1,0,-1\r\n-1,1,0\r\n",
      "a,b,c\r1,0,-1\r-1,1,0",
      "\xEF\xBB\xBF"
      "c,a,b\n1,0,-1\n\n\n-1,1,0",
      "\n\na,b,c,Result\n1,,-1,1\nNA,nan,NaN,-1\n",
      "a,b,c\n+1, 2 ,-0\n0.5,1e5,123456\n-1.25e-3,007,99999\n100000,-100000,1e300\n",
      "a,b,c\n\"1\",0,-1\n",
      "a,b,c,Result\n1,0,-1,yes\n",
      "a,b,c\n1,0\n",
      "a,b,c\n1,0,-1,2\n",
      "a,b,a\n1,0,-1\n",
      "a,,c\n1,0,-1\n",
      "a,b,c\n",
      "",
      "a,b,c\n1,0,inf\n",
      "a,b,c\n1, ,x\n",
  };
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(0, 9);
  const char* values[] = {"1", "0", "-1", "", "NA", "0.25", "-0", "12", " 3", "+4"};
  std::string big = "b,Result,c,a\n";
  for (int r = 0; r < 500; ++r)
    for (int j = 0; j < 4; ++j) big += std::string(values[pick(rng)]) + (j < 3 ? "," : "\n");
  u.push_back(big);
  return u;
}

}  // namespace

TEST(ServePredictIo, NumericUploadsReadAsParseCsvReadsThem) {
  const auto m = model();
  auto numeric_tokens = rules();
  numeric_tokens.missing_values = {"-1", "0", "NA"};  // tokens that read as numbers; "" is not missing
  for (const auto& r : {rules(), numeric_tokens}) {
    CsvOptions opt;
    opt.missing_values = r.missing_values;
    for (const auto& text : uploads()) {
      SCOPED_TRACE(text.substr(0, 60));
      std::optional<Table> want;
      std::string want_error;
      try {
        want = parse_csv(text, "upload", opt);
      } catch (const std::exception& e) {
        want_error = e.what();
      }
      try {
        auto got = parse_predict_csv(text, *m, r);
        ASSERT_TRUE(want) << "parse_csv refused it: " << want_error;
        expect_same_table(got.table, *want);
        ASSERT_EQ(got.X.rows, want->rows());
        for (std::size_t i = 0; i < got.X.rows; ++i)
          for (std::size_t f = 0; f < kFeatures.size(); ++f) {
            const Column& c = want->at(kFeatures[f]);
            if (c.type == ColumnType::Numeric) {
              EXPECT_TRUE(same_number(got.X(i, f), c.num[i]));
            }
          }
      } catch (const RequestError& e) {
        if (want && want->rows() > 0 && want_error.empty()) {
          // Refused after reading (a text value, an unknown or missing column): never a read error.
          EXPECT_EQ(std::string(e.what()).find("upload:"), std::string::npos) << e.what();
        } else if (!want_error.empty()) {
          EXPECT_EQ(std::string(e.what()), want_error);
        }
      }
    }
  }
}

TEST(ServePredictIo, AnswersAreWhatTheTableWriterWrites) {
  const auto m = model();
  const auto r = rules();
  for (bool explain : {false, true}) {
    const std::string text = uploads().back();
    auto req = parse_predict_csv(text, *m, r);
    const std::size_t n = req.X.rows;
    Scores s;
    std::mt19937 rng(9);
    std::uniform_real_distribution<double> p(0, 1), c(-2, 2);
    for (std::size_t i = 0; i < n; ++i) {
      s.scored.probability.push_back(p(rng));
      s.scored.label.push_back(s.scored.probability.back() >= 0.5);
    }
    if (explain) {
      s.contributions = Matrix(n, kFeatures.size() + 1);
      for (auto& v : s.contributions->data) v = c(rng);
    }
    // The CSV answer: the upload with label, verdict, probability (and reasons) through to_csv.
    Table t = req.table;
    Column label{"label", ColumnType::Text, {}, {}}, verdict{"verdict", ColumnType::Text, {}, {}},
        prob{"probability", ColumnType::Numeric, {}, {}};
    for (std::size_t i = 0; i < n; ++i) {
      const int cls = s.scored.label[i];
      label.text.push_back(m->class_value[cls]);
      verdict.text.push_back(m->verdict[cls]);
      prob.num.push_back(std::round(s.scored.probability[i] * 1e6) / 1e6);  // P(threat) whatever the verdict
    }
    t.columns.push_back(label);
    t.columns.push_back(verdict);
    t.columns.push_back(prob);
    const std::string csv = predictions_csv(req.table, *m, req.X, s, 3);
    if (!explain) {
      EXPECT_EQ(csv, to_csv(t));
    } else {
      // Reasons: a fourth column; everything before it as without.
      Table back = parse_csv(csv, "answer");
      ASSERT_EQ(back.cols(), t.cols() + 1);
      EXPECT_EQ(back.columns.back().name, "reasons");
      EXPECT_EQ(back.columns.back().text.size(), n);
      back.columns.pop_back();
      EXPECT_EQ(to_csv(back), to_csv(parse_csv(to_csv(t), "want")));
    }
    // The HTML answer: every value as format_number writes it ("NaN" when missing).
    const std::string html = predictions_html(req.table, s);
    std::string cells;
    for (std::size_t i = 0; i < n; ++i) {
      cells += "    <tr>\n      <th>" + std::to_string(i) + "</th>\n";
      for (const auto& col : req.table.columns)
        cells += "      <td>" + (std::isnan(col.num[i]) ? std::string("NaN") : format_number(col.num[i])) +
                 "</td>\n";
      cells += std::string("      <td>") + (s.scored.label[i] ? "1" : "0") + "</td>\n    </tr>\n";
    }
    EXPECT_NE(html.find(cells), std::string::npos);
    EXPECT_EQ(html_escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
  }
}
