// FlatForest's reader of XGBoost's model document, JSON or UBJSON (the first byte chooses): any bytes
// give a forest or nullopt with a reason, never a crash, and a forest that is read scores rows to
// probabilities in [0, 1] (or NaN) without reading outside its arrays.
//
// NETSENTRY_FUZZ_WRITE_SEEDS=DIR writes seeds into DIR: the models of a small gradient-boosting and
// random-forest fit, in both forms.
#include <xgboost/c_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fuzz_support.hpp"
#include "netsentry/model/flat_forest.hpp"
#include "support/tiny_bundle.hpp"

using namespace netsentry;
using netsentry::xgb::FlatForest;
namespace fs = std::filesystem;

namespace {

// The model file `family` saves, converted by XGBoost into `format` ("json" or "ubj").
std::string saved_model(const std::string& family_name, const char* format) {
  const fs::path dir = fuzz::scratch_dir() / ("seed-" + family_name);
  test::tiny_bundle(family_name).save(dir);
  BoosterHandle h = nullptr;
  XGBoosterCreate(nullptr, 0, &h);
  if (XGBoosterLoadModel(h, (dir / "model" / "xgboost_model.ubj").c_str()) != 0)
    fuzz::fail(std::string("seed model: ") + XGBGetLastError());
  const std::string cfg = std::string("{\"format\":\"") + format + "\"}";
  bst_ulong len = 0;
  const char* buf = nullptr;
  XGBoosterSaveModelToBuffer(h, cfg.c_str(), &len, &buf);
  std::string out(buf, len);
  XGBoosterFree(h);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* seeds = std::getenv("NETSENTRY_FUZZ_WRITE_SEEDS")) {
    fs::create_directories(seeds);
    for (const char* family_name : {"gradient_boosting", "random_forest"})
      for (const char* format : {"json", "ubj"}) {
        std::ofstream out(fs::path(seeds) / (std::string(family_name) + "." + format), std::ios::binary);
        out << (format[0] == 'j' ? 'j' : 'u') << saved_model(family_name, format);
      }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const bool json = in.byte() == 'j';
  const std::string doc(in.rest());
  std::string why;
  const auto forest = json ? FlatForest::from_json(doc, &why) : FlatForest::from_ubjson(doc, &why);
  if (!forest) {
    if (why.empty()) fuzz::fail("a forest refused without a reason");
    return 0;
  }
  if (forest->features() > 4096) return 0;  // a valid document of many features: rows too large to build
  Matrix X(3, forest->features(), 0.5);
  for (std::size_t j = 0; j < forest->features(); ++j) {
    X(1, j) = std::nan("");
    X(2, j) = -1e30;
  }
  for (double p : forest->predict_proba(X, 0, 1))
    if (!std::isnan(p) && (p < 0.0 || p > 1.0)) fuzz::fail("a probability outside [0, 1]");
  return 0;
}
