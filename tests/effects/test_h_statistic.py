import numpy as np
import pytest

from whybox.effects.h_statistic import h_statistic
from whybox.errors import InputError


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).uniform(-1, 1, size=(300, 4))


def test_additive_model_has_no_interaction(X):
    h = h_statistic(lambda Z: np.sin(3 * np.asarray(Z)[:, 0]) + np.asarray(Z)[:, 1] ** 2 + np.asarray(Z)[:, 2],
                    X, max_rows=60)
    assert h.values.shape == (4, 4)
    assert np.max(h.values) < 1e-6


def test_planted_pairwise_interaction_is_found(X):
    def model(Z):
        Z = np.asarray(Z)
        return Z[:, 0] + Z[:, 1] + 3 * Z[:, 0] * Z[:, 1] + Z[:, 2]

    h = h_statistic(model, X, max_rows=80, seed=1)
    assert h.values[0, 1] == h.values[1, 0] > 0.5
    others = [h.values[0, 2], h.values[1, 2], h.values[2, 3], h.values[0, 3]]
    assert max(others) < 1e-6
    assert h.values[0, 0] > 0.5 and h.values[2, 2] < 1e-6  # total interaction on the diagonal
    again = h_statistic(model, X, max_rows=80, seed=1)
    np.testing.assert_array_equal(h.values, again.values)
    assert h.meta["rows"] == 80


def test_pure_product_is_all_interaction(X):
    # f = x0 x1 with centred uniform features: PD_0 and PD_1 are ~0, so H_01 = 1
    h = h_statistic(lambda Z: np.asarray(Z)[:, 0] * np.asarray(Z)[:, 1], X, features=["x0", "x1"], max_rows=100)
    assert h.values[0, 1] == pytest.approx(1.0, abs=0.05)


def test_bad_input(X):
    with pytest.raises(InputError, match="unknown features"):
        h_statistic(lambda Z: np.asarray(Z).sum(axis=1), X, features=["x0", "q"])
    with pytest.raises(InputError, match="at least two"):
        h_statistic(lambda Z: np.asarray(Z).sum(axis=1), X, features=["x0"])
