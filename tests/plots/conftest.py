"""Shared fixtures for the plot tests: a headless backend and attributions with known numbers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from whybox import Attribution  # noqa: E402

#: one explained row, five features: |value| order is b, d, a, e, c
ROW_VALUES = np.array([0.5, -2.0, 0.1, 1.5, -0.3])
ROW_BASE = 1.0
ROW_NAMES = ["a", "b", "c", "d", "e"]
ROW_DATA = np.array([3, "red", 2.5, 10.0, None], dtype=object)


@pytest.fixture(autouse=True)
def _close_figures():
    """Plots must not open pyplot figures; close anything a test opened anyway."""
    yield
    open_figs = plt.get_fignums()
    plt.close("all")
    assert open_figs == [], "a plot registered a figure with pyplot"


@pytest.fixture
def row() -> Attribution:
    """attr[0]-style single row with mixed (object) data."""
    return Attribution(values=ROW_VALUES, base_values=np.asarray(ROW_BASE), data=ROW_DATA,
                       feature_names=ROW_NAMES, has_rows=False)


@pytest.fixture
def table() -> Attribution:
    """40 rows x 12 features; feature j has scale 12 - j, so mean |value| falls with j.

    Feature 1 ("cat1") holds category strings in an object-dtype data array.
    """
    rng = np.random.default_rng(1)
    n, f = 40, 12
    values = rng.normal(size=(n, f)) * (f - np.arange(f))
    data = np.empty((n, f), dtype=object)
    data[:] = np.round(rng.normal(size=(n, f)) * 10, 3)
    data[:, 1] = rng.choice(["low", "mid", "high"], size=n)
    names = [f"x{j}" for j in range(f)]
    names[1] = "cat1"
    return Attribution(values=values, base_values=np.full(n, 0.25), data=data, feature_names=names)


@pytest.fixture
def multi_output(table: Attribution) -> Attribution:
    """The table's values for two outputs ("no", "yes")."""
    v = np.stack([table.values, -table.values], axis=-1)
    b = np.stack([table.base_values, 1 - table.base_values], axis=-1)
    return Attribution(values=v, base_values=b, data=table.data, feature_names=table.feature_names,
                       output_names=["no", "yes"], has_outputs=True)


def main_axes(fig: Figure):
    """The plot's own Axes (a colorbar, if any, comes after it)."""
    assert isinstance(fig, Figure)
    return fig.axes[0]


def labels_top_down(ax) -> list[str]:
    """The y tick labels from the top row to the bottom row."""
    ticks = ax.get_yticks()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    return [lab for _, lab in sorted(zip(ticks, labels), key=lambda p: -p[0])]


@pytest.fixture
def helpers():
    """Small readers of a drawn figure, shared by the test modules."""
    class H:
        main_axes = staticmethod(main_axes)
        labels_top_down = staticmethod(labels_top_down)
    return H
