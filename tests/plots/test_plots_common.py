import io
import warnings

import numpy as np
import pytest

import whybox.plots as plots
from whybox.plots._common import (as_numeric, format_value, normalise_within, number_formatter, order_by_magnitude,
                                  top_and_rest)


def test_exports():
    assert set(plots.__all__) == {"waterfall", "bar", "beeswarm", "force", "scatter", "dependence", "pdp", "ale",
                                  "heatmap", "h_statistic_bars", "surrogate_tree", "lime_bar", "text_html", "text",
                                  "image_overlay", "rule_card", "comparison_grid", "text_comparison",
                                  "text_comparison_html", "attention_heads", "rollout"}
    assert all(callable(getattr(plots, name)) for name in plots.__all__)


def test_order_by_magnitude_is_stable_and_puts_nan_last():
    assert order_by_magnitude(np.array([1.0, -3.0, np.nan, 3.0, 0.0])).tolist() == [1, 3, 0, 4, 2]


def test_top_and_rest():
    mag = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    shown, rest = top_and_rest(mag, 2)
    assert shown.tolist() == [0, 2] and rest.tolist() == [4, 3, 1]
    shown, rest = top_and_rest(mag, 4)  # one left over: shown by name, not lumped
    assert shown.tolist() == [0, 2, 4, 3, 1] and rest.size == 0


@pytest.mark.parametrize("value, text", [
    (3, "3"), (3.0, "3"), (2.5, "2.5"), (3.14159, "3.142"), (52000.4, "52000"), (1.5e-5, "1.5e-05"),
    (np.float32(0.25), "0.25"), ("rent", "rent"), (None, "missing"), (float("nan"), "missing"), (True, "True"),
])
def test_format_value(value, text):
    assert format_value(value) == text


def test_number_formatter_uses_the_scale():
    assert number_formatter(0.3)(0.1234) == "0.123"
    assert number_formatter(150.0)(123.4) == "123"
    assert number_formatter(0.3, signed=True)(0.1) == "+0.100"
    assert number_formatter(0.3, signed=True)(-0.0) == "+0.000"


def test_as_numeric():
    assert as_numeric(np.array([1, 2], dtype=object)).tolist() == [1.0, 2.0]
    got = as_numeric(np.array([1.5, None], dtype=object))
    assert got[0] == 1.5 and np.isnan(got[1])
    assert as_numeric(np.array(["a", "b"], dtype=object)) is None
    assert as_numeric(np.array(["a", "b"])) is None


def test_normalise_within_clips_outliers():
    x = np.r_[np.arange(100.0), 1e6, np.nan]
    z = normalise_within(x)
    assert z[-2] == 1.0 and z[0] == 0.0 and np.isnan(z[-1])
    assert np.all((z[:-1] >= 0) & (z[:-1] <= 1))
    assert np.all(normalise_within(np.ones(3)) == 0.5)


def test_every_plot_renders_to_png_without_warnings(row, table):
    figs = [plots.waterfall(row), plots.force(row), plots.bar(table), plots.bar(row),
            plots.beeswarm(table), plots.scatter(table[:, "x0"], color=table[:, "cat1"]),
            plots.scatter(table[:, "cat1"], color=table[:, "x0"])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fig in figs:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=40)
            assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
