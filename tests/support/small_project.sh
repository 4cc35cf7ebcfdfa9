# shellcheck shell=bash
# Sourced by script tests: a small project in a temp dir (relative paths resolve against it), with one
# fast model family and a registry. Usage: make_small_project DIR [MIN_IMPROVEMENT]
make_small_project() {
  local dir=$1 min_improvement=${2:-0.0}
  mkdir -p "$dir/config"
  cp -r "$ROOT/config/schema" "$dir/config/schema"
  cat >"$dir/config/pipeline.yaml" <<YAML
pipeline: {artifact_dir: artifacts, random_seed: 42}
data: {target_column: Result}
model_trainer:
  expected_score: 0.6
  overfitting_threshold: 0.2
  cv_folds: 2
  metric: f1
  search: grid
  families:
    logistic_regression: {}
registry: {dir: registry, metric: f1, min_improvement: $min_improvement, auto_promote: true}
YAML
}
