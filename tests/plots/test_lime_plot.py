import io
import json

import numpy as np
import pytest
from matplotlib.colors import to_hex

from whybox import Attribution, InputError
from whybox.plots import lime_bar
from whybox.plots._common import BLUE, RED

NAMES = ["income", "age", "debt", "tenure", "region", "score"]
#: row 1: income and debt selected big, tenure small, age/region/score unselected (0)
VALUES = np.array([[0.0, 0.3, 0.0, -0.2, 0.0, 0.1],
                   [0.8, 0.0, -1.2, 0.05, 0.0, 0.0]])
DATA = np.array([[10000, 30, 5.5, 2, "N", 0.7], [42000, 51, 12.25, 7, "E", 0.1]], dtype=object)


def bars_top_down(ax):
    bars = sorted(ax.patches, key=lambda p: -p.get_y())
    return bars, [p.get_width() for p in bars]


def labels_top_down(ax):
    ticks, labels = ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]
    return [lab for _, lab in sorted(zip(ticks, labels), key=lambda p: -p[0])]


@pytest.fixture
def lime_table() -> Attribution:
    return Attribution(values=VALUES, base_values=np.array([0.4, 0.35]), data=DATA, feature_names=NAMES,
                       method="lime", meta={"local_fidelity": [0.61234, 0.87654], "num_samples": 5000,
                                            "selected": [[1, 3, 5], [0, 2, 3]]})


@pytest.fixture
def lime_classes() -> Attribution:
    """Two outputs: "no" is the negation of "yes"; a fidelity per row and output."""
    v = np.stack([-VALUES, VALUES], axis=-1)
    return Attribution(values=v, base_values=np.array([[0.6, 0.4], [0.65, 0.35]]), data=DATA, feature_names=NAMES,
                       output_names=["no", "yes"], has_outputs=True, method="lime",
                       meta={"local_fidelity": [[0.5, 0.55], [0.71, 0.72]], "num_samples": 1000})


def test_bars_are_the_selected_weights_by_magnitude(lime_table):
    ax = lime_bar(lime_table, row=1).axes[0]
    bars, widths = bars_top_down(ax)
    assert widths == pytest.approx([-1.2, 0.8, 0.05])           # zero weights are not drawn
    assert labels_top_down(ax) == ["debt = 12.25", "income = 42000", "tenure = 7"]
    assert [to_hex(b.get_facecolor()) for b in bars] == [BLUE, RED, RED]


def test_title_shows_fidelity_and_samples_of_the_row(lime_table):
    fig = lime_bar(lime_table, row=1)
    fig.savefig(io.BytesIO(), format="png")  # it renders
    title = fig.axes[0].get_title(loc="left")
    assert "0.877" in title and "0.612" not in title
    assert "R²" in title and "5,000 samples" in title
    title0 = lime_bar(lime_table, row=0).axes[0].get_title(loc="left")
    assert "0.612" in title0


def test_single_row_and_json_round_trip(lime_table):
    back = Attribution.from_dict(json.loads(json.dumps(lime_table.to_dict())))
    ax = lime_bar(back, row=0).axes[0]
    assert bars_top_down(ax)[1] == pytest.approx([0.3, -0.2, 0.1])
    # attr[i] keeps the batch's meta: the row cannot tell which fidelity is its own, so none is claimed
    title = lime_bar(lime_table[1]).axes[0].get_title(loc="left")
    assert "0.877" not in title and "0.612" not in title
    assert bars_top_down(lime_bar(lime_table[1]).axes[0])[1] == pytest.approx([-1.2, 0.8, 0.05])


def test_max_display_lumps_the_smallest_selected(lime_table):
    ax = lime_bar(lime_table, row=0, max_display=1).axes[0]
    assert labels_top_down(ax) == ["age = 30", "Sum of 2 other features"]
    assert bars_top_down(ax)[1] == pytest.approx([0.3, -0.2 + 0.1])


def test_outputs_pick_by_name_or_index(lime_classes):
    ax = lime_bar(lime_classes, row=1, output="no").axes[0]
    assert bars_top_down(ax)[1] == pytest.approx([1.2, -0.8, -0.05])
    title = ax.get_title(loc="left")
    assert "'no'" in title and "0.710" in title
    ax = lime_bar(lime_classes, row=1, output=1).axes[0]
    assert bars_top_down(ax)[1] == pytest.approx([-1.2, 0.8, 0.05])
    assert "0.720" in ax.get_title(loc="left")


def test_ambiguous_output_and_empty_attribution_are_refused(lime_classes):
    with pytest.raises(InputError, match=r"2 outputs.*output='no'"):
        lime_bar(lime_classes, row=0)
    with pytest.raises(InputError, match="unknown output 'maybe'"):
        lime_bar(lime_classes, output="maybe")
    empty = Attribution(values=np.zeros((0, 3)), base_values=np.zeros(0), method="lime")
    with pytest.raises(InputError, match="no rows"):
        lime_bar(empty)
    with pytest.raises(InputError, match="out of range"):
        lime_bar(lime_classes, row=5, output=0)
    with pytest.raises(InputError, match="single output"):
        lime_bar(Attribution(values=VALUES, base_values=np.zeros(2)), output=1)


def test_text_rows_are_labelled_by_their_words():
    tokens = np.array([["great", "plot", ""], ["dull", "and", "long"]], dtype=object)
    attr = Attribution(values=np.array([[0.9, 0.0, 0.0], [-0.7, 0.0, -0.2]]), base_values=np.zeros(2),
                       data=tokens, mask=tokens != "", method="lime")
    ax = lime_bar(attr, row=1).axes[0]
    assert labels_top_down(ax) == ["dull", "long"]
    assert bars_top_down(ax)[1] == pytest.approx([-0.7, -0.2])


def test_tabular_lime_labels_are_its_interpretable_conditions():
    from whybox.surrogates import Lime

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    attr = Lime(lambda Z: 2 * Z[:, 0] - Z[:, 1], X, seed=0).explain(X[:2], num_samples=300)
    ax = lime_bar(attr, row=1).axes[0]
    conditions = attr.meta["interpretable"][1]
    shown = labels_top_down(ax)
    assert shown and all(label in conditions for label in shown)
    # the strongest bar is feature 0's condition, with feature 0's weight
    assert shown[0] == conditions[0] and bars_top_down(ax)[1][0] == pytest.approx(attr.values[1, 0])
