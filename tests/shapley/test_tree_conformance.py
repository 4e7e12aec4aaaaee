"""Tree SHAP conformance matrix: every tree library x feature kind x removal x output space x task.

Each cell fits a small model and checks, against references that do not use whybox's tree code:
  * additivity: base_values + values.sum(features) equals the output the model's OWN library computes
    (decision_function / predict_proba / predict / predict(output_margin=True) / raw_score / RawFormulaVal);
  * the library's native SHAP values where one exists (XGBoost pred_contribs, LightGBM pred_contrib,
    CatBoost ShapValues; shap's TreeExplainer for scikit-learn's numeric trees), path-dependent;
  * brute force where the values are exact Shapley values of a function of the inputs: interventional
    values equal `ExactShapley` over the same background, which only calls the model's own predict;
  * the output axis follows one rule per (task, output space), whichever library made the model.
The cells that are left out, and why, are `LEFT_OUT` below; a test checks that the table and the
parametrisation together cover the whole matrix.
"""

from __future__ import annotations

import functools
import itertools

import catboost as cb
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb
from sklearn import ensemble, tree

from reference_shapley import coalition_values, shapley_of_coalitions
from whybox.shapley import TreeShap

MODELS = ("DecisionTree", "RandomForest", "ExtraTrees", "GradientBoosting", "HistGradientBoosting", "XGBoost",
          "LightGBM", "CatBoost")
FEATURES = ("numeric", "int_categories", "str_categories", "nan")
MODES = ("path_dependent", "interventional")
SPACES = ("margin", "probability")
TASKS = ("regression", "binary", "multiclass")
SKLEARN_SIMPLE = ("DecisionTree", "RandomForest", "ExtraTrees", "GradientBoosting")
FORESTS = ("DecisionTree", "RandomForest", "ExtraTrees")
COLUMNS = ["x0", "x1", "cat", "x3"]
N_CLASSES = {"binary": 2, "multiclass": 3}


def left_out(model: str, features: str, mode: str, space: str, task: str) -> str | None:
    """Why a cell of the matrix is not tested (the library or the maths does not offer it), or None."""
    if model in SKLEARN_SIMPLE and features == "str_categories":
        return "scikit-learn's trees other than HistGradientBoosting take numbers only"
    if model == "GradientBoosting" and features == "nan":
        return "GradientBoosting refuses missing values"
    if task == "regression" and space == "probability":
        return "a regressor has no probabilities"
    if model in FORESTS and task != "regression" and space == "margin":
        return "forests average class probabilities: they have no margin (their raw output is the probability)"
    if model not in FORESTS and task == "multiclass" and space == "probability":
        return "softmax probabilities are not a sum over trees: Tree SHAP refuses them (KernelShap explains them)"
    if model not in FORESTS and space == "probability" and mode == "path_dependent":
        return "path-dependent Tree SHAP is exact in the margin only; probability needs a background (rescaling)"
    return None


CELLS = [c for c in itertools.product(MODELS, FEATURES, MODES, SPACES, TASKS) if left_out(*c) is None]
LEFT_OUT = {c: left_out(*c) for c in itertools.product(MODELS, FEATURES, MODES, SPACES, TASKS) if left_out(*c)}


# ---------------------------------------------------------------------------------------------- data and models

@functools.lru_cache(maxsize=None)
def dataset(features: str, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    """300 rows: two numeric columns, a 4-level column `cat` in the feature kind asked for, a numeric x3."""
    rng = np.random.default_rng(7)
    n = 300
    x0, x1, x3 = rng.normal(size=(3, n))
    code = rng.integers(0, 4, n)
    score = x0 + 0.8 * x1 * (code == 1) + 0.7 * (code == 2) - 0.6 * (code == 3) + 0.5 * x3
    if features == "nan":
        x3[rng.random(n) < 0.15] = np.nan
        x0[rng.random(n) < 0.10] = np.nan
    if features == "str_categories":
        cat = pd.Categorical(np.array(["red", "green", "blue", "grey"])[code])
    elif features == "int_categories":
        cat = pd.Categorical(code)
    else:
        cat = code.astype(float)
    X = pd.DataFrame({"x0": x0, "x1": x1, "cat": cat, "x3": x3})
    if task == "regression":
        y = score + 0.1 * rng.normal(size=n)
    elif task == "binary":
        y = (score > np.median(score)).astype(int)
    else:
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, y


def _sklearn_frame(X: pd.DataFrame, model: str) -> pd.DataFrame:
    """scikit-learn's simple trees take the integer codes as a number."""
    if model in SKLEARN_SIMPLE and isinstance(X["cat"].dtype, pd.CategoricalDtype):
        return X.assign(cat=X["cat"].astype(int).astype(float))
    return X


def _catboost_frame(X: pd.DataFrame, features: str) -> pd.DataFrame:
    """CatBoost takes categories as strings or integers, not a pandas categorical."""
    if features == "int_categories":
        return X.assign(cat=X["cat"].astype(int))
    if features == "str_categories":
        return X.assign(cat=X["cat"].astype(str))
    return X


@functools.lru_cache(maxsize=None)
def fitted(model: str, features: str, task: str):
    """(model, the frame it was trained on and is explained with)."""
    X, y = dataset(features, task)
    reg = task == "regression"
    categorical = features in ("int_categories", "str_categories")
    if model in SKLEARN_SIMPLE or model == "HistGradientBoosting":
        X = _sklearn_frame(X, model)
        kind = "Regressor" if reg else "Classifier"
        if model == "DecisionTree":
            est = getattr(tree, f"DecisionTree{kind}")(max_depth=4, random_state=0)
        elif model in ("RandomForest", "ExtraTrees"):
            est = getattr(ensemble, f"{model}{kind}")(n_estimators=6, max_depth=4, random_state=0)
        elif model == "GradientBoosting":
            est = getattr(ensemble, f"GradientBoosting{kind}")(n_estimators=8, max_depth=3, random_state=0)
        else:
            est = getattr(ensemble, f"HistGradientBoosting{kind}")(
                max_iter=8, max_depth=3, categorical_features="from_dtype", random_state=0)
        return est.fit(X, y), X
    if model == "XGBoost":
        cls = xgb.XGBRegressor if reg else xgb.XGBClassifier
        est = cls(n_estimators=8, max_depth=3, enable_categorical=True, tree_method="hist", nthread=1,
                  random_state=0, max_cat_to_onehot=1)
        return est.fit(X, y), X
    if model == "LightGBM":
        cls = lgb.LGBMRegressor if reg else lgb.LGBMClassifier
        est = cls(n_estimators=8, num_leaves=8, min_child_samples=5, n_jobs=1, verbose=-1, random_state=0)
        return est.fit(X, y), X
    X = _catboost_frame(X, features)
    cls = cb.CatBoostRegressor if reg else cb.CatBoostClassifier
    extra = {} if task != "multiclass" else {"loss_function": "MultiClass"}
    est = cls(iterations=8, depth=3, verbose=0, allow_writing_files=False, thread_count=1, random_seed=0,
              one_hot_max_size=10, cat_features=["cat"] if categorical else None, **extra)
    return est.fit(X, y), X


# ---------------------------------------------------------------------------------------------- references

def library_output(name: str, model, X: pd.DataFrame, space: str, task: str) -> np.ndarray:
    """(n, outputs) what the model's own library computes in the output space, written out here by hand."""
    if space == "probability":
        out = model.predict_proba(X)
    elif task == "regression":
        out = model.predict(X)
    elif name in ("GradientBoosting", "HistGradientBoosting"):
        out = model.decision_function(X)
    elif name == "XGBoost":
        out = model.predict(X, output_margin=True)
    elif name == "LightGBM":
        out = model.predict(X, raw_score=True)
    else:
        out = model.predict(X, prediction_type="RawFormulaVal")
    out = np.asarray(out, dtype=float)
    return out.reshape(len(X), -1)


def native_shap(name: str, model, X: pd.DataFrame, features: str) -> np.ndarray | None:
    """Path-dependent SHAP values (n, M, outputs) from the library itself (or shap for sklearn), or None."""
    if name == "XGBoost":
        raw = model.get_booster().predict(xgb.DMatrix(X, enable_categorical=True), pred_contribs=True)
        return raw[..., :-1, None] if raw.ndim == 2 else np.transpose(raw[..., :-1], (0, 2, 1))
    if name == "LightGBM":
        raw = model.predict(X, pred_contrib=True)
        k = raw.shape[1] // (X.shape[1] + 1)
        return np.transpose(raw.reshape(len(X), k, -1)[..., :-1], (0, 2, 1))
    if name == "CatBoost":
        pool = cb.Pool(X, cat_features=["cat"] if features in ("int_categories", "str_categories") else None)
        raw = model.get_feature_importance(pool, type="ShapValues")
        return raw[..., :-1, None] if raw.ndim == 2 else np.transpose(raw[..., :-1], (0, 2, 1))
    if name in SKLEARN_SIMPLE and features != "nan" and not (name == "GradientBoosting" and getattr(model, "n_classes_", 0) > 2):
        # (shap reads GradientBoostingClassifier for two classes only, and no tree with missing values)
        raw = shap.TreeExplainer(model).shap_values(X.to_numpy(dtype=float))
        raw = np.asarray(raw)
        return raw[..., None] if raw.ndim == 2 else raw
    return None


def expected_axis(task: str, space: str) -> tuple[int | None, tuple[str, ...] | None]:
    """The one rule for the output axis: (outputs or None when there is no output axis, output names)."""
    if task == "regression" or (task == "binary" and space == "margin"):
        return None, None
    k = N_CLASSES[task]
    return k, tuple(str(c) for c in range(k))


# ---------------------------------------------------------------------------------------------- the matrix

@pytest.mark.parametrize("name,features,mode,space,task", CELLS, ids=["-".join(c) for c in CELLS])
def test_cell(name, features, mode, space, task):
    model, X = fitted(name, features, task)
    rows, background = X.iloc[:6], X.iloc[100:120]
    explainer = TreeShap(model, background if mode == "interventional" else None,
                         output="probability" if space == "probability" else "raw")
    attr = explainer.explain(rows)                     # raises AdditivityError if it misses the library
    k, names = expected_axis(task, space)
    values = attr.values if attr.has_outputs else attr.values[..., None]
    assert attr.values.shape == ((6, 4) if k is None else (6, 4, k)), attr.values.shape
    assert attr.output_names == names and list(attr.feature_names) == COLUMNS

    # additivity, against the library's output computed here (not whybox's library hook)
    own = library_output(name, model, rows, space, task)
    recon = attr.output if attr.has_outputs else attr.output[:, None]
    float32 = name == "XGBoost"
    np.testing.assert_allclose(recon, own, rtol=0, atol=2e-5 if float32 else 1e-6)
    # the base value is the model's mean over the background (interventional)
    if mode == "interventional":
        base = attr.base_values[0] if attr.has_outputs else attr.base_values[:1]
        mean_bg = library_output(name, model, background, space, task).mean(axis=0)
        np.testing.assert_allclose(base, mean_bg, rtol=0, atol=2e-5 if float32 else 1e-6)

    if mode == "path_dependent":
        ref = native_shap(name, model, rows, features)
        if ref is not None:
            np.testing.assert_allclose(values, ref, rtol=0, atol=2e-5 if float32 else 1e-8)
    if mode == "interventional":
        brute = brute_force(name, model, rows, background, space, task)
        np.testing.assert_allclose(values, brute, rtol=0, atol=2e-5 if float32 else 1e-8)


def brute_force(name: str, model, rows: pd.DataFrame, background: pd.DataFrame, space: str,
                task: str) -> np.ndarray:
    """(n, M, outputs) by enumerating every coalition over the background and calling only the library.

    Exact interventional Shapley values, v(S) = mean_b f(x_S, b_-S), except for a boosted binary model in
    probability, which Tree SHAP explains (as shap does) by rescaling each background row's margin values:
    phi_j = mean_b phi_j(margin; x, b) (p(x) - p(b)) / (m(x) - m(b)) (the slope p(x)(1 - p(x)) where the margins
    are equal); then the second column is phi and the first -phi.
    """
    if not (space == "probability" and name not in FORESTS):
        masks, v = coalition_values(lambda Z: library_output(name, model, Z, space, task), rows, background)
        return shapley_of_coalitions(masks, v.mean(axis=2))
    masks, v = coalition_values(lambda Z: library_output(name, model, Z, "margin", task), rows, background)
    per_b = shapley_of_coalitions(masks, v[..., 0])                      # (n, M, background rows)
    m_x = library_output(name, model, rows, "margin", task)[:, :1]
    m_b = library_output(name, model, background, "margin", task)[None, :, 0]
    p_x, p_b = model.predict_proba(rows)[:, 1:], model.predict_proba(background)[None, :, 1]
    same = np.isclose(m_x, m_b, rtol=0, atol=1e-12)                      # the limit there: the slope p (1 - p)
    scale = np.where(same, p_x * (1 - p_x), (p_x - p_b) / np.where(same, 1.0, m_x - m_b))   # (n, background rows)
    phi = (per_b * scale[:, None, :]).mean(axis=2)
    return np.stack([-phi, phi], axis=2)


def test_the_left_out_cells_are_the_rest_of_the_matrix():
    everything = set(itertools.product(MODELS, FEATURES, MODES, SPACES, TASKS))
    assert set(CELLS) | set(LEFT_OUT) == everything and not set(CELLS) & set(LEFT_OUT)
    # every library is tested in every task, and every feature kind with at least one library
    for model, task in itertools.product(MODELS, TASKS):
        assert any(c[0] == model and c[4] == task for c in CELLS), (model, task)
    assert {c[1] for c in CELLS} == set(FEATURES)


@pytest.mark.parametrize("space", ["margin", "probability"])
def test_refused_cells_say_why(space):
    """A cell left out because Tree SHAP cannot be exact there is refused with a message, never wrong."""
    model, X = fitted("XGBoost", "numeric", "multiclass" if space == "probability" else "binary")
    if space == "probability":
        with pytest.raises(Exception, match="softmax"):
            TreeShap(model, X.iloc[:20], output="probability")
    else:
        with pytest.raises(Exception, match="interventional|background"):
            TreeShap(model, output="probability")
