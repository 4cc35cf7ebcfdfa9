#include "netsentry/model/xgb_booster.hpp"

#include <spdlog/spdlog.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"

namespace netsentry::xgb {

namespace {
// XGBoost's last error without the stack trace of addresses it appends.
std::string last_error() {
  std::string e = XGBGetLastError();
  e = e.substr(0, e.find("Stack trace:"));
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.pop_back();
  return e;
}
}  // namespace

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("xgboost ") + what + ": " + last_error());
}

namespace {

// XGBoost 1.7's model readers trust a file: its UBJSON reader allocates a string or an array of the
// length the file declares before reading it (a 2^60-byte string in a 30-byte file), and both readers
// recurse on nesting. So a model file is first read here by nlohmann's SAX parser, which reads what a
// length declares byte by byte (failing at the end of the file), with at most one value per byte
// plus a few (an optimized array of payload-free values such as [$Z#L<2^60> would otherwise expand
// without end) and kMaxDepth levels of nesting (XGBoost's documents have fewer than ten). What fails
// never reaches XGBoost.
class DocumentCheck : public nlohmann::json_sax<nlohmann::json> {
 public:
  static constexpr std::size_t kMaxDepth = 64;
  explicit DocumentCheck(std::size_t bytes) : budget_(bytes + 64) {}
  const std::string& problem() const { return problem_; }

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool key(string_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    problem_ = e.what();
    return false;
  }

 private:
  bool value() {
    if (budget_-- > 0) return true;
    problem_ = "more values than its size allows";
    return false;
  }
  bool open() {
    if (++depth_ <= kMaxDepth) return value();
    problem_ = "nested more than " + std::to_string(kMaxDepth) + " levels deep";
    return false;
  }
  bool close() {
    --depth_;
    return true;
  }
  std::size_t budget_;
  std::size_t depth_ = 0;
  std::string problem_;
};

// Throws DataError naming `file` when its content is not a well-formed document that stays within
// its own size (UBJSON for a .ubj file, JSON otherwise).
void check_model_document(const std::filesystem::path& file) {
  const std::string bytes = read_file(file);
  const bool ubjson = file.extension() == ".ubj";
  DocumentCheck check(bytes.size());
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(
        bytes, &check,
        ubjson ? nlohmann::json::input_format_t::ubjson : nlohmann::json::input_format_t::json);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(file.string() + ": not a valid XGBoost model (" + e.what() + ")");
  }
  if (!ok)
    throw DataError(file.string() + ": not a valid XGBoost model (" +
                    (check.problem().empty() ? std::string("malformed") : check.problem()) + ")");
}

std::vector<float> to_float(const Matrix& X) {
  std::vector<float> f(X.data.size());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(X.data[i]);
  return f;
}
// One proxy DMatrix per thread for in-place prediction: without it XGBoost builds a new proxy (and
// reads the cgroup CPU limits) on every call, which dominated one-row predictions.
DMatrixHandle thread_proxy() {
  struct Proxy {
    DMatrixHandle h = nullptr;
    ~Proxy() {
      if (h) XGDMatrixFree(h);
    }
  };
  thread_local Proxy p;
  if (!p.h) check(XGProxyDMatrixCreate(&p.h), "proxy DMatrix");
  return p.h;
}
}  // namespace

namespace {
// Sets XGBoost's feature types ("q" numeric, "c" categorical) on a DMatrix or proxy; 0 on success.
int set_feature_types(DMatrixHandle h, const std::vector<std::string>& types) {
  if (types.empty()) return 0;
  std::vector<const char*> p;
  for (auto& t : types) p.push_back(t.c_str());
  return XGDMatrixSetStrFeatureInfo(h, "feature_type", p.data(), p.size());
}
}  // namespace

DMatrix::DMatrix(const Matrix& X, const Labels* y, const std::vector<float>* w,
                 const std::vector<std::string>& feature_types) {
  auto f = to_float(X);
  DMatrixHandle h = nullptr;
  check(XGDMatrixCreateFromMat(f.data(), X.rows, X.cols, std::numeric_limits<float>::quiet_NaN(), &h),
        "DMatrix");
  h_ = h;
  if (y) {
    std::vector<float> lab(y->begin(), y->end());
    check(XGDMatrixSetFloatInfo(h, "label", lab.data(), lab.size()), "labels");
  }
  if (w) check(XGDMatrixSetFloatInfo(h, "weight", w->data(), w->size()), "weights");
  check(set_feature_types(h, feature_types), "feature types");
}

namespace {
// The one-batch data iterator XGBoost's QuantileDMatrix reads through callbacks.
struct OneBatch {
  DMatrixHandle proxy = nullptr;
  const Matrix* X = nullptr;
  std::vector<float> labels;
  const std::vector<float>* weights = nullptr;
  const std::vector<std::string>* feature_types = nullptr;
  bool done = false;
  std::string error;
};
void one_batch_reset(DataIterHandle it) { static_cast<OneBatch*>(it)->done = false; }
int one_batch_next(DataIterHandle it) {
  auto* b = static_cast<OneBatch*>(it);
  if (b->done) return 0;
  b->done = true;
  const std::string iface = "{\"data\":[" +
                            std::to_string(reinterpret_cast<std::uintptr_t>(b->X->data.data())) +
                            ",true],\"shape\":[" + std::to_string(b->X->rows) + "," +
                            std::to_string(b->X->cols) + "],\"typestr\":\"<f8\",\"version\":3}";
  if (XGProxyDMatrixSetDataDense(b->proxy, iface.c_str()) != 0 ||
      XGDMatrixSetFloatInfo(b->proxy, "label", b->labels.data(), b->labels.size()) != 0 ||
      (b->weights &&
       XGDMatrixSetFloatInfo(b->proxy, "weight", b->weights->data(), b->weights->size()) != 0) ||
      set_feature_types(b->proxy, *b->feature_types) != 0) {
    b->error = last_error();
    return 0;
  }
  return 1;
}
}  // namespace

QuantileDMatrix::QuantileDMatrix(const Matrix& X, const Labels& y, const std::vector<float>* w,
                                 const std::vector<std::string>& feature_types) {
  OneBatch b;
  b.feature_types = &feature_types;
  b.X = &X;
  b.labels.assign(y.begin(), y.end());
  b.weights = w;
  check(XGProxyDMatrixCreate(&b.proxy), "proxy DMatrix");
  DMatrixHandle h = nullptr;
  const int rc = XGQuantileDMatrixCreateFromCallback(&b, b.proxy, nullptr, one_batch_reset, one_batch_next,
                                                     "{\"missing\":NaN,\"nthread\":1}", &h);
  XGDMatrixFree(b.proxy);
  if (!b.error.empty()) {
    if (h) XGDMatrixFree(h);
    throw std::runtime_error("xgboost QuantileDMatrix: " + b.error);
  }
  check(rc, "QuantileDMatrix");
  h_ = h;
}

QuantileDMatrix::~QuantileDMatrix() {
  if (h_) XGDMatrixFree(h_);
}

DMatrix::~DMatrix() {
  if (h_) XGDMatrixFree(h_);
}

Booster::Booster() = default;

void Booster::create(void* const* cache, std::size_t n) {
  if (h_) XGBoosterFree(h_);
  h_ = nullptr;
  compiled_ = std::make_unique<Compiled>();
  BoosterHandle h = nullptr;
  check(XGBoosterCreate(const_cast<DMatrixHandle*>(cache), n, &h), "create");
  h_ = h;
  for (auto& [k, v] : params_) check(XGBoosterSetParam(h_, k.c_str(), v.c_str()), k.c_str());
}

Booster::~Booster() {
  if (h_) XGBoosterFree(h_);
}

void Booster::set_params(const std::map<std::string, std::string>& params) {
  for (auto& [k, v] : params) {
    params_[k] = v;
    if (h_) check(XGBoosterSetParam(h_, k.c_str(), v.c_str()), k.c_str());
  }
}

void Booster::train(const Matrix& X, const Labels& y, const std::vector<float>* w, int rounds,
                    const std::vector<std::string>& feature_types) {
  DMatrix d(X, &y, w, feature_types);
  train(d.handle(), rounds);
}

void Booster::train(void* dmatrix, int rounds) {
  DMatrixHandle dh = dmatrix;
  create(&dh, 1);  // the training matrix must be in the booster's cache
  for (int i = 0; i < rounds; ++i) check(XGBoosterUpdateOneIter(h_, i, dh), "train");
}

namespace {
// The number of values of a prediction of `dim` dimensions.
std::size_t values_of(const bst_ulong* shape, bst_ulong dim) {
  std::size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= static_cast<std::size_t>(shape[i]);
  return n;
}
}  // namespace

std::vector<double> Booster::predict_proba(const Matrix& X, int iteration_end) const {
  ready();
  if (X.rows == 0) return {};
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  const std::string range = ",\"iteration_begin\":0,\"iteration_end\":" + std::to_string(iteration_end);
  // One value per row (binary:logistic) or one per row and class (multi:softprob), row-major.
  auto copy = [&] { return std::vector<double>(res, res + values_of(shape, dim)); };
  if (inplace_.load(std::memory_order_relaxed)) {
    // In-place prediction from the dense array: no DMatrix copy, fast for one row (tree boosters).
    const std::string iface = "{\"data\":[" +
                              std::to_string(reinterpret_cast<std::uintptr_t>(X.data.data())) +
                              ",true],\"shape\":[" + std::to_string(X.rows) + "," + std::to_string(X.cols) +
                              "],\"typestr\":\"<f8\",\"version\":3}";
    const std::string cfg =
        "{\"type\":0,\"training\":false" + range + ",\"strict_shape\":false,\"cache_id\":0,\"missing\":NaN}";
    if (XGBoosterPredictFromDense(h_, iface.c_str(), cfg.c_str(), thread_proxy(), &shape, &dim, &res) == 0)
      return copy();
    inplace_ = false;  // the linear booster has no in-place prediction: use a DMatrix from now on
  }
  DMatrix d(X);
  const std::string cfg = "{\"type\":0,\"training\":false" + range + ",\"strict_shape\":false}";
  check(XGBoosterPredictFromDMatrix(h_, d.handle(), cfg.c_str(), &shape, &dim, &res), "predict");
  return copy();
}

const FlatForest* Booster::compiled() const {
  ready();
  std::call_once(compiled_->once, [this] {
    // UBJSON: the JSON document in binary form, written and read several times faster.
    std::string why;
    try {
      if (auto f = FlatForest::from_ubjson(serialize("ubj"), &why))
        compiled_->forest = std::make_unique<const FlatForest>(std::move(*f));
    } catch (const std::exception& e) {
      why = e.what();
    }
    if (!compiled_->forest) spdlog::debug("XGBoost predicts this model itself (no FlatForest: {})", why);
  });
  return compiled_->forest.get();
}

namespace {

// XGBoost's contributions of each row: prediction type 2 (SHAP) or 3 (approximate: Saabas).
Matrix xgboost_contributions(BoosterHandle h, const Matrix& X, int type) {
  DMatrix d(X);
  const std::string cfg =
      "{\"type\":" + std::to_string(type) +
      ",\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* res = nullptr;
  check(XGBoosterPredictFromDMatrix(h, d.handle(), cfg.c_str(), &shape, &dim, &res), "contributions");
  // rows x (features + 1), or rows x classes x (features + 1) for a multi-class model.
  const std::size_t n = values_of(shape, dim);
  Matrix c(X.rows, X.rows ? n / X.rows : X.cols + 1);
  std::copy(res, res + n, c.data.begin());
  return c;
}

}  // namespace

Matrix Booster::contributions(const Matrix& X, bool approximate) const {
  return xgboost_contributions(ready().h_, X, approximate ? 3 : 2);
}

Matrix Booster::path_contributions(const Matrix& X) const {
  const FlatForest* f = ready().compiled();
  if (f && f->has_attributions() && f->features() == X.cols) return f->attributions(X);
  return xgboost_contributions(h_, X, 3);
}

std::vector<double> Booster::importance(std::size_t n_features, const char* type) const {
  std::vector<double> imp(n_features, 0.0);
  const std::string cfg = std::string("{\"importance_type\":\"") + type + "\"}";
  bst_ulong n_out = 0, out_dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  if (XGBoosterFeatureScore(h_, cfg.c_str(), &n_out, &names, &out_dim, &shape, &scores) != 0) return imp;
  // gblinear of K classes gives K weights per feature (out_dim 2): their absolute values are summed.
  const std::size_t per = out_dim == 2 ? static_cast<std::size_t>(shape[1]) : 1;
  if (out_dim != 1 && out_dim != 2) return imp;
  for (bst_ulong i = 0; i < n_out; ++i) {
    std::string n = names[i];
    if (n.size() > 1 && n[0] == 'f') {
      auto idx = std::stoul(n.substr(1));
      if (idx >= n_features) continue;
      if (per == 1) {
        imp[idx] = scores[i];
      } else {
        for (std::size_t c = 0; c < per; ++c) imp[idx] += std::abs(scores[i * per + c]);
      }
    }
  }
  return imp;
}

void Booster::save(const std::filesystem::path& file) const {
  ready();
  check(XGBoosterSaveModel(h_, file.c_str()), "save");
}

std::string Booster::serialize(const char* format) const {
  ready();
  const std::string cfg = std::string("{\"format\":\"") + format + "\"}";
  bst_ulong len = 0;
  const char* buf = nullptr;
  check(XGBoosterSaveModelToBuffer(h_, cfg.c_str(), &len, &buf), "serialize");
  return std::string(buf, len);
}

void Booster::load(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) throw DataError(file.string() + ": model file missing");
  check_model_document(file);
  create(nullptr, 0);
  if (XGBoosterLoadModel(h_, file.c_str()) != 0)
    throw DataError(file.string() + ": not a valid XGBoost model (" + last_error() + ")");
}

const Booster& Booster::ready() const {
  if (!h_) throw std::logic_error("xgboost booster used before training or loading");
  return *this;
}

int Booster::rounds() const {
  int n = 0;
  check(XGBoosterBoostedRounds(h_, &n), "rounds");
  return n;
}

void Booster::keep_first(int n) {
  ready();
  BoosterHandle out = nullptr;
  check(XGBoosterSlice(h_, 0, n, 1, &out), "slice");
  XGBoosterFree(h_);
  h_ = out;
  compiled_ = std::make_unique<Compiled>();
  for (auto& [k, v] : params_) check(XGBoosterSetParam(h_, k.c_str(), v.c_str()), k.c_str());
}

}  // namespace netsentry::xgb
