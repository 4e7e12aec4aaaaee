import numpy as np
import pytest
from matplotlib.collections import PathCollection

from whybox import Attribution, InputError
from whybox.plots import beeswarm
from whybox.plots._common import BLUE_RED
from whybox.plots.beeswarm import swarm_offsets


def xy(coll):
    """The dots' (x, y) positions as a plain array."""
    return np.asarray(coll.get_offsets())


def rows_top_down(ax):
    """One PathCollection per feature row, from the top row down."""
    colls = [c for c in ax.collections if isinstance(c, PathCollection)]
    return sorted(colls, key=lambda c: -np.median(xy(c)[:, 1]))


def test_one_dot_per_row_per_displayed_feature(table, helpers):
    ax = helpers.main_axes(beeswarm(table, max_display=4))
    n = table.values.shape[0]
    rows = rows_top_down(ax)
    assert len(rows) == 4 + 1
    assert all(len(xy(c)) == n for c in rows)
    order = np.argsort(-np.abs(table.values).mean(axis=0), kind="stable")
    labels = helpers.labels_top_down(ax)
    assert labels == [table.feature_names[i] for i in order[:4]] + ["Sum of 8 other features"]
    for coll, i in zip(rows, order[:4]):
        assert np.sort(xy(coll)[:, 0]) == pytest.approx(np.sort(table.values[:, i]))
    other = table.values[:, order[4:]].sum(axis=1)
    assert np.sort(xy(rows[-1])[:, 0]) == pytest.approx(np.sort(other))


def test_dots_stay_in_their_row(table, helpers):
    ax = helpers.main_axes(beeswarm(table))
    rows = rows_top_down(ax)
    assert len(rows) == 10 + 1
    ticks = sorted(ax.get_yticks(), reverse=True)
    for coll, y in zip(rows, ticks):
        assert np.all(np.abs(xy(coll)[:, 1] - y) <= 0.4 + 1e-9)


def test_colour_by_feature_value_and_grey_for_categories(table, helpers):
    fig = beeswarm(table, max_display=11)
    ax = helpers.main_axes(fig)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "feature value"
    labels = helpers.labels_top_down(ax)
    rows = dict(zip(labels, rows_top_down(ax)))
    grey = np.array([0xa0, 0xa0, 0xa0]) / 255
    # the categorical column is all grey
    assert np.allclose(rows["cat1"].get_facecolors()[:, :3], grey)
    # a numeric column: its highest value is red, its lowest blue
    x0 = rows["x0"]
    data = table.data[:, 0].astype(float)
    vals = table.values[:, 0]
    facec = x0.get_facecolors()
    xs = xy(x0)[:, 0]
    hi = np.flatnonzero(np.isclose(xs, vals[np.argmax(data)]))[0]
    lo = np.flatnonzero(np.isclose(xs, vals[np.argmin(data)]))[0]
    assert np.allclose(facec[hi][:3], BLUE_RED(1.0)[:3])
    assert np.allclose(facec[lo][:3], BLUE_RED(0.0)[:3])


def test_no_data_draws_grey_and_no_colorbar(table, helpers):
    bare = Attribution(values=table.values, base_values=table.base_values, feature_names=table.feature_names)
    fig = beeswarm(bare, max_display=3)
    assert len(fig.axes) == 1
    for coll in rows_top_down(helpers.main_axes(fig)):
        assert np.allclose(coll.get_facecolors()[:, :3], np.array([0xa0, 0xa0, 0xa0]) / 255)


def test_numeric_values_in_object_array_are_coloured(helpers):
    data = np.array([[1, "a"], [2, "b"], [3, "a"], [None, "b"]], dtype=object)
    attr = Attribution(values=np.array([[1.0, 0.1], [2.0, 0.2], [3.0, 0.3], [4.0, 0.4]]),
                       base_values=np.zeros(4), data=data, feature_names=["num", "cat"])
    ax = helpers.main_axes(beeswarm(attr))
    num, cat = rows_top_down(ax)
    cols = num.get_facecolors()
    xs = xy(num)[:, 0]
    assert np.allclose(cols[xs == 4.0][0, :3], np.array([0xa0, 0xa0, 0xa0]) / 255)  # missing -> grey
    assert not np.allclose(cols[xs == 3.0][0, :3], np.array([0xa0, 0xa0, 0xa0]) / 255)


def test_swarm_offsets_are_deterministic_and_bounded():
    x = np.r_[np.zeros(50), np.linspace(0, 1, 50)]
    a, b = swarm_offsets(x), swarm_offsets(x)
    assert np.array_equal(a, b)
    assert np.abs(a).max() <= 0.4 + 1e-12
    assert len(np.unique(a[:50])) > 10  # a pile of equal values is spread out


def test_single_row_is_refused(row):
    with pytest.raises(InputError, match="many explained rows"):
        beeswarm(row)


def test_multi_output_is_refused_with_the_fix(multi_output):
    with pytest.raises(InputError, match=r"attr\[\.\.\., 'no'\]"):
        beeswarm(multi_output)
    beeswarm(multi_output[..., "yes"])
