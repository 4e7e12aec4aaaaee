import numpy as np
import pandas as pd
import pytest

from whybox.errors import InputError
from whybox.maskers import TabularMasker
from whybox.models import wrap


def f(X):
    return np.asarray(X, dtype=float).sum(axis=1)


def test_fill_keeps_coalition_and_takes_background_elsewhere():
    bg = np.arange(12, dtype=float).reshape(4, 3)
    mk = TabularMasker(bg).bind(wrap(f))
    x = np.array([100.0, 200.0, 300.0])
    rows = mk.fill(x, np.array([[True, False, True], [False, False, False]]))
    assert rows.shape == (8, 3)
    np.testing.assert_array_equal(rows[:4, 0], 100.0)
    np.testing.assert_array_equal(rows[:4, 1], bg[:, 1])
    np.testing.assert_array_equal(rows[4:], bg)


def test_large_background_warns_and_summary_weights():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]])
    bg = np.vstack([c + rng.normal(scale=0.1, size=(n, 2)) for c, n in zip(centres, (200, 100, 100))])
    with pytest.warns(UserWarning, match="400 rows"):
        TabularMasker(bg).bind(wrap(f))
    mk = TabularMasker(bg, summarize=3).bind(wrap(f))
    assert mk.data.shape == (3, 2)
    # each summary row is a real background row, weighted by its cluster's share
    assert all(any(np.array_equal(r, b) for b in bg) for r in mk.data)
    order = np.argsort(mk.data[:, 0])
    np.testing.assert_allclose(mk.weights[order], [0.25, 0.5, 0.25])
    # the weighted mean of the summary is close to the background mean
    np.testing.assert_allclose(mk.weights @ mk.data, bg.mean(axis=0), atol=0.1)


def test_summary_of_categorical_background_keeps_valid_categories():
    rng = np.random.default_rng(1)
    bg = pd.DataFrame({"a": rng.normal(size=300), "h": pd.Categorical(rng.choice(["rent", "own"], 300))})
    model = wrap(lambda X: X["a"].to_numpy() + (X["h"] == "own").to_numpy())
    mk = TabularMasker(bg, summarize=5).bind(model)
    assert set(mk.data[:, 1]) <= {"rent", "own"}


def test_empty_or_missing_background_is_refused():
    with pytest.raises(InputError, match="background is needed"):
        TabularMasker(None)
    with pytest.raises(InputError, match="empty"):
        TabularMasker(np.zeros((0, 2))).bind(wrap(f))
