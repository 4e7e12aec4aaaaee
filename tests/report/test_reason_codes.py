"""Adverse-action reason codes: the planted drivers of a denial, in the order of their true contributions."""

import numpy as np
import pandas as pd
import pytest

from whybox import Attribution, InputError
from whybox.datasets import credit, credit_terms
from whybox.report import reason_codes
from whybox.shapley import ExactShapley


def _true_shapley(x: pd.DataFrame, background: pd.DataFrame) -> pd.Series:
    """Interventional Shapley values of the true log-odds, written out from its formula: each additive
    term contributes t(x) - E_b t(b); the income x debt product g(income) h(debt) splits as
    phi_income = (v1 - v0 + v12 - v2) / 2 with v the expectations over the background."""
    tx, tb = credit_terms(x).iloc[0], credit_terms(background)
    phi = {c: tx[c] - tb[c].mean() for c in tb.columns if c not in ("income:debt", "intercept")}
    g = lambda frame: np.log(frame["income"].to_numpy(float) / 50.0)  # noqa: E731
    h = lambda frame: frame["debt"].to_numpy(float) - 0.3  # noqa: E731
    coef = (tx["income:debt"] / (g(x)[0] * h(x)[0])) if g(x)[0] * h(x)[0] != 0 else 0.0
    gx, hx, gb, hb = g(x)[0], h(x)[0], g(background), h(background)
    v0, v1, v2, v12 = (coef * (gb * hb).mean(), coef * gx * hb.mean(), coef * gb.mean() * hx, coef * gx * hx)
    phi["income"] += 0.5 * (v1 - v0 + v12 - v2)
    phi["debt"] += 0.5 * (v2 - v0 + v12 - v1)
    return pd.Series(phi)


@pytest.fixture(scope="module")
def denied():
    data = credit(n=600, seed=3)
    background = data.X.iloc[:40]
    truth = lambda frame: credit_terms(frame).to_numpy().sum(axis=1)  # noqa: E731 — the true log-odds
    order = np.argsort(data.logit)
    rows = data.X.iloc[order[:3]]                       # the three clearest denials
    attr = ExactShapley(truth, background).explain(rows)
    return data, background, rows, attr


def test_reasons_are_the_planted_drivers_in_the_order_of_their_true_contributions(denied):
    data, background, rows, attr = denied
    all_reasons = reason_codes(attr, top=4)
    assert len(all_reasons) == 3
    for i, reasons in enumerate(all_reasons):
        ref = _true_shapley(rows.iloc[[i]], background)
        np.testing.assert_allclose(attr[i].values, ref[list(attr.feature_names)].to_numpy(), atol=1e-9)
        expected = [f for f in ref.sort_values().index if ref[f] < 0][:4]
        assert [r.features[0] for r in reasons] == expected
        assert all(f in data.drivers for f in expected) and "noise" not in expected
        assert [r.contribution for r in reasons] == pytest.approx([-ref[f] for f in expected])
        assert [r.rank for r in reasons] == list(range(1, len(expected) + 1))


def test_codes_table_wording_and_pooling(denied):
    _, _, rows, attr = denied
    codes = {"income": ("R01", "Income of {value} thousand is insufficient"),
             "debt": {"code": "R02", "text": "Obligations too high relative to income"},
             "prior_defaults": ("R02", "Obligations too high relative to income"),
             "credit_age": "Length of credit history ({value} years)"}
    reasons = reason_codes(attr[0], codes=codes, top=10)
    by_code = {r.code: r for r in reasons}
    phi = dict(zip(attr.feature_names, attr[0].values))
    # debt and prior_defaults share R02: stated once, their adverse contributions added
    pooled = -(phi["debt"] + phi["prior_defaults"])
    assert pooled > 0 and phi["income"] < 0          # this denial has both
    assert by_code["R02"].contribution == pytest.approx(pooled)
    assert set(by_code["R02"].features) == {"debt", "prior_defaults"}
    income = rows.iloc[0]["income"]
    assert by_code["R01"].text == f"Income of {income:,.6g} thousand is insufficient"
    assert [r.contribution for r in reasons] == sorted((r.contribution for r in reasons), reverse=True)
    assert len({r.code for r in reasons}) == len(reasons)
    assert all(r.contribution > 0 for r in reasons)


def test_direction_outputs_and_edge_cases():
    values = np.array([[0.5, -0.2, -0.7, 0.1]])
    names = ("a", "b", "c", "d")
    attr = Attribution(values=values, base_values=np.zeros(1), data=np.array([[1.0, 2.0, 3.0, 4.0]]),
                       feature_names=names)
    assert [r.code for r in reason_codes(attr, row=0)] == ["c", "b"]
    assert [r.code for r in reason_codes(attr, row=0, adverse="increase")] == ["a", "d"]
    assert reason_codes(attr, row=0, top=1)[0].text == "c (3) counted against the application"
    helped = Attribution(values=np.abs(values), base_values=np.zeros(1), feature_names=names)
    assert reason_codes(helped) == [[]]
    two = Attribution(values=np.stack([values, -values], axis=-1), base_values=np.zeros((1, 2)),
                      feature_names=names, output_names=("denied", "approved"), has_outputs=True)
    with pytest.raises(InputError, match="output="):
        reason_codes(two)
    assert [r.code for r in reason_codes(two, output="approved", row=0)] == ["a", "d"]
    with pytest.raises(InputError, match="does not have"):
        reason_codes(attr, codes={"zzz": "x"})
    with pytest.raises(InputError, match="top"):
        reason_codes(attr, top=0)
    with pytest.raises(InputError, match="placeholder"):
        reason_codes(attr, codes={"c": "{amount}"}, row=0)
