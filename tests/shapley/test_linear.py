import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from whybox.errors import InputError, ModelError
from whybox.shapley import ExactShapley, LinearShap


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)) * [1, 2, 3, 4, 5] + [0, 1, 2, 3, 4]
    y = X @ [1.0, -2.0, 0.5, 0.0, 3.0] + rng.normal(size=300)
    return X, y


def test_analytic_values_for_linear_regression(data):
    X, y = data
    reg = Ridge(alpha=1.0).fit(X, y)
    bg = X[:40]
    attr = LinearShap(reg, bg).explain(X[200:210])
    np.testing.assert_allclose(attr.values, reg.coef_ * (X[200:210] - bg.mean(axis=0)), atol=1e-9)
    np.testing.assert_allclose(attr.output, reg.predict(X[200:210]), atol=1e-9)


def test_logistic_pipeline_in_log_odds_matches_exact(data):
    X, y = data
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y > 0)
    bg = X[:30]
    lin = LinearShap(clf, bg).explain(X[100:104])
    ex = ExactShapley(clf, bg, output="raw").explain(X[100:104])
    np.testing.assert_allclose(lin.values, ex.values, atol=1e-9)
    np.testing.assert_allclose(lin.output, clf.decision_function(X[100:104]), atol=1e-9)


def test_multiclass_margins(data):
    X, y = data
    clf = LogisticRegression(max_iter=500).fit(X, np.digitize(y, [-3, 3]))
    attr = LinearShap(clf, X[:30]).explain(X[50:53])
    assert attr.values.shape == (3, 5, 3)
    np.testing.assert_allclose(attr.output, clf.decision_function(X[50:53]), atol=1e-9)
    np.testing.assert_allclose(attr.values[..., 2], clf.coef_[2] * (X[50:53] - X[:30].mean(axis=0)), atol=1e-9)


def test_refuses_non_linear_and_probability(data):
    X, y = data
    with pytest.raises(ModelError, match="not linear"):
        LinearShap(RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y), X[:30])
    with pytest.raises(InputError, match="not linear in"):
        LinearShap(LogisticRegression().fit(X, y > 0), X[:30], output="probability")


def test_groups_sum_their_members(data):
    X, y = data
    reg = LinearRegression().fit(X, y)
    full = LinearShap(reg, X[:30]).explain(X[:3])
    grouped = LinearShap(reg, X[:30], groups={"first_two": ["x0", "x1"]}).explain(X[:3])
    np.testing.assert_allclose(grouped[:, "first_two"].values, full.values[:, :2].sum(axis=1))
