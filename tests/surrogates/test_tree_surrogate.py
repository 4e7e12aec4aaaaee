import re

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from whybox.errors import InputError
from whybox.surrogates import TreeSurrogate


def _data(n=600, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(size=(n, d)), 2)


def _piecewise(X):
    """Three splits: a depth-2 tree reproduces it exactly."""
    X = np.asarray(X, dtype=float)
    return np.where(X[:, 0] <= 0.25, np.where(X[:, 1] <= -0.5, 1.0, 2.0), np.where(X[:, 2] <= 0.75, 5.0, 7.0))


def _satisfies(row, names, cond):
    m = re.fullmatch(r"(\S+) (<=|>) (\S+)", cond)
    assert m, cond
    v = row[names.index(m.group(1))]
    t = float(m.group(3))
    return v <= t if m.group(2) == "<=" else v > t


def _rule_parts(rule):
    m = re.fullmatch(r"IF (.+) THEN (\S+) \((\d+) rows\)", rule)
    assert m, rule
    return m.group(1).split(" AND "), float(m.group(2)), int(m.group(3))


def test_exact_piecewise_black_box():
    X = _data()
    s = TreeSurrogate(_piecewise, max_depth=3).fit(X)
    assert s.fidelity == pytest.approx(1.0, abs=1e-12)
    assert s.fidelity_on == "train"
    assert s.agreement is None
    np.testing.assert_allclose(s.predict(X), _piecewise(X), atol=1e-12)
    names = s.feature_names
    for rule in s.rules():
        conds, value, n = _rule_parts(rule)
        inside = np.array([all(_satisfies(r, names, c) for c in conds) for r in X])
        assert inside.sum() == n
        np.testing.assert_allclose(_piecewise(X[inside]), value, atol=1e-9)


def test_black_box_is_a_depth3_tree_holdout():
    X = _data(seed=1)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    bb = DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    s = TreeSurrogate(bb, max_depth=3).fit(X, X_holdout=_data(300, seed=2))
    assert s.fidelity_on == "holdout"
    assert s.fidelity == pytest.approx(1.0, abs=1e-12)
    rules = s.rules()
    assert len(rules) == s.tree_.get_n_leaves()
    for rule in rules:
        conds, value, n = _rule_parts(rule)
        inside = np.array([all(_satisfies(r, s.feature_names, c) for c in conds) for r in X])
        assert inside.sum() == n
        np.testing.assert_allclose(bb.predict(X[inside]), float(f"{value:.6g}"), rtol=1e-5)
    assert sum(_rule_parts(r)[2] for r in rules) == len(X)


def test_smooth_model_fidelity_below_one_and_rises_with_depth():
    X = _data(800, seed=3)

    def smooth(A):
        A = np.asarray(A, dtype=float)
        return np.sin(A[:, 0]) + 0.5 * A[:, 1] ** 2 + np.tanh(A[:, 2] * A[:, 3])

    hold = _data(400, seed=4)
    fids = [TreeSurrogate(smooth, max_depth=d).fit(X, hold).fidelity for d in (1, 2, 3, 5)]
    assert all(f < 1 for f in fids)
    assert all(b > a for a, b in zip(fids, fids[1:]))


def test_rules_one_per_leaf_and_text():
    X = _data(seed=5)
    s = TreeSurrogate(lambda A: A[:, 0] * 2 + A[:, 1] ** 2, max_depth=2).fit(X)
    assert len(s.rules()) == s.tree_.get_n_leaves() == 4
    text = s.to_text()
    assert text.count("->") == 4 and "if " in text and "else" in text


def test_same_seed_same_tree():
    X = _data(seed=6)
    f = lambda A: np.abs(A[:, 0]) + np.abs(A[:, 1])  # symmetric: tied splits exist
    a = TreeSurrogate(f, max_depth=3, seed=7).fit(X)
    b = TreeSurrogate(f, max_depth=3, seed=7).fit(X)
    assert a.rules() == b.rules()
    np.testing.assert_array_equal(a.tree_.tree_.threshold, b.tree_.tree_.threshold)


def test_classifier_probability_and_label():
    from sklearn.linear_model import LogisticRegression
    X = _data(seed=8)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    s = TreeSurrogate(clf, max_depth=3).fit(X)
    assert 0 < s.fidelity < 1
    assert 0.8 < s.agreement <= 1
    assert s.target == "1"
    lab = TreeSurrogate(clf, max_depth=3, output="label").fit(X)
    assert lab.fidelity == lab.agreement
    assert 0.8 < lab.agreement <= 1
    assert set(np.unique(lab.predict(X))) <= {0, 1}
    assert all(re.fullmatch(r"IF .+ THEN [01] \(\d+ rows; the model predicts [01] for \d+%\)", r) for r in lab.rules())


def test_categorical_columns_one_hot():
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 400), "x": rng.normal(size=400)})

    def f(frame):
        return np.where(frame["colour"] == "red", 10.0, 0.0) + np.where(frame["x"] > 0, 1.0, 0.0)

    s = TreeSurrogate(f, max_depth=2).fit(df)
    assert s.fidelity == pytest.approx(1.0, abs=1e-12)
    assert "colour=red" in s.feature_names
    assert any("colour == red" in r for r in s.rules())
    np.testing.assert_allclose(s.predict(df), f(df))


def test_errors():
    X = _data(50)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="max_depth"):
            TreeSurrogate(_piecewise, max_depth=bad)
    with pytest.raises(InputError, match="output"):
        TreeSurrogate(_piecewise, output="bogus")
    s = TreeSurrogate(_piecewise)
    for call in (lambda: s.rules(), lambda: s.to_text(), lambda: s.predict(X)):
        with pytest.raises(InputError, match="not fitted"):
            call()
    with pytest.raises(InputError, match=r"outside \[0, 1\]"):
        TreeSurrogate(_piecewise, output="label").fit(X)
    reg = DecisionTreeRegressor(max_depth=2).fit(X, _piecewise(X))
    with pytest.raises(InputError, match="label"):
        TreeSurrogate(reg, output="label")
    with pytest.raises(InputError, match="at least 2"):
        TreeSurrogate(_piecewise).fit(X[:1])
    with pytest.raises(InputError, match="columns"):
        TreeSurrogate(_piecewise).fit(X).predict(X[:, :2])
