#!/usr/bin/python3
"""The scikit-learn / XGBoost baseline of bench/compare_threat_data.sh (never part of the product).

Usage:
  threat_baseline.py folds DATA OUT_DIR K SEED [CONFIG]
      Writes OUT_DIR/fold<i>/train.csv and test.csv (headerless, as DATA): a stratified K-fold split of
      DATA that netsentry and the baseline both use, stratified by threat (any label but "normal") or,
      with CONFIG (a netsentry config with data.label_groups), by the label's group.
  threat_baseline.py fit TRAIN TEST [CONFIG]
      One-hot encodes protocol_type, service and flag (fitted on TRAIN), trains RandomForest (256
      trees) and XGBoost (300 rounds, depth 6), prints per model: accuracy, threat F1, macro F1,
      ROC AUC on TEST and the fit+predict seconds, as JSON. With CONFIG the models learn the label
      groups (K classes): accuracy and macro F1 over the groups (the likeliest class), threat F1 and
      ROC AUC of P(threat) = 1 - P(benign classes) at 0.5, and the macro one-vs-rest ROC AUC over the
      groups present in TEST (scikit-learn's, as netsentry's macro_roc_auc).
"""
import json
import os
import sys
import time

import numpy as np
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from xgboost import XGBClassifier

CATEGORICAL = ["protocol_type", "service", "flag"]


def groups(config):
    """The config's label groups as {label: group}, its group names (sorted, as netsentry orders
    classes) and which of them are benign; None without a config (the binary task)."""
    if config is None:
        return None
    data = yaml.safe_load(open(config))["data"]
    to_group = {name: g for g, names in data["label_groups"].items() for name in names}
    names = sorted(data["label_groups"])
    return to_group, names, [n in data["benign_classes"] for n in names]


def targets(labels, task):
    if task is None:
        return (labels != "normal").astype(int).to_numpy()
    to_group, names, _ = task
    unknown = sorted(set(labels) - set(to_group))
    if unknown:
        sys.exit(f"labels in no group: {unknown}")
    index = {n: i for i, n in enumerate(names)}
    return labels.map(lambda v: index[to_group[v]]).to_numpy()


def read(path, task):
    df = pd.read_csv(path, header=None)
    names = [f"c{i}" for i in range(df.shape[1])]
    names[1:4] = CATEGORICAL
    names[41], names[42] = "label", "difficulty"
    df.columns = names
    return df.drop(columns=["label", "difficulty"]), targets(df["label"], task)


def folds(data, out, k, seed, task):
    raw = pd.read_csv(data, header=None)
    y = targets(raw[41], task)
    for i, (tr, te) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(raw, y)):
        d = os.path.join(out, f"fold{i}")
        os.makedirs(d, exist_ok=True)
        raw.iloc[tr].to_csv(os.path.join(d, "train.csv"), header=False, index=False)
        raw.iloc[te].to_csv(os.path.join(d, "test.csv"), header=False, index=False)


def scores(task, yte, proba):
    """The figures of one model's TEST probabilities (n x K, K = 2 for the binary task)."""
    if task is None:
        p = proba[:, 1]
        pred = (p >= 0.5).astype(int)
        return {"accuracy": accuracy_score(yte, pred), "f1": f1_score(yte, pred),
                "macro_f1": f1_score(yte, pred, average="macro"), "roc_auc": roc_auc_score(yte, p)}
    _, names, benign = task
    threat = np.array([not b for b in benign])
    p_threat = proba[:, threat].sum(axis=1)
    is_threat = threat[yte].astype(int)
    pred = proba.argmax(axis=1)
    present = [c for c in range(len(names)) if 0 < (yte == c).sum() < len(yte)]
    macro_auc = np.mean([roc_auc_score((yte == c).astype(int), proba[:, c]) for c in present])
    return {"accuracy": accuracy_score(yte, pred), "f1": f1_score(is_threat, (p_threat >= 0.5).astype(int)),
            "macro_f1": f1_score(yte, pred, average="macro"), "roc_auc": roc_auc_score(is_threat, p_threat),
            "macro_roc_auc": macro_auc}


def fit(train, test, task):
    Xtr, ytr = read(train, task)
    Xte, yte = read(test, task)
    if task is not None:  # every group a column, in netsentry's order, even one absent from TRAIN
        missing = sorted(set(range(len(task[1]))) - set(ytr))
        if missing:
            sys.exit(f"groups absent from the training fold: {[task[1][c] for c in missing]}")
    out = {}
    models = {
        "random_forest_256": RandomForestClassifier(n_estimators=256, n_jobs=-1, random_state=0),
        "xgboost_300_d6": XGBClassifier(n_estimators=300, max_depth=6, tree_method="hist", n_jobs=-1,
                                        random_state=0),
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        pipe = Pipeline([("onehot", ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough")),
            ("model", model)])
        pipe.fit(Xtr, ytr)
        proba = pipe.predict_proba(Xte)
        secs = time.perf_counter() - t0
        out[name] = scores(task, yte, proba) | {"seconds": secs}
    print(json.dumps(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) in (5, 6) and a[0] == "folds":
        folds(a[1], a[2], int(a[3]), int(a[4]), groups(a[5] if len(a) == 6 else None))
    elif len(a) in (3, 4) and a[0] == "fit":
        fit(a[1], a[2], groups(a[3] if len(a) == 4 else None))
    else:
        sys.exit(__doc__)
