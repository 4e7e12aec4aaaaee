import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from whybox.effects.partial_dependence import partial_dependence
from whybox.errors import InputError
from whybox.results import Dependence


def additive(X):
    X = np.asarray(X, dtype=float)
    return np.sin(X[:, 0]) + X[:, 1] ** 2 + 2 * X[:, 2]


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(200, 3))


def test_pd_of_an_additive_model_is_the_analytic_feature_function(X):
    dep = partial_dependence(additive, X, "x0", grid_size=15)
    expected = np.sin(dep.grid[0]) + np.mean(X[:, 1] ** 2) + 2 * np.mean(X[:, 2])
    np.testing.assert_allclose(dep.average, expected, atol=1e-12)
    np.testing.assert_allclose(dep.grid[0], np.unique(np.quantile(X[:, 0], np.linspace(0, 1, 15))))
    # additive model: every centred ICE curve is the same curve
    centred = partial_dependence(additive, X, "x1", centered=True)
    np.testing.assert_allclose(centred.individual, np.repeat(centred.individual[:1], len(X), axis=0), atol=1e-12)
    assert dep.meta["model_evals"] == 15 * 200


def test_two_feature_surface_of_an_additive_model_adds_up(X):
    surf = partial_dependence(additive, X, ["x0", "x2"], grid_size=6, grid="uniform")
    g0, g2 = surf.grid
    expected = np.sin(g0)[:, None] + 2 * g2[None, :] + np.mean(X[:, 1] ** 2)
    np.testing.assert_allclose(surf.average, expected, atol=1e-12)
    assert surf.individual is None and surf.average.shape == (6, 6)


def test_categorical_feature_grid_and_round_trip():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=300), "h": pd.Categorical(rng.choice(["own", "rent"], 300))})
    y = df["a"] + np.where(df["h"] == "own", 1.5, 0.0)
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["h"]), remainder="passthrough"),
                          LinearRegression()).fit(df, y)
    dep = partial_dependence(model, df, "h")
    assert list(dep.grid[0]) == ["own", "rent"]
    assert dep.average[0] - dep.average[1] == pytest.approx(1.5, abs=1e-9)
    back = Dependence.from_dict(json.loads(json.dumps(dep.to_dict())))
    np.testing.assert_array_equal(back.average, dep.average)
    assert list(back.grid[0]) == ["own", "rent"]


def test_bad_input_is_named(X):
    with pytest.raises(InputError, match="unknown feature 'age'"):
        partial_dependence(additive, X, "age")
    const = X.copy()
    const[:, 1] = 3.0
    with pytest.raises(InputError, match="'x1' is constant"):
        partial_dependence(additive, const, "x1")
    with pytest.raises(InputError, match="one or two features"):
        partial_dependence(additive, X, ["x0", "x1", "x2"])
