import numpy as np
import pandas as pd
import pytest

from whybox import Attribution, InputError
from whybox.plots import dependence, scatter


def xy(coll):
    return np.asarray(coll.get_offsets())


def test_numeric_x_is_the_data_and_y_the_values(table, helpers):
    col = table[:, "x0"]
    ax = helpers.main_axes(scatter(col))
    (coll,) = ax.collections
    pts = xy(coll)
    assert pts[:, 0] == pytest.approx(table.data[:, 0].astype(float))
    assert pts[:, 1] == pytest.approx(table.values[:, 0])
    assert ax.get_xlabel() == "x0" and "x0" in ax.get_ylabel()


def test_categorical_x_at_category_positions_with_jitter(table, helpers):
    col = table[:, "cat1"]
    ax = helpers.main_axes(scatter(col))
    (coll,) = ax.collections
    pts = xy(coll)
    cats = [t.get_text() for t in ax.get_xticklabels()]
    assert cats == ["high", "low", "mid"]
    codes = np.array([cats.index(c) for c in table.data[:, 1]])
    assert np.all(np.abs(pts[:, 0] - codes) <= 0.2)
    assert np.std(pts[:, 0] - codes) > 0  # jittered
    assert pts[:, 1] == pytest.approx(table.values[:, 1])
    # same picture every time
    again = xy(helpers.main_axes(scatter(col)).collections[0])
    assert np.array_equal(pts, again)


def test_colour_by_numeric_feature_adds_colorbar(table, helpers):
    fig = scatter(table[:, "x0"], color=table[:, "x2"])
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "x2"
    (coll,) = helpers.main_axes(fig).collections
    assert np.asarray(coll.get_array()) == pytest.approx(table.data[:, 2].astype(float))


def test_colour_by_categorical_array_adds_legend(table, helpers):
    colour = pd.Series(table.data[:, 1], name="band")
    ax = helpers.main_axes(scatter(table[:, "x0"], color=colour))
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "band"
    assert [t.get_text() for t in legend.get_texts()] == ["high", "low", "mid"]
    facec = ax.collections[0].get_facecolors()
    assert len({tuple(c) for c in np.round(facec, 6)}) == 3


def test_dependence_is_scatter():
    assert dependence is scatter


def test_errors(table, row, multi_output):
    with pytest.raises(InputError, match=r"attr\[:, 'income'\]"):
        scatter(table)
    with pytest.raises(InputError, match="one row"):
        scatter(row)
    with pytest.raises(InputError, match="outputs"):
        scatter(multi_output[:, "x0"])
    with pytest.raises(InputError, match="3 values but the attribution has 40 rows"):
        scatter(table[:, "x0"], color=[1, 2, 3])
    bare = Attribution(values=table.values[:, 0], base_values=table.base_values, feature_names="x0")
    with pytest.raises(InputError, match="data=None"):
        scatter(bare)
