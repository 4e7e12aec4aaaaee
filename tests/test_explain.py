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
