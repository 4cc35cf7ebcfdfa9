#pragma once
// FlatForest: a compact evaluator for a fitted XGBoost tree ensemble (gbtree boosters: gradient
// boosting, random-forest mode, a single tree) with the logistic objective, built from the model's
// JSON document. XGBoost's own CPU predictor walks one row through one tree at a time through a
// general feature-vector abstraction (~20 ns per tree and row). Here:
//   * the trees live in flat arrays of 8-byte nodes (the two children of a node side by side, a
//     leaf looping to itself);
//   * a split's test is precomputed per row: when the forest has at most 63 distinct tests
//     (feature, threshold, default direction) -- low-cardinality data such as the UCI phishing
//     features in {-1, 0, 1} -- each row becomes one 64-bit mask of test outcomes and a step is a
//     shift; otherwise each value becomes a small bin number (the count of the feature's
//     thresholds <= x) and a split compares bins. Either way exactly x < threshold;
//   * groups of rows walk one tree in lock step (their dependent loads overlap), tree after tree,
//     so that a tree stays in cache while every row of the batch passes through it; rows are
//     sorted first so that rows walking together take similar paths and finish together. A single
//     row walks several trees in lock step instead.
//
// Semantics are XGBoost 1.7's exactly: inputs are converted to float; a row goes left when
// x < split_condition (float compare); a missing value (NaN) follows the node's default direction;
// margin = base margin (the logit of learner_model_param.base_score, in float) + the leaf values of
// the trees, added in tree order in float; probability = the float sigmoid of the margin.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netsentry/core/matrix.hpp"

namespace netsentry {
class LowLatencyBatch;  // a batch shared by two threads (core/parallel.hpp)
}  // namespace netsentry

namespace netsentry::xgb {

class FlatForest {
 public:
  // From XGBoost's JSON model document (XGBoosterSaveModelToBuffer with {"format":"json"}, or a
  // saved .json model), or the same document in XGBoost's UBJSON form ({"format":"ubj"}: the same
  // content, several times faster to write and read). nullopt, with the reason in `why`, for what
  // this evaluator does not cover: gblinear or dart boosters, objectives other than
  // binary:logistic / reg:logistic, several classes or targets, categorical splits, vector leaves.
  static std::optional<FlatForest> from_json(std::string_view model_json, std::string* why = nullptr);
  static std::optional<FlatForest> from_ubjson(std::string_view model_ubj, std::string* why = nullptr);

  std::size_t features() const { return n_features_; }
  std::size_t trees() const { return tree_root_.size(); }
  std::size_t nodes() const { return value_.size(); }
  std::size_t trees_per_round() const { return trees_per_round_; }
  int rounds() const { return static_cast<int>(trees() / trees_per_round_); }
  float base_margin() const { return base_margin_; }

  // P(class 1) for `rows` rows of `features()` doubles each (row-major) into `out`, using the trees
  // of the first `rounds` boosting rounds (0, or at least rounds(): all of them). Large batches are
  // split over up to `max_threads` threads (the caller's and one more).
  void predict_proba(const double* X, std::size_t rows, double* out, int rounds = 0,
                     int max_threads = 2) const;
  std::vector<double> predict_proba(const Matrix& X, int rounds = 0, int max_threads = 2) const;
  // Probabilities of several models at once: out[i] uses the trees of the first rounds[i] rounds
  // (ascending, each in 1..rounds()), exactly as predict_proba(X, rounds[i]), from one pass over the
  // trees (with masks; binned rows take a pass per entry).
  std::vector<std::vector<double>> predict_proba_staged(const Matrix& X, const std::vector<int>& rounds,
                                                        int max_threads = 2) const;
  // The margins (log-odds of class 1) instead of probabilities.
  void predict_margin(const double* X, std::size_t rows, float* out, int rounds = 0,
                      int max_threads = 2) const;

  // With masks, where the processor has BMI2, shallow forests are walked by blocks of three levels,
  // deep ones by hops of several levels; elsewhere one level per step. set_walk(Walk::Levels) walks
  // every forest one level per step (tests and benchmarks: the walks give the same margins).
  enum class Walk { Auto, Levels };
  void set_walk(Walk w) { walk_ = w; }
  bool has_blocks() const { return !blocks_.empty(); }
  bool has_hops() const { return !hops_.empty(); }

  // Path attributions (Saabas; XGBoost's approximate contributions, pred_contribs with
  // approx_contribs): each row walks each tree once, and every split on its path adds to its
  // feature's share the change of the subtree mean value (mean leaf value weighted by cover) from
  // the node to the child the row goes to; the root means and the base margin make the bias. Per
  // row the shares add up to the margin. O(trees x depth) per row, where exact SHAP (XGBoost's
  // TreeSHAP) is O(trees x leaves x depth^2): for a deep random forest microseconds instead of tens
  // of milliseconds. Needs each node's cover (sum_hessian in the model document).
  bool has_attributions() const { return !path_.empty(); }
  // rows x (features() + 1), in log-odds, the last column the bias; the same numbers as XGBoost's
  // approximate contributions (float arithmetic in XGBoost's order). Throws std::logic_error
  // without attributions, std::invalid_argument when X has not features() columns.
  Matrix attributions(const Matrix& X) const;

  // The structure that the cost of explaining one row follows (a cost model, never a timer: the
  // same forest always gives the same numbers). shap_steps: XGBoost's TreeSHAP visits every node of
  // every tree, extending its path at each (depth + 1 steps) and unwinding it for each feature on it
  // at each leaf ((depth + 1)^2 steps). path_steps: path attributions walk each tree once from the
  // root to a leaf (at most the tree's depth + 1 nodes).
  double shap_steps() const { return shap_steps_; }
  double path_steps() const;

  // How rows are evaluated: "masks", "bins8" or "bins16" (see above).
  const char* mode() const { return masks_ ? "masks" : wide_bins_ ? "bins16" : "bins8"; }

  // A split sends a row to left + 1 ("right") when the row's test outcome is true: bit `test` of
  // the row's mask, or, with bins, bin(x[test]) >= bin (a missing value: not default_left). A leaf
  // always goes "right" (mask bit 63 is always set; bin 0) and has left = its own index - 1, so it
  // loops to itself: rows that reached a leaf stay there while the others walk on.
  // With masks a node is one word instead, left << 6 | test.
  struct Node {
    std::uint16_t test;
    std::uint16_t bin;
    std::uint32_t left;
  };
  // A node for path attributions (a leaf: feature -1, mean = its value).
  struct PathNode {
    std::int32_t feature;
    float threshold;
    std::uint32_t left;  // the right child is left + 1
    float mean;
    std::uint8_t default_left;
  };

 private:
  friend class ModelReader;
  FlatForest() = default;
  template <class Bin>
  void margins_bins(const double* X, std::size_t rows, std::size_t tree_end, LowLatencyBatch& chunks,
                    float* out) const;
  // Throws std::invalid_argument when X has not features() columns.
  void check_columns(const Matrix& X) const;
  // Probabilities from margins (XGBoost's float sigmoid).
  static void to_proba(const float* margin, std::size_t rows, double* out);
  // The number of trees in the first `rounds` rounds (0: all).
  std::size_t tree_end_of(int rounds) const;
  // Margins with the trees [0, cuts[i]) into outs[i], cuts ascending.
  void margins_at(const double* X, std::size_t rows, const std::vector<std::size_t>& cuts,
                  const std::vector<float*>& outs, int max_threads) const;
  // Adds the leaf values of trees [tree_begin, tree_end) to acc[] for n masks (in tree order); walk_bins
  // the trees [0, tree_end) for `groups` groups of binned rows.
  void walk_masks(const std::uint64_t* masks, std::size_t n, std::size_t tree_begin, std::size_t tree_end,
                  float* acc) const;
  void walk_blocks(const std::uint64_t* masks, std::size_t n, std::size_t tree_begin, std::size_t tree_end,
                   float* acc) const;
  void walk_hops(const std::uint64_t* masks, std::size_t n, std::size_t tree_begin, std::size_t tree_end,
                 float* acc) const;
  template <class Bin>
  void walk_bins(const Bin* xs, const std::uint8_t* group_missing, std::size_t groups, std::size_t tree_end,
                 float* acc) const;
  template <class Bin>
  bool bin_row(const double* x, Bin* dst) const;
  std::uint64_t mask_row(const double* x) const;
  // The masks of `rows` rows (with AVX-512, 16 tests at once, when there are at most 32 features).
  void mask_rows(const double* X, std::size_t rows, std::uint64_t* out) const;

  std::vector<Node> nodes_;                 // bins
  std::vector<std::uint32_t> words_;        // masks: per node, left << 6 | test
  std::vector<float> value_;                // per node: the leaf value (0 for a split)
  std::vector<PathNode> path_;              // per node, for attributions (empty: none)
  std::vector<std::uint8_t> default_left_;  // per node: a missing value goes left (bins)
  std::vector<std::uint32_t> tree_root_;    // per tree: the index of its root in nodes_
  std::vector<std::uint8_t> tree_depth_;    // per tree: the longest root-to-leaf path (splits)
  // Masks: test j (bit j of a row's mask) is "x[test_feature_[j]] >= test_threshold_[j]", or
  // test_missing_[j] when x is missing. Bits are given by how often rows meet the test (splits
  // weighted by 2^-depth), most often = bit 62, so that rows sorted by mask take similar paths.
  bool masks_ = false;
  // Masks, with BMI2 (pext): blocks of up to three levels. A block is a node at depth 0, 3, 6, ...
  // below its tree's root (its splits down to three levels use at most 7 distinct tests) or a leaf;
  // from block b a row moves to block_table_[b.table + pext(mask, b.tests)], three levels at once.
  // A leaf block has no tests and one entry, itself.
  struct Block {
    std::uint64_t tests;  // the mask bits of the block's splits
    std::uint32_t table;  // where its table starts in block_table_
    float value;          // a leaf's value
  };
  std::vector<Block> blocks_;
  std::vector<std::uint32_t> block_table_;
  std::vector<std::uint32_t> tree_block_;  // per tree: its root's block
  // Masks, with BMI2, forests too deep for blocks: hops. A hop is a leaf or a node and as many of
  // the splits below it (the deepest subtrees first) as use at most a few distinct tests; hops are
  // laid out in hops_ tree by tree, breadth first: the word of the hop's tests, then its table of
  // 16-bit steps forward (in words, from the hop) to the hop where each combination of the outcomes
  // leads. From a hop at p a row moves to p + table[pext(mask, tests)], several levels at once, and
  // no base address is needed: where a row is, is all its state in a tree. A leaf: tests 0, one
  // entry, 0 (itself), then its value as a float.
  std::vector<std::uint64_t> hops_;
  std::vector<std::uint32_t> tree_hop_;       // per tree: its root's hop (a word in hops_)
  std::vector<std::uint8_t> tree_hop_steps_;  // per tree: the most hops from the root to a leaf
  Walk walk_ = Walk::Auto;
  std::vector<std::uint16_t> test_feature_;
  std::vector<float> test_threshold_;
  std::vector<std::uint8_t> test_missing_;
  // The same by mask bit (bit b: test 62 - b; unused bits: feature 0, threshold 0), for AVX-512:
  // bit_valid_ has the bits of the tests, bit_missing_ those that a missing value sets.
  std::vector<std::int32_t> bit_feature_;
  std::vector<float> bit_threshold_;
  std::uint64_t bit_valid_ = 0, bit_missing_ = 0;
  // Bins: per feature, its distinct thresholds, ascending, at cuts_[cut_begin_[f], cut_begin_[f + 1]).
  std::vector<float> cuts_;
  std::vector<std::uint32_t> cut_begin_;
  // Features by how often rows meet them, most first: rows are sorted by their bins in this order.
  std::vector<std::uint16_t> sort_features_;
  bool wide_bins_ = false;  // some feature has over 254 thresholds: 16-bit bins
  std::size_t n_features_ = 0;
  double shap_steps_ = 0.0;
  std::size_t trees_per_round_ = 1;
  float base_margin_ = 0.0f;
};

}  // namespace netsentry::xgb
