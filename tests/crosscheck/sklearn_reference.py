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
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
