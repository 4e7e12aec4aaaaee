import numpy as np
import pytest
from matplotlib.colors import to_hex

from whybox import Attribution, InputError
from whybox.plots import waterfall
from whybox.plots._common import BLUE, RED


def bars_bottom_up(ax):
    """(start, end) of each bar, in drawing order (bottom bar first)."""
    return [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches]


def test_bars_run_from_base_to_output(row, helpers):
    ax = helpers.main_axes(waterfall(row))
    bars = bars_bottom_up(ax)
    assert len(bars) == 5
    base, fx = 1.0, 1.0 + row.values.sum()
    assert bars[0][0] == pytest.approx(base)
    assert bars[-1][1] == pytest.approx(fx)
    for (_, end), (start, _) in zip(bars[:-1], bars[1:]):
        assert start == pytest.approx(end)
    # bottom-up the contributions grow in magnitude: c, e, a, d, b
    widths = [e - s for s, e in bars]
    assert widths == pytest.approx([0.1, -0.3, 0.5, 1.5, -2.0])


def test_labels_are_name_equals_value_sorted_by_magnitude(row, helpers):
    ax = helpers.main_axes(waterfall(row))
    assert helpers.labels_top_down(ax) == ["b = red", "d = 10", "a = 3", "e = missing", "c = 2.5"]


def test_colours_follow_sign(row, helpers):
    ax = helpers.main_axes(waterfall(row))
    colours = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours == [RED, BLUE, RED, RED, BLUE]


def test_base_and_output_annotated(row, helpers):
    ax = helpers.main_axes(waterfall(row))
    texts = {t.get_text().split(" = ")[0]: t.get_text() for t in ax.texts}
    assert float(texts["E[f(X)]"].split(" = ")[1]) == pytest.approx(1.0)
    assert float(texts["f(x)"].split(" = ")[1]) == pytest.approx(1.0 + row.values.sum(), abs=1e-2)


def test_max_display_lumps_the_rest(row, helpers):
    ax = helpers.main_axes(waterfall(row, max_display=2))
    assert helpers.labels_top_down(ax) == ["b = red", "d = 10", "3 other features"]
    bars = bars_bottom_up(ax)
    assert len(bars) == 3
    assert bars[0][1] - bars[0][0] == pytest.approx(0.5 + 0.1 - 0.3)
    assert bars[0][0] == pytest.approx(1.0)
    assert bars[-1][1] == pytest.approx(1.0 + row.values.sum())


def test_a_single_leftover_feature_keeps_its_name(row, helpers):
    ax = helpers.main_axes(waterfall(row, max_display=4))
    labels = helpers.labels_top_down(ax)
    assert len(labels) == 5 and not any("other" in lab for lab in labels)


def test_many_features_default_max_display(table, helpers):
    r = table[3]
    ax = helpers.main_axes(waterfall(r))
    labels = helpers.labels_top_down(ax)
    assert len(labels) == 10 + 1 and labels[-1] == "2 other features"
    order = np.argsort(-np.abs(r.values), kind="stable")[:10]
    assert [lab.split(" = ")[0] for lab in labels[:10]] == [r.feature_names[i] for i in order]
    bars = bars_bottom_up(ax)
    assert bars[0][0] == pytest.approx(0.25)
    assert bars[-1][1] == pytest.approx(float(r.output))


def test_without_data_labels_are_names(row, helpers):
    bare = Attribution(values=row.values, base_values=row.base_values, feature_names=row.feature_names,
                       has_rows=False)
    assert helpers.labels_top_down(helpers.main_axes(waterfall(bare))) == ["b", "d", "a", "e", "c"]


def test_multi_output_row_is_refused_with_the_fix(multi_output):
    with pytest.raises(InputError, match=r"attr\[0, \.\.\., 'no'\]"):
        waterfall(multi_output[0])


def test_picked_output_is_accepted(multi_output, helpers):
    ax = helpers.main_axes(waterfall(multi_output[0, ..., "yes"]))
    assert ax.patches[-1].get_x() + ax.patches[-1].get_width() == pytest.approx(
        float(multi_output[0, ..., "yes"].output))


def test_multi_row_is_refused(table):
    with pytest.raises(InputError, match=r"one explained row.*attr\[0\]"):
        waterfall(table)


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_bad_max_display(row, bad):
    with pytest.raises(InputError, match="max_display"):
        waterfall(row, max_display=bad)


def test_not_an_attribution():
    with pytest.raises(InputError, match="Attribution"):
        waterfall(np.ones(3))
