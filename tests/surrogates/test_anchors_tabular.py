import operator
import re

import numpy as np
import pandas as pd
import pytest

from whybox.errors import InputError
from whybox.surrogates import Anchors

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
TAU = 0.95


def _planted(X):
    """1 iff a > 0.5 and b < 0.2: a two-condition rule, c, d, e are noise."""
    X = np.asarray(X, dtype=float)
    return ((X[:, 0] > 0.5) & (X[:, 1] < 0.2)).astype(int)


def _uniform(n, seed):
    return pd.DataFrame(np.random.default_rng(seed).random((n, 5)), columns=list("abcde"))


@pytest.fixture(scope="module")
def planted():
    X = _uniform(2000, 0)
    ex = Anchors(_planted, X, discretize=[0.2, 0.5, 0.8], threshold=TAU, coverage_samples=1000, seed=0)
    x = pd.Series({"a": 0.8, "b": 0.1, "c": 0.3, "d": 0.6, "e": 0.9})
    return X, ex, x, ex.explain(x)


def _by_hand(rule, frame):
    """The rule's conditions evaluated directly with Python operators."""
    ok = np.ones(len(frame), dtype=bool)
    for name, op, value in rule.conditions:
        ok &= _OPS[op](frame[name].to_numpy(), value)
    return ok


def test_planted_rule_is_found_and_its_precision_holds_on_fresh_samples(planted):
    X, _, x, rule = planted
    assert {name for name, _, _ in rule.conditions} == {"a", "b"}
    assert len(rule) == 2
    assert rule.prediction == 1 and rule.meta["meets_threshold"] and rule.meta["stopped"] == "found"
    assert rule.holds(x.to_frame().T)[0]
    # precision re-measured independently: fresh rows from the data's own distribution, kept where the rule holds
    fresh = _uniform(40_000, 99)
    inside = fresh[rule.holds(fresh)]
    assert len(inside) > 1000
    assert (_planted(inside) == 1).mean() >= TAU - 0.02
    assert rule.meta["precision_lb"] <= rule.precision <= rule.meta["precision_ub"]


def test_holds_agrees_with_the_conditions_and_coverage_with_the_data(planted):
    X, _, _, rule = planted
    inside = rule.holds(X)
    assert np.array_equal(inside, _by_hand(rule, X))
    assert np.array_equal(rule.holds(X.to_numpy()), inside)  # plain arrays through feature_names
    # coverage was estimated on a 1000-row sample of the 2000 training rows: close to the full share
    assert rule.coverage == pytest.approx(inside.mean(), abs=0.03)


def test_examples_satisfy_the_rule_and_agree_or_disagree_with_the_model(planted):
    _, _, _, rule = planted
    agree = pd.DataFrame(rule.examples_agree, columns=list("abcde"))
    assert len(agree) > 0 and rule.holds(agree).all() and (_planted(agree) == 1).all()
    if len(rule.examples_disagree):
        dis = pd.DataFrame(rule.examples_disagree, columns=list("abcde"))
        assert rule.holds(dis).all() and (_planted(dis) != 1).all()


def test_negative_side_gets_a_one_condition_anchor():
    X = _uniform(2000, 0)
    ex = Anchors(_planted, X, discretize=[0.2, 0.5, 0.8], seed=0)
    rule = ex.explain(np.array([0.2, 0.1, 0.3, 0.6, 0.9]))
    assert rule.prediction == 0 and len(rule) == 1
    name, op, value = rule.conditions[0]
    assert name == "a" and op == "<=" and 0.45 < value < 0.55
    assert rule.coverage == pytest.approx(rule.holds(X).mean(), abs=1e-12)  # all 2000 rows in the sample


class _Lender:
    """A classifier with class labels: deny iff prior_defaults >= 2 and income <= 30,000."""

    classes_ = np.array(["approve", "deny"])
    feature_names_in_ = np.array(["income", "prior_defaults", "region", "age"])

    def fit(self, X, y=None):
        return self

    def predict_proba(self, X):
        deny = ((X["prior_defaults"] >= 2) & (X["income"] <= 30_000)).to_numpy()
        return np.column_stack([~deny, deny]).astype(float)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def _credit(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        # quartiles 30,000 / 40,000 / 60,000, each well inside a step of the distribution function
        "income": rng.choice([20_000, 30_000, 40_000, 60_000, 80_000], n, p=[0.15, 0.2, 0.2, 0.25, 0.2]),
        "prior_defaults": rng.choice(4, n, p=[0.4, 0.2, 0.2, 0.2]),
        "region": pd.Categorical(rng.choice(["north", "south", "east", "west"], n)),
        "age": rng.integers(18, 80, n),
    })


def test_rule_reads_in_the_users_units_and_labels():
    X = _credit(2000, 1)
    ex = Anchors(_Lender(), X, seed=0)
    x = pd.DataFrame({"income": [20_000], "prior_defaults": [3], "region": pd.Categorical(["east"]), "age": [40]})
    rule = ex.explain(x)[0]
    text = rule.to_text()
    assert re.fullmatch(r"IF (prior_defaults >= [23] AND income <= 30,000|income <= 30,000 AND prior_defaults >= [23])"
                        r" THEN deny \(precision 1\.00, coverage 0\.\d\d\)", text), text
    assert rule.meta["meets_threshold"]
    # the whole-number feature's rendering selects exactly the same users' rows as the model's rule
    inside = rule.holds(X)
    assert np.array_equal(inside, _by_hand(rule, X))
    assert (_Lender().predict(X[inside]) == "deny").all()


def test_categorical_equality_and_mixed_columns():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 1500), "size": rng.random(1500)})
    model = lambda X: (np.asarray(X["colour"]) == "red").astype(int)  # noqa: E731
    rule = Anchors(model, X, seed=0).explain(pd.Series({"colour": "red", "size": 0.4}))
    assert rule.conditions == (("colour", "==", "red"),) and rule.prediction == 1
    assert rule.examples_agree.dtype == object and set(rule.examples_agree[:, 0]) == {"red"}


def test_same_seed_same_rule_and_batches_give_lists():
    X = _uniform(1000, 2)
    rows = np.array([[0.8, 0.1, 0.3, 0.6, 0.9], [0.3, 0.7, 0.3, 0.6, 0.9]])
    a = Anchors(_planted, X, discretize=[0.2, 0.5, 0.8], seed=5).explain(rows)
    b = Anchors(_planted, X, discretize=[0.2, 0.5, 0.8], seed=5).explain(rows)
    assert isinstance(a, list) and len(a) == 2
    for r, s in zip(a, b):
        assert r.conditions == s.conditions and r.precision == s.precision and r.coverage == s.coverage
        assert r.meta["model_evals"] == s.meta["model_evals"]


def test_tiny_budget_stops_without_claiming_the_threshold():
    X = _uniform(1000, 2)
    rule = Anchors(_planted, X, discretize=[0.2, 0.5, 0.8], seed=0).explain(np.array([0.8, 0.1, 0.3, 0.6, 0.9]),
                                                                          max_evals=60)
    assert rule.meta["stopped"] == "budget"
    assert rule.meta["meets_threshold"] is False
    assert rule.meta["model_evals"] <= 60
    assert rule.meta["precision_lb"] < TAU - rule.meta["epsilon_stop"]


def test_max_anchor_size_limits_the_rule():
    X = _uniform(1000, 2)
    rule = Anchors(_planted, X, discretize=[0.2, 0.5, 0.8], seed=0).explain(np.array([0.8, 0.1, 0.3, 0.6, 0.9]),
                                                                          max_anchor_size=1)
    assert len(rule) <= 1 and rule.meta["stopped"] == "max_size" and not rule.meta["meets_threshold"]


@pytest.mark.parametrize("kwargs, match", [
    ({"threshold": 1.0}, "threshold"), ({"threshold": 0}, "threshold"), ({"delta": 1.5}, "delta"),
    ({"mode": "image"}, "mode"), ({"discretize": "octile"}, "discretize"), ({"beam_size": 0}, "beam_size"),
])
def test_bad_settings_fail_early(kwargs, match):
    with pytest.raises(InputError, match=match):
        Anchors(_planted, _uniform(50, 0), **kwargs)


def test_wrong_inputs_name_the_fix():
    X = _uniform(200, 0)
    ex = Anchors(_planted, X)
    with pytest.raises(InputError, match="mode='text'"):
        ex.explain("this is a text")
    with pytest.raises(InputError, match="training data"):
        Anchors(_planted, mode="tabular")
    with pytest.raises(InputError, match="columns"):
        ex.explain(np.zeros(3))
    regressor = lambda X: np.asarray(X, dtype=float)[:, 0] * 1.5  # noqa: E731
    with pytest.raises(InputError, match="regressor"):
        Anchors(regressor, X).explain(np.full(5, 0.3))
