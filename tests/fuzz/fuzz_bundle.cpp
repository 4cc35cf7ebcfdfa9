// The model bundle loader (ModelBundle::load, what `predict`, `evaluate` and the server's hot reload
// call) on bundles with one file replaced by the input: metadata.json, schema.json,
// preprocessor.json or a family's own model files (XGBoost UBJSON, OpenCV YAML, the explanation
// tables). Whatever the bytes, the load either fails with a DataError or UsageError naming the file,
// or gives a bundle that scores a row.
//
// Input: [family index][file index][the file's new content]. Templates are fitted at start-up, one
// per family; NETSENTRY_FUZZ_WRITE_SEEDS=DIR writes one seed per template file into DIR.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "netsentry/core/error.hpp"
#include "support/tiny_bundle.hpp"

using namespace netsentry;
namespace fs = std::filesystem;

namespace {

// A saved bundle; each input rewrites one of its files and the original content is put back after.
struct Template {
  fs::path dir;
  std::vector<fs::path> files;         // relative to dir, sorted
  std::vector<std::string> originals;  // their content
};

std::vector<Template>& templates() {
  static std::vector<Template> t;
  return t;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* seeds = std::getenv("NETSENTRY_FUZZ_WRITE_SEEDS");
  const auto names = family_names();
  for (std::size_t f = 0; f < names.size(); ++f) {
    Template t;
    t.dir = fuzz::scratch_dir() / ("template-" + names[f]);
    test::tiny_bundle(names[f]).save(t.dir);
    for (const auto& e : fs::recursive_directory_iterator(t.dir))
      if (e.is_regular_file()) t.files.push_back(fs::relative(e.path(), t.dir));
    std::sort(t.files.begin(), t.files.end());
    for (const auto& file : t.files) t.originals.push_back(read_bytes(t.dir / file));
    if (seeds) {
      fs::create_directories(seeds);
      for (std::size_t k = 0; k < t.files.size(); ++k) {
        std::ofstream out(fs::path(seeds) / (names[f] + "-" + t.files[k].filename().string()),
                          std::ios::binary);
        out << static_cast<char>(f) << static_cast<char>(k) << t.originals[k];
      }
    }
    templates().push_back(std::move(t));
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const Template& t = templates()[in.byte() % templates().size()];
  const std::size_t k = in.byte() % t.files.size();
  const auto write = [&](std::string_view content) {
    std::ofstream out(t.dir / t.files[k], std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  };
  struct Restore {
    std::function<void()> fn;
    ~Restore() { fn(); }
  } restore{[&] { write(t.originals[k]); }};
  write(in.rest());
  try {
    const ModelBundle b = ModelBundle::load(t.dir);
    Matrix X(2, b.features().size(), 1.0);
    X(1, 0) = std::nan("");
    const Scored s = b.score(X);
    if (s.label.size() != 2 || s.probability.size() != 2)
      fuzz::fail("a loaded bundle scored the wrong shape");
  } catch (const DataError& e) {
    fuzz::expect_named(e, t.dir.string());
  } catch (const UsageError& e) {
    fuzz::expect_named(e, t.dir.string());
  }
  return 0;
}
