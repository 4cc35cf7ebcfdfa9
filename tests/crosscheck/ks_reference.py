#!/usr/bin/python3
"""Reference two-sample KS p-values from scipy.stats.ks_2samp (method='auto', two-sided).

Usage: ks_reference.py A1.csv B1.csv [A2.csv B2.csv ...]
Each CSV has a header; column c of A is compared with column c of B (same names, same order).
Empty fields are missing and dropped before the test. Prints one JSON object:
{"scipy": version, "pairs": [[{"column", "statistic", "pvalue"}, ...], ...]}.
"""
import csv
import json
import math
import sys

try:
    import numpy as np
    import scipy
    from scipy import stats
except ImportError as e:  # the C++ test reports this as a failure
    sys.exit(f"ks_reference.py: scipy/numpy not importable ({e}); install python3-scipy")


def read_columns(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = []
    for c, name in enumerate(header):
        vals = [float(r[c]) for r in body if r[c] != ""]
        cols.append((name, np.array([v for v in vals if not math.isnan(v)], dtype=float)))
    return cols


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        sys.exit("usage: ks_reference.py A1.csv B1.csv [A2.csv B2.csv ...]")
    out = []
    for a_path, b_path in zip(argv[0::2], argv[1::2]):
        a_cols, b_cols = read_columns(a_path), read_columns(b_path)
        res = []
        for (name, a), (_, b) in zip(a_cols, b_cols):
            r = stats.ks_2samp(a, b)
            res.append({"column": name, "statistic": float(r.statistic), "pvalue": float(r.pvalue)})
        out.append(res)
    print(json.dumps({"scipy": scipy.__version__, "pairs": out}))


if __name__ == "__main__":
    main(sys.argv[1:])
