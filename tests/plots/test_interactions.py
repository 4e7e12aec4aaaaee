import numpy as np
import pytest

from whybox import InputError
from whybox.effects import h_statistic
from whybox.plots.interactions import h_statistic_bars, surrogate_tree
from whybox.results import Interactions
from whybox.surrogates import TreeSurrogate


def model(X):
    X = np.asarray(X, dtype=float)
    return X[:, 0] * X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + X[:, 4]


@pytest.fixture(scope="module")
def inter():
    X = np.random.default_rng(0).normal(size=(40, 5))
    return h_statistic(model, X, max_rows=25)


def _widths_top_down(ax):
    return [p.get_width() for p in sorted(ax.patches, key=lambda p: -p.get_y())]


def test_h_bars_sorted_and_labelled(inter, helpers, tmp_path):
    fig = h_statistic_bars(inter, max_display=4)
    ax = helpers.main_axes(fig)
    widths = _widths_top_down(ax)
    assert len(widths) == 4
    assert widths == sorted(widths, reverse=True)
    labels = helpers.labels_top_down(ax)
    assert labels[0] == "x0 × x1"
    a, b = np.triu_indices(5, k=1)
    pairs = {f"x{i} × x{j}": inter.values[i, j] for i, j in zip(a, b)}
    assert widths == pytest.approx([pairs[lab] for lab in labels])
    assert widths[0] == pytest.approx(max(pairs.values()))
    fig.savefig(tmp_path / "h_statistic.png")
    assert (tmp_path / "h_statistic.png").stat().st_size > 1000


def test_h_bars_count_is_min_of_max_display_and_pairs(inter, helpers):
    assert len(helpers.main_axes(h_statistic_bars(inter)).patches) == 10
    assert len(helpers.main_axes(h_statistic_bars(inter, max_display=50)).patches) == 10
    assert len(helpers.main_axes(h_statistic_bars(inter, max_display=3)).patches) == 3


def test_h_bars_wrong_inputs(inter):
    with pytest.raises(InputError):
        h_statistic_bars(inter, max_display=0)
    with pytest.raises(InputError, match="Interactions"):
        h_statistic_bars(np.eye(3))
    per_row = Interactions(values=np.zeros((4, 3, 3)), base_values=np.zeros(4), method="shap_interaction")
    with pytest.raises(InputError, match="per-row"):
        h_statistic_bars(per_row)


def test_surrogate_tree_shows_the_text(tmp_path):
    X = np.round(np.random.default_rng(0).normal(size=(200, 5)), 2)
    s = TreeSurrogate(model, max_depth=2).fit(X)
    fig = surrogate_tree(s)
    texts = [t.get_text() for t in fig.texts]
    assert s.to_text() in texts
    fig.savefig(tmp_path / "surrogate_tree.png")
    assert (tmp_path / "surrogate_tree.png").stat().st_size > 1000


def test_surrogate_tree_wrong_inputs():
    with pytest.raises(InputError, match="not fitted"):
        surrogate_tree(TreeSurrogate(model))
    with pytest.raises(InputError, match="TreeSurrogate"):
        surrogate_tree("tree")
