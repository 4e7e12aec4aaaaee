"""Second-order ALE: zero for additive models, the exact mixed differences of a planted product."""

import numpy as np
import pandas as pd
import pytest

from whybox.effects import accumulated_local_effects
from whybox.errors import InputError


def _data(n=3000, rho=0.0, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rho * a + np.sqrt(1 - rho ** 2) * rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": rng.uniform(size=n)})


def _f(interaction):
    def model(X):
        X = np.asarray(X, dtype=float)
        return 3 * X[:, 0] + np.sin(X[:, 1]) + X[:, 2] ** 2 + interaction * X[:, 0] * X[:, 1]
    return model


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_additive_model_has_no_second_order_effect(rho):
    dep = accumulated_local_effects(_f(0.0), _data(rho=rho), ["a", "b"], bins=8)
    assert dep.average.shape == (9, 9)
    np.testing.assert_allclose(dep.average, 0.0, atol=1e-10)


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_planted_product_gives_exact_mixed_differences_and_main_effects_are_removed(rho):
    X = _data(rho=rho)
    dep = accumulated_local_effects(_f(2.0), X, ["a", "b"], bins=8)
    z, w = dep.grid
    g = dep.average
    mixed = g[1:, 1:] - g[:-1, 1:] - g[1:, :-1] + g[:-1, :-1]
    counts = np.asarray(dep.meta["counts"])
    # in every populated cell the second difference of 2ab is exactly 2 (dz)(dw); empty cells borrow
    expected = 2 * np.outer(np.diff(z), np.diff(w))
    np.testing.assert_allclose(mixed[counts > 0], expected[counts > 0], rtol=1e-9)
    if rho > 0:
        assert dep.meta["empty_cells"] > 0
    # the main effects (3a, sin b, c^2) do not change the surface: same as the product alone
    alone = accumulated_local_effects(lambda M: 2.0 * np.asarray(M, float)[:, 0] * np.asarray(M, float)[:, 1],
                                      X, ["a", "b"], bins=8)
    np.testing.assert_allclose(g, alone.average, atol=1e-9)
    # centred: the count-weighted mean of the cell averages is zero
    cell = (g[1:, 1:] + g[:-1, 1:] + g[1:, :-1] + g[:-1, :-1]) / 4
    assert (counts * cell).sum() / counts.sum() == pytest.approx(0.0, abs=1e-9)
    # no first-order effect is left: moving across a bin of a changes g by ~0 on average over b's rows
    step = g[1:, 1:] - g[:-1, 1:]
    per_bin = (counts * step).sum(axis=1) / counts.sum(axis=1)
    np.testing.assert_allclose(per_bin, 0.0, atol=1e-9)


def test_two_feature_errors():
    X = _data(n=200).assign(colour=pd.Categorical(["red", "blue"] * 100))
    with pytest.raises(InputError, match="numeric"):
        accumulated_local_effects(lambda M: np.zeros(len(M)), X, ["a", "colour"])
    with pytest.raises(InputError, match="differ"):
        accumulated_local_effects(lambda M: np.zeros(len(M)), X, ["a", "a"])
    with pytest.raises(InputError, match="one feature or two"):
        accumulated_local_effects(lambda M: np.zeros(len(M)), X, ["a", "b", "c"])
