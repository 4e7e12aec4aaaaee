"""Shared reference case for the sampling explainers: an MLP with interactions of every order and its
exact Shapley values (ExactShapley, tested against brute force in test_exact.py)."""

import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor

from whybox.shapley import ExactShapley

M = 8  # 2^8 - 2 = 254 coalitions enumerate everything


@pytest.fixture(scope="session")
def rel_error():
    """Mean over rows of ||phi - phi_exact||_2 / ||phi_exact||_2."""
    def error(values, exact):
        return float(np.mean(np.linalg.norm(values - exact, axis=1) / np.linalg.norm(exact, axis=1)))
    return error


@pytest.fixture(scope="session")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, M))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + X[:, 3] * X[:, 4] * X[:, 5] + np.abs(X[:, 6])
         + 0.5 * X[:, 7] + 0.1 * rng.normal(size=400))
    return X, y


@pytest.fixture(scope="session")
def mlp(data):
    """A network: interactions of every order, so sampling error is visible at every budget."""
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPRegressor(hidden_layer_sizes=(32,), max_iter=500, random_state=0).fit(X[:300], y[:300])


@pytest.fixture(scope="session")
def case(data, mlp):
    """(background, explained rows, exact Shapley values) of the MLP."""
    X, _ = data
    background, rows = X[300:325], X[350:356]
    return background, rows, ExactShapley(mlp, background).explain(rows).values
