// FlatForest's model reader: XGBoost's model document (JSON or UBJSON) into the evaluator's layouts
// (nodes, masks or bins, blocks, hops, path attributions). The evaluation is flat_forest.cpp.
#include "netsentry/model/flat_forest.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <type_traits>

namespace netsentry::xgb {

// Reads XGBoost's model document event by event (nlohmann's SAX interface, text JSON or UBJSON):
// only the fields the evaluator needs are kept and no JSON tree is built (the arrays of a 256-tree
// forest hold millions of values). XGBoost writes object keys in sorted order, so the model
// parameters ("learner_model_param") come after the trees: everything is checked at the end.
class ModelReader {
 public:
  using json = nlohmann::json;

  // Node 0 is a leaf no tree uses: a leaf of a tree then never has index 0, so "its own index - 1"
  // never wraps around (a 26-bit `left` in a mask node word could not hold it).
  // `doc_bytes`: the document's size, which bounds what an array's declared length may reserve.
  explicit ModelReader(std::size_t doc_bytes)
      : max_reserve_(std::min<std::size_t>(doc_bytes, std::size_t{1} << 26)), budget_(doc_bytes + 64) {
    out_feature_.push_back(-1);
    out_threshold_.push_back(0.0f);
    out_left_.push_back(0);
    out_value_.push_back(0.0f);
    out_default_left_.push_back(0);
    out_depth_.push_back(0);
    out_hess_.push_back(1.0f);
  }

  bool null() { return spend(); }
  bool boolean(bool b) { return number(b ? 1.0 : 0.0); }
  bool number_integer(json::number_integer_t v) { return number(static_cast<double>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return number(static_cast<double>(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return number(v); }
  bool binary(json::binary_t&) { return spend(); }

  bool string(std::string& s) {
    if (!spend()) return false;
    if (stack_.empty()) return true;
    const Frame& f = stack_.back();
    if (f.field == Field::Name && f.ctx == Ctx::Objective)
      objective_ = s;
    else if (f.field == Field::Name && f.ctx == Ctx::Booster)
      booster_ = s;
    else if (is_param(f.ctx))
      return param(s);
    return true;
  }

  bool start_object(std::size_t) {
    Ctx c = Ctx::Ignore;
    if (stack_.empty()) {
      c = Ctx::Root;
    } else {
      const Frame& p = stack_.back();
      if (p.ctx == Ctx::Root && p.field == Field::Learner)
        c = Ctx::Learner;
      else if (p.ctx == Ctx::Learner && p.field == Field::ModelParam)
        c = Ctx::ModelParam;
      else if (p.ctx == Ctx::Learner && p.field == Field::Objective)
        c = Ctx::Objective;
      else if (p.ctx == Ctx::Learner && p.field == Field::Booster)
        c = Ctx::Booster;
      else if (p.ctx == Ctx::Booster && p.field == Field::Model)
        c = Ctx::GbModel;
      else if (p.ctx == Ctx::GbModel && p.field == Field::GbParam)
        c = Ctx::GbParam;
      else if (p.ctx == Ctx::Trees)
        c = Ctx::Tree;
      else if (p.ctx == Ctx::Tree && p.field == Field::TreeParam)
        c = Ctx::TreeParam;
    }
    if (c == Ctx::Tree) {
      left_.clear();
      right_.clear();
      feature_.clear();
      cond_.clear();
      dleft_.clear();
      hess_.clear();
    }
    return push({c, Field::None});
  }

  bool key(std::string& k) {
    // The keys kept, by the object they are found in.
    struct Known {
      Ctx ctx;
      std::string_view key;
      Field field;
    };
    static constexpr Known kKnown[] = {
        {Ctx::Root, "learner", Field::Learner},
        {Ctx::Learner, "learner_model_param", Field::ModelParam},
        {Ctx::Learner, "objective", Field::Objective},
        {Ctx::Learner, "gradient_booster", Field::Booster},
        {Ctx::ModelParam, "base_score", Field::BaseScore},
        {Ctx::ModelParam, "num_class", Field::NumClass},
        {Ctx::ModelParam, "num_feature", Field::NumFeature},
        {Ctx::ModelParam, "num_target", Field::NumTarget},
        {Ctx::Objective, "name", Field::Name},
        {Ctx::Booster, "name", Field::Name},
        {Ctx::Booster, "model", Field::Model},
        {Ctx::GbModel, "gbtree_model_param", Field::GbParam},
        {Ctx::GbModel, "tree_info", Field::TreeInfo},
        {Ctx::GbModel, "trees", Field::Trees},
        {Ctx::GbParam, "num_parallel_tree", Field::NumParallelTree},
        {Ctx::Tree, "left_children", Field::Left},
        {Ctx::Tree, "right_children", Field::Right},
        {Ctx::Tree, "split_indices", Field::Feature},
        {Ctx::Tree, "split_conditions", Field::Cond},
        {Ctx::Tree, "default_left", Field::DefaultLeft},
        {Ctx::Tree, "split_type", Field::SplitType},
        {Ctx::Tree, "sum_hessian", Field::Hess},
        {Ctx::Tree, "tree_param", Field::TreeParam},
        {Ctx::TreeParam, "size_leaf_vector", Field::SizeLeafVector},
    };
    Frame& f = stack_.back();
    f.field = Field::None;
    for (const Known& e : kKnown)
      if (e.ctx == f.ctx && e.key == k) {
        f.field = e.field;
        break;
      }
    return true;
  }

  bool end_object() {
    const bool tree = stack_.back().ctx == Ctx::Tree;
    stack_.pop_back();
    return tree ? finish_tree() : true;
  }

  bool start_array(std::size_t n) {
    Ctx c = Ctx::Ignore;
    Field field = Field::None;
    if (!stack_.empty()) {
      const Frame& p = stack_.back();
      if (p.ctx == Ctx::GbModel && p.field == Field::TreeInfo) {
        c = Ctx::TreeInfo;
      } else if (p.ctx == Ctx::GbModel && p.field == Field::Trees) {
        c = Ctx::Trees;
      } else if (p.ctx == Ctx::Tree && p.field != Field::None && p.field != Field::TreeParam) {
        c = Ctx::TreeArray;
        field = p.field;
        if (n != static_cast<std::size_t>(-1) && n <= max_reserve_) reserve(field, n);
      }
    }
    return push({c, field});
  }

  bool end_array() {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error_ = std::string("unreadable model: ") + e.what();
    return false;
  }

  // After a successful parse: the forest, or nullopt with the reason.
  std::optional<FlatForest> finish(std::string& why);
  void build_blocks(FlatForest& f);
  bool build_hops(FlatForest& f);
  void build_paths(FlatForest& f);
  const std::string& error() const { return error_; }

 private:
  enum class Ctx : std::uint8_t {
    Ignore,
    Root,
    Learner,
    ModelParam,
    Objective,
    Booster,
    GbModel,
    GbParam,
    TreeInfo,
    Trees,
    Tree,
    TreeParam,
    TreeArray
  };
  enum class Field : std::uint8_t {
    None,
    Learner,
    ModelParam,
    Objective,
    Booster,
    Name,
    Model,
    BaseScore,
    NumClass,
    NumFeature,
    NumTarget,
    GbParam,
    NumParallelTree,
    TreeInfo,
    Trees,
    TreeParam,
    SizeLeafVector,
    Left,
    Right,
    Feature,
    Cond,
    DefaultLeft,
    SplitType,
    Hess
  };
  struct Frame {
    Ctx ctx;
    Field field;
  };

  static bool is_param(Ctx c) { return c == Ctx::ModelParam || c == Ctx::GbParam || c == Ctx::TreeParam; }

  // fn(array) with the tree array that `f` fills; false when it fills none.
  template <class Fn>
  bool tree_array(Field f, const Fn& fn) {
    const auto visit = [&](Field g, auto& a) { return g == f && (fn(a), true); };
    return visit(Field::Left, left_) || visit(Field::Right, right_) || visit(Field::Feature, feature_) ||
           visit(Field::Cond, cond_) || visit(Field::DefaultLeft, dleft_) || visit(Field::Hess, hess_);
  }

  void reserve(Field f, std::size_t n) {
    tree_array(f, [n](auto& a) { a.reserve(n); });
  }

  // XGBoost writes model parameters as strings ("256", "5E-1").
  bool param(const std::string& s) {
    try {
      return number(std::stod(s));
    } catch (const std::exception&) {
      error_ = "a model parameter is not a number: " + s;
      return false;
    }
  }

  bool number(double v) {
    if (!spend()) return false;
    if (stack_.empty()) return true;
    const Frame& f = stack_.back();
    switch (f.ctx) {
      case Ctx::TreeArray:
        if (f.field == Field::SplitType) {
          categorical_ |= v != 0;
        } else {
          bool fits = true;
          tree_array(f.field, [v, &fits](auto& a) {  // each value as its array's type (default_left: 0 or 1)
            using T = typename std::decay_t<decltype(a)>::value_type;
            if constexpr (std::is_same_v<T, std::uint8_t>) {
              a.push_back(v != 0);
            } else {
              // A value its type cannot hold (an index of 1e90, a threshold beyond float) is refused:
              // converting it would be undefined.
              using L = std::numeric_limits<T>;
              fits = std::is_integral_v<T>
                         ? v >= static_cast<double>(L::lowest()) && v <= static_cast<double>(L::max())
                         : !(std::abs(v) > static_cast<double>(L::max())) || std::isinf(v);
              if (fits) a.push_back(static_cast<T>(v));
            }
          });
          if (!fits) {
            error_ = "a tree value out of its type's range: " + std::to_string(v);
            return false;
          }
        }
        break;
      case Ctx::TreeInfo:
        several_groups_ |= v != 0;
        break;
      case Ctx::ModelParam:
        if (f.field == Field::BaseScore)
          base_score_ = v;
        else if (f.field == Field::NumClass)
          num_class_ = v;
        else if (f.field == Field::NumFeature)
          num_feature_ = v;
        else if (f.field == Field::NumTarget)
          num_target_ = v;
        break;
      case Ctx::GbParam:
        if (f.field == Field::NumParallelTree) num_parallel_tree_ = v;
        break;
      case Ctx::TreeParam:
        if (f.field == Field::SizeLeafVector) vector_leaves_ |= v > 1;
        break;
      default:
        break;
    }
    return true;
  }

  // The tree just read, laid out breadth first from the root so that the two children of a node are
  // neighbours. Nodes that the root does not reach (deleted by pruning) are left out.
  bool finish_tree() {
    if (categorical_) {  // a categorical split's condition is a category set, not a threshold
      error_ = "categorical splits";
      return false;
    }
    const std::size_t n = left_.size();
    if (n == 0 || right_.size() != n || feature_.size() != n || cond_.size() != n || dleft_.size() != n) {
      error_ = "a malformed tree (arrays of different lengths)";
      return false;
    }
    if (out_feature_.size() + n >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
      error_ = "too many nodes";
      return false;
    }
    const auto root = static_cast<std::uint32_t>(out_feature_.size());
    // Each node's cover (sum of hessians) weighs its subtree's mean value in path attributions;
    // without it (not in every document) the forest still predicts but does not attribute.
    with_hess_ = with_hess_ && hess_.size() == n;
    queue_.assign(1, 0);
    depth_.assign(1, 0);
    int max_depth = 0;
    for (std::size_t q = 0; q < queue_.size(); ++q) {
      const std::int32_t old = queue_[q];
      const std::uint32_t self = root + static_cast<std::uint32_t>(q);
      max_depth = std::max(max_depth, depth_[q]);
      const double level = depth_[q] + 1.0;
      shap_steps_ += level;            // TreeSHAP extends its path at every node...
      if (left_[old] < 0) {            // a leaf
        shap_steps_ += level * level;  // ...and unwinds it for every feature on it at every leaf
        out_feature_.push_back(-1);
        out_threshold_.push_back(0.0f);
        out_left_.push_back(self - 1);  // self >= 1: node 0 is the unused leaf
        out_value_.push_back(cond_[old]);
        out_default_left_.push_back(0);
        out_depth_.push_back(static_cast<std::uint8_t>(depth_[q]));
        out_hess_.push_back(with_hess_ ? hess_[old] : 0.0f);
        continue;
      }
      const std::int32_t l = left_[old], r = right_[old];
      if (l <= 0 || r <= 0 || static_cast<std::size_t>(l) >= n || static_cast<std::size_t>(r) >= n ||
          feature_[old] < 0 || feature_[old] > 65535 || std::isnan(cond_[old]) || queue_.size() > n) {
        error_ = "a malformed tree";
        return false;
      }
      if (depth_[q] >= 255) {
        error_ = "a tree deeper than 255";
        return false;
      }
      out_feature_.push_back(static_cast<std::int32_t>(feature_[old]));
      out_threshold_.push_back(cond_[old]);
      out_left_.push_back(root + static_cast<std::uint32_t>(queue_.size()));
      out_value_.push_back(0.0f);
      out_default_left_.push_back(dleft_[old]);
      out_depth_.push_back(static_cast<std::uint8_t>(depth_[q]));
      out_hess_.push_back(with_hess_ ? hess_[old] : 0.0f);
      queue_.push_back(l);
      queue_.push_back(r);
      depth_.push_back(depth_[q] + 1);
      depth_.push_back(depth_[q] + 1);
    }
    tree_root_.push_back(root);
    tree_depth_.push_back(static_cast<std::uint8_t>(max_depth));
    return true;
  }

  std::vector<Frame> stack_;
  std::size_t max_reserve_;  // no array holds more values than the document has bytes
  // XGBoost's documents nest a few levels; a deeper one is refused before nlohmann's binary reader,
  // which recurses on nesting, runs out of stack.
  static constexpr std::size_t kMaxDepth = 64;
  // A value read; false once a document has produced more values than it has bytes (UBJSON's
  // optimized arrays of payload-free values, [$Z#L<2^60>, would otherwise produce them without end).
  std::size_t budget_;
  bool spend() {
    if (budget_ > 0) {
      --budget_;
      return true;
    }
    error_ = "more values than its size allows";
    return false;
  }
  bool push(Frame f) {
    if (!spend()) return false;
    if (stack_.size() >= kMaxDepth) {
      error_ = "nested more than " + std::to_string(kMaxDepth) + " levels deep";
      return false;
    }
    stack_.push_back(f);
    return true;
  }
  std::string error_;
  // The tree being read.
  std::vector<std::int32_t> left_, right_;
  std::vector<std::int64_t> feature_;
  std::vector<float> cond_;
  std::vector<std::uint8_t> dleft_;
  std::vector<float> hess_;
  std::vector<std::int32_t> queue_;
  std::vector<int> depth_;
  // Every tree read so far, in the evaluator's node order.
  std::vector<std::int32_t> out_feature_;  // -1: a leaf
  std::vector<std::uint32_t> out_left_;
  std::vector<float> out_threshold_, out_value_;
  std::vector<std::uint8_t> out_default_left_, out_depth_;
  std::vector<float> out_hess_;
  bool with_hess_ = true;  // every tree so far had its sum_hessian
  std::vector<std::uint32_t> tree_root_;
  std::vector<std::uint8_t> tree_depth_;
  double shap_steps_ = 0.0;  // FlatForest::shap_steps
  // Model parameters.
  std::string objective_, booster_;
  double base_score_ = std::numeric_limits<double>::quiet_NaN();
  double num_class_ = 0, num_feature_ = -1, num_target_ = 1, num_parallel_tree_ = 1;
  bool several_groups_ = false, categorical_ = false, vector_leaves_ = false;
};

// The blocks of every tree (masks): breadth first from the root, a block per node at a depth that is
// a multiple of 3 below it and per leaf, each with the table of where its tests' outcomes lead.
// Path attributions: per node its feature, threshold and left child, and its subtree's mean value
// (XGBoost's FillNodeMeanValues: a leaf's value; a split's, the mean of its children weighted by
// their covers, in float). Children come after their parent, so one backward pass computes them.
void ModelReader::build_paths(FlatForest& f) {
  const std::size_t n = out_feature_.size();
  if (!with_hess_ || out_hess_.size() != n) return;
  std::vector<FlatForest::PathNode> path(n);
  path[0].feature = -1;  // the unused leaf
  for (std::size_t i = n; i-- > 1;) {
    FlatForest::PathNode& p = path[i];
    p.feature = out_feature_[i];
    p.threshold = out_threshold_[i];
    p.left = out_left_[i];
    p.default_left = out_default_left_[i];
    if (p.feature < 0) {
      p.mean = out_value_[i];
      continue;
    }
    const std::uint32_t l = p.left, r = p.left + 1;
    if (!(out_hess_[i] > 0.0f)) return;  // a split without cover: no mean to attribute with
    float mean = path[l].mean * out_hess_[l];
    mean += path[r].mean * out_hess_[r];
    p.mean = mean / out_hess_[i];
  }
  f.path_ = std::move(path);
}

void ModelReader::build_blocks(FlatForest& f) {
  constexpr int kLevels = 3;
  const auto& nodes = f.nodes_;
  std::vector<std::int32_t> block_of(nodes.size(), -1);
  std::vector<std::uint32_t> queue, bits;
  f.blocks_.reserve(nodes.size() / 2);
  for (std::size_t t = 0; t < tree_root_.size(); ++t) {  // (moved into f at the end of finish)
    queue.clear();
    auto block = [&](std::uint32_t node) {
      if (block_of[node] < 0) {
        block_of[node] = static_cast<std::int32_t>(f.blocks_.size());
        f.blocks_.push_back({});
        queue.push_back(node);
      }
      return static_cast<std::uint32_t>(block_of[node]);
    };
    f.tree_block_.push_back(block(tree_root_[t]));
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const std::uint32_t root = queue[q];
      const std::uint32_t id = static_cast<std::uint32_t>(block_of[root]);
      const auto table = static_cast<std::uint32_t>(f.block_table_.size());
      if (out_feature_[root] < 0) {  // a leaf
        f.blocks_[id] = {0, table, out_value_[root]};
        f.block_table_.push_back(id);
        continue;
      }
      // The tests of the splits down to kLevels levels, and where each combination of their
      // outcomes leads (bit j of the table index: the outcome of the j-th lowest test bit).
      std::uint64_t tests = 0;
      std::vector<std::uint32_t> level{root}, next;
      for (int d = 0; d < kLevels; ++d, level.swap(next)) {
        next.clear();
        for (std::uint32_t n : level)
          if (out_feature_[n] >= 0) {
            tests |= std::uint64_t{1} << nodes[n].test;
            next.push_back(nodes[n].left);
            next.push_back(nodes[n].left + 1);
          }
      }
      bits.clear();
      for (unsigned b = 0; b < 64; ++b)
        if (tests >> b & 1) bits.push_back(b);
      f.blocks_[id] = {tests, table, 0.0f};
      const std::size_t entries = std::size_t{1} << bits.size();
      f.block_table_.resize(table + entries);
      for (std::size_t c = 0; c < entries; ++c) {
        std::uint32_t n = root;
        for (int d = 0; d < kLevels && out_feature_[n] >= 0; ++d) {
          const auto j = static_cast<std::size_t>(std::lower_bound(bits.begin(), bits.end(), nodes[n].test) -
                                                  bits.begin());
          n = nodes[n].left + static_cast<std::uint32_t>(c >> j & 1);
        }
        const std::uint32_t target = block(n);
        f.block_table_[table + c] = target;
      }
    }
  }
}

// The hops of every tree (masks): breadth first from the root, a hop per leaf and per node that
// another hop leads to. A hop takes in the splits below its node, the deepest subtrees first, while
// they use at most kHopTests distinct tests (kRootTests at the root). False (and nothing built) when
// a step forward does not fit in 16 bits.
bool ModelReader::build_hops(FlatForest& f) {
  // Up to 5 tests (tables of 32 entries): the trees of a random forest to depth 20 in 6 hops at most,
  // about 5.4 on average (3 MB for 256 trees). More tests gain little for much larger tables (8:
  // 5 hops, 5.7 MB); 2 (pairs of levels) take 10 hops, 1.4 times as long.
  constexpr std::size_t kHopTests = 5;
  // Every row passes the root: a larger table there (256 entries) shortens many paths by a hop (5.0
  // hops on average instead of 5.4) for 100 KB more on 256 trees (6 % faster).
  constexpr std::size_t kRootTests = 8;
  constexpr std::size_t kLeafWords = 2;  // tests 0; the entry 0 and the value
  const auto& nodes = f.nodes_;
  const std::size_t n_nodes = nodes.size();
  // The height of every node's subtree (children come after their parent).
  std::vector<std::uint8_t> height(n_nodes, 0);
  for (std::size_t i = n_nodes; i-- > 1;)
    if (out_feature_[i] >= 0)
      height[i] = static_cast<std::uint8_t>(1 + std::max(height[nodes[i].left], height[nodes[i].left + 1]));
  std::vector<std::uint64_t> out;
  std::vector<std::uint32_t> tree_hop;
  std::vector<std::uint8_t> tree_steps;
  std::vector<std::int32_t> hop_of(n_nodes, -1);
  std::vector<std::uint8_t> inside(n_nodes, 0);  // a split of the hop being laid out
  std::vector<std::uint32_t> queue, at, bits, frontier, taken;
  std::vector<std::uint64_t> hop_tests;
  std::vector<std::vector<std::uint32_t>> exits;  // per hop: where each combination of outcomes leads
  // The splits of the hop at `root` (into `taken`) and its tests, at most `cap` of them.
  auto take = [&](std::uint32_t root, std::size_t cap) {
    taken.assign(1, root);
    frontier.clear();
    std::uint64_t tests = std::uint64_t{1} << nodes[root].test;
    for (std::size_t k = 0; k < taken.size(); ++k) {
      for (std::uint32_t c : {nodes[taken[k]].left, nodes[taken[k]].left + 1})
        if (out_feature_[c] >= 0) frontier.push_back(c);
      // The deepest subtree next, if its test fits.
      while (!frontier.empty()) {
        auto it = std::max_element(frontier.begin(), frontier.end(),
                                   [&](std::uint32_t a, std::uint32_t b) { return height[a] < height[b]; });
        const std::uint32_t c = *it;
        frontier.erase(it);
        const std::uint64_t more = tests | std::uint64_t{1} << nodes[c].test;
        if (static_cast<std::size_t>(__builtin_popcountll(more)) <= cap) {
          tests = more;
          taken.push_back(c);
          break;
        }
      }
    }
    return tests;
  };
  for (std::size_t t = 0; t < tree_root_.size(); ++t) {
    queue.clear();
    at.clear();
    hop_tests.clear();
    exits.clear();
    std::size_t words = 0;
    auto hop = [&](std::uint32_t node) {
      if (hop_of[node] < 0) {
        hop_of[node] = static_cast<std::int32_t>(queue.size());
        queue.push_back(node);
      }
      return static_cast<std::uint32_t>(hop_of[node]);
    };
    hop(tree_root_[t]);
    for (std::size_t q = 0; q < queue.size(); ++q) {
      const std::uint32_t root = queue[q];
      at.push_back(static_cast<std::uint32_t>(words));
      hop_tests.push_back(0);
      exits.emplace_back();
      if (out_feature_[root] < 0) {
        words += kLeafWords;
        continue;
      }
      const std::uint64_t tests = take(root, q == 0 ? kRootTests : kHopTests);
      hop_tests[q] = tests;
      bits.clear();
      for (unsigned b = 0; b < 64; ++b)
        if (tests >> b & 1) bits.push_back(b);
      for (std::uint32_t n : taken) inside[n] = 1;
      const std::size_t entries = std::size_t{1} << bits.size();
      words += 1 + (entries + 3) / 4;
      for (std::size_t c = 0; c < entries; ++c) {
        std::uint32_t n = root;
        while (inside[n]) {
          const auto j = static_cast<std::size_t>(std::lower_bound(bits.begin(), bits.end(), nodes[n].test) -
                                                  bits.begin());
          n = nodes[n].left + static_cast<std::uint32_t>(c >> j & 1);
        }
        exits[q].push_back(n);
      }
      for (std::uint32_t n : taken) inside[n] = 0;
      for (std::uint32_t n : exits[q]) hop(n);
    }
    const std::size_t base = out.size();
    if (base + words >= (std::size_t{1} << 32)) return false;
    tree_hop.push_back(static_cast<std::uint32_t>(base));
    out.resize(base + words, 0);
    auto* bytes = reinterpret_cast<unsigned char*>(out.data() + base);
    std::vector<std::uint8_t> steps(queue.size(), 0);  // hops down to a leaf, at most
    for (std::size_t q = queue.size(); q-- > 0;) {
      unsigned char* p = bytes + std::size_t{at[q]} * 8;
      if (out_feature_[queue[q]] < 0) {  // tests and entry 0
        std::memcpy(p + 12, &out_value_[queue[q]], sizeof(float));
        continue;
      }
      std::memcpy(p, &hop_tests[q], sizeof(std::uint64_t));
      for (std::size_t c = 0; c < exits[q].size(); ++c) {
        const auto to = static_cast<std::size_t>(hop_of[exits[q][c]]);
        const std::size_t step = at[to] - at[q];
        if (step > 0xffff) return false;
        const auto e = static_cast<std::uint16_t>(step);
        std::memcpy(p + 8 + 2 * c, &e, sizeof e);
        steps[q] = std::max<std::uint8_t>(steps[q], static_cast<std::uint8_t>(steps[to] + 1));
      }
    }
    tree_steps.push_back(steps[0]);
    for (std::uint32_t node : queue) hop_of[node] = -1;
  }
  f.hops_ = std::move(out);
  f.tree_hop_ = std::move(tree_hop);
  f.tree_hop_steps_ = std::move(tree_steps);
  return true;
}

std::optional<FlatForest> ModelReader::finish(std::string& why) {
  if (objective_ != "binary:logistic" && objective_ != "reg:logistic") {
    why = "objective '" + objective_ + "' (only binary:logistic and reg:logistic)";
    return std::nullopt;
  }
  if (booster_ != "gbtree") {
    why = "booster '" + booster_ + "' (only gbtree)";
    return std::nullopt;
  }
  if (num_class_ > 1 || num_target_ > 1 || several_groups_) {
    why = "several classes or targets";
    return std::nullopt;
  }
  if (categorical_ || vector_leaves_) {
    why = categorical_ ? "categorical splits" : "vector leaves";
    return std::nullopt;
  }
  if (!(base_score_ > 0.0 && base_score_ < 1.0)) {
    why = "base_score outside (0, 1)";
    return std::nullopt;
  }
  const float base = static_cast<float>(base_score_);
  if (!(base > 0.0f && base < 1.0f)) {
    why = "base_score outside (0, 1)";
    return std::nullopt;
  }
  if (!(num_feature_ >= 1 && num_feature_ < 1e9) || !(num_parallel_tree_ >= 1 && num_parallel_tree_ < 1e9)) {
    why = "missing or invalid num_feature / num_parallel_tree";
    return std::nullopt;
  }
  FlatForest f;
  f.n_features_ = static_cast<std::size_t>(num_feature_);
  f.trees_per_round_ = static_cast<std::size_t>(num_parallel_tree_);
  if (tree_root_.size() % f.trees_per_round_ != 0) {
    why = "a partial boosting round";
    return std::nullopt;
  }
  // XGBoost turns the base score (a probability) into a margin in float:
  // LogisticRegression::ProbToMargin.
  f.base_margin_ = -std::log(1.0f / base - 1.0f);

  const std::size_t n = out_feature_.size();
  for (std::size_t i = 0; i < n; ++i)
    if (out_feature_[i] >= 0 && static_cast<std::size_t>(out_feature_[i]) >= f.n_features_) {
      why = "a split on feature " + std::to_string(out_feature_[i]) + " of a model of " +
            std::to_string(f.n_features_) + " features";
      return std::nullopt;
    }
  // How often rows meet a split: 2^-depth (each split halves the rows, roughly).
  auto met = [&](std::size_t i) { return std::ldexp(1.0, -static_cast<int>(out_depth_[i])); };
  f.nodes_.resize(n);

  // The distinct tests (feature, threshold, default direction). Few: one mask bit each.
  struct Test {
    std::int32_t feature;
    float threshold;
    std::uint8_t default_left;
    double met = 0;
    bool operator<(const Test& o) const {
      if (feature != o.feature) return feature < o.feature;
      if (threshold != o.threshold) return threshold < o.threshold;
      return default_left < o.default_left;
    }
    bool same(const Test& o) const {
      return feature == o.feature && threshold == o.threshold && default_left == o.default_left;
    }
  };
  std::vector<Test> tests;
  for (std::size_t i = 0; i < n; ++i)
    if (out_feature_[i] >= 0) tests.push_back({out_feature_[i], out_threshold_[i], out_default_left_[i]});
  std::sort(tests.begin(), tests.end());
  tests.erase(std::unique(tests.begin(), tests.end(), [](const Test& a, const Test& b) { return a.same(b); }),
              tests.end());
  constexpr std::size_t kMaskTests = 63;  // bit 63: always set, for the leaves
  if (tests.size() <= kMaskTests && n < (std::size_t{1} << 26)) {
    f.masks_ = true;
    auto find = [&](std::size_t i) {
      const Test key{out_feature_[i], out_threshold_[i], out_default_left_[i]};
      return static_cast<std::size_t>(std::lower_bound(tests.begin(), tests.end(), key) - tests.begin());
    };
    for (std::size_t i = 0; i < n; ++i)
      if (out_feature_[i] >= 0) tests[find(i)].met += met(i);
    std::vector<std::size_t> rank(tests.size());
    for (std::size_t j = 0; j < rank.size(); ++j) rank[j] = j;
    std::stable_sort(rank.begin(), rank.end(),
                     [&](std::size_t a, std::size_t b) { return tests[a].met > tests[b].met; });
    std::vector<std::uint16_t> bit(tests.size());
    for (std::size_t r = 0; r < rank.size(); ++r) {
      const Test& t = tests[rank[r]];
      bit[rank[r]] = static_cast<std::uint16_t>(kMaskTests - 1 - r);
      f.test_feature_.push_back(static_cast<std::uint16_t>(t.feature));
      f.test_threshold_.push_back(t.threshold);
      f.test_missing_.push_back(t.default_left == 0);  // a missing value goes right
    }
    if (f.n_features_ <= 32) {
      f.bit_feature_.assign(64, 0);
      f.bit_threshold_.assign(64, 0.0f);
      for (std::size_t j = 0; j < f.test_feature_.size(); ++j) {
        const std::size_t b = kMaskTests - 1 - j;
        f.bit_feature_[b] = f.test_feature_[j];
        f.bit_threshold_[b] = f.test_threshold_[j];
        f.bit_valid_ |= std::uint64_t{1} << b;
        if (f.test_missing_[j]) f.bit_missing_ |= std::uint64_t{1} << b;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      FlatForest::Node& node = f.nodes_[i];
      node.left = out_left_[i];
      node.bin = 0;
      node.test = out_feature_[i] < 0 ? kMaskTests : bit[find(i)];
    }
    f.words_.resize(n);
    for (std::size_t i = 0; i < n; ++i) f.words_[i] = f.nodes_[i].left << 6 | f.nodes_[i].test;
    // Blocks pay off for shallow, bushy trees (gradient boosting: three levels per step, about twice
    // as fast); for deep, thin trees (a random forest to depth 20) their tables would be too large:
    // hops, which follow the deep paths (about twice as fast as steps of one level).
    if (!tree_depth_.empty() && *std::max_element(tree_depth_.begin(), tree_depth_.end()) <= 10)
      build_blocks(f);
    else
      build_hops(f);
    f.nodes_ = {};
  } else {
    // Each feature's distinct thresholds, and each split's threshold as a bin number.
    std::vector<std::vector<float>> cuts(f.n_features_);
    for (std::size_t i = 0; i < n; ++i)
      if (out_feature_[i] >= 0) cuts[static_cast<std::size_t>(out_feature_[i])].push_back(out_threshold_[i]);
    f.cut_begin_.assign(1, 0);
    std::size_t widest = 0;
    for (auto& c : cuts) {
      std::sort(c.begin(), c.end());
      c.erase(std::unique(c.begin(), c.end()), c.end());
      widest = std::max(widest, c.size());
      f.cuts_.insert(f.cuts_.end(), c.begin(), c.end());
      f.cut_begin_.push_back(static_cast<std::uint32_t>(f.cuts_.size()));
    }
    if (widest > 65534) {
      why = "a feature with over 65534 distinct thresholds";
      return std::nullopt;
    }
    f.wide_bins_ = widest > 254;
    std::vector<double> feature_met(f.n_features_, 0.0);
    for (std::size_t i = 0; i < n; ++i)
      if (out_feature_[i] >= 0) feature_met[static_cast<std::size_t>(out_feature_[i])] += met(i);
    for (std::size_t j = 0; j < f.n_features_; ++j)
      if (feature_met[j] > 0) f.sort_features_.push_back(static_cast<std::uint16_t>(j));
    std::stable_sort(f.sort_features_.begin(), f.sort_features_.end(),
                     [&](std::uint16_t a, std::uint16_t b) { return feature_met[a] > feature_met[b]; });
    for (std::size_t i = 0; i < n; ++i) {
      FlatForest::Node& node = f.nodes_[i];
      node.left = out_left_[i];
      if (out_feature_[i] < 0) {
        node.test = 0;
        node.bin = 0;
        continue;
      }
      const auto& c = cuts[static_cast<std::size_t>(out_feature_[i])];
      node.test = static_cast<std::uint16_t>(out_feature_[i]);
      // x < threshold <=> (the number of thresholds <= x) <= (the threshold's rank)
      node.bin =
          static_cast<std::uint16_t>(std::lower_bound(c.begin(), c.end(), out_threshold_[i]) - c.begin() + 1);
    }
  }
  build_paths(f);
  f.value_ = std::move(out_value_);
  f.default_left_ = std::move(out_default_left_);
  f.tree_root_ = std::move(tree_root_);
  f.tree_depth_ = std::move(tree_depth_);
  f.shap_steps_ = shap_steps_;
  return f;
}

namespace {

std::optional<FlatForest> read_model(std::string_view doc, nlohmann::json::input_format_t format,
                                     std::string* why) {
  ModelReader reader(doc.size());
  std::string reason;
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(doc.begin(), doc.end(), &reader, format);
  } catch (const std::exception& e) {
    reason = std::string("unreadable model: ") + e.what();
  }
  std::optional<FlatForest> f;
  if (ok)
    f = reader.finish(reason);
  else if (reason.empty())
    reason = reader.error().empty() ? "unreadable model" : reader.error();
  if (!f && why) *why = reason;
  return f;
}

}  // namespace

std::optional<FlatForest> FlatForest::from_json(std::string_view model_json, std::string* why) {
  return read_model(model_json, nlohmann::json::input_format_t::json, why);
}

std::optional<FlatForest> FlatForest::from_ubjson(std::string_view model_ubj, std::string* why) {
  return read_model(model_ubj, nlohmann::json::input_format_t::ubjson, why);
}

}  // namespace netsentry::xgb
