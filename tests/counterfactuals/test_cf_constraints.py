"""Every counterfactual is re-predicted with the raw model and checked against every constraint, written
out here from the definitions; bad constraints fail early with errors that name the problem."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from whybox.counterfactuals import CounterfactualSearch
from whybox.datasets import credit
from whybox.errors import BudgetError, InputError

IMMUTABLE = ["postcode_region", "noise", "credit_age"]
RANGES = {"income": (10.0, 150.0), "debt": (0.05, None)}
DIRECTION = {"prior_defaults": "decrease", "employment_years": "increase"}
ALLOWED = {"housing": ["rent", "own"]}
TOGETHER = [("debt", "loan_purpose")]


@pytest.fixture(scope="module")
def fitted():
    data = credit(600, seed=0)
    model = HistGradientBoostingClassifier(max_iter=40, categorical_features="from_dtype", random_state=0)
    model.fit(data.X, data.y)
    denied = data.X[model.predict(data.X) == 0].iloc[:6]
    return data.X, model, denied


@pytest.fixture(scope="module")
def constrained(fitted):
    X, model, denied = fitted
    search = CounterfactualSearch(model, X, immutable=IMMUTABLE, ranges=RANGES, direction=DIRECTION,
                                  integer=["employment_years"], categories=ALLOWED, together=TOGETHER, seed=0)
    return search.explain(denied, k=3, max_evals=1500)


def test_every_counterfactual_is_valid_on_the_raw_model(fitted, constrained):
    X, model, denied = fitted
    cf = constrained
    assert cf.found.all() and cf.valid.all() and not cf.meta["dropped"]
    frame = cf.to_frame()
    assert len(frame) >= 2 * len(denied)
    rows = frame[list(X.columns)].astype({c: X[c].dtype for c in X.columns})
    assert (model.predict(rows) == 1).all()
    assert (model.predict(denied) == 0).all()


def test_every_constraint_holds_row_by_row(fitted, constrained):
    X, _, denied = fitted
    frame = constrained.to_frame()
    for _, row in frame.iterrows():
        q = denied.iloc[int(row["query"])]
        diff = {c for c in X.columns if row[c] != q[c]}
        assert diff == set(row["changed"]) and diff
        for c in IMMUTABLE:                                    # immutable: untouched
            assert row[c] == q[c]
        for c in ["income", "debt", "prior_defaults", "employment_years"]:
            if c in diff:                                       # ranges (given, else the training min..max)
                lo, hi = RANGES.get(c, (None, None))
                lo = X[c].min() if lo is None else lo
                hi = X[c].max() if hi is None else hi
                assert lo <= row[c] <= hi, (c, row[c])
        assert row["prior_defaults"] <= q["prior_defaults"]     # direction
        assert row["employment_years"] >= q["employment_years"]
        for c in ("prior_defaults", "employment_years"):         # integer (detected from int64, and given)
            if c in diff:
                assert float(row[c]).is_integer()
        if "housing" in diff:                                    # allowed categories
            assert row["housing"] in ALLOWED["housing"]
        assert ("debt" in diff) == ("loan_purpose" in diff)      # together: both or neither
        for c, decimals in (("income", 1), ("debt", 3)):          # in the data's own units (0.1, 0.001)
            assert round(row[c], decimals) == row[c]
    # integer dtypes come back as integers
    assert frame["prior_defaults"].dtype == np.int64
    assert isinstance(frame["housing"].dtype, pd.CategoricalDtype)


def test_nothing_mutable_returns_the_query_as_an_invalid_closest_attempt(fitted):
    X, model, denied = fitted
    search = CounterfactualSearch(model, X, immutable=list(X.columns), seed=0)
    cf = search.explain(denied.iloc[:2], k=3, max_evals=200)
    assert not cf.found.any() and cf.status == ("not_found", "not_found")
    assert len(cf.rows) == 2 and not cf.valid.any() and not cf.changed.any()
    assert cf.to_frame().empty
    closest = cf.closest
    assert len(closest) == 2 and not closest["valid"].any()
    assert (model.predict(closest[list(X.columns)].astype({c: X[c].dtype for c in X.columns})) == 0).all()
    assert cf.to_text()[0] == ["No allowed change was found that would have made the decision 1."]


def test_bad_constraints_fail_early_and_name_the_fix(fitted):
    X, model, denied = fitted
    with pytest.raises(InputError, match=r"unknown feature 'age'.*income"):
        CounterfactualSearch(model, X, immutable=["age"])
    with pytest.raises(InputError, match="increase"):
        CounterfactualSearch(model, X, direction={"income": "up"})
    with pytest.raises(InputError, match="unordered"):
        CounterfactualSearch(model, X, direction={"housing": "increase"})
    with pytest.raises(InputError, match=r"unknown value\(s\) \['castle'\]"):
        CounterfactualSearch(model, X, categories={"housing": ["own", "castle"]})
    with pytest.raises(InputError, match="empty"):
        CounterfactualSearch(model, X, ranges={"income": (80, 20)})
    with pytest.raises(InputError, match="categorical"):
        CounterfactualSearch(model, X, ranges={"housing": (0, 1)})
    with pytest.raises(InputError, match="immutable"):
        CounterfactualSearch(model, X, immutable=["debt"], together=[("debt", "income")])
    # a range for an immutable feature that excludes the query's own value: a contradiction
    q = denied.iloc[:1]
    income = float(q["income"].iloc[0])
    search = CounterfactualSearch(model, X, immutable=["income"], ranges={"income": (income + 1, None)})
    with pytest.raises(InputError, match="outside the range"):
        search.explain(q)
    search = CounterfactualSearch(model, X, seed=0)
    with pytest.raises(InputError, match="k must be"):
        search.explain(q, k=0)
    with pytest.raises(InputError, match=r"unknown target class 'approved'.*\[0, 1\]"):
        search.explain(q, target="approved")
    with pytest.raises(BudgetError):
        search.explain(q, max_evals=3)
