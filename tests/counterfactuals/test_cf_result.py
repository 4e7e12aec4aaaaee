"""The Counterfactuals result: exact JSON round trip, tables in the user's types, slicing by query, and
sentences in the user's units."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from whybox import Counterfactuals
from whybox.counterfactuals import CounterfactualSearch
from whybox.datasets import credit

NAMES = ("income", "debt", "prior_defaults", "housing")


def _planted(found=(True, False)):
    """Two queries: the first has two counterfactuals (one planted income change, one two-feature change);
    the second none, only a closest attempt."""
    queries = np.array([[42000.0, 0.41, 2, "rent"], [30000.0, 0.6, 3, "rent"]], dtype=object)
    rows = np.array([[48000.0, 0.41, 2, "rent"], [42000.0, 0.3, 1, "rent"], [30000.0, 0.6, 3, "own"]], dtype=object)
    changed = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    return Counterfactuals(
        queries=queries, rows=rows, query_index=[0, 0, 1], valid=[True, True, False], changed=changed,
        outputs=[[0.4, 0.6], [0.45, 0.55], [0.8, 0.2]], query_outputs=[[0.7, 0.3], [0.9, 0.1]],
        proximity=[0.5, 1.9, 1.0], sparsity=[1, 2, 1], plausibility=[3.0, 2.5, 4.0],
        outlier_score=[1.0, 1.1, 1.6], found=list(found), status=("found", "not_found"),
        diversity=[2.1, np.nan], targets=([1], [1]), decisions=(1, 1, 0), query_decisions=(0, 0),
        feature_names=NAMES, output_names=("0", "1"), categories={"housing": ["rent", "mortgage", "own"]},
        integers=("prior_defaults",), meta={"seed": 0, "constraints": {"immutable": ["age"]}})


def test_to_text_writes_the_planted_change_in_the_users_units():
    cf = _planted()
    money = lambda v: f"${v:,.0f}"  # noqa: E731
    text = cf.to_text(formatters={"income": money}, outcome_names={1: "approved", 0: "denied"})
    assert text[0][0] == "Had your income been $48,000 instead of $42,000, the decision would have been approved."
    assert text[0][1] == ("Had your debt been 0.3 instead of 0.41 and your prior defaults been 1 instead of 2, "
                          "the decision would have been approved.")
    assert text[1] == ["No allowed change was found that would have made the decision approved."]
    # default formatting: thousands separators, whole numbers without decimals
    assert cf.to_text()[0][0] == "Had your income been 48,000 instead of 42,000, the decision would have been 1."
    assert cf.to_text(labels={"income": "annual income"})[0][0].startswith("Had your annual income been 48,000")


def test_rounding_in_sentences_never_understates_the_change():
    """A counterfactual that needs x > 1 must not be told as "1"; one that needs debt <= 0.28598 not as 0.286."""
    cf = Counterfactuals(
        queries=np.array([[0.5, 0.428]]), rows=np.array([[1.00001, 0.2859781]]), query_index=[0], valid=[True],
        changed=[[True, True]], outputs=[[0.49, 0.51]], query_outputs=[[0.9, 0.1]], proximity=[2.0],
        sparsity=[2], plausibility=[1.0], outlier_score=[1.0], found=[True], status=("found",),
        diversity=[np.nan], targets=([1],), decisions=(1,), query_decisions=(0,), feature_names=("x", "debt"))
    assert cf.to_text()[0] == ["Had your x been 1.00001 instead of 0.5 and your debt been 0.285978 instead of "
                               "0.428, the decision would have been 1."]


def test_json_round_trip_is_exact():
    cf = _planted()
    d = json.loads(json.dumps(cf.to_dict()))
    back = Counterfactuals.from_dict(d)
    assert back.to_dict() == cf.to_dict()
    assert back.queries.dtype == object and back.rows[0, 0] == 48000.0 and back.rows[2, 3] == "own"
    assert np.array_equal(back.valid, cf.valid) and np.isnan(back.diversity[1])
    assert back.targets == ([1], [1]) and back.decisions == (1, 1, 0)
    with pytest.raises(ValueError, match="Counterfactuals"):
        Counterfactuals.from_dict({**d, "type": "Rule"})


def test_to_frame_query_slicing_and_closest_attempts():
    cf = _planted()
    frame = cf.to_frame()
    assert list(frame["query"]) == [0, 0] and list(frame["rank"]) == [0, 1] and frame["valid"].all()
    assert list(frame.columns[:3]) == ["query", "rank", "valid"]
    assert frame["changed"].tolist() == [("income",), ("debt", "prior_defaults")]
    assert isinstance(frame["housing"].dtype, pd.CategoricalDtype)
    assert list(frame["housing"].cat.categories) == ["rent", "mortgage", "own"]
    assert frame["prior_defaults"].dtype == np.int64
    assert len(cf.to_frame(closest=True)) == 3
    closest = cf.closest
    assert len(closest) == 1 and closest["housing"][0] == "own" and not closest["valid"][0]
    one = cf[1]
    assert len(one) == 1 and one.status == ("not_found",) and list(one.query_index) == [0]
    assert one.queries[0, 0] == 30000.0 and len(one.rows) == 1
    assert len(cf[[1, 0]].rows) == 3 and list(cf[[1, 0]].query_index) == [0, 1, 1]
    assert cf[-2].found[0]
    assert cf.query_frame()["income"].tolist() == [42000.0, 30000.0]


def test_an_invalid_row_can_never_pass_as_a_counterfactual():
    with pytest.raises(ValueError, match="invalid"):
        _planted(found=(True, True))         # query 1's closest attempt is invalid, so it cannot be "found"
    cf = _planted()
    d = cf.to_dict()
    d["valid"]["data"][2] = True             # a valid row under a query marked not found
    with pytest.raises(ValueError, match="not found"):
        Counterfactuals.from_dict(d)


def test_sentence_from_a_real_search_and_round_trip():
    data = credit(400, seed=1)
    X = data.X[["income", "debt", "prior_defaults", "credit_age"]]
    model = LogisticRegression(max_iter=2000).fit(X, data.y)
    q = X[model.predict(X) == 0].iloc[:2]
    cf = CounterfactualSearch(model, X, immutable=["debt", "prior_defaults", "credit_age"],
                              seed=0).explain(q, k=1, max_evals=400)
    assert cf.found.all()
    money = lambda v: f"${v * 1000:,.0f}"  # noqa: E731   (income is in thousands)
    text = cf.to_text(formatters={"income": money}, outcome_names={1: "approved"})
    for i in range(2):
        new, old = cf.rows[cf.rows_of(i)[0], 0], q["income"].iloc[i]
        assert new > old
        assert text[i] == [f"Had your income been {money(new)} instead of {money(old)}, "
                           "the decision would have been approved."]
    back = Counterfactuals.from_dict(json.loads(json.dumps(cf.to_dict())))
    assert back.to_dict() == cf.to_dict() and back.to_text() == cf.to_text()
    assert cf.meta["constraints"]["immutable"] == ["debt", "prior_defaults", "credit_age"]
    assert cf.meta["model_evals"] == sum(cf.meta["evals_per_query"]) + 2 + cf.meta["check_evals"]
