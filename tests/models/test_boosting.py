"""wrap() on XGBoost, LightGBM and CatBoost models: both APIs give the library's own numbers."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from whybox.errors import InputError, ModelError
from whybox.models import wrap

import xgboost as xgb
import lightgbm as lgb
import catboost as cb

LIBS = ("xgboost", "lightgbm", "catboost")
APIS = ("sklearn", "native")
N_TREES = 20


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol, atol=tol)


def logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 300
    X = rng.normal(size=(n, 4))
    y2 = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    y3 = np.digitize(X[:, 0] - X[:, 2], [-0.6, 0.6])
    yr = X[:, 0] * 2 + np.sin(X[:, 1])
    color = pd.Categorical(rng.choice(["red", "green", "blue"], n), categories=["blue", "green", "red"])
    df = pd.DataFrame({"age": X[:, 0], "income": X[:, 1], "debt": X[:, 2], "color": color})
    yc = ((df.age > 0) ^ (df.color == "red")).astype(int).to_numpy() + (df.debt > 1).to_numpy()
    return dict(X=X, y={"binary": y2, "multiclass": y3, "regression": yr}, df=df, yc=yc)


def _estimator(lib, task, categorical=False):
    if lib == "xgboost":
        kw = dict(n_estimators=N_TREES, max_depth=3, enable_categorical=categorical, tree_method="hist")
        return xgb.XGBRegressor(**kw) if task == "regression" else xgb.XGBClassifier(**kw)
    if lib == "lightgbm":
        kw = dict(n_estimators=N_TREES, num_leaves=8, min_child_samples=5, verbose=-1)
        return lgb.LGBMRegressor(**kw) if task == "regression" else lgb.LGBMClassifier(**kw)
    kw = dict(iterations=N_TREES, depth=3, verbose=0, allow_writing_files=False,
              cat_features=["color"] if categorical else None)
    return cb.CatBoostRegressor(**kw) if task == "regression" else cb.CatBoostClassifier(**kw)


def _native(lib, est, tmp_path):
    """The library's own booster for a fitted estimator (CatBoost: saved and loaded as a plain CatBoost)."""
    if lib == "xgboost":
        return est.get_booster()
    if lib == "lightgbm":
        return est.booster_
    path = str(tmp_path / "model.cbm")
    est.save_model(path)
    native = cb.CatBoost()
    native.load_model(path)
    return native


_CACHE = {}


@pytest.fixture
def fitted(data, tmp_path_factory):
    """fitted(lib, task, categorical=False) -> (estimator, native booster), cached for the module."""
    def get(lib, task, categorical=False):
        key = (lib, task, categorical)
        if key not in _CACHE:
            est = _estimator(lib, task, categorical)
            if categorical:
                est.fit(data["df"], data["yc"])
            else:
                est.fit(data["X"], data["y"][task])
            _CACHE[key] = (est, _native(lib, est, tmp_path_factory.mktemp(lib)))
        return _CACHE[key]
    return get


def _proba(lib, est, native, api, X):
    """The library's own class probabilities (a native binary booster's p1 made into p0, p1)."""
    if api == "sklearn":
        return est.predict_proba(X)
    if lib == "xgboost":
        p = native.predict(xgb.DMatrix(X, enable_categorical=True))
    elif lib == "lightgbm":
        p = native.predict(X)
    else:
        return native.predict(X, prediction_type="Probability")
    return np.column_stack([1 - p, p]) if p.ndim == 1 else p


def _margin(lib, est, native, api, X):
    if lib == "xgboost":
        return est.predict(X, output_margin=True) if api == "sklearn" else \
            native.predict(xgb.DMatrix(X, enable_categorical=True), output_margin=True)
    if lib == "lightgbm":
        return (est if api == "sklearn" else native).predict(X, raw_score=True)
    return (est if api == "sklearn" else native).predict(X, prediction_type="RawFormulaVal")


# ----------------------------------------------------------------------------- classifiers

@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("lib", LIBS)
def test_classifier_probability_and_margin(lib, api, task, data, fitted):
    est, native = fitted(lib, task)
    model = est if api == "sklearn" else native
    X = data["X"][:50]
    k = 2 if task == "binary" else 3

    m = wrap(model)
    p = m(X)
    assert m.output == "probability" and p.shape == (50, k)
    close(p, _proba(lib, est, native, api, X))
    close(p, est.predict_proba(X))  # the native booster follows the scikit-learn convention
    assert m.output_names == tuple(str(c) for c in range(k))
    assert m.native is model

    raw = wrap(model, output="raw")(X)
    assert raw.shape == (50, 1 if task == "binary" else k)
    close(raw, np.asarray(_margin(lib, est, native, api, X)).reshape(50, -1))

    lo = wrap(model, output="log_odds")
    if task == "binary":
        assert lo.output_names == ("1",)
        close(lo(X)[:, 0], logit(p[:, 1]))
        close(lo(X), raw, tol=1e-4)  # the margin of a logistic model is its log-odds
    else:
        close(lo(X), raw)  # multi-class log-odds: the library's softmax margin


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("lib", LIBS)
def test_regressor_predict_and_raw(lib, api, data, fitted):
    est, native = fitted(lib, "regression")
    model = est if api == "sklearn" else native
    X = data["X"][:40]
    m = wrap(model)
    assert m.output == "predict"
    out = m(X)
    assert out.shape == (40, 1) and m.output_names == ("prediction",)
    close(out[:, 0], est.predict(X))
    own = native.predict(xgb.DMatrix(X)) if (lib, api) == ("xgboost", "native") else model.predict(X)
    close(out[:, 0], own)
    close(wrap(model, output="raw")(X)[:, 0], _margin(lib, est, native, api, X))
    with pytest.raises(InputError, match="regressor"):
        wrap(model, output="probability")
    with pytest.raises(InputError, match="regressor"):
        wrap(model, output="log_odds")


@pytest.mark.parametrize("lib", LIBS)
def test_classifier_refuses_labels(lib, fitted):
    est, native = fitted(lib, "binary")
    for model in (est, native):
        with pytest.raises(InputError, match="class labels"):
            wrap(model, output="predict")


# ----------------------------------------------------------------------------- data handling

@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("lib", LIBS)
def test_dataframe_with_categorical_column(lib, api, data, fitted):
    est, native = fitted(lib, "multiclass", categorical=True)
    model = est if api == "sklearn" else native
    df = data["df"].iloc[:60]
    m = wrap(model)
    assert m.prediction.feature_names == ["age", "income", "debt", "color"]
    assert m.prediction.wants_frame
    out = m(df)
    expected = est.predict_proba(df)
    assert out.shape == expected.shape
    close(out, expected)
    close(out, _proba(lib, est, native, api, df))
    # columns in another order are put back in the model's order
    close(m(df[["color", "debt", "age", "income"]]), expected)
    # a category the model never saw is refused before the model is called
    bad = df.iloc[:2].astype({"color": object})
    bad.iloc[0, 3] = "purple"
    with pytest.raises(InputError, match="unknown category 'purple'"):
        m(bad)
    with pytest.raises(InputError, match="color"):
        wrap(model)(df[["age", "income", "debt"]])


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("lib", LIBS)
def test_nan_passes_through(lib, api, data, fitted):
    est, native = fitted(lib, "binary")
    model = est if api == "sklearn" else native
    X = data["X"][:30].copy()
    X[::3, 1] = np.nan
    X[1, :] = np.nan
    m = wrap(model)
    assert m.prediction.allow_nan
    close(m(X), est.predict_proba(X))
    close(m(X), _proba(lib, est, native, api, X))


@pytest.mark.parametrize("lib", LIBS)
def test_wrong_column_count(lib, data, fitted):
    est, native = fitted(lib, "binary")
    for model in (est, native):
        with pytest.raises(InputError, match="expects 4"):  # before anything was bound
            wrap(model)(np.ones((2, 3)))
        m = wrap(model)
        m(data["X"][:5])
        with pytest.raises(InputError, match="expects 4"):
            m(np.ones((2, 5)))


@pytest.mark.parametrize("lib", LIBS)
def test_feature_names_and_counting(lib, data, fitted):
    est, _ = fitted(lib, "binary")
    m = wrap(est, batch_size=64)
    # names the library makes up for unnamed numpy columns (f0, Column_0, "0") are not recorded
    assert m.prediction.feature_names is None
    assert m.prediction.n_features == 4
    out = m(data["X"])
    assert out.shape == (300, 2)
    assert m.n_evals == 300 and m.n_calls == 5
    m(data["X"][:7])
    assert m.n_evals == 307
    m.reset_count()
    assert m.n_evals == 0


def test_catboost_string_classes(data):
    X, y = data["X"], data["y"]["binary"]
    est = cb.CatBoostClassifier(iterations=N_TREES, depth=3, verbose=0, allow_writing_files=False)
    est.fit(X, np.array(["deny", "approve"])[y])
    m = wrap(est)
    close(m(X[:20]), est.predict_proba(X[:20]))
    assert m.output_names == tuple(str(c) for c in est.classes_)
    assert wrap(est, output="log_odds").output_names == (str(est.classes_[1]),)


def test_xgboost_native_objectives(data):
    X, y2, y3 = data["X"], data["y"]["binary"], data["y"]["multiclass"]
    raw = xgb.train({"objective": "binary:logitraw", "max_depth": 3}, xgb.DMatrix(X, label=y2), 10)
    margin = raw.predict(xgb.DMatrix(X[:20]), output_margin=True)
    close(wrap(raw, output="raw")(X[:20])[:, 0], margin)
    p1 = 1 / (1 + np.exp(-margin.astype(float)))
    close(wrap(raw)(X[:20]), np.column_stack([1 - p1, p1]))

    soft = xgb.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3},
                     xgb.DMatrix(X, label=y3), 10)
    p = wrap(soft)(X[:20])
    close(p.sum(axis=1), np.ones(20))
    np.testing.assert_array_equal(p.argmax(axis=1), soft.predict(xgb.DMatrix(X[:20])))

    hinge = xgb.train({"objective": "binary:hinge"}, xgb.DMatrix(X, label=y2), 5)
    with pytest.raises(ModelError, match="no probabilities"):
        wrap(hinge)
    assert wrap(hinge, output="raw")(X[:5]).shape == (5, 1)


def test_xgboost_multilabel(data):
    X = data["X"]
    Y = np.column_stack([data["y"]["binary"], (X[:, 3] > 0).astype(int)])
    est = xgb.XGBClassifier(n_estimators=10, max_depth=3, tree_method="hist").fit(X, Y)
    for model in (est, est.get_booster()):
        m = wrap(model)
        close(m(X[:20]), est.predict_proba(X[:20]))
        assert m.output_names == ("label_0", "label_1")
        lo = wrap(model, output="log_odds")
        close(lo(X[:20]), est.predict(X[:20], output_margin=True))  # one logit per label
        assert lo.output_names == ("label_0", "label_1")


def test_lightgbm_native_train_api(data):
    X, y3 = data["X"], data["y"]["multiclass"]
    booster = lgb.train({"objective": "softmax", "num_class": 3, "num_leaves": 8, "verbose": -1},
                        lgb.Dataset(X, label=y3), num_boost_round=10)
    m = wrap(booster)
    assert m.output == "probability"
    close(m(X[:20]), booster.predict(X[:20]))


def test_unfitted_models_are_refused():
    for est in (xgb.XGBClassifier(), lgb.LGBMClassifier(), cb.CatBoostClassifier()):
        with pytest.raises(ModelError, match="not fitted"):
            wrap(est)


# ----------------------------------------------------------------------------- saved models

@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgboost_saved_and_reloaded(fmt, data, fitted, tmp_path):
    for task in ("binary", "multiclass"):
        est, _ = fitted("xgboost", task)
        path = tmp_path / f"{task}.{fmt}"
        est.save_model(str(path))
        booster = xgb.Booster(model_file=str(path))
        close(wrap(booster)(data["X"][:30]), est.predict_proba(data["X"][:30]))
    est, _ = fitted("xgboost", "multiclass", categorical=True)
    path = tmp_path / f"cat.{fmt}"
    est.save_model(str(path))
    booster = xgb.Booster(model_file=str(path))
    m = wrap(booster)
    assert m.prediction.feature_names == ["age", "income", "debt", "color"]
    close(m(data["df"].iloc[:30]), est.predict_proba(data["df"].iloc[:30]))


def test_lightgbm_saved_and_reloaded(data, fitted, tmp_path):
    for task in ("binary", "multiclass"):
        est, _ = fitted("lightgbm", task)
        path = tmp_path / f"{task}.txt"
        est.booster_.save_model(str(path))
        booster = lgb.Booster(model_file=str(path))
        close(wrap(booster)(data["X"][:30]), est.predict_proba(data["X"][:30]))
        close(wrap(booster, output="raw")(data["X"][:30]),
              est.predict(data["X"][:30], raw_score=True).reshape(30, -1))
    est, _ = fitted("lightgbm", "multiclass", categorical=True)
    path = tmp_path / "cat.txt"
    est.booster_.save_model(str(path))
    booster = lgb.Booster(model_file=str(path))
    close(wrap(booster)(data["df"].iloc[:30]), est.predict_proba(data["df"].iloc[:30]))


# ----------------------------------------------------------------------------- detection

def test_wrapping_other_models_imports_no_booster_library():
    code = ("import sys\n"
            "from sklearn.linear_model import LinearRegression\n"
            "from whybox.models import wrap\n"
            "m = wrap(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))\n"
            "assert m.kind.startswith('sklearn'), m.kind\n"
            "loaded = {'xgboost', 'lightgbm', 'catboost', 'onnxruntime'} & set(sys.modules)\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_booster_estimators_use_this_adapter(fitted):
    for lib in LIBS:
        est, native = fitted(lib, "binary")
        assert wrap(est).kind.startswith(lib)
        assert wrap(native).kind.startswith(lib)
