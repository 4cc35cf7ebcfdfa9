#!/usr/bin/python3
"""The scikit-learn / XGBoost baseline of bench/compare_threat_data.sh (never part of the product).

Usage:
  threat_baseline.py folds DATA OUT_DIR K SEED
      Writes OUT_DIR/fold<i>/train.csv and test.csv (headerless, as DATA): a stratified K-fold split of
      DATA (NSL-KDD: threat = any label but "normal") that netsentry and the baseline both use.
  threat_baseline.py fit TRAIN TEST
      One-hot encodes protocol_type, service and flag (fitted on TRAIN), trains RandomForest (256
      trees) and XGBoost (300 rounds, depth 6), prints per model: accuracy, threat F1, macro F1,
      ROC AUC on TEST and the fit+predict seconds, as JSON.
"""
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from xgboost import XGBClassifier

CATEGORICAL = ["protocol_type", "service", "flag"]


def read(path):
    df = pd.read_csv(path, header=None)
    names = [f"c{i}" for i in range(df.shape[1])]
    names[1:4] = CATEGORICAL
    names[41], names[42] = "label", "difficulty"
    df.columns = names
    y = (df["label"] != "normal").astype(int).to_numpy()
    return df.drop(columns=["label", "difficulty"]), y


def folds(data, out, k, seed):
    raw = pd.read_csv(data, header=None)
    y = (raw[41] != "normal").astype(int).to_numpy()
    for i, (tr, te) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(raw, y)):
        d = os.path.join(out, f"fold{i}")
        os.makedirs(d, exist_ok=True)
        raw.iloc[tr].to_csv(os.path.join(d, "train.csv"), header=False, index=False)
        raw.iloc[te].to_csv(os.path.join(d, "test.csv"), header=False, index=False)


def fit(train, test):
    Xtr, ytr = read(train)
    Xte, yte = read(test)
    out = {}
    models = {
        "random_forest_256": RandomForestClassifier(n_estimators=256, n_jobs=1, random_state=0),
        "xgboost_300_d6": XGBClassifier(n_estimators=300, max_depth=6, tree_method="hist", n_jobs=1,
                                        random_state=0),
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        pipe = Pipeline([("onehot", ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough")),
            ("model", model)])
        pipe.fit(Xtr, ytr)
        p = pipe.predict_proba(Xte)[:, 1]
        secs = time.perf_counter() - t0
        pred = (p >= 0.5).astype(int)
        out[name] = {"accuracy": accuracy_score(yte, pred), "f1": f1_score(yte, pred),
                     "macro_f1": f1_score(yte, pred, average="macro"), "roc_auc": roc_auc_score(yte, p),
                     "seconds": secs}
    print(json.dumps(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "folds":
        folds(a[1], a[2], int(a[3]), int(a[4]))
    elif len(a) == 3 and a[0] == "fit":
        fit(a[1], a[2])
    else:
        sys.exit(__doc__)
