#!/usr/bin/python3
"""Reference results from Debian's scikit-learn for netsentry's transformers.

Usage:
  sklearn_reference.py knn TRAIN.csv TEST.csv N_NEIGHBORS WEIGHTS
      KNNImputer(n_neighbors, weights, keep_empty_features=True).fit(TRAIN).transform(TEST)
  sklearn_reference.py robust TRAIN.csv TEST.csv
      RobustScaler().fit(TRAIN): center_, scale_ and transform(TEST)
  sklearn_reference.py onehot TRAIN.csv TEST.csv MAX_CATEGORIES MIN_FREQUENCY
      OneHotEncoder(handle_unknown='ignore', max_categories, min_frequency).fit(TRAIN).transform(TEST)
      on text columns (every column of the files); also categories_ and infrequent_categories_
  sklearn_reference.py class_metrics SCORED.csv K
      columns y, pred, p0 .. p{K-1}: precision_recall_fscore_support (labels 0..K-1), macro and
      weighted F1, accuracy, the K x K confusion matrix and the macro one-vs-rest ROC AUC
CSV files have a header; an empty field is a missing value (NaN). Prints one JSON object; NaN is
written as null.
"""
import csv
import json
import math
import sys

try:
    import numpy as np
    import sklearn
    from sklearn.impute import KNNImputer
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support,
                                 roc_auc_score)
    from sklearn.preprocessing import OneHotEncoder, RobustScaler
except ImportError as e:  # the C++ test reports this as a failure
    sys.exit(f"sklearn_reference.py: scikit-learn/numpy not importable ({e}); install python3-sklearn")


def read_matrix(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return np.array([[float(v) if v != "" else np.nan for v in r] for r in rows[1:]], dtype=float)


def read_text(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return np.array(rows[1:], dtype=object)


def plain(a):
    return [[None if math.isnan(v) else float(v) for v in row] for row in np.atleast_2d(a)]


def plain1(a):
    return [None if math.isnan(v) else float(v) for v in a]


def main(argv):
    if not argv:
        sys.exit(__doc__)
    out = {"sklearn": sklearn.__version__}
    if argv[0] == "knn" and len(argv) == 5:
        train, test = read_matrix(argv[1]), read_matrix(argv[2])
        imp = KNNImputer(n_neighbors=int(argv[3]), weights=argv[4], keep_empty_features=True)
        out["transformed"] = plain(imp.fit(train).transform(test))
    elif argv[0] == "robust" and len(argv) == 3:
        train, test = read_matrix(argv[1]), read_matrix(argv[2])
        sc = RobustScaler().fit(train)
        out["center"] = plain1(sc.center_)
        out["scale"] = plain1(sc.scale_)
        out["transformed"] = plain(sc.transform(test))
    elif argv[0] == "onehot" and len(argv) == 5:
        train, test = read_text(argv[1]), read_text(argv[2])
        enc = OneHotEncoder(handle_unknown="ignore", max_categories=int(argv[3]),
                            min_frequency=int(argv[4]), sparse_output=False)
        out["transformed"] = plain(enc.fit(train).transform(test))
        out["categories"] = [[str(v) for v in c] for c in enc.categories_]
        out["infrequent"] = [[] if c is None else [str(v) for v in c] for c in enc.infrequent_categories_]
    elif argv[0] == "class_metrics" and len(argv) == 3:
        m, k = read_matrix(argv[1]), int(argv[2])
        y, pred, proba = m[:, 0].astype(int), m[:, 1].astype(int), m[:, 2:2 + k]
        labels = list(range(k))
        p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        out.update({"precision": plain1(p), "recall": plain1(r), "f1": plain1(f), "support": [int(v) for v in s],
                    "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
                    "weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0)),
                    "accuracy": float(accuracy_score(y, pred)),
                    "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
                    "macro_roc_auc": float(roc_auc_score(y, proba, multi_class="ovr", average="macro",
                                                         labels=labels))})
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
