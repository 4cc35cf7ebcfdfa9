// Where the time of one CSV upload goes inside `netsentry serve`, without HTTP: the server's own
// steps for POST /predict (parse the CSV, score it, write the HTML table), each timed, repeated, and
// reported as medians. With --idle-us the process sleeps before every batch, as a server does
// between uploads: caches, predictors and cores go cold, which is what a client of an idle server
// sees. Example (a model and upload kept by `KEEP=1 bash bench/compare_serving.sh`):
//   build/release/bench/netsentry_batch_timing WORK/ns/final_model WORK/upload_1000.csv --idle-us 5000
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "netsentry/core/memory.hpp"
#include "netsentry/serve/answer_write.hpp"
#include "netsentry/serve/model_store.hpp"
#include "netsentry/serve/request_parse.hpp"
#include "netsentry/serve/scoring.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

int usage() {
  std::fprintf(stderr, "usage: netsentry_batch_timing MODEL_DIR UPLOAD.csv [--idle-us N] [--repeat N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  long idle_us = 0, repeat = 300;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--idle-us" || a == "--repeat") && i + 1 < argc) {
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (!end || *end || v < 0 || (a == "--repeat" && v < 1)) return usage();
      (a == "--idle-us" ? idle_us : repeat) = v;
    } else {
      return usage();
    }
  }
  try {
    spdlog::set_level(spdlog::level::warn);
    netsentry::keep_freed_memory();  // as the server does
    const auto model = netsentry::serve::load_model(argv[1], {});
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "%s: cannot be read\n", argv[2]);
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const netsentry::serve::InputRules rules;
    std::vector<double> parse, score, html, total;
    std::size_t rows = 0, bytes = 0;
    for (long i = 0; i < repeat; ++i) {
      if (idle_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
      const auto t0 = Clock::now();
      const auto cr = netsentry::serve::parse_predict_csv(text, *model, rules);
      const auto t1 = Clock::now();
      const auto sc = netsentry::serve::run_model(*model, cr.X, false);
      const auto t2 = Clock::now();
      const std::string page = netsentry::serve::predictions_html(cr.table, sc);
      const auto t3 = Clock::now();
      auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
      parse.push_back(ms(t1 - t0));
      score.push_back(ms(t2 - t1));
      html.push_back(ms(t3 - t2));
      total.push_back(ms(t3 - t0));
      rows = cr.X.rows;
      bytes = page.size();
    }
    std::printf("%zu rows, %zu-byte answer, %ld batches, %ld us idle before each; medians:\n", rows, bytes,
                repeat, idle_us);
    std::printf("  parse %.3f ms  model %.3f ms  html %.3f ms  total %.3f ms\n", median(parse), median(score),
                median(html), median(total));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
