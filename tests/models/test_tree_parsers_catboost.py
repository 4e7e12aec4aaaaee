"""CatBoost -> TreeEnsemble: the parsed trees give CatBoost's own raw predictions, covers and Tree SHAP."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from whybox.errors import InputError, ModelError
from whybox.models.trees import TreeEnsemble
from whybox.models.tree_parsers import parse as dispatch_parse
from whybox.models.tree_parsers import supports as dispatch_supports
from whybox.models.tree_parsers.catboost import cat_feature_hash, parse, supports

import catboost as cb

N = 400
COMMON = dict(verbose=0, allow_writing_files=False, random_seed=0, thread_count=1)


def raw(model, X):
    out = np.asarray(model.predict(X, prediction_type="RawFormulaVal"), dtype=float)
    return out.reshape(len(X), -1)


def assert_matches(model, X, ens=None):
    ens = parse(model) if ens is None else ens
    np.testing.assert_allclose(ens.predict_raw(X), raw(model, X), rtol=0, atol=1e-6)
    return ens


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 5))
    y = X[:, 0] + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=N)
    X_test = rng.normal(size=(200, 5)) * 1.5
    return X, y, X_test


def test_regression(data):
    X, y, X_test = data
    model = cb.CatBoostRegressor(iterations=40, depth=6, **COMMON).fit(X, y)
    ens = assert_matches(model, X_test)
    assert isinstance(ens, TreeEnsemble)
    assert ens.link == "identity" and ens.n_outputs == 1 and ens.n_trees == 40 and ens.n_features == 5
    assert ens.max_depth == 6 and ens.n_nodes == 40 * (2 ** 7 - 1)
    assert ens.feature_names is None  # fitted on a bare array: CatBoost's names "0".."4" are placeholders
    np.testing.assert_allclose(ens.predict(X_test)[:, 0], model.predict(X_test), atol=1e-6)


def test_binary(data):
    X, y, X_test = data
    model = cb.CatBoostClassifier(iterations=30, depth=5, **COMMON).fit(X, y > 0.5)
    ens = assert_matches(model, X_test)
    assert ens.link == "logistic" and ens.n_outputs == 1
    np.testing.assert_allclose(ens.predict(X_test)[:, 0], model.predict_proba(X_test)[:, 1], atol=1e-9)


def test_multiclass(data):
    X, y, X_test = data
    labels = np.array(["low", "mid", "high"])[np.digitize(y, [-0.5, 0.8])]
    model = cb.CatBoostClassifier(iterations=25, depth=4, **COMMON).fit(X, labels)
    ens = assert_matches(model, X_test)
    assert ens.link == "softmax" and ens.n_outputs == 3
    assert ens.output_names == tuple(str(c) for c in model.classes_)
    np.testing.assert_allclose(ens.predict(X_test), model.predict_proba(X_test), atol=1e-9)


def test_native_catboost_and_dispatch(data):
    X, y, X_test = data
    model = cb.CatBoost({"iterations": 20, "depth": 4, "loss_function": "MultiClass", **COMMON})
    model.fit(X, np.digitize(y, [-0.5, 0.8]))
    ens = dispatch_parse(model)
    assert ens.link == "softmax" and ens.n_outputs == 3
    assert_matches(model, X_test, ens)
    assert dispatch_supports(model) and supports(model)
    assert TreeEnsemble.from_model(model).n_trees == 20


@pytest.mark.parametrize("nan_mode", ["Min", "Max"])
def test_missing_values(data, nan_mode):
    X, y, X_test = data
    rng = np.random.default_rng(1)
    X_nan = np.where(rng.random(X.shape) < 0.25, np.nan, X)
    model = cb.CatBoostRegressor(iterations=40, depth=5, nan_mode=nan_mode, **COMMON).fit(X_nan, y)
    X_held = np.where(rng.random(X_test.shape) < 0.3, np.nan, X_test)
    X_held[:5] = np.nan  # rows with nothing known
    ens = assert_matches(model, X_held)
    # NaN is below every value (Min: the "<= border" side, left) or above (Max: right)
    splits = ens.feature >= 0
    assert np.all(ens.default_left[splits] == (nan_mode == "Min"))
    assert_matches(model, X_nan, ens)


def test_missing_values_never_seen_in_training(data):
    X, y, X_test = data
    model = cb.CatBoostRegressor(iterations=20, depth=4, nan_mode="Max", **COMMON).fit(X, y)
    X_held = np.where(np.random.default_rng(2).random(X_test.shape) < 0.3, np.nan, X_test)
    assert_matches(model, X_held)  # CatBoost then compares NaN > border: false, the left side


def test_float32_rounding_at_borders(data):
    """CatBoost compares float32(x) > border: inputs a hair above a border (in float64) still go left."""
    X, y, _ = data
    model = cb.CatBoostRegressor(iterations=20, depth=4, **COMMON).fit(X, y)
    rows = []
    for j, borders in model.get_borders().items():
        for b in borders:
            b32 = np.float32(b)
            mid = (float(b32) + float(np.nextafter(b32, np.float32(np.inf)))) / 2   # half-way to the next float32
            for v in (float(b32), np.nextafter(float(b32), np.inf), np.nextafter(mid, -np.inf), mid,
                      np.nextafter(mid, np.inf), np.nextafter(float(b32), -np.inf)):
                row = X[len(rows) % len(X)].copy()
                row[int(j)] = v
                rows.append(row)
    assert len(rows) > 50
    assert_matches(model, np.array(rows))


def test_scale_and_bias(data):
    X, y, X_test = data
    model = cb.CatBoostRegressor(iterations=10, depth=3, **COMMON).fit(X, y)
    model.set_scale_and_bias(2.5, -1.25)
    ens = assert_matches(model, X_test)
    np.testing.assert_allclose(ens.base_offset, [-1.25])


def test_depthwise_and_lossguide_trees(data):
    X, y, X_test = data
    for policy in ("Depthwise", "Lossguide"):
        model = cb.CatBoostRegressor(iterations=20, depth=5, grow_policy=policy, **COMMON).fit(X, y)
        ens = assert_matches(model, X_test)
        assert ens.cover[ens.roots][0] == len(X)


def test_cover_is_leaf_weight(data):
    X, y, _ = data
    model = cb.CatBoostRegressor(iterations=15, depth=5, **COMMON).fit(X, y)
    ens = parse(model)
    np.testing.assert_array_equal(ens.cover[ens.roots], np.full(15, len(X)))
    inner = ens.left >= 0
    np.testing.assert_allclose(ens.cover[inner], ens.cover[ens.left[inner]] + ens.cover[ens.right[inner]])
    leaves = np.sort(ens.cover[ens.left < 0].reshape(15, 32), axis=1)
    np.testing.assert_allclose(leaves, np.sort(np.array([model.get_leaf_weights()]).reshape(15, 32), axis=1))


def _tree_expectation(ens, x, subset, node):
    """E[tree | x_S] by the path-dependent rule: follow x on features in S, else average by cover."""
    if ens.left[node] < 0:
        return ens.value[node]
    left, right = ens.left[node], ens.right[node]
    if ens.feature[node] in subset:
        v = x[ens.feature[node]]
        if math.isnan(v):
            go_left = ens.default_left[node]
        elif ens.categorical[node]:
            go_left = int(v) in ens.cat_codes[ens.cat_offsets[node]:ens.cat_offsets[node + 1]]
        else:
            go_left = v < ens.threshold[node] if ens.strict[node] else v <= ens.threshold[node]
        return _tree_expectation(ens, x, subset, left if go_left else right)
    total = ens.cover[node]
    if total <= 0:
        return np.zeros(ens.n_outputs)
    return (ens.cover[left] * _tree_expectation(ens, x, subset, left)
            + ens.cover[right] * _tree_expectation(ens, x, subset, right)) / total


def _brute_force_shap(ens, X):
    m = ens.n_features
    phi = np.zeros((len(X), ens.n_outputs, m + 1))
    for i, x in enumerate(ens.encode(X)):
        value = {}
        for r in range(m + 1):
            for s in itertools.combinations(range(m), r):
                value[s] = ens.base_offset + sum(_tree_expectation(ens, x, set(s), root) for root in ens.roots)
        for j in range(m):
            for s, v in value.items():
                if j in s:
                    continue
                w = math.factorial(len(s)) * math.factorial(m - len(s) - 1) / math.factorial(m)
                phi[i, :, j] += w * (value[tuple(sorted(s + (j,)))] - v)
        phi[i, :, m] = value[()]
    return phi


def test_path_dependent_shap_equals_catboost(data):
    """Covers and the level order of the expansion are what CatBoost's own ShapValues uses."""
    X, y, X_test = data
    X3, X3_test = X[:, :3], X_test[:8, :3]
    model = cb.CatBoostRegressor(iterations=6, depth=4, **COMMON).fit(X3, y)
    ours = _brute_force_shap(parse(model), X3_test)[:, 0, :]
    theirs = model.get_feature_importance(cb.Pool(X3_test), type="ShapValues")
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


# ---------------------------------------------------------------------------------------------- categoricals

@pytest.fixture(scope="module")
def cat_data():
    rng = np.random.default_rng(3)
    colour = rng.choice(["red", "green", "blue", "black", "white"], N)
    size = rng.choice([1, 2, 3], N)
    x = rng.normal(size=N)
    frame = pd.DataFrame({"x": x, "colour": colour, "size": size, "z": rng.normal(size=N)})
    effect = pd.Series(colour).map({"red": 2.0, "green": -1.0, "blue": 0.5, "black": 0.0, "white": -2.0})
    y = x + effect.to_numpy() + 0.7 * size + 0.1 * rng.normal(size=N)
    return frame, y


def test_one_hot_categoricals_with_unseen_category(cat_data):
    frame, y = cat_data
    model = cb.CatBoostRegressor(iterations=40, depth=4, one_hot_max_size=10, cat_features=["colour", "size"],
                                 **COMMON).fit(frame, y)
    ens = assert_matches(model, frame)
    assert ens.feature_names == ("x", "colour", "size", "z")
    assert set(ens.categories) == {1, 2} and ens.categorical.any()
    held = frame.head(30).copy()
    held.loc[held.index[:10], "colour"] = "purple"        # never seen in training
    held.loc[held.index[10:15], "size"] = 7
    assert_matches(model, held, ens)
    # reordered columns are matched by name
    np.testing.assert_allclose(ens.predict_raw(held[["z", "size", "x", "colour"]]), raw(model, held), atol=1e-6)
    # a pandas categorical dtype column works too
    as_cat = held.assign(colour=held["colour"].astype("category"))
    np.testing.assert_allclose(ens.predict_raw(as_cat), raw(model, held), atol=1e-6)


def test_category_names_from_data(cat_data):
    frame, y = cat_data
    model = cb.CatBoostRegressor(iterations=20, depth=3, one_hot_max_size=10, cat_features=["colour", "size"],
                                 **COMMON).fit(frame, y)
    plain = parse(model)
    assert all(str(c).startswith("catboost-hash:") for c in plain.categories[1])
    named = parse(model, data=frame)
    assert set(named.categories[1]) <= {"red", "green", "blue", "black", "white"}
    assert set(named.categories[2]) <= {1, 2, 3}
    np.testing.assert_allclose(named.predict_raw(frame), raw(model, frame), atol=1e-6)


def test_missing_category_is_refused(cat_data):
    frame, y = cat_data
    model = cb.CatBoostRegressor(iterations=5, depth=3, one_hot_max_size=10, cat_features=["colour"],
                                 **COMMON).fit(frame.drop(columns="size"), y)
    ens = parse(model)
    bad = frame.drop(columns="size").head(3).astype({"colour": object})
    bad.loc[bad.index[0], "colour"] = None
    with pytest.raises(InputError, match="colour"):
        ens.predict_raw(bad)


def test_ctr_split_is_refused(cat_data):
    frame, y = cat_data
    rng = np.random.default_rng(4)
    many = pd.Series(rng.choice([f"city{i}" for i in range(30)], N))
    frame = frame.assign(city=many)
    y = y + many.str.len().to_numpy()
    # "colour" is one-hot (5 <= one_hot_max_size), "city" (30 values) gets CTRs
    model = cb.CatBoostRegressor(iterations=20, depth=4, one_hot_max_size=6, cat_features=["colour", "size", "city"],
                                 **COMMON).fit(frame, y)
    with pytest.raises(ModelError, match="CatBoost CTR split on categorical feature 'city'") as err:
        parse(model)
    assert "one_hot_max_size" in str(err.value) and "model-agnostic" in str(err.value)
    assert not supports(model) and not dispatch_supports(model)


def test_hash_matches_catboost(tmp_path):
    rng = np.random.default_rng(5)
    alphabet = list("abXYZ09 _-éж中")
    values = list(dict.fromkeys("".join(rng.choice(alphabet, n)) for n in list(range(0, 140)) + [255, 300, 700]))
    frame = pd.DataFrame({"c": values * 2, "x": rng.normal(size=2 * len(values))})
    target = rng.normal(size=len(frame))
    model = cb.CatBoostRegressor(iterations=1, depth=1, cat_features=["c"], **COMMON).fit(frame, target)
    path = tmp_path / "m.json"
    model.save_model(str(path), format="json", pool=cb.Pool(frame, target, cat_features=["c"]))
    known = {e["value"]: e["hash"] for e in json.loads(path.read_text())["features_info"]["cat_features_hash"]}
    assert len(known) == len(values)
    assert {v: cat_feature_hash(v) for v in values} == known
    assert cat_feature_hash(12) == cat_feature_hash("12") and cat_feature_hash(True) == cat_feature_hash("1")


def test_not_a_fitted_catboost_model():
    assert not supports(cb.CatBoostRegressor())
    with pytest.raises(ModelError, match="not fitted"):
        parse(cb.CatBoostRegressor())
    assert not supports(object())
