#pragma once
// One-hot encoding of categorical features for the families that read numbers only: a classifier
// that wraps another, expands each categorical feature's code into one 0/1 column per category (a
// missing or unseen code: all zero, as scikit-learn's OneHotEncoder with handle_unknown='ignore'),
// and folds contributions and importances back onto the original feature, so that a reason reads
// "service" (with its value, `service = http`) rather than one of its columns.
#include <memory>
#include <vector>

#include "netsentry/model/classifier.hpp"

namespace netsentry {

// `cardinality`: per feature, 0 numeric or the number of category codes.
std::unique_ptr<Classifier> one_hot_classifier(std::unique_ptr<Classifier> inner,
                                               std::vector<int> cardinality);

// The one-hot matrix of X (codes) for `cardinality`: numeric columns copied, each categorical one
// replaced by its codes' 0/1 columns, in feature order.
Matrix one_hot_expand(const Matrix& X, const std::vector<int>& cardinality);

}  // namespace netsentry
