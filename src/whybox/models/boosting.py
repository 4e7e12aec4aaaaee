"""Adapters for gradient-boosting libraries: XGBoost, LightGBM and CatBoost.

Both APIs of each library are understood: the scikit-learn style estimators
(`XGBClassifier`, `LGBMRegressor`, `CatBoostClassifier`, ...) and the native
boosters (`xgboost.Booster`, `lightgbm.Booster`, `catboost.CatBoost`), for
instance ones loaded from a saved file. Detection looks at the module of the
model's type only, so wrapping a scikit-learn model never imports these libraries.

Outputs (`output=`):

  classifiers   "auto" / "probability": one column per class — a binary model gives two
                columns (p0, p1), as `predict_proba` does, also for a native booster whose
                own `predict` returns only p1.
                "log_odds": binary — one column, log(p1 / (1 - p1)); multi-class — the
                library's margin (softmax logits; per-class logits for one-vs-all).
                "raw": the library's margin — XGBoost `output_margin=True`, LightGBM
                `raw_score=True`, CatBoost `prediction_type="RawFormulaVal"`; one column
                for a binary model.
                "predict" is refused: class labels are not numbers to explain.
                Multi-label XGBoost (several binary targets): one column per label
                ("label_0", ...) in every output space; "log_odds" is the margin.
  regressors    "auto" / "predict": the model's own `predict`; "raw": the margin as above
                (differs from "predict" for objectives with a link, e.g. Poisson).

A native booster is a classifier when its objective says so (XGBoost binary:logistic,
binary:logitraw, binary:hinge, multi:softprob, multi:softmax; LightGBM binary, multiclass,
multiclassova; CatBoost Logloss, CrossEntropy, MultiClass, MultiClassOneVsAll). A native
booster records no class labels (CatBoost aside), so its classes are named "0", "1", ...

Feature names come from the model when it was fitted on named columns (the libraries'
made-up names for unnamed columns — f0, Column_0, "0" — are ignored); such a model is
called with a DataFrame so that categorical columns reach it with their pandas dtype.
All three libraries take missing values, so NaN passes through. `Prediction.native` is
the model itself (the scikit-learn style estimator, not its booster) for tree parsers.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, ModelError
from .base import PRIORITY, Prediction, register_adapter
from .sklearn import classifier_outputs

__all__: list[str] = []

_LIBRARIES = ("xgboost", "lightgbm", "catboost")

_XGB_BINARY = {"binary:logistic", "binary:logitraw", "binary:hinge"}
_XGB_MULTI = {"multi:softprob", "multi:softmax"}
_LGB_OBJECTIVE_KEYS = ("objective", "objective_type", "app", "application", "loss")
_LGB_BINARY = {"binary"}
_LGB_MULTI = {"multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"}
_CB_BINARY = {"Logloss", "CrossEntropy"}
_CB_MULTI = {"MultiClass", "MultiClassOneVsAll"}


def _library(model: Any) -> str | None:
    root = (getattr(type(model), "__module__", "") or "").split(".")[0]
    return root if root in _LIBRARIES else None


def _matches(model: Any) -> bool:
    return not isinstance(model, type) and _library(model) is not None and hasattr(model, "predict")


# ----------------------------------------------------------------------------- shared

def _named(names: Sequence[Any] | None, default: Callable[[int], str]) -> list[str] | None:
    """The model's feature names, or None when they are the library's placeholders for unnamed columns."""
    if names is None:
        return None
    names = [str(n) for n in names]
    if not names or names == [default(i) for i in range(len(names))]:
        return None
    return names


def _two_columns(p: Any) -> np.ndarray:
    """(n,) probability of the positive class -> (n, 2) [p0, p1]."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 2:
        return p
    p = p.reshape(p.shape[0])
    return np.column_stack([1.0 - p, p])


def _sigmoid(z: Any) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z: Any) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _build(kind: str, output: str, native: Any, *, classes: Sequence[Any] | None, multiclass: bool,
           proba: Callable | None, margin: Callable | None, predict: Callable | None,
           feature_names: list[str] | None, n_features: int | None, n_targets: int = 1,
           multilabel: bool = False) -> Prediction:
    """One Prediction for every library: `classes` is None for a regressor; `multilabel` means one
    binary problem per class (XGBoost with several binary targets)."""
    # the boosters sum each row's trees in a fixed order, whatever else is in the batch
    common = dict(feature_names=feature_names, n_features=n_features, allow_nan=True,
                  wants_frame=feature_names is not None, kind=kind, native=native, batch_invariant=True)
    if classes is not None and multilabel:
        # one independent logistic model per label: probabilities and margins both have one column per label
        if output == "predict":
            raise InputError(f"output='predict' gives 0/1 labels for {kind}, which cannot be explained as "
                             "numbers; use output='probability', 'log_odds' or 'raw'")
        if output in ("auto", "probability"):
            if proba is None:
                raise ModelError(f"{kind} offers no probabilities; use output='raw'")
            return Prediction(predict=proba, output="probability", output_names=list(classes), **common)
        return Prediction(predict=margin, output=output, output_names=list(classes), **common)
    if classes is not None:
        if output == "log_odds" and multiclass:
            # softmax models have no single log-odds per class; their margin is the natural scale
            if margin is None:
                raise ModelError(f"{kind} offers no margin for multi-class log-odds; use output='probability'")
            fn, _, names = classifier_outputs(proba, margin, classes, "raw", kind)
            return Prediction(predict=fn, output="log_odds", output_names=names, **common)
        fn, space, names = classifier_outputs(proba, margin, classes, output, kind)
        return Prediction(predict=fn, output=space, output_names=names, **common)
    if output in ("probability", "log_odds"):
        raise InputError(f"{kind} is a regressor: it has no {output}; use output='predict' (or 'auto'), "
                         "or 'raw' for the margin")
    out_names = ["prediction"] if n_targets == 1 else None  # several (or unknown): named by Model
    if output == "raw":
        if margin is None:
            raise ModelError(f"{kind} offers no raw margin; use output='predict'")
        return Prediction(predict=margin, output="raw", output_names=out_names, **common)
    return Prediction(predict=predict, output="predict", output_names=out_names, **common)


def _not_fitted(kind: str, e: Exception) -> ModelError:
    return ModelError(f"{kind} is not fitted ({type(e).__name__}: {e}); fit it before wrapping it")


# ----------------------------------------------------------------------------- XGBoost

def _xgb_objective(booster: Any) -> tuple[str, int, int]:
    """(objective name, number of classes (0 for binary/regression), number of targets)."""
    learner = json.loads(booster.save_config())["learner"]
    params = learner.get("learner_model_param", {})
    return (learner.get("objective", {}).get("name", ""), int(float(params.get("num_class", 0) or 0)),
            max(1, int(float(params.get("num_target", 1) or 1))))


def _xgb(model: Any, output: str) -> Prediction:
    name = type(model).__name__
    kind = f"xgboost:{name}"
    if hasattr(model, "get_booster"):  # scikit-learn API
        try:
            booster = model.get_booster()
        except Exception as e:
            raise _not_fitted(kind, e) from e
        names = _named(booster.feature_names, lambda i: f"f{i}")
        objective, _, n_targets = _xgb_objective(booster)
        margin = lambda X: model.predict(X, output_margin=True)  # noqa: E731
        common = dict(feature_names=names, n_features=booster.num_features(), margin=margin)
        if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
            if n_targets > 1:  # multi-label: classes_ is [0, 1], one probability column per label
                return _build(kind, output, model, classes=[f"label_{i}" for i in range(n_targets)],
                              multiclass=True, multilabel=True, proba=model.predict_proba, predict=None,
                              **common)
            classes = list(model.classes_)
            return _build(kind, output, model, classes=classes, multiclass=len(classes) > 2,
                          proba=model.predict_proba, predict=None, **common)
        return _build(kind, output, model, classes=None, multiclass=False, proba=None,
                      predict=model.predict, n_targets=n_targets, **common)

    booster = model  # native xgboost.Booster
    objective, num_class, n_targets = _xgb_objective(booster)
    names = _named(booster.feature_names, lambda i: f"f{i}")
    n_features = booster.num_features()

    def value(X: Any) -> np.ndarray:
        return booster.inplace_predict(X, predict_type="value")

    def margin(X: Any) -> np.ndarray:
        return booster.inplace_predict(X, predict_type="margin")

    common = dict(feature_names=names, n_features=n_features, margin=margin)
    if objective in _XGB_BINARY and n_targets > 1:
        proba = {"binary:logistic": value, "binary:logitraw": lambda X: _sigmoid(margin(X))}.get(objective)
        return _build(f"{kind}({objective})", output, model, classes=[f"label_{i}" for i in range(n_targets)],
                      multiclass=True, multilabel=True, proba=proba, predict=None, **common)
    if objective in _XGB_BINARY:
        proba = {"binary:logistic": lambda X: _two_columns(value(X)),
                 "binary:logitraw": lambda X: _two_columns(_sigmoid(margin(X)))}.get(objective)
        return _build(f"{kind}({objective})", output, model, classes=["0", "1"], multiclass=False,
                      proba=proba, predict=None, **common)
    if objective in _XGB_MULTI:
        proba = value if objective == "multi:softprob" else (lambda X: _softmax(margin(X)))
        return _build(f"{kind}({objective})", output, model, classes=[str(i) for i in range(num_class)],
                      multiclass=True, proba=proba, predict=None, **common)
    return _build(f"{kind}({objective})", output, model, classes=None, multiclass=False, proba=None,
                  predict=value, n_targets=n_targets, **common)


# ----------------------------------------------------------------------------- LightGBM

def _lgb_objective(booster: Any) -> str:
    params = getattr(booster, "params", None) or {}
    for key in _LGB_OBJECTIVE_KEYS:
        if key in params:
            obj = params[key]
            return obj.split()[0].lower() if isinstance(obj, str) else "custom"
    return "regression"


def _lgb(model: Any, output: str) -> Prediction:
    """LightGBM's Prediction; it finds a frame's columns under the names LightGBM stored them as."""
    from .tree_parsers.lightgbm import stored_name
    pred = _lgb_prediction(model, output)
    pred.rename = stored_name
    return pred


def _lgb_prediction(model: Any, output: str) -> Prediction:
    name = type(model).__name__
    kind = f"lightgbm:{name}"
    if hasattr(model, "fit"):  # scikit-learn API (a native lightgbm.Booster has no fit)
        try:
            booster = model.booster_
        except Exception as e:
            raise _not_fitted(kind, e) from e
        margin = lambda X: model.predict(X, raw_score=True)  # noqa: E731
        common = dict(feature_names=_named(booster.feature_name(), lambda i: f"Column_{i}"),
                      n_features=booster.num_feature(), margin=margin)
        if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
            classes = list(model.classes_)
            return _build(kind, output, model, classes=classes, multiclass=len(classes) > 2,
                          proba=model.predict_proba, predict=None, **common)
        return _build(kind, output, model, classes=None, multiclass=False, proba=None,
                      predict=model.predict, **common)

    booster = model  # native lightgbm.Booster
    objective = _lgb_objective(booster)
    common = dict(feature_names=_named(booster.feature_name(), lambda i: f"Column_{i}"),
                  n_features=booster.num_feature(), margin=lambda X: booster.predict(X, raw_score=True))
    kind = f"{kind}({objective})"
    if objective in _LGB_BINARY:
        return _build(kind, output, model, classes=["0", "1"], multiclass=False,
                      proba=lambda X: _two_columns(booster.predict(X)), predict=None, **common)
    if objective in _LGB_MULTI:
        k = booster.num_model_per_iteration()
        return _build(kind, output, model, classes=[str(i) for i in range(k)], multiclass=True,
                      proba=booster.predict, predict=None, **common)
    return _build(kind, output, model, classes=None, multiclass=False, proba=None,
                  predict=booster.predict, **common)


# ----------------------------------------------------------------------------- CatBoost

def _cb(model: Any, output: str) -> Prediction:
    name = type(model).__name__
    kind = f"catboost:{name}"
    if hasattr(model, "is_fitted") and not model.is_fitted():
        raise ModelError(f"{kind} is not fitted; fit it before wrapping it")
    try:
        loss = str(model.get_all_params().get("loss_function", "")).split(":")[0]
    except Exception as e:
        raise _not_fitted(kind, e) from e
    feature_names = list(getattr(model, "feature_names_", None) or [])
    common = dict(feature_names=_named(feature_names, str), n_features=len(feature_names) or None,
                  margin=lambda X: model.predict(X, prediction_type="RawFormulaVal"))
    kind = f"{kind}({loss})"
    if loss in _CB_BINARY or loss in _CB_MULTI or hasattr(model, "predict_proba"):
        classes = getattr(model, "classes_", None)
        classes = [] if classes is None else list(classes)
        multiclass = loss in _CB_MULTI or len(classes) > 2
        if not classes:
            if multiclass:
                raise ModelError(f"{kind} records no class labels, so its number of classes is unknown; "
                                 "wrap a CatBoostClassifier or save the model with its class names")
            classes = ["0", "1"]
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba
        else:
            proba = lambda X: model.predict(X, prediction_type="Probability")  # noqa: E731
        return _build(kind, output, model, classes=classes, multiclass=multiclass, proba=proba,
                      predict=None, **common)
    # multi-target losses (MultiRMSE, ...) give one column per target
    return _build(kind, output, model, classes=None, multiclass=False, proba=None, predict=model.predict,
                  n_targets=0 if loss.startswith("Multi") else 1, **common)


# ----------------------------------------------------------------------------- dispatch

def _adapt(model: Any, output: str) -> Prediction:
    lib = _library(model)
    if lib == "xgboost":
        if not (hasattr(model, "get_booster") or hasattr(model, "inplace_predict")):
            raise ModelError(f"cannot use xgboost.{type(model).__name__} as a model; pass an XGBClassifier, "
                             "XGBRegressor or xgboost.Booster")
        return _xgb(model, output)
    if lib == "lightgbm":
        return _lgb(model, output)
    return _cb(model, output)


# first=True: these estimators also look like scikit-learn ones, and importing `.sklearn` above has
# already registered that adapter, so this one must be put ahead of it explicitly
register_adapter(_matches, _adapt, priority=PRIORITY["boosting"])
