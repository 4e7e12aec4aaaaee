import numpy as np
import pytest
from matplotlib.colors import to_hex

from whybox import Importance, InputError
from whybox.plots import bar
from whybox.plots._common import BLUE, RED


def widths_top_down(ax):
    bars = sorted(ax.patches, key=lambda p: -p.get_y())
    return [p.get_width() for p in bars]


def test_global_bars_are_mean_abs_sorted(table, helpers):
    ax = helpers.main_axes(bar(table, max_display=5))
    imp = table.mean_abs()
    order = np.argsort(-imp.scores, kind="stable")
    labels = helpers.labels_top_down(ax)
    assert labels == [imp.feature_names[i] for i in order[:5]] + ["Sum of 7 other features"]
    widths = widths_top_down(ax)
    assert len(widths) == 6
    assert widths[:5] == pytest.approx(imp.scores[order[:5]])
    assert widths[5] == pytest.approx(imp.scores[order[5:]].sum())
    assert all(a >= b for a, b in zip(widths[:5], widths[1:5]))


def test_global_bars_default_max_display(table, helpers):
    ax = helpers.main_axes(bar(table))
    assert len(ax.patches) == 10 + 1
    assert "mean |attribution|" in ax.get_xlabel()


def test_few_features_have_no_other_bar(table, helpers):
    small = table[:, ["x0", "cat1", "x2"]]
    ax = helpers.main_axes(bar(small))
    assert len(ax.patches) == 3
    assert not any("other" in lab for lab in helpers.labels_top_down(ax))


def test_single_row_is_signed(row, helpers):
    ax = helpers.main_axes(bar(row))
    assert helpers.labels_top_down(ax) == ["b = red", "d = 10", "a = 3", "e = missing", "c = 2.5"]
    assert widths_top_down(ax) == pytest.approx([-2.0, 1.5, 0.5, -0.3, 0.1])
    colours = [to_hex(p.get_facecolor()) for p in sorted(ax.patches, key=lambda p: -p.get_y())]
    assert colours == [BLUE, RED, RED, BLUE, RED]


def test_single_row_lumps_signed_sum(row, helpers):
    ax = helpers.main_axes(bar(row, max_display=2))
    assert helpers.labels_top_down(ax)[-1] == "Sum of 3 other features"
    assert widths_top_down(ax)[-1] == pytest.approx(0.5 - 0.3 + 0.1)


def test_importance_sorted_by_magnitude_with_error_bars(helpers):
    imp = Importance(scores=[0.1, -0.5, 0.3], spread=[0.01, 0.02, 0.03], feature_names=["p", "q", "r"],
                     method="permutation")
    ax = helpers.main_axes(bar(imp))
    assert helpers.labels_top_down(ax) == ["q", "r", "p"]
    assert widths_top_down(ax) == pytest.approx([-0.5, 0.3, 0.1])
    assert len(ax.containers) == 2  # the bars and their error bars
    assert "permutation" in ax.get_xlabel()


def test_multi_output_table_is_averaged_over_outputs(multi_output, table, helpers):
    ax = helpers.main_axes(bar(multi_output, max_display=3))
    imp = table.mean_abs()  # the two outputs are +-values: same |value|
    order = np.argsort(-imp.scores, kind="stable")
    assert widths_top_down(ax)[:3] == pytest.approx(imp.scores[order[:3]])


def test_multi_output_row_is_refused(multi_output):
    with pytest.raises(InputError, match=r"attr\[0, \.\.\., 'no'\]"):
        bar(multi_output[0])


def test_wrong_input():
    with pytest.raises(InputError, match="Attribution or Importance"):
        bar([1, 2, 3])
