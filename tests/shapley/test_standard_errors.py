"""Standard errors of KernelShap and PermutationShap: calibrated against exact Shapley values, and
`tolerance=` stops a row on its own standard error."""

import numpy as np
import pytest

from whybox.errors import BudgetError
from whybox.shapley import KernelShap, PermutationShap

M = 8  # 2^8 - 2 = 254 coalitions enumerate everything: every budget below samples
SEEDS = 30


def coverage(values, se, exact):
    """Fraction of (seed, row, feature) whose true error lies within 1.96 standard errors."""
    return float(np.mean(np.abs(values - exact) <= 1.96 * se))


def over_seeds(make, rows, budget):
    runs = [make(seed).explain(rows, max_evals=budget) for seed in range(SEEDS)]
    assert not runs[0].meta["enumerated"] and set(runs[0].meta["stopped"]) == {"max_evals"}
    return np.stack([a.values for a in runs]), np.stack([a.standard_error for a in runs])


@pytest.mark.parametrize("name,make,budget", [
    ("kernel", lambda mlp, bg, s: KernelShap(mlp, bg, seed=s), 120),
    ("kernel", lambda mlp, bg, s: KernelShap(mlp, bg, seed=s), 200),
    ("plain kernel", lambda mlp, bg, s: KernelShap(mlp, bg, seed=s, adjusted=False), 80),
    ("permutation", lambda mlp, bg, s: PermutationShap(mlp, bg, seed=s), 60),
    ("permutation", lambda mlp, bg, s: PermutationShap(mlp, bg, seed=s), 160),
])
def test_standard_errors_are_calibrated(case, mlp, name, make, budget):
    """Over many seeds the exact value lies within +-1.96 SE for 90-99% of the features."""
    background, rows, exact = case
    assert budget < 2 ** M - 2
    values, se = over_seeds(lambda s: make(mlp, background, s), rows, budget)
    assert np.isfinite(se).all() and (se > 0).all()
    assert 0.90 <= coverage(values, se, exact) <= 0.99, name
    # the band has teeth: errors three times too large, or half as large as they are, fall outside it
    assert coverage(values, 3 * se, exact) > 0.99
    assert coverage(values, se / 2, exact) < 0.90


@pytest.mark.parametrize("explainer", [KernelShap, PermutationShap])
def test_enumerated_values_are_exact_with_zero_error(case, mlp, explainer):
    background, rows, exact = case
    attr = explainer(mlp, background).explain(rows, max_evals=2 ** M - 2)
    assert np.abs(attr.values - exact).max() < 1e-10
    assert np.array_equal(attr.standard_error, np.zeros_like(attr.values))
    assert attr.meta["stopped"] == ["enumerated"] * len(rows)


@pytest.mark.parametrize("explainer", [KernelShap, PermutationShap])
def test_standard_error_shrinks_as_the_budget_grows(case, mlp, explainer):
    background, rows, _ = case
    se = {b: explainer(mlp, background, seed=1).explain(rows, max_evals=b).standard_error.mean() for b in (60, 200)}
    assert se[200] < se[60]


def test_several_outputs_get_one_error_each(data):
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = data
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    clf = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X[:300], labels[:300])
    for explainer in (KernelShap, PermutationShap):
        attr = explainer(clf, X[300:315]).explain(X[350:352], max_evals=100)
        assert attr.standard_error.shape == attr.values.shape == (2, M, 3)
        one = attr[1, "x3", 2]
        assert float(one.standard_error) == attr.standard_error[1, 3, 2]


# ----------------------------------------------------------------------------- tolerance


def linear(Z):
    """Additive: every sampled estimate is exact, so the standard error vanishes at once."""
    return np.asarray(Z, dtype=float) @ np.arange(1.0, M + 1) - 3.0


@pytest.mark.parametrize("explainer", [KernelShap, PermutationShap])
def test_tolerance_stops_early_on_an_easy_model(data, explainer):
    X, _ = data
    background, rows = X[300:320], X[350:355]
    attr = explainer(linear, background, seed=0).explain(rows, max_evals=2000, tolerance=1e-6)
    assert attr.meta["stopped"] == ["tolerance"] * len(rows)
    assert max(attr.meta["coalitions"]) < 2 ** M - 2 and attr.meta["samples_per_row"] < 2000
    assert attr.standard_error.max() <= 1e-6
    np.testing.assert_allclose(attr.values, np.arange(1.0, M + 1) * (rows - background.mean(axis=0)), atol=1e-9)
    # it stopped for its precision, not for its budget: fewer model rows than spending the budget
    full = explainer(linear, background, seed=0).explain(rows, max_evals=200)
    assert attr.meta["model_evals"] < full.meta["model_evals"]


@pytest.mark.parametrize("explainer", [KernelShap, PermutationShap])
def test_a_tiny_tolerance_on_a_hard_model_spends_max_evals(case, mlp, explainer):
    background, rows, _ = case
    attr = explainer(mlp, background, seed=0).explain(rows, max_evals=150, tolerance=1e-9)
    assert attr.meta["stopped"] == ["max_evals"] * len(rows)
    assert (attr.standard_error.max(axis=1) > 1e-9).all()
    assert max(attr.meta["coalitions"]) <= 150 and len(attr.meta["rounds"]) > 1


@pytest.mark.parametrize("explainer", [KernelShap, PermutationShap])
def test_each_row_stops_on_its_own_error(case, mlp, explainer):
    background, rows, _ = case
    explained = explainer(mlp, background, seed=3)
    loose = explained.explain(rows, max_evals=250, tolerance=1.0)  # every row's first round is enough
    assert set(loose.meta["stopped"]) == {"tolerance"}
    target = float(np.median(loose.standard_error.max(axis=1))) / 2
    attr = explained.explain(rows, max_evals=250, tolerance=target)
    stopped, used = attr.meta["stopped"], attr.meta["coalitions"]
    worst = attr.standard_error.max(axis=1)
    for i, why in enumerate(stopped):
        assert why in ("tolerance", "max_evals")
        assert (worst[i] <= target) == (why == "tolerance")
        # the per-row entries travel with the row
        assert attr[i].meta["stopped"] == [why] and attr[i].meta["coalitions"] == [used[i]]
    assert len(set(used)) > 1  # rows of one batch stopped after different rounds


@pytest.mark.parametrize("tolerance", [0, -0.1, float("nan"), "small", True])
def test_malformed_tolerance_is_refused(case, mlp, tolerance):
    background, rows, _ = case
    with pytest.raises(BudgetError, match="tolerance"):
        KernelShap(mlp, background).explain(rows, max_evals=60, tolerance=tolerance)
    with pytest.raises(BudgetError, match="tolerance"):
        PermutationShap(mlp, background).explain(rows, max_evals=60, tolerance=tolerance)
