"""Permutation importance: planted drivers, agreement with scikit-learn, seeds, groups, errors."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

from whybox.effects import permutation_importance
from whybox.errors import InputError


def _regression(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"driver": rng.normal(size=n), "weak": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = 3.0 * X["driver"] + 0.5 * X["weak"] + 0.3 * rng.normal(size=n)
    return X, y.to_numpy()


def _classification(n=600, seed=1):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"driver": rng.normal(size=n), "weak": rng.normal(size=n), "noise": rng.normal(size=n)})
    logit = 3.0 * X["driver"] + 0.7 * X["weak"]
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def reg():
    X, y = _regression()
    return LinearRegression().fit(X, y), X, y


@pytest.fixture(scope="module")
def clf():
    X, y = _classification()
    return LogisticRegression().fit(X, y), X, y


def test_planted_driver_highest_and_noise_near_zero(reg):
    model, X, y = reg
    imp = permutation_importance(model, X, y, n_repeats=5)
    assert imp.feature_names == ("driver", "weak", "noise")
    assert imp.order()[0] == 0 and imp.order()[-1] == 2
    # r2 drop for the driver ~ 2 * 9 / (9 + 0.25 + 0.09) ~ 1.9; a noise column's coefficient is ~0.015,
    # so its drop is ~2 * 0.015**2 / 9.3 ~ 5e-5
    assert imp["driver"] > 1.0
    assert abs(imp["noise"]) < 0.01
    assert imp.repeats.shape == (5, 3) and imp.spread.shape == (3,)
    assert imp.method == "permutation_importance"
    assert imp.meta["scoring"] == "r2" and imp.meta["greater_is_better"] is True
    assert imp.meta["baseline_score"] > 0.95
    assert "worse" in imp.meta["convention"]
    assert imp.meta["model_evals"] == len(X) * (1 + 5 * 3)


def test_classifier_auto_is_accuracy_and_noise_near_zero(clf):
    model, X, y = clf
    imp = permutation_importance(model, X, y, n_repeats=5)
    assert imp.meta["scoring"] == "accuracy"
    assert imp.meta["baseline_score"] == pytest.approx((model.predict(X) == y).mean())
    assert imp.order()[0] == 0
    # noise coefficient is tiny, so shuffling it flips at most a handful of the 600 predictions
    assert abs(imp["noise"]) < 0.02


def test_losses_are_signed_as_how_much_worse(reg, clf):
    model, X, y = reg
    for name in ("mse", "mae"):
        imp = permutation_importance(model, X, y, scoring=name, n_repeats=3)
        assert imp.meta["greater_is_better"] is False
        assert imp["driver"] > 0.5  # the loss grows, reported as a positive importance
    model, X, y = clf
    for name in ("log_loss", "roc_auc"):
        imp = permutation_importance(model, X, y, scoring=name, n_repeats=3)
        assert imp["driver"] > 0.1 and imp.order()[0] == 0


def test_matches_sklearn_regression(reg):
    model, X, y = reg
    R = 30
    ours = permutation_importance(model, X, y, n_repeats=R, seed=0)
    theirs = sk_permutation_importance(model, X, y, scoring="r2", n_repeats=R, random_state=0)
    _agree(ours, theirs, R)


def test_matches_sklearn_classification(clf):
    model, X, y = clf
    R = 30
    ours = permutation_importance(model, X, y, scoring="accuracy", n_repeats=R, seed=0)
    theirs = sk_permutation_importance(model, X, y, scoring="accuracy", n_repeats=R, random_state=0)
    _agree(ours, theirs, R)
    ours = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=R, seed=0)
    theirs = sk_permutation_importance(model, X, y, scoring="roc_auc", n_repeats=R, random_state=0)
    _agree(ours, theirs, R)


def _agree(ours, theirs, R):
    """Both use different random permutations, so compare the means as two independent estimates:
    within 3 combined standard errors, plus 1e-3 absolute slack for features whose spread is ~0
    (accuracy moves in steps of 1/n)."""
    assert np.argmax(ours.scores) == np.argmax(theirs.importances_mean)
    se = np.sqrt(ours.spread ** 2 / R + theirs.importances_std ** 2 / R)
    diff = np.abs(ours.scores - theirs.importances_mean)
    assert np.all(diff <= 3 * se + 1e-3), (ours.scores, theirs.importances_mean, se)


def test_same_seed_same_result_and_other_seed_differs(reg):
    model, X, y = reg
    a = permutation_importance(model, X, y, n_repeats=4, seed=7)
    b = permutation_importance(model, X, y, n_repeats=4, seed=7)
    c = permutation_importance(model, X, y, n_repeats=4, seed=8)
    np.testing.assert_array_equal(a.repeats, b.repeats)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.array_equal(a.repeats, c.repeats)


def test_one_model_call_per_repeat(reg):
    model, X, y = reg
    calls = []

    def f(arr):
        calls.append(len(arr))
        return model.predict(pd.DataFrame(np.asarray(arr, dtype=float), columns=X.columns))

    permutation_importance(f, X.to_numpy(), y, n_repeats=3)
    assert calls == [len(X)] + [3 * len(X)] * 3


def test_group_of_copies_at_least_each_alone():
    rng = np.random.default_rng(3)
    n = 400
    a = rng.normal(size=n)
    X = pd.DataFrame({"a": a, "a_copy": a.copy(), "noise": rng.normal(size=n)})
    y = 2.0 * a + 0.2 * rng.normal(size=n)
    model = Ridge(alpha=1.0).fit(X, y)  # splits the weight between the copies
    groups = {"a": ["a"], "a_copy": ["a_copy"], "both": ["a", "a_copy"], "noise": [2]}
    imp = permutation_importance(model, X, y, groups=groups, n_repeats=5)
    assert imp.feature_names == ("a", "a_copy", "both", "noise")
    assert imp["both"] >= imp["a"] and imp["both"] >= imp["a_copy"]
    assert imp["both"] > 1.5 * max(imp["a"], imp["a_copy"])
    assert imp.meta["groups"]["both"] == ["a", "a_copy"] and imp.meta["groups"]["noise"] == ["noise"]


def test_callable_scoring(reg):
    model, X, y = reg

    def neg_mse(yt, p):
        return -np.mean((yt - p) ** 2)

    def mse(yt, p):
        return np.mean((yt - p) ** 2)

    a = permutation_importance(model, X, y, scoring=neg_mse, n_repeats=3)
    b = permutation_importance(model, X, y, scoring=(mse, False), n_repeats=3)
    c = permutation_importance(model, X, y, scoring="mse", n_repeats=3)
    np.testing.assert_allclose(a.scores, c.scores)
    np.testing.assert_allclose(b.scores, c.scores)
    assert b.meta["greater_is_better"] is False


def test_json_round_trip(reg):
    model, X, y = reg
    imp = permutation_importance(model, X, y, n_repeats=2, groups={"d": ["driver"], "rest": ["weak", "noise"]})
    back = type(imp).from_dict(json.loads(json.dumps(imp.to_dict())))
    np.testing.assert_array_equal(back.scores, imp.scores)
    np.testing.assert_array_equal(back.repeats, imp.repeats)
    assert back.feature_names == ("d", "rest")
    assert back.meta["scoring"] == "r2" and back.meta["groups"]["rest"] == ["weak", "noise"]


@pytest.mark.parametrize("kwargs, match", [
    ({"scoring": "f1"}, "unknown scoring"),
    ({"scoring": "accuracy"}, "for classifiers"),
    ({"n_repeats": 0}, "n_repeats"),
    ({"n_repeats": 2.5}, "n_repeats"),
    ({"groups": {"g": ["driver", "nope"]}}, "unknown column 'nope'"),
    ({"groups": {"g": [5]}}, "column index 5"),
    ({"groups": {}}, "non-empty"),
    ({"scoring": (len,)}, "tuple"),
])
def test_bad_input(reg, kwargs, match):
    model, X, y = reg
    with pytest.raises(InputError, match=match):
        permutation_importance(model, X, y, **kwargs)


def test_bad_y(reg, clf):
    model, X, y = reg
    with pytest.raises(InputError, match="y has 399 entries but X has 400 rows"):
        permutation_importance(model, X, y[:-1])
    model, X, y = clf
    with pytest.raises(InputError, match="labels the classifier does not know"):
        permutation_importance(model, X, np.where(y == "yes", "maybe", y))
    with pytest.raises(InputError, match="for regressors"):
        permutation_importance(model, X, y, scoring="r2")


def _sklearn_row_orders(seed, n, n_repeats):
    """The row orders scikit-learn's permutation_importance applies, written out from its documented
    behaviour: one seed drawn from RandomState(seed), one index array shuffled in place each repeat and
    applied to the already-shuffled column, the same stream for every feature."""
    rs = np.random.RandomState(np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1))
    idx, order, out = np.arange(n), np.arange(n), []
    for _ in range(n_repeats):
        rs.shuffle(idx)
        order = order[idx]
        out.append(order.copy())
    return np.array(out)


def test_same_permutations_give_sklearns_numbers_exactly(reg, clf):
    for (model, X, y), scoring in ((reg, "r2"), (clf, "accuracy")):
        orders = _sklearn_row_orders(3, len(X), 4)
        ours = permutation_importance(model, X, y, scoring=scoring, permutations=orders)
        ref = sk_permutation_importance(model, X, y, scoring=scoring, n_repeats=4, random_state=3)
        np.testing.assert_allclose(ours.repeats, ref.importances.T, rtol=0, atol=1e-12)
        assert ours.meta["permutations"] == "given by the caller"


def test_permutations_per_feature_and_bad_permutations(reg):
    model, X, y = reg
    n = len(X)
    ident = np.tile(np.arange(n), (3, 2, 1))
    imp = permutation_importance(model, X, y, permutations=ident)   # no shuffling at all: nothing is lost
    np.testing.assert_allclose(imp.repeats, 0.0, atol=1e-12)
    with pytest.raises(InputError, match="permutation of range"):
        permutation_importance(model, X, y, permutations=np.zeros((2, n), dtype=int))
    with pytest.raises(InputError, match="expected"):
        permutation_importance(model, X, y, permutations=np.tile(np.arange(n - 1), (2, 1)))


def test_progress_bar_only_when_asked(reg, capsys):
    model, X, y = reg
    permutation_importance(model, X, y, n_repeats=3, show_progress=True)
    assert "permutation_importance" in capsys.readouterr().err
    permutation_importance(model, X, y, n_repeats=3)
    assert capsys.readouterr().err == ""
