"""The search against independent truths: the analytic boundary of a logistic model, distinctness of
the k returned, plausibility measured here from the training data, seeds, regressors and multiclass."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from whybox import Counterfactuals
from whybox.counterfactuals import CounterfactualSearch
from whybox.datasets import credit

NUMERIC = ["income", "debt", "prior_defaults", "credit_age", "employment_years", "noise"]


@pytest.fixture(scope="module")
def data():
    return credit(600, seed=0)


@pytest.fixture(scope="module")
def boosted(data):
    model = HistGradientBoostingClassifier(max_iter=40, categorical_features="from_dtype", random_state=0)
    model.fit(data.X, data.y)
    denied = data.X[model.predict(data.X) == 0].iloc[:6]
    return model, denied


def test_one_mutable_feature_lands_on_the_analytic_logistic_boundary(data):
    X = data.X[NUMERIC]
    model = LogisticRegression(max_iter=2000).fit(X, data.y)
    w, b = model.coef_[0], model.intercept_[0]
    j = NUMERIC.index("income")
    assert w[j] > 0
    denied = X[model.predict(X) == 0]
    # the boundary income* solves w.x + b = 0 with every other feature at the query's value
    star = -(b + denied.to_numpy() @ w - w[j] * denied["income"].to_numpy()) / w[j]
    reachable = denied[(star > denied["income"]) & (star < X["income"].max())].iloc[:5]
    star = star[(star > denied["income"]) & (star < X["income"].max())][:5]
    assert len(reachable) == 5
    search = CounterfactualSearch(model, X, immutable=[c for c in NUMERIC if c != "income"], seed=0)
    cf = search.explain(reachable, k=1, max_evals=600)
    assert cf.found.all() and len(cf.rows) == 5
    income = cf.rows[:, j].astype(float)
    assert np.all(np.abs(income - star) <= 0.01 * star), (income, star)
    assert (model.predict(cf.to_frame()[NUMERIC]) == 1).all()       # just past the boundary, on the valid side
    assert (cf.sparsity == 1).all()


def test_k_counterfactuals_are_distinct(boosted, data):
    model, denied = boosted
    cf = CounterfactualSearch(model, data.X, immutable=["postcode_region"], seed=0).explain(denied, k=3)
    assert cf.found.all()
    for i in range(len(denied)):
        rows = cf[i].rows
        assert len(rows) == 3
        assert cf.diversity[i] > 0
        as_tuples = {tuple(r) for r in rows}
        assert len(as_tuples) == 3
    # proximity is the documented distance: MAD-scaled L1 + 1 per changed category, recomputed here
    X = data.X
    num = [c for c in X.columns if X[c].dtype.kind in "if"]
    mad = {c: float(np.median(np.abs(X[c] - X[c].median()))) or float(np.mean(np.abs(X[c] - X[c].median())))
           for c in num}
    frame = cf.to_frame()
    for _, row in frame.iterrows():
        q = denied.iloc[int(row["query"])]
        d = sum(abs(row[c] - q[c]) / mad[c] for c in num) + sum(row[c] != q[c] for c in X.columns if c not in num)
        assert row["proximity"] == pytest.approx(d, rel=1e-9)


def _knn_to_target(X, model, rows, target_class=1, n=5):
    """Mean MAD-scaled L1 (+1 per different category) to the n nearest training rows the model approves."""
    pool = X[model.predict(X) == target_class]
    num = [c for c in X.columns if X[c].dtype.kind in "if"]
    cat = [c for c in X.columns if c not in num]
    mad = np.array([np.median(np.abs(X[c] - X[c].median())) or np.mean(np.abs(X[c] - X[c].median())) for c in num])
    P, Pc = pool[num].to_numpy(float) / mad, pool[cat].astype(str).to_numpy()
    out = []
    for _, r in rows.iterrows():
        d = np.abs(P - r[num].to_numpy(float) / mad).sum(axis=1) + (Pc != r[cat].astype(str).to_numpy()).sum(axis=1)
        out.append(np.sort(d)[:n].mean())
    return np.array(out)


def test_plausibility_weight_pulls_counterfactuals_towards_the_target_data(boosted, data):
    model, denied = boosted
    X = data.X
    plain = CounterfactualSearch(model, X, immutable=["postcode_region"], seed=0).explain(denied, k=3)
    pulled = CounterfactualSearch(model, X, immutable=["postcode_region"], plausibility_weight=2.0,
                                  seed=0).explain(denied, k=3)
    assert plain.found.all() and pulled.found.all()
    knn_plain = _knn_to_target(X, model, plain.to_frame())
    knn_pulled = _knn_to_target(X, model, pulled.to_frame())
    assert knn_pulled.mean() < knn_plain.mean() - 0.3
    # the result's own plausibility column is the same quantity
    assert np.allclose(knn_plain, plain.plausibility)
    # and the pull is paid for in proximity, as the objective says
    assert pulled.proximity.mean() > plain.proximity.mean()


def test_same_seed_same_answer(boosted, data):
    model, denied = boosted
    a = CounterfactualSearch(model, data.X, seed=3).explain(denied.iloc[:2], k=2, max_evals=500)
    b = CounterfactualSearch(model, data.X, seed=3).explain(denied.iloc[:2], k=2, max_evals=500)
    assert a.to_dict() == b.to_dict()
    assert a.meta["evals_per_query"][0] <= 500


def test_regressor_reaches_the_target_range_or_reports_the_closest_attempt(data):
    X = data.X[NUMERIC]
    model = LinearRegression().fit(X, data.logit)
    low = model.predict(X) < -1
    queries = X[low].iloc[:3]
    cf = CounterfactualSearch(model, X, immutable=["noise"], seed=0).explain(queries, k=2, target=(0.5, None),
                                                                             max_evals=800)
    assert cf.found.all() and cf.target_kind == "range"
    assert (model.predict(cf.to_frame()[NUMERIC]) >= 0.5).all()
    # far out of reach: nothing valid, the closest attempt is flagged invalid and is the best seen
    far = CounterfactualSearch(model, X, seed=0).explain(queries.iloc[:1], k=2, target=(1e6, None), max_evals=300)
    assert not far.found[0] and far.status == ("not_found",) and not far.valid.any()
    assert model.predict(far.closest[NUMERIC])[0] > model.predict(queries.iloc[:1])[0]
    assert 250 <= far.meta["evals_per_query"][0] <= 300     # the budget was spent, and not overspent
    assert "No allowed change" in far.to_text()[0][0]


def test_multiclass_default_target_is_any_other_class_and_labels_work(data):
    X = data.X[NUMERIC]
    y = np.digitize(data.logit, [-1.0, 1.0])          # three classes: 0, 1, 2
    model = LogisticRegression(max_iter=3000).fit(X, y)
    q = X[model.predict(X) == 0].iloc[:2]
    search = CounterfactualSearch(model, X, immutable=["noise"], seed=0)
    cf = search.explain(q, k=2)
    assert cf.found.all()
    assert set(model.predict(cf.to_frame()[NUMERIC])) <= {1, 2}
    assert cf.targets[0] == [1, 2]
    cf2 = search.explain(q, k=2, target=2)
    assert (model.predict(cf2.to_frame()[NUMERIC]) == 2).all()
    assert isinstance(cf2, Counterfactuals) and cf2.targets == ([2], [2])
