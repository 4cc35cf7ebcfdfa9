// FlatForest's evaluation: margins, probabilities and path attributions of batches of rows. The
// model reader (the document into these layouts) is flat_forest_reader.cpp.
#include "netsentry/model/flat_forest.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "netsentry/core/parallel.hpp"

namespace netsentry::xgb {

namespace {

using Node = FlatForest::Node;

template <class Bin>
constexpr Bin kMissingBin = std::numeric_limits<Bin>::max();

constexpr std::size_t kRows = 8;      // rows walking one tree in lock step (bins)
constexpr std::size_t kMaskRows = 4;  // rows walking two trees in lock step (masks)
constexpr std::size_t kTrees = 8;     // trees one row walks in lock step
constexpr std::size_t kHopRows = 8;   // rows walking two trees in lock step (masks, by hops)

// Walks G lanes from idx[] for at most `depth` steps; next(g, i) is lane g's next node from node i.
// Stops early once no lane moves (every lane sits on its leaf).
template <std::size_t G, class Next>
inline void walk(int depth, std::uint32_t* idx, Next next) {
  int d = 0;
  for (; d + 1 < depth; d += 2) {
#pragma GCC unroll 16
    for (std::size_t g = 0; g < G; ++g) idx[g] = next(g, idx[g]);
    std::uint32_t moved = 0;
#pragma GCC unroll 16
    for (std::size_t g = 0; g < G; ++g) {
      const std::uint32_t i = next(g, idx[g]);
      moved |= i ^ idx[g];
      idx[g] = i;
    }
    if (!moved) return;
  }
  if (d < depth) {
#pragma GCC unroll 16
    for (std::size_t g = 0; g < G; ++g) idx[g] = next(g, idx[g]);
  }
}

// The test outcome at node i for a row with bin x of the node's feature.
template <class Bin, bool kMissing>
inline std::uint32_t bin_right(const Node* nodes, const std::uint8_t* default_left, std::uint32_t i, Bin x) {
  if constexpr (kMissing)
    if (x == kMissingBin<Bin>) return default_left[i] == 0;
  return x >= nodes[i].bin;
}

// One row (next(i): its next node from node i) through kTrees trees at a time; the leaf values are
// added in tree order.
template <class Next>
inline float walk_trees(const float* value, const std::uint32_t* roots, const std::uint8_t* depths,
                        std::size_t tree_end, float base, Next next) {
  float acc = base;
  std::uint32_t idx[kTrees];
  for (std::size_t t0 = 0; t0 < tree_end; t0 += kTrees) {
    const std::size_t n = std::min(kTrees, tree_end - t0);
    int depth = 0;
    for (std::size_t g = 0; g < kTrees; ++g) {
      const std::size_t t = t0 + std::min(g, n - 1);  // past the end: a repeat, ignored
      idx[g] = roots[t];
      depth = std::max<int>(depth, depths[t]);
    }
    walk<kTrees>(depth, idx, [&](std::size_t, std::uint32_t i) { return next(i); });
    for (std::size_t g = 0; g < n; ++g) acc += value[idx[g]];
  }
  return acc;
}

// The next node from node word w (left << 6 | test) for a row with test outcomes `mask`: a bit test
// (of bit w mod 64), a shift and an add.
inline std::uint32_t mask_step(std::uint32_t w, std::uint64_t mask) {
  return (w >> 6) + static_cast<std::uint32_t>((mask >> (w & 63)) & 1);
}

// The order in which to walk rows: by key (ties by row), so that rows with similar tests walk together.
std::vector<std::uint32_t> order_by(const std::vector<std::uint64_t>& key) {
  std::vector<std::uint32_t> order(key.size());
  for (std::size_t r = 0; r < order.size(); ++r) order[r] = static_cast<std::uint32_t>(r);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return key[a] != key[b] ? key[a] < key[b] : a < b; });
  return order;
}

}  // namespace

std::uint64_t FlatForest::mask_row(const double* x) const {
  std::uint64_t m = std::uint64_t{1} << 63;
  const std::size_t n = test_feature_.size();
  for (std::size_t j = 0; j < n; ++j) {
    const float v = static_cast<float>(x[test_feature_[j]]);
    const bool right = std::isnan(v) ? test_missing_[j] != 0 : !(v < test_threshold_[j]);
    m |= std::uint64_t{right} << (62 - j);
  }
  return m;
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}

// A row's mask, 16 tests at a time: its (at most 32) values as floats in two registers, each test's
// value picked by its feature; the test "not x < threshold" (true for a missing value), unless x is
// missing and the test's missing value goes left.
__attribute__((target("avx512f"))) void masks_avx512(const double* X, std::size_t rows, std::size_t nf,
                                                     const std::int32_t* feature, const float* threshold,
                                                     std::uint64_t valid, std::uint64_t missing,
                                                     std::uint64_t* out) {
  __m512i idx[4];
  __m512 thr[4];
  for (int c = 0; c < 4; ++c) {
    idx[c] = _mm512_loadu_si512(feature + 16 * c);
    thr[c] = _mm512_loadu_ps(threshold + 16 * c);
  }
  auto part = [nf](std::size_t from) {  // features [from, from + 8) that exist
    return static_cast<__mmask8>(nf > from ? (nf - from >= 8 ? 0xff : (1u << (nf - from)) - 1) : 0);
  };
  const __mmask8 k0 = part(0), k1 = part(8), k2 = part(16), k3 = part(24);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* x = X + r * nf;
    const __m256 a = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(k0, x));
    const __m256 b = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(k1, x + 8));
    const __m256 c = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(k2, x + 16));
    const __m256 d = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(k3, x + 24));
    const __m512 lo = _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(a)), _mm256_castps_pd(b), 1));
    const __m512 hi = _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(c)), _mm256_castps_pd(d), 1));
    std::uint64_t m = 0;
    for (int q = 0; q < 4; ++q) {
      const __m512 v = _mm512_permutex2var_ps(lo, idx[q], hi);
      const auto right = static_cast<std::uint64_t>(_mm512_cmp_ps_mask(v, thr[q], _CMP_NLT_UQ));
      const auto present = static_cast<std::uint64_t>(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q));
      m |= (right & (present | (missing >> (16 * q) & 0xffff))) << (16 * q);
    }
    out[r] = (m & valid) | std::uint64_t{1} << 63;
  }
}
}  // namespace
#endif

void FlatForest::mask_rows(const double* X, std::size_t rows, std::uint64_t* out) const {
#if defined(__x86_64__) && defined(__GNUC__)
  if (!bit_feature_.empty() && have_avx512()) {
    masks_avx512(X, rows, n_features_, bit_feature_.data(), bit_threshold_.data(), bit_valid_, bit_missing_,
                 out);
    return;
  }
#endif
  for (std::size_t r = 0; r < rows; ++r) out[r] = mask_row(X + r * n_features_);
}

template <class Bin>
bool FlatForest::bin_row(const double* x, Bin* dst) const {
  const float* cuts = cuts_.data();
  bool missing = false;
  for (std::size_t f = 0; f < n_features_; ++f) {
    const std::uint32_t b = cut_begin_[f], e = cut_begin_[f + 1];
    Bin out = 0;
    if (b != e) {  // a feature no split uses stays 0, even when missing
      const float v = static_cast<float>(x[f]);
      if (std::isnan(v)) {
        out = kMissingBin<Bin>;
        missing = true;
      } else if (e - b <= 8) {
        std::uint32_t k = 0;
        for (std::uint32_t i = b; i < e; ++i) k += cuts[i] <= v;
        out = static_cast<Bin>(k);
      } else {
        out = static_cast<Bin>(std::upper_bound(cuts + b, cuts + e, v) - (cuts + b));
      }
    }
    dst[f] = out;
  }
  return missing;
}

void FlatForest::walk_masks(const std::uint64_t* masks, std::size_t n, std::size_t tree_begin,
                            std::size_t tree_end, float* acc) const {
  const std::uint32_t* words = words_.data();
  const float* value = value_.data();
  // Groups of kMaskRows masks walk two trees at a time (8 lanes: each mask in both trees), tree
  // pair after tree pair: the trees stay in cache while every group passes. The masks stay in
  // registers.
  const std::size_t groups = n / kMaskRows, grouped = groups * kMaskRows;
  for (std::size_t t = tree_begin; t < tree_end; t += 2) {
    const std::size_t t2 = std::min(t + 1, tree_end - 1);  // an odd last tree: walked twice, counted once
    const std::uint32_t root = tree_root_[t], root2 = tree_root_[t2];
    const int depth = std::max(tree_depth_[t], tree_depth_[t2]);
    for (std::size_t k = 0; k < groups; ++k) {
      const std::uint64_t* mk = masks + k * kMaskRows;
      const std::uint64_t m[kMaskRows] = {mk[0], mk[1], mk[2], mk[3]};
      std::uint32_t idx[2 * kMaskRows];
      for (std::size_t g = 0; g < kMaskRows; ++g) idx[g] = root, idx[kMaskRows + g] = root2;
      walk<2 * kMaskRows>(
          depth, idx, [&](std::size_t g, std::uint32_t i) { return mask_step(words[i], m[g % kMaskRows]); });
      float* a = acc + k * kMaskRows;
      for (std::size_t g = 0; g < kMaskRows; ++g) a[g] += value[idx[g]];
      if (t2 != t)
        for (std::size_t g = 0; g < kMaskRows; ++g) a[g] += value[idx[kMaskRows + g]];
    }
  }
  // The other masks one by one, each walking kTrees trees at a time.
  for (std::size_t u = grouped; u < n; ++u) {
    const std::uint64_t mu = masks[u];
    acc[u] =
        walk_trees(value, tree_root_.data() + tree_begin, tree_depth_.data() + tree_begin,
                   tree_end - tree_begin, acc[u], [&](std::uint32_t j) { return mask_step(words[j], mu); });
  }
}

template <class Bin>
void FlatForest::walk_bins(const Bin* xs, const std::uint8_t* group_missing, std::size_t groups,
                           std::size_t tree_end, float* acc) const {
  const Node* nodes = nodes_.data();
  const float* value = value_.data();
  const std::uint8_t* dl = default_left_.data();
  const std::size_t nf = n_features_;
  for (std::size_t t = 0; t < tree_end; ++t) {
    const std::uint32_t root = tree_root_[t];
    const int depth = tree_depth_[t];
    for (std::size_t k = 0; k < groups; ++k) {
      const Bin* x = xs + k * nf * kRows;
      std::uint32_t idx[kRows];
      for (std::size_t g = 0; g < kRows; ++g) idx[g] = root;
      if (group_missing[k])
        walk<kRows>(depth, idx, [&](std::size_t g, std::uint32_t i) {
          return nodes[i].left +
                 bin_right<Bin, true>(nodes, dl, i, x[std::size_t{nodes[i].test} * kRows + g]);
        });
      else
        walk<kRows>(depth, idx, [&](std::size_t g, std::uint32_t i) {
          return nodes[i].left +
                 bin_right<Bin, false>(nodes, dl, i, x[std::size_t{nodes[i].test} * kRows + g]);
        });
      for (std::size_t g = 0; g < kRows; ++g) acc[k * kRows + g] += value[idx[g]];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
bool have_bmi2() {
  static const bool yes = __builtin_cpu_supports("bmi2");
  return yes;
}
}  // namespace

// The masks' walk by blocks: pext gathers a block's test outcomes into a table index. (Compiled for
// BMI2; called only when the processor has it.)
__attribute__((target("bmi2"))) void FlatForest::walk_blocks(const std::uint64_t* masks, std::size_t n,
                                                             std::size_t tree_begin, std::size_t tree_end,
                                                             float* acc) const {
  const Block* blocks = blocks_.data();
  const std::uint32_t* table = block_table_.data();
  // Groups of G masks walk one tree at a time (its blocks and tables stay in the L1 cache).
  constexpr std::size_t G = 8;
  const std::size_t groups = n / G, grouped = groups * G;
  for (std::size_t t = tree_begin; t < tree_end; ++t) {
    const std::uint32_t root = tree_block_[t];
    const int steps = (tree_depth_[t] + 2) / 3;
    for (std::size_t k = 0; k < groups; ++k) {
      const std::uint64_t* m = masks + k * G;
      std::uint32_t idx[G];
      for (std::size_t g = 0; g < G; ++g) idx[g] = root;
      for (int s = 0; s < steps; ++s) {
        std::uint32_t moved = 0;
#pragma GCC unroll 8
        for (std::size_t g = 0; g < G; ++g) {
          const Block& b = blocks[idx[g]];
          const std::uint32_t next = table[b.table + _pext_u64(m[g], b.tests)];
          moved |= next ^ idx[g];
          idx[g] = next;
        }
        if (!moved) break;
      }
      float* a = acc + k * G;
      for (std::size_t g = 0; g < G; ++g) a[g] += blocks[idx[g]].value;
    }
  }
  // The other masks one by one, each walking G trees at a time; leaves added in tree order.
  for (std::size_t u = grouped; u < n; ++u) {
    const std::uint64_t mu = masks[u];
    for (std::size_t t0 = tree_begin; t0 < tree_end; t0 += G) {
      const std::size_t trees = std::min(G, tree_end - t0);
      std::uint32_t idx[G];
      int depth = 0;
      for (std::size_t g = 0; g < G; ++g) {
        const std::size_t tg = t0 + std::min(g, trees - 1);  // past the end: a repeat, ignored
        idx[g] = tree_block_[tg];
        depth = std::max<int>(depth, tree_depth_[tg]);
      }
      for (int s = 0; s < (depth + 2) / 3; ++s) {
        std::uint32_t moved = 0;
#pragma GCC unroll 8
        for (std::size_t g = 0; g < G; ++g) {
          const Block& b = blocks[idx[g]];
          const std::uint32_t next = table[b.table + _pext_u64(mu, b.tests)];
          moved |= next ^ idx[g];
          idx[g] = next;
        }
        if (!moved) break;
      }
      for (std::size_t g = 0; g < trees; ++g) acc[u] += blocks[idx[g]].value;
    }
  }
}

// One hop of L lanes: lane g, at p[g], walks with mask m[g % R].
template <std::size_t L, std::size_t R>
__attribute__((target("bmi2"), always_inline)) inline void hop_step(const unsigned char** p,
                                                                    const std::uint64_t* m) {
#pragma GCC unroll 16
  for (std::size_t g = 0; g < L; ++g) {
    std::uint64_t tests;
    std::memcpy(&tests, p[g], sizeof tests);
    std::uint16_t e;
    std::memcpy(&e, p[g] + 8 + 2 * _pext_u64(m[g % R], tests), sizeof e);
    p[g] += std::size_t{e} * 8;
  }
}

// The masks' walk by hops. Groups of kHopRows masks walk two trees at a time (each mask in both
// trees: 16 lanes, whose dependent loads overlap), tree pair after tree pair. Every group takes as
// many hops as the trees' longest paths: a lane that reached its leaf stays there, and with no test
// of whether all have (no branch to mispredict) the processor runs ahead into the next group.
// (Compiled for BMI2; called only when the processor has it.)
__attribute__((target("bmi2"))) void FlatForest::walk_hops(const std::uint64_t* masks, std::size_t n,
                                                           std::size_t tree_begin, std::size_t tree_end,
                                                           float* acc) const {
  constexpr std::size_t R = kHopRows, L = 2 * R;
  const auto* base = reinterpret_cast<const unsigned char*>(hops_.data());
  auto value = [](const unsigned char* p) {
    float v;
    std::memcpy(&v, p + 12, sizeof v);
    return v;
  };
  const std::size_t grouped = n / R * R;
  auto start = [&](std::size_t t) {
    return base + (t < tree_hop_.size() ? std::size_t{tree_hop_[t]} : hops_.size()) * 8;
  };
  for (std::size_t t = tree_begin; t + 1 < tree_end; t += 2) {
    const unsigned char* root = base + std::size_t{tree_hop_[t]} * 8;
    const unsigned char* root2 = base + std::size_t{tree_hop_[t + 1]} * 8;
    const int steps = std::max(tree_hop_steps_[t], tree_hop_steps_[t + 1]);
    // The next two trees' hops are fetched (into L2) a little with every group: the first group
    // walking a tree would otherwise wait for memory at every hop.
    const unsigned char* fetch = start(t + 2);
    const unsigned char* fetch_end = start(std::min(t + 4, tree_end));
    const std::size_t groups = grouped / R;
    const std::size_t per_group =
        groups ? (static_cast<std::size_t>(fetch_end - fetch) / 64 + groups) / groups : 0;
    for (std::size_t b = 0; b < grouped; b += R) {
      for (std::size_t k = 0; k < per_group && fetch < fetch_end; ++k, fetch += 64)
        __builtin_prefetch(fetch, 0, 2);
      const std::uint64_t* m = masks + b;
      const unsigned char* p[L];
      for (std::size_t g = 0; g < R; ++g) p[g] = root, p[R + g] = root2;
      for (int s = 0; s < steps; ++s) hop_step<L, R>(p, m);
      float* a = acc + b;
      for (std::size_t g = 0; g < R; ++g) a[g] += value(p[g]);
      for (std::size_t g = 0; g < R; ++g) a[g] += value(p[R + g]);
    }
  }
  // An odd last tree: two groups at a time (the second a repeat of the first when there is none).
  if ((tree_end - tree_begin) % 2) {
    const std::size_t t = tree_end - 1;
    for (std::size_t b = 0; b < grouped; b += L) {
      const std::size_t b2 = b + R < grouped ? b + R : b;
      std::uint64_t m[L];
      for (std::size_t g = 0; g < R; ++g) m[g] = masks[b + g], m[R + g] = masks[b2 + g];
      const unsigned char* p[L];
      for (std::size_t g = 0; g < L; ++g) p[g] = base + std::size_t{tree_hop_[t]} * 8;
      for (int s = 0; s < tree_hop_steps_[t]; ++s) hop_step<L, L>(p, m);
      for (std::size_t g = 0; g < R; ++g) acc[b + g] += value(p[g]);
      if (b2 != b)
        for (std::size_t g = 0; g < R; ++g) acc[b2 + g] += value(p[R + g]);
    }
  }
  // The other masks one by one, each walking L trees at a time; leaves added in tree order.
  for (std::size_t u = grouped; u < n; ++u) {
    for (std::size_t t0 = tree_begin; t0 < tree_end; t0 += L) {
      const std::size_t trees = std::min(L, tree_end - t0);
      const unsigned char* p[L];
      int steps = 0;
      for (std::size_t g = 0; g < L; ++g) {
        const std::size_t t = t0 + std::min(g, trees - 1);  // past the end: a repeat, ignored
        p[g] = base + std::size_t{tree_hop_[t]} * 8;
        steps = std::max<int>(steps, tree_hop_steps_[t]);
      }
      for (int s = 0; s < steps; ++s) hop_step<L, 1>(p, masks + u);
      for (std::size_t g = 0; g < trees; ++g) acc[u] += value(p[g]);
    }
  }
}
#else
void FlatForest::walk_blocks(const std::uint64_t*, std::size_t, std::size_t, std::size_t, float*) const {}
void FlatForest::walk_hops(const std::uint64_t*, std::size_t, std::size_t, std::size_t, float*) const {}
#endif

std::size_t FlatForest::tree_end_of(int rounds) const {
  return rounds <= 0 || static_cast<std::size_t>(rounds) * trees_per_round_ >= trees()
             ? trees()
             : static_cast<std::size_t>(rounds) * trees_per_round_;
}

void FlatForest::predict_margin(const double* X, std::size_t rows, float* out, int rounds,
                                int max_threads) const {
  margins_at(X, rows, {tree_end_of(rounds)}, {out}, max_threads);
}

void FlatForest::margins_at(const double* X, std::size_t rows, const std::vector<std::size_t>& cuts,
                            const std::vector<float*>& outs, int max_threads) const {
  if (cuts.empty()) return;
  const std::size_t tree_end = cuts.back();
#if defined(__x86_64__) && defined(__GNUC__)
  const bool by_blocks = masks_ && have_bmi2() && !blocks_.empty() && walk_ == Walk::Auto;
  const bool by_hops = masks_ && have_bmi2() && !hops_.empty() && walk_ == Walk::Auto;
#else
  const bool by_blocks = false, by_hops = false;
#endif
  // A second thread for batches of a few milliseconds of work and more: waking an idle core can take
  // a millisecond (in a virtual machine), and a batch that may be helped is walked in several passes
  // over the trees instead of one. Rows x levels take about 0.1 ns by blocks or hops, 1 ns and more
  // one level per step or with bins.
  std::size_t levels = 0;
  for (std::size_t t = 0; t < tree_end; ++t) levels += tree_depth_[t];
  const bool helper = max_threads > 1 && rows * levels >= (by_blocks || by_hops ? 16000000 : 2000000);
  LowLatencyBatch chunks(helper);
  constexpr std::size_t kChunk = 128;  // rows (a multiple of kRows and kMaskRows)

  if (masks_) {
    std::vector<std::uint64_t> mask(rows);
    mask_rows(X, rows, mask.data());
    // Rows sorted by mask (the most met tests are the high bits: rows walking together take similar
    // paths); rows with the same mask end in the same leaves, so each mask walks once.
    const std::vector<std::uint32_t> order = order_by(mask);
    std::vector<std::uint64_t> uniq;
    std::vector<std::uint32_t> slot(rows);
    uniq.reserve(rows);
    for (std::size_t i = 0; i < rows; ++i) {
      if (uniq.empty() || uniq.back() != mask[order[i]]) uniq.push_back(mask[order[i]]);
      slot[i] = static_cast<std::uint32_t>(uniq.size() - 1);
    }
    const std::size_t u = uniq.size();
    std::vector<float> acc(u, base_margin_);
    // Each cut but the last gets a copy of the sums when its trees are done (the trees are added
    // in the same order either way, so every cut's margins are those of a walk that stops there).
    std::vector<float> snap(u * (cuts.size() - 1));
    chunks.run(u, kChunk, [&](std::size_t b, std::size_t e) {
      std::size_t begin = 0;
      for (std::size_t c = 0; c < cuts.size(); ++c) {
        if (by_blocks)
          walk_blocks(uniq.data() + b, e - b, begin, cuts[c], acc.data() + b);
        else if (by_hops)
          walk_hops(uniq.data() + b, e - b, begin, cuts[c], acc.data() + b);
        else
          walk_masks(uniq.data() + b, e - b, begin, cuts[c], acc.data() + b);
        if (c + 1 < cuts.size()) std::copy(acc.begin() + b, acc.begin() + e, snap.begin() + c * u + b);
        begin = cuts[c];
      }
    });
    for (std::size_t c = 0; c < cuts.size(); ++c) {
      const float* m = c + 1 < cuts.size() ? snap.data() + c * u : acc.data();
      for (std::size_t i = 0; i < rows; ++i) outs[c][order[i]] = m[slot[i]];
    }
    return;
  }
  // Bins: one pass per cut (a batch of chunks runs once: each later pass gets its own).
  auto bins = [&](std::size_t c, LowLatencyBatch& ch) {
    if (wide_bins_)
      margins_bins<std::uint16_t>(X, rows, cuts[c], ch, outs[c]);
    else
      margins_bins<std::uint8_t>(X, rows, cuts[c], ch, outs[c]);
  };
  bins(0, chunks);
  for (std::size_t c = 1; c < cuts.size(); ++c) {
    LowLatencyBatch more(helper);
    bins(c, more);
  }
}

void FlatForest::check_columns(const Matrix& X) const {
  if (X.cols != n_features_)
    throw std::invalid_argument("FlatForest: " + std::to_string(X.cols) + " columns for a model of " +
                                std::to_string(n_features_) + " features");
}

// XGBoost's common::Sigmoid, in float.
void FlatForest::to_proba(const float* margin, std::size_t rows, double* out) {
  for (std::size_t r = 0; r < rows; ++r) out[r] = 1.0f / (1.0f + std::exp(-margin[r]));
}

std::vector<std::vector<double>> FlatForest::predict_proba_staged(const Matrix& X,
                                                                  const std::vector<int>& rounds,
                                                                  int max_threads) const {
  check_columns(X);
  std::vector<std::size_t> cuts;
  for (int r : rounds) {
    if (r < 1 || r > this->rounds())
      throw std::invalid_argument("FlatForest: no round count " + std::to_string(r));
    cuts.push_back(tree_end_of(r));
    if (cuts.size() > 1 && cuts.back() <= cuts[cuts.size() - 2])
      throw std::invalid_argument("FlatForest: round counts must ascend");
  }
  std::vector<std::vector<float>> margin(cuts.size(), std::vector<float>(X.rows));
  std::vector<float*> outs;
  for (auto& m : margin) outs.push_back(m.data());
  margins_at(X.data.data(), X.rows, cuts, outs, max_threads);
  std::vector<std::vector<double>> out(cuts.size(), std::vector<double>(X.rows));
  for (std::size_t c = 0; c < cuts.size(); ++c) to_proba(margin[c].data(), X.rows, out[c].data());
  return out;
}

template <class Bin>
void FlatForest::margins_bins(const double* X, std::size_t rows, std::size_t tree_end,
                              LowLatencyBatch& chunks, float* out) const {
  const std::size_t nf = n_features_;
  std::vector<Bin> bins(rows * nf);
  std::vector<std::uint8_t> missing(rows);
  for (std::size_t r = 0; r < rows; ++r) missing[r] = bin_row(X + r * nf, bins.data() + r * nf);
  // Rows sorted by their bins of the most met features.
  std::vector<std::uint64_t> key(rows);
  constexpr std::size_t kBits = sizeof(Bin) * 8;
  const std::size_t n_key = std::min(sort_features_.size(), 64 / kBits);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n_key; ++j) key[r] = (key[r] << kBits) | bins[r * nf + sort_features_[j]];
  const std::vector<std::uint32_t> order = order_by(key);
  const std::size_t groups = rows / kRows, grouped = groups * kRows;
  std::vector<Bin> xs(grouped * nf);  // each group's bins interleaved: feature f of row g at f * kRows + g
  std::vector<std::uint8_t> group_missing(groups, 0);
  for (std::size_t k = 0; k < groups; ++k)
    for (std::size_t g = 0; g < kRows; ++g) {
      const std::size_t r = order[k * kRows + g];
      for (std::size_t f = 0; f < nf; ++f) xs[(k * nf + f) * kRows + g] = bins[r * nf + f];
      group_missing[k] |= missing[r];
    }
  std::vector<float> acc(grouped, base_margin_);
  constexpr std::size_t kChunkGroups = 16;
  chunks.run(groups, kChunkGroups, [&](std::size_t b, std::size_t e) {
    walk_bins(xs.data() + b * kRows * nf, group_missing.data() + b, e - b, tree_end, acc.data() + b * kRows);
  });
  for (std::size_t i = 0; i < grouped; ++i) out[order[i]] = acc[i];
  // The other rows one by one, each walking kTrees trees at a time.
  const Node* nodes = nodes_.data();
  const std::uint8_t* dl = default_left_.data();
  for (std::size_t i = grouped; i < rows; ++i) {
    const std::size_t r = order[i];
    const Bin* x = bins.data() + r * nf;
    auto run = [&](auto next) {
      return walk_trees(value_.data(), tree_root_.data(), tree_depth_.data(), tree_end, base_margin_, next);
    };
    if (missing[r])
      out[r] = run([&](std::uint32_t j) {
        return nodes[j].left + bin_right<Bin, true>(nodes, dl, j, x[nodes[j].test]);
      });
    else
      out[r] = run([&](std::uint32_t j) {
        return nodes[j].left + bin_right<Bin, false>(nodes, dl, j, x[nodes[j].test]);
      });
  }
}

void FlatForest::predict_proba(const double* X, std::size_t rows, double* out, int rounds,
                               int max_threads) const {
  std::vector<float> margin(rows);
  predict_margin(X, rows, margin.data(), rounds, max_threads);
  to_proba(margin.data(), rows, out);
}

std::vector<double> FlatForest::predict_proba(const Matrix& X, int rounds, int max_threads) const {
  check_columns(X);
  std::vector<double> out(X.rows);
  predict_proba(X.data.data(), X.rows, out.data(), rounds, max_threads);
  return out;
}

double FlatForest::path_steps() const {
  double steps = 0.0;
  for (const auto d : tree_depth_) steps += d + 1.0;
  return steps;
}

Matrix FlatForest::attributions(const Matrix& X) const {
  if (!has_attributions())
    throw std::logic_error("FlatForest: this model has no node covers to attribute with");
  check_columns(X);
  const std::size_t F = n_features_;
  Matrix out(X.rows, F + 1, 0.0);
  // Tree after tree, each walked by every row of the range while it is in cache.
  auto rows = [&](std::size_t begin, std::size_t end) {
    const std::size_t n = end - begin;
    std::vector<float> total(n * (F + 1), 0.0f), x(n * F);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < F; ++c) x[r * F + c] = static_cast<float>(X(begin + r, c));
    // With few features a tree's shares are added to the row's as a whole (zeros included, which
    // adds nothing), with many only those the path touched.
    const bool dense = F <= 64;
    // Rows walk a tree kG at a time in lock step, so that their dependent loads overlap, with
    // branch-free steps (a row's direction is a coin toss to the branch predictor); each keeps its
    // own shares of the tree (tree[g * F + f]).
    constexpr std::size_t kG = 8;
    std::vector<float> tree(kG * F, 0.0f);
    std::vector<std::uint32_t> touched;
    for (const std::uint32_t root : tree_root_) {
      const float root_mean = path_[root].mean;
      for (std::size_t r0 = 0; r0 < n; r0 += kG) {
        const std::size_t g_n = std::min(kG, n - r0);
        std::uint32_t node[kG];
        float value[kG];
        for (std::size_t g = 0; g < g_n; ++g) {
          node[g] = root;
          value[g] = root_mean;
        }
        touched.clear();
        for (bool walking = path_[root].feature >= 0; walking;) {
          walking = false;
          for (std::size_t g = 0; g < g_n; ++g) {
            const PathNode& p = path_[node[g]];
            if (p.feature < 0) continue;
            const auto f = static_cast<std::uint32_t>(p.feature);
            const float v = x[(r0 + g) * F + f];
            const bool left = (v < p.threshold) | (std::isnan(v) & (p.default_left != 0));
            node[g] = p.left + static_cast<std::uint32_t>(!left);
            const float next = path_[node[g]].mean;
            float& share = tree[g * F + f];
            if (!dense && share == 0.0f) touched.push_back(static_cast<std::uint32_t>(g * F + f));
            share += next - value[g];
            value[g] = next;
            walking = true;
          }
        }
        // As XGBoost: a tree's shares are summed apart, then added to the row's.
        for (std::size_t g = 0; g < g_n; ++g) total[(r0 + g) * (F + 1) + F] += root_mean;
        if (dense) {
          for (std::size_t g = 0; g < g_n; ++g) {
            float* tr = &total[(r0 + g) * (F + 1)];
            float* tg = &tree[g * F];
            for (std::size_t f = 0; f < F; ++f) {
              tr[f] += tg[f];
              tg[f] = 0.0f;
            }
          }
        } else {
          for (const std::uint32_t k : touched) {
            total[(r0 + k / F) * (F + 1) + k % F] += tree[k];
            tree[k] = 0.0f;
          }
        }
      }
    }
    for (std::size_t r = 0; r < n; ++r) {
      float* tr = &total[r * (F + 1)];
      tr[F] += base_margin_;
      for (std::size_t c = 0; c <= F; ++c) out(begin + r, c) = tr[c];
    }
  };
  // A large batch (an upload explained row by row) is shared with the helper thread, in chunks.
  constexpr std::size_t kSplitRowsTrees = 1u << 16;  // rows x trees: ~2 ms of walking
  LowLatencyBatch chunks(X.rows * tree_root_.size() >= kSplitRowsTrees);
  chunks.run(X.rows, 128, rows);
  return out;
}

}  // namespace netsentry::xgb
