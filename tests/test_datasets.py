"""The synthetic credit data: reproducible, documented, and its truth is what it claims to be."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from whybox.datasets import (CREDIT_COLUMNS, DEBT_REF, INCOME_REF, INTERACTION, breast_cancer, credit,
                             credit_logit, diabetes)

NUMERIC = {"income": "float64", "debt": "float64", "prior_defaults": "int64", "credit_age": "float64",
           "employment_years": "float64", "noise": "float64"}
CATEGORIES = {"housing": ["rent", "mortgage", "own"],
              "loan_purpose": ["car", "home", "education", "business", "other"],
              "postcode_region": [f"R{i}" for i in range(1, 9)]}


@pytest.fixture(scope="module")
def big():
    return credit(n=20000, seed=0)


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = credit(n=500, seed=7), credit(n=500, seed=7), credit(n=500, seed=8)
    pd.testing.assert_frame_equal(a.X, b.X)
    for name in ("y", "logit", "protected"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not a.X.equals(c.X)
    assert len(a) == 500 and a.seed == 7


def test_columns_and_dtypes_as_documented():
    d = credit(n=1000, seed=1)
    assert tuple(d.X.columns) == CREDIT_COLUMNS
    for col, dtype in NUMERIC.items():
        assert str(d.X[col].dtype) == dtype, col
    for col, cats in CATEGORIES.items():
        assert isinstance(d.X[col].dtype, pd.CategoricalDtype), col
        assert list(d.X[col].cat.categories) == cats
    X = d.X
    assert (X.income > 0).all() and X.income.median() == pytest.approx(55, abs=10)
    assert X.debt.between(0, 1).all()
    assert X.prior_defaults.between(0, 4).all()
    assert (X.credit_age >= 0).all() and (X.employment_years >= 0).all()
    assert not X.isna().any().any()
    assert d.y.dtype == np.int64 and set(np.unique(d.y)) == {0, 1}
    assert d.protected.dtype == np.int64 and set(np.unique(d.protected)) == {0, 1}
    assert "protected" not in X.columns
    assert d.logit.shape == (1000,)
    assert d.interaction == ("income", "debt")
    assert set(d.drivers) == set(CREDIT_COLUMNS) - {"noise"}
    assert set(d.true_effects) == set(CREDIT_COLUMNS)


def test_truth_reproduces_logit_on_any_frame_with_the_columns():
    d = credit(n=800, seed=2)
    np.testing.assert_allclose(d.true_logit(d.X), d.logit, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.true_terms().sum(axis=1), d.logit, rtol=0, atol=1e-12)
    # as read back from a CSV: categoricals become plain strings, columns may be reordered
    as_text = d.X.astype({c: object for c in CATEGORIES})[list(reversed(CREDIT_COLUMNS))]
    np.testing.assert_allclose(credit_logit(as_text), d.logit, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.true_proba(), 1 / (1 + np.exp(-d.logit)))
    with pytest.raises(ValueError, match="unknown housing"):
        credit_logit(d.X.astype({"housing": object}).assign(housing="castle"))


def test_noise_has_no_effect():
    d = credit(n=500, seed=3)
    assert d.true_effects["noise"] == 0.0
    shuffled = d.X.assign(noise=np.random.default_rng(0).normal(size=500) * 100)
    np.testing.assert_array_equal(d.true_logit(shuffled), d.logit)


def test_exactly_one_interaction():
    """The mixed second difference f(a1,b1) - f(a1,b0) - f(a0,b1) + f(a0,b0) is 0 for every pair but one."""
    d = credit(n=400, seed=4)
    x0, x1 = d.X.iloc[:200].reset_index(drop=True), d.X.iloc[200:].reset_index(drop=True)
    interacting = []
    for a, b in combinations(CREDIT_COLUMNS, 2):
        def f(take_a, take_b):
            x = x0.copy()
            if take_a:
                x[a] = x1[a]
            if take_b:
                x[b] = x1[b]
            return credit_logit(x)
        second = f(1, 1) - f(1, 0) - f(0, 1) + f(0, 0)
        if np.abs(second).max() > 1e-9:
            interacting.append((a, b))
    assert interacting == [d.interaction]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_approval_rate_is_sensible(seed):
    assert 0.3 < credit(n=5000, seed=seed).y.mean() < 0.7


def test_postcode_region_is_a_proxy_for_the_protected_attribute(big):
    """Correlation ratio: corr(protected, share of the protected group in the person's region) > 0.5."""
    share = pd.Series(big.protected).groupby(big.X.postcode_region.to_numpy(), observed=True).transform("mean")
    eta = np.corrcoef(share, big.protected)[0, 1]
    assert eta > 0.5
    # while its own direct effect on the outcome is small
    assert max(abs(v) for v in big.true_effects["postcode_region"].values()) <= 0.2


def _true_shapley(d, X, background):
    """Interventional Shapley values of the truth, analytically: additive terms centred on the
    background, the income x debt term split by its two-player game."""
    terms, bg_terms = d.true_terms(X), d.true_terms(background)
    phi = pd.DataFrame({c: terms[c] - bg_terms[c].mean() for c in CREDIT_COLUMNS})
    a, b = np.log(X.income / INCOME_REF), X.debt - DEBT_REF
    a_bg, b_bg = np.log(background.income / INCOME_REF), background.debt - DEBT_REF
    c = INTERACTION
    ea, eb, eab = a_bg.mean(), b_bg.mean(), (a_bg * b_bg).mean()
    phi["income"] += c * 0.5 * ((a * eb - eab) + (a * b - ea * b))
    phi["debt"] += c * 0.5 * ((ea * b - eab) + (a * b - a * eb))
    return phi


def test_drivers_are_ordered_by_their_true_shapley_size(big):
    mean_abs = _true_shapley(big, big.X, big.X).abs().mean()
    assert mean_abs["noise"] == 0
    ranked = tuple(mean_abs.drop("noise").sort_values(ascending=False).index)
    assert ranked == big.drivers
    # the gaps are wide enough that the order does not hinge on the sample
    gaps = -np.diff(mean_abs[list(big.drivers)].to_numpy())
    assert gaps.min() > 0.03


def test_exact_shapley_of_the_truth_matches_the_analytic_values():
    from whybox.shapley import ExactShapley
    d = credit(n=300, seed=5)
    bg, X = d.X.iloc[:20], d.X.iloc[100:105]
    attr = ExactShapley(d.true_logit, bg).explain(X)
    expected = _true_shapley(d, X.reset_index(drop=True), bg.reset_index(drop=True))
    np.testing.assert_allclose(attr.values, expected[list(attr.feature_names)].to_numpy(), atol=1e-9)


def test_sklearn_tables_load_without_network():
    X, y = breast_cancer()
    assert X.shape == (569, 30) and isinstance(X, pd.DataFrame) and set(np.unique(y)) == {0, 1}
    X, y = diabetes()
    assert X.shape == (442, 10) and y.shape == (442,) and X["age"].min() >= 18
    Xs, _ = diabetes(scaled=True)
    assert abs(Xs["age"].mean()) < 1e-6
