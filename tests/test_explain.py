import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor
from sklearn.linear_model import LinearRegression

import whybox
from whybox.errors import InputError


def test_picks_linear_then_exact_and_records_why():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    lin = whybox.explain(LinearRegression().fit(X, y), X[:3], background=X[:20])
    assert lin.meta["chosen_method"] == "linear" and lin.method == "linear_shap"
    mlp = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, y)
    ex = whybox.explain(mlp, X[:3], background=X[:20], max_evals=100)
    assert ex.meta["chosen_method"] == "exact" and "2^4" in ex.meta["choice_reason"]
    assert "max_evals" in ex.meta["ignored"]
    np.testing.assert_allclose(ex.output, mlp.predict(X[:3]), atol=1e-6)


def test_needs_background_and_known_method():
    X = np.ones((3, 2))
    with pytest.raises(InputError, match="background"):
        whybox.explain(lambda X: np.asarray(X).sum(axis=1), X)
    with pytest.raises(InputError, match="unknown method"):
        whybox.explain(lambda X: np.asarray(X).sum(axis=1), X, background=X, method="magic")


def test_tolerance_reaches_the_sampling_methods_and_is_reported_as_ignored_elsewhere():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6))
    weights = np.arange(1.0, 7.0)

    def additive(Z):
        return np.asarray(Z, dtype=float) @ weights           # sampling error vanishes: the first round suffices

    attr = whybox.explain(additive, X[:3], background=X[:20], method="kernel", max_evals=500, tolerance=1e-6)
    assert attr.meta["stopped"] == ["tolerance"] * 3 and attr.standard_error.max() <= 1e-6
    np.testing.assert_allclose(attr.values, weights * (X[:3] - X[:20].mean(axis=0)), atol=1e-9)
    exact = whybox.explain(additive, X[:3], background=X[:20], method="exact", tolerance=1e-6)
    assert "tolerance" in exact.meta["ignored"] and exact.standard_error is None
