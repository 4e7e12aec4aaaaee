import numpy as np
import pytest

from whybox.effects.ale import accumulated_local_effects
from whybox.effects.partial_dependence import partial_dependence
from whybox.errors import InputError


def test_ale_recovers_the_effect_of_one_of_two_correlated_features_where_pdp_is_biased():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=2000)
    X = np.column_stack([x0, x0 + 0.05 * rng.normal(size=2000)])  # x1 is nearly a copy of x0

    def model(Z):  # on the data the effect of x0 is 2 x0; off the data (x0 far from x1) it explodes
        Z = np.asarray(Z, dtype=float)
        return 2 * Z[:, 0] + 10 * (Z[:, 0] - Z[:, 1]) ** 2

    ale = accumulated_local_effects(model, X, "x0", bins=20)
    # the outermost quantile bins of a normal feature are wide (minimum to 5 % is ~2 units), so even
    # ALE's within-bin moves leave the data there; its promise holds on the interior edges
    grid, curve = ale.grid[0][2:-2], ale.average[2:-2]
    slope, intercept = np.polyfit(grid, curve, 1)
    assert slope == pytest.approx(2.0, rel=0.05)
    assert np.max(np.abs(curve - (slope * grid + intercept))) < 0.1
    pdp = partial_dependence(model, X, "x0", grid_size=20, ice=False)
    # PDP moves x0 away from x1 and picks up the 10 (v - x1)^2 term: a parabola, far from 2 v
    curvature = np.polyfit(pdp.grid[0], pdp.average, 2)[0]
    assert curvature == pytest.approx(10.0, rel=0.1)
    assert np.max(np.abs(pdp.average - 2 * pdp.grid[0] - np.mean(pdp.average - 2 * pdp.grid[0]))) > 5


def test_ale_of_a_linear_model_is_the_centred_line():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    ale = accumulated_local_effects(lambda Z: np.asarray(Z) @ [3.0, -1.0, 0.5], X, "x1", bins=10)
    line = -1.0 * ale.grid[0]
    np.testing.assert_allclose(ale.average - ale.average.mean(), line - line.mean(), atol=1e-9)
    counts = np.asarray(ale.meta["counts"])
    centred_mean = (counts * (ale.average[:-1] + ale.average[1:]) / 2).sum() / counts.sum()
    assert centred_mean == pytest.approx(0.0, abs=1e-12)
    assert counts.sum() == 500 and ale.meta["model_evals"] == 1000


def test_bad_input():
    X = np.random.default_rng(2).normal(size=(50, 2))
    with pytest.raises(InputError, match="unknown feature"):
        accumulated_local_effects(lambda Z: np.asarray(Z).sum(axis=1), X, "zz")
    X[:, 1] = 1.0
    with pytest.raises(InputError, match="constant"):
        accumulated_local_effects(lambda Z: np.asarray(Z).sum(axis=1), X, "x1")


def test_categorical_ale_orders_categories_by_similarity_and_recovers_their_effects():
    import pandas as pd
    rng = np.random.default_rng(3)
    n = 3000
    size = rng.choice(["small", "medium", "large", "huge"], n)
    centre = {"small": -3.0, "medium": -1.0, "large": 1.0, "huge": 3.0}
    x = np.array([centre[s] for s in size]) + 0.5 * rng.normal(size=n)  # x follows the hidden order
    df = pd.DataFrame({"size": pd.Categorical(size), "x": x})
    effect = {"small": 0.0, "medium": 1.0, "large": 3.0, "huge": 2.0}

    def model(frame):
        return frame["size"].astype(str).map(effect).to_numpy() + 0.5 * frame["x"].to_numpy()

    ale = accumulated_local_effects(model, df, "size")
    order = list(ale.grid[0])
    assert order in (["small", "medium", "large", "huge"], ["huge", "large", "medium", "small"])
    # an additive model: ALE differences between categories are the planted effect differences
    got = dict(zip(order, ale.average))
    for a, b in [("small", "medium"), ("medium", "large"), ("large", "huge")]:
        assert got[b] - got[a] == pytest.approx(effect[b] - effect[a], abs=1e-9)
    counts = np.asarray(ale.meta["counts"])
    assert counts.sum() == n and (counts * ale.average).sum() == pytest.approx(0.0, abs=1e-6)
