"""scikit-learn trees read into TreeEnsemble: predict_raw equals sklearn's own raw output to 1e-6."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (AdaBoostClassifier, BaggingRegressor, ExtraTreesClassifier, ExtraTreesRegressor,
                              GradientBoostingClassifier, GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, RandomForestClassifier,
                              RandomForestRegressor)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from whybox.errors import ModelError
from whybox.models import tree_parsers
from whybox.models.tree_parsers import sklearn as sk_parser
from whybox.models.tree_parsers._sklearn_common import _float32_thresholds
from whybox.models.trees import LINKS, TreeEnsemble

N_TREES = 10


def close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol, atol=tol)


def raw_output(model, X):
    """sklearn's raw output as (n, K)."""
    final = model[-1] if isinstance(model, Pipeline) else model
    if isinstance(final, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return final._raw_predict(X)
    if isinstance(final, (GradientBoostingClassifier, GradientBoostingRegressor)):
        return np.asarray(model.decision_function(X) if hasattr(final, "classes_") else model.predict(X)) \
            .reshape(len(X), -1)
    if hasattr(final, "predict_proba"):
        p = model.predict_proba(X)
        return np.hstack(p) if isinstance(p, list) else p
    return np.asarray(model.predict(X)).reshape(len(X), -1)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """HistGradientBoosting's OpenMP threads only cost time on models this small."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, 4))
    X[:, 3] = rng.integers(0, 4, n) / 2.0          # few distinct values: thresholds exact in float32
    y = {"binary": (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int),
         "multiclass": np.digitize(X[:, 0] - X[:, 2] + X[:, 3], [-0.3, 0.9]),
         "regression": 2 * X[:, 0] + np.sin(X[:, 1]) + X[:, 3],
         "multioutput": np.column_stack([X[:, 0] - X[:, 3], X[:, 1] * X[:, 2]])}
    Xnan = X.copy()
    Xnan[rng.random(X.shape) < 0.1] = np.nan
    test = rng.normal(size=(150, 4))
    test[:, 3] = rng.integers(0, 4, 150) / 2.0
    # right at, and a hair around, the float32-exact thresholds: sklearn compares float32(x)
    edge = np.tile(test[:24], (1, 1))
    edge[:, 3] = np.repeat([0.25, 0.75, 1.25], 8) + np.tile([0, 1e-9, -1e-9, 1e-8, -1e-8, 3e-8, -3e-8, 1e-12], 3)
    test = np.vstack([test, edge])
    test_nan = test.copy()
    test_nan[rng.random(test.shape) < 0.15] = np.nan
    return dict(X=X, Xnan=Xnan, y=y, test=test, test_nan=test_nan)


def _forest(cls, task):
    kw = {} if cls in (DecisionTreeClassifier, DecisionTreeRegressor) else dict(n_estimators=N_TREES)
    if cls in (DecisionTreeClassifier, DecisionTreeRegressor):
        kw["max_depth"] = 8
    return cls(random_state=0, **kw)


FOREST_CASES = [(cls, task)
                for cls, tasks in [(DecisionTreeClassifier, ("binary", "multiclass")),
                                   (RandomForestClassifier, ("binary", "multiclass")),
                                   (ExtraTreesClassifier, ("binary", "multiclass")),
                                   (DecisionTreeRegressor, ("regression", "multioutput")),
                                   (RandomForestRegressor, ("regression", "multioutput")),
                                   (ExtraTreesRegressor, ("regression", "multioutput"))]
                for task in tasks]


@pytest.mark.parametrize("cls,task", FOREST_CASES, ids=[f"{c.__name__}-{t}" for c, t in FOREST_CASES])
@pytest.mark.parametrize("missing", [False, True], ids=["dense", "nan"])
def test_trees_and_forests(data, cls, task, missing):
    X = data["Xnan"] if missing else data["X"]
    test = data["test_nan"] if missing else data["test"]
    model = _forest(cls, task).fit(X, data["y"][task])
    ens = TreeEnsemble.from_model(model)
    close(ens.predict_raw(test), raw_output(model, test))
    close(ens.predict_raw(X), raw_output(model, X))
    assert ens.link == "identity" and ens.source == f"sklearn:{cls.__name__}"
    assert ens.n_trees == (1 if "DecisionTree" in cls.__name__ else N_TREES) and ens.n_features == 4
    np.testing.assert_array_equal(ens.base_offset, 0.0)
    if task in ("binary", "multiclass"):
        assert ens.output_names == tuple(str(c) for c in model.classes_)
        close(ens.predict(test).sum(axis=1), 1.0)
    else:
        assert ens.n_outputs == (2 if task == "multioutput" else 1)
    # bootstrap draws as many rows as the data has; a single tree / extra trees use every row once
    close(ens.cover[ens.roots], len(X))


def test_multioutput_classifier(data):
    X, y = data["X"], data["y"]
    Y = np.column_stack([y["binary"], y["multiclass"]])
    model = RandomForestClassifier(n_estimators=N_TREES, random_state=0).fit(X, Y)
    ens = sk_parser.parse(model)
    assert ens.n_outputs == 5 and ens.output_names == ("0:0", "0:1", "1:0", "1:1", "1:2")
    close(ens.predict_raw(data["test"]), raw_output(model, data["test"]))


def test_sample_weight_cover(data):
    X, y = data["X"], data["y"]["regression"]
    w = np.random.default_rng(1).uniform(0.5, 3.0, len(X))
    for model in (DecisionTreeRegressor(max_depth=5), RandomForestRegressor(n_estimators=5, bootstrap=False),
                  GradientBoostingRegressor(n_estimators=5)):
        ens = TreeEnsemble.from_model(model.fit(X, y, sample_weight=w))
        close(ens.cover[ens.roots], w.sum())
        close(ens.predict_raw(data["test"]), raw_output(model, data["test"]))


def test_internal_values_are_cover_weighted_means(data):
    model = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(data["X"], data["y"]["binary"])
    ens = sk_parser.parse(model)
    split = np.flatnonzero(ens.left >= 0)
    l, r = ens.left[split], ens.right[split]
    expect = (ens.cover[l, None] * ens.value[l] + ens.cover[r, None] * ens.value[r]) / ens.cover[split, None]
    close(ens.value[split], expect, 1e-9)
    tree = DecisionTreeRegressor(max_depth=4).fit(data["X"], data["y"]["regression"])
    close(sk_parser.parse(tree).value[0], data["y"]["regression"].mean(), 1e-9)


GB_CASES = [(GradientBoostingClassifier, "binary", "logistic", 1),
            (GradientBoostingClassifier, "multiclass", "softmax", 3),
            (GradientBoostingRegressor, "regression", "identity", 1)]


@pytest.mark.parametrize("cls,task,link,k", GB_CASES, ids=[f"{c.__name__}-{t}" for c, t, *_ in GB_CASES])
def test_gradient_boosting(data, cls, task, link, k):
    X, y = data["X"], data["y"][task]
    model = cls(n_estimators=N_TREES, max_depth=3, learning_rate=0.3, subsample=1.0, random_state=0).fit(X, y)
    ens = TreeEnsemble.from_model(model)
    assert ens.link == link and ens.n_outputs == k and ens.n_trees == N_TREES * k
    close(ens.predict_raw(data["test"]), raw_output(model, data["test"]))
    close(ens.cover[ens.roots], len(X))
    if link == "logistic":
        assert ens.output_names == ("1",)
        close(ens.predict(data["test"])[:, 0], model.predict_proba(data["test"])[:, 1])
    elif link == "softmax":
        close(ens.predict(data["test"]), model.predict_proba(data["test"]))
    else:
        close(ens.predict(data["test"])[:, 0], model.predict(data["test"]))


def test_gradient_boosting_other_inits_and_losses(data):
    X, y = data["X"], data["y"]
    for model in (GradientBoostingRegressor(n_estimators=5, loss="huber"),
                  GradientBoostingRegressor(n_estimators=5, loss="quantile", alpha=0.8),
                  GradientBoostingRegressor(n_estimators=5, init="zero"),
                  GradientBoostingClassifier(n_estimators=5, init="zero")):
        model.fit(X, y["regression"] if "Regressor" in type(model).__name__ else y["multiclass"])
        close(sk_parser.parse(model).predict_raw(data["test"]), raw_output(model, data["test"]))
    custom = GradientBoostingRegressor(n_estimators=3, init=LinearRegression()).fit(X, y["regression"])
    assert not sk_parser.supports(custom)
    with pytest.raises(ModelError, match="LinearRegression"):
        sk_parser.parse(custom)
    expo = GradientBoostingClassifier(n_estimators=3, loss="exponential").fit(X, y["binary"])
    with pytest.raises(ModelError, match="exponential"):
        sk_parser.parse(expo)


HGB_CASES = [(HistGradientBoostingClassifier, "binary", "logistic", 1),
             (HistGradientBoostingClassifier, "multiclass", "softmax", 3),
             (HistGradientBoostingRegressor, "regression", "identity", 1)]


@pytest.mark.parametrize("cls,task,link,k", HGB_CASES, ids=[f"{c.__name__}-{t}" for c, t, *_ in HGB_CASES])
def test_hist_gradient_boosting_numeric(data, cls, task, link, k):
    X, y = data["Xnan"], data["y"][task]
    model = cls(max_iter=N_TREES, max_leaf_nodes=8, random_state=0).fit(X, y)
    ens = TreeEnsemble.from_model(model)
    assert ens.link == link and ens.n_outputs == k and ens.n_trees == N_TREES * k
    close(ens.predict_raw(data["test_nan"]), model._raw_predict(data["test_nan"]))
    close(ens.predict_raw(X), model._raw_predict(X))
    close(ens.cover[ens.roots], len(X))
    assert not ens.categories


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 500
    color = pd.Categorical(rng.choice(["red", "green", "blue", "zz"], n),
                           categories=["zz", "red", "green", "blue", "purple"])     # purple never occurs
    size = pd.Categorical(rng.choice([3, 1, 7], n))
    df = pd.DataFrame({"age": rng.normal(size=n), "color": color, "income": rng.normal(size=n), "size": size})
    df.loc[rng.random(n) < 0.1, "color"] = np.nan
    df.loc[rng.random(n) < 0.1, "age"] = np.nan
    score = df.age.fillna(0) + 1.5 * df.color.isin(["red", "blue"]) - (df["size"] == 7) + 0.3 * df.income
    y = {"binary": (score > 0.6).astype(int).to_numpy(),
         "multiclass": np.digitize(score.to_numpy(), [0.2, 1.2]),
         "regression": score.to_numpy() + rng.normal(0, 0.1, n)}
    # held-out rows with NaN and with categories the model never saw (the dtype gains the new ones)
    test = df.sample(60, random_state=1).reset_index(drop=True)
    test["color"] = pd.Categorical(test.color.astype(object).to_numpy(),
                                   categories=["zz", "red", "green", "blue", "purple", "black"])
    test.loc[:9, "color"] = ["purple", "black"] * 5
    test["size"] = pd.Categorical(test["size"].astype(object).to_numpy(), categories=[1, 3, 7, 9])
    test.loc[10:14, "size"] = 9
    test.loc[15:19, "color"] = np.nan
    test.loc[20:24, "age"] = np.nan
    return df, y, test


@pytest.mark.parametrize("cls,task,link,k", HGB_CASES, ids=[f"{c.__name__}-{t}" for c, t, *_ in HGB_CASES])
def test_hist_gradient_boosting_categorical_from_dtype(frame, cls, task, link, k):
    df, y, test = frame
    model = cls(max_iter=N_TREES, max_leaf_nodes=8, categorical_features="from_dtype", random_state=0)
    model.fit(df, y[task])
    ens = TreeEnsemble.from_model(model)
    assert ens.categorical.any() and ens.unseen_as_missing
    # sklearn codes the categories seen in training, sorted; not the dtype's order
    assert ens.categories == {1: ["blue", "green", "red", "zz"], 3: [1, 3, 7]}
    assert ens.feature_names == ("age", "color", "income", "size") and ens.n_features == 4
    close(ens.predict_raw(test), model._raw_predict(test))
    close(ens.predict_raw(df), model._raw_predict(df))
    # columns in another order are matched by name
    close(ens.predict_raw(test[["size", "income", "color", "age"]]), model._raw_predict(test))
    close(ens.cover[ens.roots], len(df))
    # object-dtype numpy rows encode by value too
    close(ens.predict_raw(test.astype(object).to_numpy()), model._raw_predict(test))


def test_hist_gradient_boosting_categorical_mask_on_numpy(frame):
    df, y, _ = frame
    rng = np.random.default_rng(5)
    X = np.column_stack([df.age.to_numpy(), rng.integers(0, 5, len(df)), df.income.to_numpy()]).astype(float)
    target = y["regression"] + (X[:, 1] == 2)
    model = HistGradientBoostingRegressor(max_iter=N_TREES, categorical_features=[1], random_state=0).fit(X, target)
    ens = sk_parser.parse(model)
    assert ens.categories == {1: [0.0, 1.0, 2.0, 3.0, 4.0]} and ens.feature_names is None
    test = X[:40].copy()
    test[:5, 1] = np.nan
    close(ens.predict_raw(test), model._raw_predict(test))
    # unseen integer categories follow the missing direction (given as a frame, encoded by value)
    test[5:10, 1] = [5, 6, 9, 11, 5]
    close(ens.predict_raw(pd.DataFrame(test)), model._raw_predict(test))


def test_hist_gradient_boosting_log_link_losses(data):
    y = np.exp(data["y"]["regression"] / 3)
    model = HistGradientBoostingRegressor(max_iter=5, loss="poisson").fit(data["X"], y)
    if "exp" in LINKS:
        close(sk_parser.parse(model).predict_raw(data["test"]), model._raw_predict(data["test"]))
    else:
        assert not sk_parser.supports(model)
        with pytest.raises(ModelError, match="poisson"):
            sk_parser.parse(model)


def test_pipeline_with_only_the_tree_model(frame):
    df, y, test = frame
    hgb = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype", random_state=0)
    pipe = Pipeline([("prep", "passthrough"), ("skip", None), ("model", hgb)]).fit(df, y["binary"])
    assert tree_parsers.supports(pipe)
    ens = TreeEnsemble.from_model(pipe)
    assert ens.source == "sklearn:HistGradientBoostingClassifier"
    close(ens.predict_raw(test), hgb._raw_predict(test))
    close(ens.predict(test)[:, 0], pipe.predict_proba(test)[:, 1])


def test_pipeline_with_transformer_is_refused(data):
    pipe = make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=3)).fit(data["X"], data["y"]["regression"])
    assert not tree_parsers.supports(pipe)
    with pytest.raises(ModelError, match="Tree SHAP needs the tree model itself") as err:
        TreeEnsemble.from_model(pipe)
    assert "StandardScaler" in str(err.value) and "model-agnostic" in str(err.value)


@pytest.mark.parametrize("model", [AdaBoostClassifier(n_estimators=3),
                                   LogisticRegression(), BaggingRegressor(DecisionTreeRegressor(), n_estimators=3)],
                         ids=lambda m: type(m).__name__)
def test_unsupported_models(data, model):
    X, y = data["X"], data["y"]["binary"]
    model.fit(X, y)
    name = type(model).__name__
    assert not sk_parser.supports(model) and not tree_parsers.supports(model)
    assert name in sk_parser.why_not(model) and name in tree_parsers.why_not(model)
    for fn in (sk_parser.parse, TreeEnsemble.from_model):
        with pytest.raises(ModelError, match=name):
            fn(model)


def test_unfitted_model():
    assert not sk_parser.supports(RandomForestClassifier())
    with pytest.raises(ModelError, match="RandomForestClassifier is not fitted"):
        sk_parser.parse(RandomForestClassifier())


def test_feature_names_and_metadata(frame):
    df, y, _ = frame
    num = df[["age", "income"]]
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(num, y["multiclass"])
    ens = sk_parser.parse(model)
    assert ens.feature_names == ("age", "income") and ens.output_names == ("0", "1", "2")
    close(ens.predict_raw(num[["income", "age"]]), model.predict_proba(num))


def test_float32_thresholds_match_sklearn_casting():
    rng = np.random.default_rng(0)
    t = np.concatenate([rng.normal(size=300), rng.normal(size=300).astype(np.float32), [0.0, 1.5, -2.0, 1e-40]])
    m, strict = _float32_thresholds(t)
    x = np.concatenate([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), m, np.nextafter(m, np.inf),
                        np.nextafter(m, -np.inf), t + 1e-9, t - 1e-9])
    x32 = x.astype(np.float32).astype(np.float64)
    for ti, mi, si in zip(t, m, strict):
        np.testing.assert_array_equal((x < mi) if si else (x <= mi), x32 <= ti)
