"""XGBoost and LightGBM trees parsed into a TreeEnsemble give the libraries' own raw margins.

Reference numbers: XGBoost `predict(..., output_margin=True)` (float32, so compared at 1e-6 relative,
plus an exact check of the leaves reached and of a float32 replay of XGBoost's sum), LightGBM
`predict(..., raw_score=True)` (float64, compared at 1e-12).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from whybox.errors import ModelError
from whybox.models import tree_parsers
from whybox.models.trees import TreeEnsemble

import xgboost as xgb
import lightgbm as lgb

from whybox.models.tree_parsers import lightgbm as lgb_parser  # noqa: E402
from whybox.models.tree_parsers import xgboost as xgb_parser  # noqa: E402

N = 500
N_TREES = 15
KINDS = ("regression", "binary", "multiclass")
ZERO = float(np.float32(1e-35))


def close(got, ref, tol=1e-6):
    got = np.asarray(got, dtype=float)
    np.testing.assert_allclose(got, np.asarray(ref, dtype=float).reshape(got.shape), rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def data():
    """Numeric columns with NaN, one pandas categorical with NaN; held-out rows with unseen categories."""
    rng = np.random.default_rng(0)
    n = N + 200
    X = rng.normal(size=(n, 3))
    X[rng.random(X.shape) < 0.1] = np.nan
    color = rng.choice(["blue", "green", "red", "teal", "plum"], n).astype(object)
    color[rng.random(n) < 0.08] = None
    df = pd.DataFrame({"age": X[:, 0], "income": X[:, 1], "debt": X[:, 2],
                       "color": pd.Categorical(color[:n], categories=["blue", "green", "red", "teal", "plum"])})
    bump = df["color"].isin(["red", "teal"]).to_numpy() * 1.5 - df["color"].isin(["plum"]).to_numpy()
    score = np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) + bump + 0.3 * rng.normal(size=n)
    y = {"regression": score, "binary": (score > 0.3).astype(int), "multiclass": np.digitize(score, [-0.5, 0.8])}
    train, test = slice(0, N), slice(N, n)
    held = df.iloc[test].reset_index(drop=True).copy()
    held_color = held["color"].astype(object).to_numpy().copy()
    held_color[::7] = "mauve"  # never seen in training
    held["color"] = pd.Categorical(held_color)  # its own categories, in its own order
    return dict(X=X[train], X_test=X[test], df=df.iloc[train].reset_index(drop=True), df_test=held,
                df_test_seen=df.iloc[test].reset_index(drop=True), y={k: v[train] for k, v in y.items()})


# ================================================================================ XGBoost

def xgb_model(kind, **kw):
    kw = dict(n_estimators=N_TREES, max_depth=4, learning_rate=0.3, tree_method="hist") | kw
    return xgb.XGBRegressor(**kw) if kind == "regression" else xgb.XGBClassifier(**kw)


def xgb_margin(booster, X, **dm):
    return booster.predict(xgb.DMatrix(X, **dm), output_margin=True)


def check_xgb_exact(ens, booster, X, **dm):
    """Same leaves as XGBoost, and XGBoost's float32 sum replayed from our values is bit-identical."""
    dmat = xgb.DMatrix(X, **dm)
    ref_leaves = booster.predict(dmat, pred_leaf=True).reshape(len(ens.leaves(X)), -1)
    leaves = ens.leaves(X)
    np.testing.assert_array_equal(leaves - ens.roots, ref_leaves)
    acc = np.tile(ens.base_offset.astype(np.float32), (leaves.shape[0], 1))
    for t in range(ens.n_trees):
        acc += ens.value[leaves[:, t]].astype(np.float32)
    ref = booster.predict(dmat, output_margin=True)
    np.testing.assert_array_equal(acc, ref.reshape(acc.shape))


@pytest.mark.parametrize("kind", KINDS)
def test_xgb_sklearn_numeric_with_nan(data, kind):
    model = xgb_model(kind).fit(data["X"], data["y"][kind])
    ens = TreeEnsemble.from_model(model)
    k = 3 if kind == "multiclass" else 1
    assert ens.n_outputs == k and ens.n_features == 3 and ens.feature_names is None
    assert ens.link == {"regression": "identity", "binary": "logistic", "multiclass": "softmax"}[kind]
    assert ens.source == {"regression": "xgboost:reg:squarederror", "binary": "xgboost:binary:logistic",
                          "multiclass": "xgboost:multi:softprob"}[kind]
    assert ens.output_names == {"regression": ("prediction",), "binary": ("1",),
                                "multiclass": ("0", "1", "2")}[kind]
    for X in (data["X"], data["X_test"]):
        close(ens.predict_raw(X), model.predict(X, output_margin=True))
        check_xgb_exact(ens, model.get_booster(), X)
    if kind != "regression":
        close(ens.predict(data["X_test"])[:, -1], model.predict_proba(data["X_test"])[:, -1])


@pytest.mark.parametrize("kind", KINDS)
def test_xgb_categorical_frame(data, kind):
    model = xgb_model(kind, enable_categorical=True, max_cat_to_onehot=1).fit(data["df"], data["y"][kind])
    ens = xgb_parser.parse(model)
    assert ens.feature_names == ("age", "income", "debt", "color")
    assert ens.categories == {3: ["blue", "green", "red", "teal", "plum"]}
    assert ens.categorical.any()
    booster = model.get_booster()
    for df in (data["df"], data["df_test_seen"]):
        close(ens.predict_raw(df), xgb_margin(booster, df, enable_categorical=True))
        check_xgb_exact(ens, booster, df, enable_categorical=True)
    # unseen categories. XGBoost 3.2 re-codes a DataFrame by a sorted lookup that does not check for
    # equality: an unseen value silently takes the code of the next training category in sort order,
    # or raises when it sorts after all of them; neither is a meaning to copy. Given as codes, any
    # invalid code (negative or out of range) goes where "not in the split's set" goes; whybox codes
    # an unseen category -1 and sends it the same way.
    df = data["df_test"]
    codes = ens.encode(df)
    assert (codes[:, 3] == -1).sum() > 0
    for invalid in (-1.0, 5.0, 1e6):
        as_codes = codes.copy()
        as_codes[:, 3] = np.where(codes[:, 3] == -1, invalid, codes[:, 3])
        ref = xgb_margin(booster, as_codes, feature_types=["float", "float", "float", "c"],
                         feature_names=list(ens.feature_names), enable_categorical=True)
        close(ens.predict_raw(df), ref)


def test_xgb_one_hot_categorical_splits(data):
    model = xgb_model("binary", enable_categorical=True, max_cat_to_onehot=10).fit(data["df"], data["y"]["binary"])
    ens = xgb_parser.parse(model)
    for df in (data["df"], data["df_test_seen"]):
        check_xgb_exact(ens, model.get_booster(), df, enable_categorical=True)


@pytest.mark.parametrize("fmt", ["json", "ubj"])
def test_xgb_native_booster_and_saved_files(data, tmp_path, fmt):
    dtrain = xgb.DMatrix(data["df"], data["y"]["multiclass"], enable_categorical=True)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3}, dtrain,
                        num_boost_round=8)
    path = tmp_path / f"model.{fmt}"
    booster.save_model(str(path))
    loaded = xgb.Booster(model_file=str(path))
    for b in (booster, loaded):
        ens = TreeEnsemble.from_model(b)
        assert ens.n_outputs == 3 and ens.link == "softmax" and ens.output_names == ("0", "1", "2")
        assert ens.categories == {3: ["blue", "green", "red", "teal", "plum"]}
        close(ens.predict_raw(data["df_test_seen"]), xgb_margin(b, data["df_test_seen"], enable_categorical=True))


def test_xgb_root_cover_is_hessian_sum(data):
    reg = xgb_model("regression").fit(data["X"], data["y"]["regression"])
    ens = xgb_parser.parse(reg)
    np.testing.assert_allclose(ens.cover[ens.roots], N, rtol=1e-6)
    clf = xgb_model("binary").fit(data["X"], data["y"]["binary"])
    ens = xgb_parser.parse(clf)
    p = 1 / (1 + np.exp(-ens.base_offset[0]))  # the first tree's hessians are all p (1 - p)
    np.testing.assert_allclose(ens.cover[ens.roots[0]], N * p * (1 - p), rtol=1e-5)
    assert np.all(ens.cover[ens.roots] < N)


def test_xgb_base_score_is_a_margin(data):
    """base_score is stored as a probability for logistic objectives, log-space for Poisson."""
    X, y = data["X"], data["y"]["binary"]
    clf = xgb.XGBClassifier(n_estimators=1, max_depth=1, base_score=0.2).fit(X, y)
    np.testing.assert_allclose(xgb_parser.parse(clf).base_offset, [np.log(0.2 / 0.8)], rtol=1e-6)
    counts = np.round(np.abs(data["y"]["regression"]) * 2)
    pois = xgb.XGBRegressor(objective="count:poisson", n_estimators=5).fit(X, counts)
    ens = xgb_parser.parse(pois)
    assert ens.source == "xgboost:count:poisson" and ens.link == "identity"
    close(ens.predict_raw(data["X_test"]), pois.predict(data["X_test"], output_margin=True))


def test_xgb_thresholds_follow_float32_rounding(data):
    """XGBoost compares float32(x) < t: float64 rows on either side of each threshold's rounding edge."""
    model = xgb_model("regression").fit(data["X"], data["y"]["regression"])
    booster = model.get_booster()
    ens = xgb_parser.parse(model)
    split = np.flatnonzero(ens.left >= 0)
    t32 = np.asarray(ens.threshold[split])  # the float64 edges
    rows = []
    for edge, f in zip(t32, ens.feature[split]):
        for v in (np.nextafter(edge, -np.inf), edge, np.nextafter(edge, np.inf)):
            row = np.zeros(3)
            row[f] = v
            rows.append(row)
    rows = np.asarray(rows)
    check_xgb_exact(ens, booster, rows)
    # the edges really are between float32 neighbours: the training rows sitting on thresholds agree too
    check_xgb_exact(ens, booster, data["X"])


def test_xgb_dart_multi_output_and_forest(data):
    X, y = data["X"], data["y"]["regression"]
    dart = xgb.XGBRegressor(booster="dart", n_estimators=8, max_depth=3, rate_drop=0.5, skip_drop=0.0).fit(X, y)
    ens = xgb_parser.parse(dart)
    assert ens.source.endswith(":dart")
    close(ens.predict_raw(data["X_test"]), dart.predict(data["X_test"], output_margin=True))
    Y = np.c_[y, np.nan_to_num(X[:, 1]) ** 2]
    for strategy in ("one_output_per_tree", "multi_output_tree"):
        multi = xgb.XGBRegressor(n_estimators=5, max_depth=3, multi_strategy=strategy).fit(X, Y)
        ens = xgb_parser.parse(multi)
        assert ens.n_outputs == 2
        close(ens.predict_raw(data["X_test"]), multi.predict(data["X_test"], output_margin=True))
    forest = xgb.XGBRFRegressor(n_estimators=6, max_depth=4).fit(X, y)
    ens = xgb_parser.parse(forest)
    assert ens.n_trees == 6
    close(ens.predict_raw(data["X_test"]), forest.predict(data["X_test"], output_margin=True))


def test_xgb_early_stopping(data):
    X, y = data["X"], data["y"]["regression"]
    model = xgb.XGBRegressor(n_estimators=200, max_depth=4, learning_rate=0.8, early_stopping_rounds=2)
    model.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    booster = model.get_booster()
    assert model.best_iteration + 1 < booster.num_boosted_rounds()
    ens = xgb_parser.parse(model)  # what the estimator predicts with: rounds up to best_iteration
    assert ens.n_trees == model.best_iteration + 1
    close(ens.predict_raw(data["X_test"]), model.predict(data["X_test"], output_margin=True))
    full = xgb_parser.parse(booster)  # a native booster predicts with all rounds
    assert full.n_trees == booster.num_boosted_rounds()
    close(full.predict_raw(data["X_test"]), xgb_margin(booster, data["X_test"]))
    first = xgb_parser.parse(model, iteration_range=(0, 2))
    close(first.predict_raw(data["X_test"]), model.predict(data["X_test"], output_margin=True,
                                                           iteration_range=(0, 2)))


def test_xgb_unsupported(data):
    X, y = data["X"], data["y"]["regression"]
    linear = xgb.XGBRegressor(booster="gblinear", n_estimators=3).fit(X, y)
    with pytest.raises(ModelError, match="gblinear"):
        TreeEnsemble.from_model(linear)
    assert not tree_parsers.supports(linear)
    assert not tree_parsers.supports(xgb.XGBRegressor())  # not fitted
    with pytest.raises(ModelError, match="not fitted"):
        xgb_parser.parse(xgb.XGBRegressor())
    zero_missing = xgb.XGBRegressor(n_estimators=2, missing=0.0).fit(X, y)
    with pytest.raises(ModelError, match="missing=0.0"):
        xgb_parser.parse(zero_missing)
    assert tree_parsers.supports(xgb_model("regression").fit(X, y))


def test_xgb_categories_argument(data):
    """A model trained on codes knows no category values: categories= supplies them."""
    codes = data["df"]["color"].cat.codes.to_numpy().astype(float)
    codes[codes < 0] = np.nan
    X = np.c_[data["X"], codes]
    dtrain = xgb.DMatrix(X, data["y"]["regression"], feature_names=["age", "income", "debt", "color"],
                         feature_types=["float", "float", "float", "c"], enable_categorical=True)
    booster = xgb.train({"max_depth": 3, "max_cat_to_onehot": 1}, dtrain, num_boost_round=5)
    plain = xgb_parser.parse(booster)
    assert plain.categories == {}
    close(plain.predict_raw(X), xgb_margin(booster, X, feature_types=["float", "float", "float", "c"],
                                           feature_names=["age", "income", "debt", "color"],
                                           enable_categorical=True))
    named = xgb_parser.parse(booster, categories={"color": ["blue", "green", "red", "teal", "plum"]})
    close(named.predict_raw(data["df"]), plain.predict_raw(X), tol=1e-12)
    with pytest.raises(ModelError, match="colour"):
        xgb_parser.parse(booster, categories={"colour": ["a"]})


# ================================================================================ LightGBM

# one thread: multi-threaded LightGBM fits of tiny data can take seconds each on small shared machines
LGB_PARAMS = dict(n_estimators=N_TREES, num_leaves=8, learning_rate=0.3, min_child_samples=5, min_data_per_group=5,
                  cat_smooth=1.0, verbose=-1, n_jobs=1)


def lgb_model(kind, **kw):
    kw = LGB_PARAMS | kw
    return lgb.LGBMRegressor(**kw) if kind == "regression" else lgb.LGBMClassifier(**kw)


def check_lgb_leaves(ens, booster, X):
    """Same leaves as LightGBM (trees are not rewritten unless the missing type is Zero)."""
    ref = booster.predict(X, pred_leaf=True).reshape(len(X), -1)
    n_leaves = [t["num_leaves"] for t in booster.dump_model()["tree_info"]]
    leaves = ens.leaves(X) - ens.roots - (np.asarray(n_leaves) - 1)
    np.testing.assert_array_equal(leaves, ref)


@pytest.mark.parametrize("kind", KINDS)
def test_lgb_sklearn_numeric_with_nan(data, kind):
    model = lgb_model(kind).fit(data["X"], data["y"][kind])
    ens = TreeEnsemble.from_model(model)
    k = 3 if kind == "multiclass" else 1
    assert ens.n_outputs == k and ens.n_features == 3 and ens.feature_names is None
    assert ens.link == {"regression": "identity", "binary": "logistic", "multiclass": "softmax"}[kind]
    assert ens.source == {"regression": "lightgbm:regression", "binary": "lightgbm:binary",
                          "multiclass": "lightgbm:multiclass"}[kind]
    assert ens.output_names == {"regression": ("prediction",), "binary": ("1",),
                                "multiclass": ("0", "1", "2")}[kind]
    for X in (data["X"], data["X_test"]):
        close(ens.predict_raw(X), model.predict(X, raw_score=True), tol=1e-12)
        check_lgb_leaves(ens, model.booster_, X)
    if kind != "regression":
        close(ens.predict(data["X_test"])[:, -1], model.predict_proba(data["X_test"])[:, -1], tol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_lgb_categorical_frame_with_unseen(data, kind):
    model = lgb_model(kind).fit(data["df"], data["y"][kind])
    ens = lgb_parser.parse(model)
    assert ens.feature_names == ("age", "income", "debt", "color")
    assert ens.categories == {3: ["blue", "green", "red", "teal", "plum"]}
    assert ens.categorical.any()
    assert (ens.encode(data["df_test"])[:, 3] == -1).any()
    for df in (data["df"], data["df_test_seen"], data["df_test"]):
        close(ens.predict_raw(df), model.predict(df, raw_score=True), tol=1e-12)


def test_lgb_native_booster_and_text_file(data, tmp_path):
    ds = lgb.Dataset(data["df"], data["y"]["binary"])
    booster = lgb.train({"objective": "binary", "num_leaves": 8, "verbose": -1, "min_data_per_group": 5,
                         "cat_smooth": 1.0, "num_threads": 1}, ds, num_boost_round=10)
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    loaded = lgb.Booster(model_file=str(path))
    from_string = lgb.Booster(model_str=booster.model_to_string())
    for b in (booster, loaded, from_string):
        ens = TreeEnsemble.from_model(b)
        assert ens.link == "logistic" and ens.output_names == ("1",)
        assert ens.categories == {3: ["blue", "green", "red", "teal", "plum"]}
        for df in (data["df_test_seen"], data["df_test"]):
            close(ens.predict_raw(df), b.predict(df, raw_score=True), tol=1e-12)


def zero_rows(rng, X):
    """Rows with exact zeros, +-1e-35f (LightGBM reads |x| <= 1e-35f as 0), their neighbours and NaN."""
    T = X.copy()
    special = [0.0, -0.0, ZERO, -ZERO, np.nextafter(ZERO, 1), -np.nextafter(ZERO, 1), 5e-36, -5e-36, 1e-300, np.nan]
    for j in range(X.shape[1]):
        T[j::X.shape[1], j] = rng.choice(special, size=len(T[j::X.shape[1]]))
    return T


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}],
                         ids=["missing_nan", "missing_zero", "missing_none"])
def test_lgb_missing_types(params):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, 3))
    X[rng.random(X.shape) < 0.3] = 0.0
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + (X[:, 1] == 0) * 1.5 + np.nan_to_num(X[:, 2]) + 0.1 * rng.normal(size=N)
    booster = lgb.train({"verbose": -1, "num_leaves": 16, "min_data_in_leaf": 5, "num_threads": 1, **params},
                        lgb.Dataset(X, y), num_boost_round=20)
    ens = lgb_parser.parse(booster)
    np.testing.assert_allclose(ens.cover[ens.roots], N)
    T = zero_rows(rng, X)
    close(ens.predict_raw(T), booster.predict(T, raw_score=True), tol=1e-12)
    close(ens.predict_raw(X), booster.predict(X, raw_score=True), tol=1e-12)
    if params.get("zero_as_missing"):
        # the band goes against its neighbours somewhere: nodes were rewritten, predictions stay exact
        assert ens.n_nodes > sum(2 * t["num_leaves"] - 1 for t in booster.dump_model()["tree_info"])
    else:
        check_lgb_leaves(ens, booster, T)


def test_lgb_zero_rewrite_keeps_tree_shap():
    """The rewritten trees give LightGBM's own pred_contrib (path-dependent Tree SHAP over counts)."""
    from whybox.shapley import tree as tree_shap
    rng = np.random.default_rng(2)
    X = rng.normal(size=(N, 3))
    X[rng.random(X.shape) < 0.3] = 0.0
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + (X[:, 1] == 0) * 1.5 + 0.1 * rng.normal(size=N)
    booster = lgb.train({"verbose": -1, "num_leaves": 8, "min_data_in_leaf": 5, "zero_as_missing": True,
                         "num_threads": 1},
                        lgb.Dataset(X, y), num_boost_round=10)
    T = zero_rows(rng, X[:100])
    attr = tree_shap.TreeShap(lgb_parser.parse(booster)).explain(T)
    ref = booster.predict(T, pred_contrib=True)
    np.testing.assert_allclose(attr.values, ref[:, :-1], atol=1e-9)
    np.testing.assert_allclose(np.broadcast_to(attr.base_values, (len(T),)), ref[:, -1], atol=1e-9)


def test_lgb_root_cover_is_row_count(data):
    model = lgb_model("multiclass").fit(data["df"], data["y"]["multiclass"])
    ens = lgb_parser.parse(model)
    np.testing.assert_array_equal(ens.cover[ens.roots], N)
    leaves = ens.left < 0
    assert ens.cover[leaves].sum() == N * ens.n_trees


def test_lgb_objectives_and_random_forest(data):
    X, y2 = data["X"], data["y"]["binary"]
    ova = lgb.LGBMClassifier(objective="multiclassova", **LGB_PARAMS).fit(X, data["y"]["multiclass"])
    ens = lgb_parser.parse(ova)
    assert ens.link == "logistic" and ens.n_outputs == 3
    close(ens.predict_raw(data["X_test"]), ova.predict(data["X_test"], raw_score=True), tol=1e-12)
    sig = lgb.LGBMClassifier(sigmoid=2.0, **LGB_PARAMS).fit(X, y2)
    assert lgb_parser.parse(sig).link == "identity"  # p = 1/(1+exp(-2 raw)) is no plain logistic link
    xent = lgb.LGBMRegressor(objective="cross_entropy", **LGB_PARAMS).fit(X, y2)
    ens = lgb_parser.parse(xent)
    assert ens.link == "logistic"
    close(ens.predict(data["X_test"]), xent.predict(data["X_test"]), tol=1e-12)
    rf = lgb.LGBMClassifier(boosting_type="rf", bagging_fraction=0.7, bagging_freq=1, **LGB_PARAMS).fit(X, y2)
    ens = lgb_parser.parse(rf)
    assert ens.source == "lightgbm:binary:rf"
    # average_output: the margin is the mean of the trees, so probabilities match LightGBM's;
    # LightGBM's raw_score of a forest is the un-averaged sum
    close(ens.predict(data["X_test"])[:, 0], rf.predict_proba(data["X_test"])[:, 1], tol=1e-12)
    close(ens.predict_raw(data["X_test"]) * N_TREES, rf.predict(data["X_test"], raw_score=True), tol=1e-10)
    assert np.all(ens.cover[ens.roots] < N)  # bagged rows


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")  # eval_X/eval_y are 4.7+ only
def test_lgb_early_stopping(data):
    X, y = data["X"], data["y"]["regression"]
    model = lgb.LGBMRegressor(**(LGB_PARAMS | dict(n_estimators=200, learning_rate=0.9)))
    model.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], callbacks=[lgb.early_stopping(2, verbose=False)])
    ens = lgb_parser.parse(model)  # the estimator's booster is already cut at the best iteration
    assert ens.n_trees == model.best_iteration_ < 200
    close(ens.predict_raw(data["X_test"]), model.predict(data["X_test"], raw_score=True), tol=1e-12)
    # a native booster that kept its later trees: Booster.predict uses best_iteration by default
    params = {k: v for k, v in LGB_PARAMS.items() if k != "n_estimators"} | {"learning_rate": 0.9}
    booster = lgb.train(params, lgb.Dataset(X[:400], y[:400]), num_boost_round=200, keep_training_booster=True,
                        valid_sets=[lgb.Dataset(X[400:], y[400:])], callbacks=[lgb.early_stopping(2, verbose=False)])
    assert 0 < booster.best_iteration < booster.current_iteration()
    ens = lgb_parser.parse(booster)
    assert ens.n_trees == booster.best_iteration
    close(ens.predict_raw(data["X_test"]), booster.predict(data["X_test"], raw_score=True), tol=1e-12)
    full = lgb_parser.parse(booster, num_iteration=-1)
    assert full.n_trees == booster.current_iteration()
    close(full.predict_raw(data["X_test"]), booster.predict(data["X_test"], raw_score=True, num_iteration=-1),
          tol=1e-12)


def test_lgb_unsupported_and_ambiguous(data):
    X, y = data["X"], data["y"]["regression"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        linear = lgb.LGBMRegressor(linear_tree=True, **LGB_PARAMS).fit(np.nan_to_num(X), y)
    with pytest.raises(ModelError, match="linear_tree"):
        TreeEnsemble.from_model(linear)
    assert not tree_parsers.supports(linear)
    assert not tree_parsers.supports(lgb.LGBMRegressor())
    with pytest.raises(ModelError, match="not fitted"):
        lgb_parser.parse(lgb.LGBMRegressor())
    # an integer column declared categorical next to a pandas category column
    df = data["df"].assign(level=np.arange(N) % 4)
    both = lgb.LGBMRegressor(**LGB_PARAMS).fit(df, y + (df["level"] == 2), categorical_feature=["color", "level"])
    with pytest.raises(ModelError, match="categories="):
        lgb_parser.parse(both)
    ens = lgb_parser.parse(both, categories={"color": ["blue", "green", "red", "teal", "plum"]})
    close(ens.predict_raw(df), both.predict(df, raw_score=True), tol=1e-12)


def _python_lines_in_whybox(fn, *args):
    """(fn(*args), how many lines of whybox's own Python source ran during the call), counted by a tracer."""
    import sys
    from pathlib import Path

    import whybox
    root = str(Path(whybox.__file__).parent)
    count = 0

    def line(frame, event, arg):
        nonlocal count
        count += event == "line"
        return line

    def call(frame, event, arg):
        return line if frame.f_code.co_filename.startswith(root) else None

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        result = fn(*args)
    finally:
        sys.settrace(previous)
    return result, count


@pytest.mark.parametrize("lib", ["lightgbm", "xgboost"])
def test_parse_has_no_per_node_python(lib):
    """Parsing runs per-tree Python at most, never a Python loop over nodes: models with the same number of
    trees but ~10x the nodes run (nearly) the same number of lines of whybox code. Counted, not timed, so it
    holds on any machine; a loop over nodes would add at least a line per node."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 8))
    y = X[:, 0] + X[:, 1] ** 2 + X[:, 2] * X[:, 3]
    counts, nodes = [], []
    for size in (2, 6):  # depth 2 vs depth 6 (4 vs 64 leaves)
        if lib == "lightgbm":
            model = lgb.train({"verbose": -1, "num_leaves": 2 ** size, "min_data_in_leaf": 3, "num_threads": 1},
                              lgb.Dataset(X, y), num_boost_round=100)
            ens, lines = _python_lines_in_whybox(lgb_parser.parse, model)
        else:
            model = xgb.train({"max_depth": size, "nthread": 1}, xgb.DMatrix(X, y), num_boost_round=100)
            ens, lines = _python_lines_in_whybox(xgb_parser.parse, model)
        assert ens.n_trees == 100
        counts.append(lines)
        nodes.append(ens.n_nodes)
    assert nodes[1] > 5 * nodes[0]
    assert counts[1] - counts[0] < (nodes[1] - nodes[0]) / 4, (counts, nodes)
