"""The meta-model: for each target (success_score, duration_days, cost) one XGBoost model of
three quantiles (10%, 50%, 90%), its interval widened by conformal calibration so that 80% of
outcomes it has not seen fall inside, explained by XGBoost's own SHAP values (pred_contribs).
No I/O: services/metamodel.py reads the graph, trains, stores the bytes and serves predictions.

Intervals: the 10% and 90% quantile models alone cover less than 80% of new outcomes (they fit
the training set). Conformalized quantile regression fixes that honestly: with out-of-fold
predictions of the training set, the conformity score of each project is how far its outcome
fell outside its interval (negative when inside); the interval is widened by the score's
ceil((n+1)·0.8)/n quantile. Coverage is then measured on projects the model did not see.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import xgboost as xgb

from maestro_graph.domain.errors import BadInput

QUANTILES = (0.1, 0.5, 0.9)
COVERAGE = 0.8  # what the interval claims: QUANTILES[-1] - QUANTILES[0]
MIN_PROJECTS = 20  # fewer finished projects than this: nothing to learn from
FOLDS = 5
ROUNDS = 150
# One thread: these are small data sets, where OpenMP's threads cost more in waiting for each
# other than they win (several times slower with two on a busy two-core machine).
PARAMS: dict[str, Any] = {
    "objective": "reg:quantileerror", "quantile_alpha": np.array(QUANTILES), "tree_method": "hist",
    "max_depth": 4, "eta": 0.08, "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 4,
    "lambda": 1.0, "nthread": 1, "seed": 7,
}
Progress = Callable[[str, int, int], None]  # (what, done, of)


def _quiet(what: str, done: int, of: int) -> None:
    pass


@dataclass
class Prediction:
    value: float  # the median
    lower: float
    upper: float


@dataclass
class TargetModel:
    booster: xgb.Booster
    widen: float  # the conformal widening of [q10, q90]
    cv: dict[str, float]  # out-of-fold mae, r2, coverage (after widening)


@dataclass
class MetaModel:
    version: int
    trained_at: str
    features: list[str]
    roles: list[str]
    n: int
    targets: dict[str, TargetModel]
    train_ids: list[str] = field(default_factory=list)
    train_rows: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def predict(self, rows: Sequence[Sequence[float]]) -> dict[str, list[Prediction]]:
        data = xgb.DMatrix(np.asarray(rows, dtype=np.float32), feature_names=_safe(self.features))
        out: dict[str, list[Prediction]] = {}
        for target, model in self.targets.items():
            # The value is the median model's own output, so its SHAP values add up to it; the
            # interval holds it even where the quantile models cross.
            q = model.booster.predict(data)
            out[target] = [Prediction(float(r[1]), float(min(r) - model.widen), float(max(r) + model.widen)) for r in q]
        return out

    def explain(self, rows: Sequence[Sequence[float]]) -> dict[str, tuple[list[Prediction], np.ndarray]]:
        """predict() and contributions() in one pass per target: the SHAP values of every
        quantile sum to its prediction, so one pred_contribs call gives both."""
        data = xgb.DMatrix(np.asarray(rows, dtype=np.float32), feature_names=_safe(self.features))
        out = {}
        for target, model in self.targets.items():
            contribs = model.booster.predict(data, pred_contribs=True)  # (rows, quantiles, features + 1)
            q = contribs.sum(axis=2)
            preds = [Prediction(float(r[1]), float(min(r) - model.widen), float(max(r) + model.widen)) for r in q]
            out[target] = (preds, contribs[:, QUANTILES.index(0.5), :])
        return out

    def contributions(self, rows: Sequence[Sequence[float]], target: str) -> np.ndarray:
        """(rows, features + 1) SHAP values of the median model; the last column is the bias.
        Each row sums to the predicted value."""
        data = xgb.DMatrix(np.asarray(rows, dtype=np.float32), feature_names=_safe(self.features))
        contribs = self.targets[target].booster.predict(data, pred_contribs=True)
        return contribs[:, QUANTILES.index(0.5), :]

    def median(self, rows: Sequence[Sequence[float]], target: str) -> np.ndarray:
        data = xgb.DMatrix(np.asarray(rows, dtype=np.float32), feature_names=_safe(self.features))
        return self.targets[target].booster.predict(data)[:, QUANTILES.index(0.5)]

    # -- bytes, as the store keeps them ------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A zip: meta.json, the training rows (float32) and each target's booster (UBJSON),
        deflated (trees compress several times over)."""
        meta = {"format": 2, "version": self.version, "trained_at": self.trained_at, "features": self.features,
                "roles": self.roles, "n": self.n, "train_ids": self.train_ids,
                "targets": {t: {"widen": m.widen, "cv": m.cv} for t, m in self.targets.items()}}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("meta.json", orjson.dumps(meta))
            z.writestr("train_rows.f32", np.ascontiguousarray(self.train_rows, dtype=np.float32).tobytes())
            for t, m in self.targets.items():
                z.writestr(f"{t}.ubj", bytes(m.booster.save_raw("ubj")))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "MetaModel":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            d = orjson.loads(z.read("meta.json"))
            targets = {}
            for t, m in d["targets"].items():
                booster = xgb.Booster(params={"nthread": 1})
                booster.load_model(bytearray(z.read(f"{t}.ubj")))
                targets[t] = TargetModel(booster, float(m["widen"]), m["cv"])
            rows = np.frombuffer(z.read("train_rows.f32"), dtype=np.float32)
        width = len(d["features"])
        return cls(d["version"], d["trained_at"], d["features"], d["roles"], d["n"], targets, d["train_ids"],
                   rows.reshape(-1, width) if width else rows.reshape(0, 0))

    def meta(self) -> dict[str, Any]:
        return {"version": self.version, "trained_at": self.trained_at, "features": self.features, "n": self.n,
                "cross_validated": {t: m.cv for t, m in self.targets.items()}}


def _safe(names: Sequence[str]) -> list[str]:
    # XGBoost refuses some characters in feature names ([, ], <); ours hold ':' only.
    return [n.replace("[", "(").replace("]", ")").replace("<", "lt") for n in names]


def _train(x: np.ndarray, y: np.ndarray, names: Sequence[str], rounds: int = ROUNDS) -> xgb.Booster:
    return xgb.train(PARAMS, xgb.DMatrix(x, label=y, feature_names=_safe(names)), rounds)


def _quantiles(booster: xgb.Booster, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    return np.sort(booster.predict(xgb.DMatrix(x, feature_names=_safe(names))), axis=1)


def folds(n: int, k: int = FOLDS, seed: int = 7) -> list[np.ndarray]:
    """k disjoint test index sets covering 0..n-1, shuffled with a fixed seed."""
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def conformal_widening(lower: np.ndarray, upper: np.ndarray, y: np.ndarray, coverage: float = COVERAGE) -> float:
    """How much to widen [lower, upper] so that `coverage` of such outcomes fall inside: the
    ceil((n+1)·coverage)-th smallest of max(lower - y, y - upper). Negative: the interval may
    narrow.

    >>> conformal_widening(np.zeros(9), np.zeros(9), np.arange(1.0, 10.0))
    8.0
    """
    scores = np.sort(np.maximum(lower - y, y - upper))
    k = min(len(scores), math.ceil((len(scores) + 1) * coverage))  # the k-th smallest score
    return float(scores[k - 1])


def scores(y: np.ndarray, median: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    """MAE and R² of the median, and the share of outcomes inside [lower, upper]."""
    residual = float(np.sum((y - median) ** 2))
    total = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return {"mae": float(np.mean(np.abs(y - median))), "r2": 1.0 - residual / total,
            "coverage": float(np.mean((y >= lower) & (y <= upper))), "n": int(len(y))}


def fit(rows: Sequence[Sequence[float]], targets: dict[str, Sequence[float]], names: Sequence[str], roles: Sequence[str],
        *, version: int, trained_at: str, ids: Sequence[str] = (), progress: Progress = _quiet) -> MetaModel:
    """Train every target: out-of-fold predictions for the cross-validated metrics and the
    conformal widening, then a model on all rows."""
    x = np.asarray(rows, dtype=np.float32)
    if len(x) < MIN_PROJECTS:
        raise BadInput(f"the meta-model needs at least {MIN_PROJECTS} finished projects with a start date and their "
                       f"success score, duration and cost to learn from; this tenant has {len(x)}", field="projects")
    models: dict[str, TargetModel] = {}
    steps, step = len(targets) * (FOLDS + 1), 0
    for target, values in targets.items():
        y = np.asarray(values, dtype=np.float32)
        oof = np.zeros((len(y), len(QUANTILES)), dtype=np.float32)
        for test in folds(len(y)):
            train = np.setdiff1d(np.arange(len(y)), test)
            oof[test] = _quantiles(_train(x[train], y[train], names), x[test], names)
            step += 1
            progress(f"cross-validating {target}", step, steps)
        widen = conformal_widening(oof[:, 0], oof[:, 2], y)
        cv = scores(y, oof[:, 1], oof[:, 0] - widen, oof[:, 2] + widen)
        models[target] = TargetModel(_train(x, y, names), widen, cv)
        step += 1
        progress(f"training {target}", step, steps)
    return MetaModel(version, trained_at, list(names), list(roles), len(x), models, list(ids), x)


def evaluate(rows: Sequence[Sequence[float]], targets: dict[str, Sequence[float]], names: Sequence[str],
             cut: int, plain: Sequence[str], progress: Progress = _quiet) -> dict[str, dict[str, dict[str, float]]]:
    """target -> model -> scores, for a time-ordered split (rows before `cut` train, the rest
    test: rows come in time order) and for k-fold cross-validation, beside two baselines: the
    training mean, and XGBoost on the `plain` (non-graph) features only. Each interval is
    calibrated on the training part alone."""
    x = np.asarray(rows, dtype=np.float32)
    keep = [names.index(p) for p in plain]
    out: dict[str, dict[str, dict[str, float]]] = {}
    steps, step = len(targets) * 2 * (1 + FOLDS), 0
    for target, values in targets.items():
        y = np.asarray(values, dtype=np.float32)
        out[target] = {}
        splits = {"time": [(np.arange(cut), np.arange(cut, len(y)))],
                  "cv": [(np.setdiff1d(np.arange(len(y)), t), t) for t in folds(len(y))]}
        for how, pairs in splits.items():
            got: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {"graph": [], "plain": [], "mean": []}
            for train, test in pairs:
                for label, cols in (("graph", list(range(x.shape[1]))), ("plain", keep)):
                    got[label].append(_held_out(x[:, cols], y, train, test, [names[c] for c in cols]))
                mu = float(y[train].mean())
                lo, hi = np.quantile(y[train], QUANTILES[0]), np.quantile(y[train], QUANTILES[-1])
                got["mean"].append((y[test], np.full(len(test), mu), np.full(len(test), lo), np.full(len(test), hi)))
                step += 1
                progress(f"evaluating {target} ({how})", step, steps)
            for label, parts in got.items():
                joined = [np.concatenate([p[i] for p in parts]) for i in range(4)]
                out[target][f"{how}:{label}"] = scores(*joined)
    return out


def _held_out(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, names: Sequence[str]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(y, median, lower, upper) on `test` of a model trained on `train`, its interval widened
    by conformal calibration within `train` only."""
    oof = np.zeros((len(train), len(QUANTILES)), dtype=np.float32)
    for inner in folds(len(train), 3):
        rest = np.setdiff1d(np.arange(len(train)), inner)
        oof[inner] = _quantiles(_train(x[train][rest], y[train][rest], names), x[train][inner], names)
    widen = conformal_widening(oof[:, 0], oof[:, 2], y[train])
    q = _quantiles(_train(x[train], y[train], names), x[test], names)
    return y[test], q[:, 1], q[:, 0] - widen, q[:, 2] + widen
