#include "netsentry/model/flat_forest.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "netsentry/core/parallel.hpp"

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
  ModelReader() {
    out_feature_.push_back(-1);
    out_threshold_.push_back(0.0f);
    out_left_.push_back(0);
    out_value_.push_back(0.0f);
    out_default_left_.push_back(0);
    out_depth_.push_back(0);
    out_hess_.push_back(1.0f);
  }

  bool null() { return true; }
  bool boolean(bool b) { return number(b ? 1.0 : 0.0); }
  bool number_integer(json::number_integer_t v) { return number(static_cast<double>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return number(static_cast<double>(v)); }
  bool number_float(json::number_float_t v, const std::string&) { return number(v); }
  bool binary(json::binary_t&) { return true; }

  bool string(std::string& s) {
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
    stack_.push_back({c, Field::None});
    return true;
  }

  bool key(std::string& k) {
    Frame& f = stack_.back();
    f.field = Field::None;
    switch (f.ctx) {
      case Ctx::Root:
        if (k == "learner") f.field = Field::Learner;
        break;
      case Ctx::Learner:
        if (k == "learner_model_param")
          f.field = Field::ModelParam;
        else if (k == "objective")
          f.field = Field::Objective;
        else if (k == "gradient_booster")
          f.field = Field::Booster;
        break;
      case Ctx::ModelParam:
        if (k == "base_score")
          f.field = Field::BaseScore;
        else if (k == "num_class")
          f.field = Field::NumClass;
        else if (k == "num_feature")
          f.field = Field::NumFeature;
        else if (k == "num_target")
          f.field = Field::NumTarget;
        break;
      case Ctx::Objective:
        if (k == "name") f.field = Field::Name;
        break;
      case Ctx::Booster:
        if (k == "name")
          f.field = Field::Name;
        else if (k == "model")
          f.field = Field::Model;
        break;
      case Ctx::GbModel:
        if (k == "gbtree_model_param")
          f.field = Field::GbParam;
        else if (k == "tree_info")
          f.field = Field::TreeInfo;
        else if (k == "trees")
          f.field = Field::Trees;
        break;
      case Ctx::GbParam:
        if (k == "num_parallel_tree") f.field = Field::NumParallelTree;
        break;
      case Ctx::Tree:
        if (k == "left_children")
          f.field = Field::Left;
        else if (k == "right_children")
          f.field = Field::Right;
        else if (k == "split_indices")
          f.field = Field::Feature;
        else if (k == "split_conditions")
          f.field = Field::Cond;
        else if (k == "default_left")
          f.field = Field::DefaultLeft;
        else if (k == "split_type")
          f.field = Field::SplitType;
        else if (k == "sum_hessian")
          f.field = Field::Hess;
        else if (k == "tree_param")
          f.field = Field::TreeParam;
        break;
      case Ctx::TreeParam:
        if (k == "size_leaf_vector") f.field = Field::SizeLeafVector;
        break;
      default:
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
        if (n != static_cast<std::size_t>(-1) && n < (std::size_t{1} << 26)) reserve(field, n);
      }
    }
    stack_.push_back({c, field});
    return true;
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

  void reserve(Field f, std::size_t n) {
    switch (f) {
      case Field::Left:
        left_.reserve(n);
        break;
      case Field::Right:
        right_.reserve(n);
        break;
      case Field::Feature:
        feature_.reserve(n);
        break;
      case Field::Cond:
        cond_.reserve(n);
        break;
      case Field::DefaultLeft:
        dleft_.reserve(n);
        break;
      case Field::Hess:
        hess_.reserve(n);
        break;
      default:
        break;
    }
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
    if (stack_.empty()) return true;
    const Frame& f = stack_.back();
    switch (f.ctx) {
      case Ctx::TreeArray:
        switch (f.field) {
          case Field::Left:
            left_.push_back(static_cast<std::int32_t>(v));
            break;
          case Field::Right:
            right_.push_back(static_cast<std::int32_t>(v));
            break;
          case Field::Feature:
            feature_.push_back(static_cast<std::int64_t>(v));
            break;
          case Field::Cond:
            cond_.push_back(static_cast<float>(v));
            break;
          case Field::DefaultLeft:
            dleft_.push_back(v != 0);
            break;
          case Field::SplitType:
            categorical_ |= v != 0;
            break;
          case Field::Hess:
            hess_.push_back(static_cast<float>(v));
            break;
          default:
            break;
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
  const float base = static_cast<float>(base_score_);
  if (!(base > 0.0f && base < 1.0f)) {
    why = "base_score outside (0, 1)";
    return std::nullopt;
  }
  if (!(num_feature_ >= 0 && num_feature_ < 1e9) || !(num_parallel_tree_ >= 1 && num_parallel_tree_ < 1e9)) {
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
  ModelReader reader;
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

// ---- evaluation ---------------------------------------------------------------------------------

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
