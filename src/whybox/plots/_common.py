"""Helpers every tabular plot shares: input checks, ordering by magnitude, the
"N other features" lump, number formatting and the blue-to-red colours.

Nothing here touches pyplot or global matplotlib state: figures are made with
`matplotlib.figure.Figure` so that a library call never opens a window or
changes the user's backend.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from ..errors import InputError
from ..results import Attribution

# --------------------------------------------------------------------------- colours

RED = "#ff0051"   # pushes the output up / high feature value
BLUE = "#008bfb"  # pushes the output down / low feature value
GREY = "#a0a0a0"  # no colour information (categorical or missing data, lumped rows)
PALE_RED = "#ff8fb0"
PALE_BLUE = "#7fc5fd"

#: Low feature values blue, high values red, through purple (not registered globally).
BLUE_RED = LinearSegmentedColormap.from_list("whybox_blue_red", [BLUE, "#7d3bd8", RED])


def sign_colours(values: np.ndarray) -> list[str]:
    """Red for positive (pushes the output up), blue for negative."""
    return [RED if v >= 0 else BLUE for v in np.asarray(values, dtype=float)]


# --------------------------------------------------------------------------- figures

def new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A free-standing Figure (no pyplot, no global state) with one Axes and a constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.subplots()
    return fig, ax


def rows_height(n_rows: int, per_row: float = 0.42, extra: float = 1.4) -> float:
    """Figure height in inches for a plot with one horizontal row per feature."""
    return max(2.2, n_rows * per_row + extra)


def style_feature_axis(ax: Axes) -> None:
    """The look of the horizontal-row plots: no box, light grid along x."""
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


# --------------------------------------------------------------------------- input checks

def check_max_display(max_display: Any) -> int:
    if isinstance(max_display, bool) or not isinstance(max_display, (int, np.integer)) or max_display < 1:
        raise InputError(f"max_display must be a positive integer, got {max_display!r}")
    return int(max_display)


def _require_attribution(attr: Any, plot: str) -> Attribution:
    if not isinstance(attr, Attribution):
        raise InputError(f"{plot} expects a whybox Attribution, got {type(attr).__name__}")
    return attr


def _pick_output_hint(attr: Attribution, prefix: str) -> str:
    names = attr.output_names
    pick = repr(names[0]) if isinstance(names, tuple) and names else "0"
    known = f" (outputs: {list(names)})" if isinstance(names, tuple) else ""
    return f"pick one output with attr[{prefix}..., {pick}]{known}"


def require_single_row(attr: Any, plot: str) -> Attribution:
    """One explained row of a table, one output: what `waterfall`, `force` and a row `bar` draw."""
    attr = _require_attribution(attr, plot)
    if attr.has_rows:
        raise InputError(
            f"{plot} draws one explained row, but this attribution has {attr.values.shape[0]} rows; "
            f"pass one row, e.g. {plot}(attr[0])")
    if attr.has_outputs:
        raise InputError(
            f"{plot} draws one output, but this row has {attr.values.shape[-1]} outputs; "
            + _pick_output_hint(attr, "0, "))
    if attr.feature_ndim != 1:
        raise InputError(
            f"{plot} needs one feature axis (a table row), got values of shape {attr.values.shape}")
    return attr


def require_rows(attr: Any, plot: str) -> Attribution:
    """Several explained rows of a table, one output: what `beeswarm` draws."""
    attr = _require_attribution(attr, plot)
    if not attr.has_rows:
        raise InputError(f"{plot} draws many explained rows; pass the whole attribution, not attr[i]")
    if attr.has_outputs:
        raise InputError(
            f"{plot} draws one output, but this attribution has {attr.values.shape[-1]} outputs; "
            + _pick_output_hint(attr, ""))
    if attr.feature_ndim != 1:
        raise InputError(
            f"{plot} needs one feature axis (a table), got values of shape {attr.values.shape}; "
            "for a single feature use scatter(attr[:, 'name'])")
    return attr


def feature_labels(attr: Attribution, n: int) -> list[str]:
    """The feature names, or "Feature i" where the attribution has none."""
    if isinstance(attr.feature_names, tuple) and len(attr.feature_names) == n:
        return list(attr.feature_names)
    return [f"Feature {i}" for i in range(n)]


# --------------------------------------------------------------------------- ordering

def order_by_magnitude(x: np.ndarray) -> np.ndarray:
    """Indices from largest to smallest |x| (stable for ties; NaN last)."""
    mag = np.abs(np.asarray(x, dtype=float))
    mag = np.where(np.isnan(mag), -np.inf, mag)
    return np.argsort(-mag, kind="stable")


def top_and_rest(magnitude: np.ndarray, max_display: int) -> tuple[np.ndarray, np.ndarray]:
    """Split feature indices into the `max_display` largest (in order) and the rest.

    Lumping a single leftover feature into "1 other feature" hides its name for
    nothing, so when exactly one is left it is shown by name instead.
    """
    order = order_by_magnitude(magnitude)
    if len(order) <= max_display + 1:
        return order, order[:0]
    return order[:max_display], order[max_display:]


def other_label(n: int, summed: bool = False) -> str:
    """Label of the row that lumps the features not shown individually."""
    return f"{'Sum of ' if summed else ''}{n} other features"


# --------------------------------------------------------------------------- formatting

def format_value(v: Any) -> str:
    """A feature value as a short label: integers whole, floats to 4 significant digits, text as is."""
    if v is None or v is pd.NA or v is pd.NaT:
        return "missing"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "missing"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        if 1e-3 <= abs(f) < 1e4:
            return f"{f:.4g}"
        if 1e4 <= abs(f) < 1e15:
            return f"{f:.0f}"
        return f"{f:.3g}"
    s = str(v)
    return s if len(s) <= 30 else s[:29] + "…"


def number_formatter(scale: float, signed: bool = False) -> Callable[[float], str]:
    """Format attribution numbers with as many decimals as their overall `scale` needs (3 significant)."""
    scale = abs(float(scale))
    if not math.isfinite(scale) or scale == 0:
        decimals = 3
    else:
        decimals = int(min(8, max(0, 2 - math.floor(math.log10(scale)))))

    def fmt(v: float) -> str:
        s = f"{float(v):{'+' if signed else ''}.{decimals}f}"
        if signed and float(v) == 0:
            s = s.replace("-", "+")
        return s
    return fmt


def row_label(name: str, data_row: np.ndarray | None, i: int) -> str:
    """ "name = value" when the explained data is known, else the name."""
    if data_row is None:
        return name
    return f"{name} = {format_value(data_row[i])}"


# --------------------------------------------------------------------------- feature values for colour

def as_numeric(column: Any) -> np.ndarray | None:
    """The column as floats (NaN for missing), or None when it holds categories or text."""
    a = np.asarray(column)
    if a.dtype.kind in "biuf":
        return a.astype(float)
    if a.dtype.kind == "O":
        try:
            num = pd.to_numeric(pd.Series(a.ravel()), errors="raise")
        except (ValueError, TypeError):
            return None
        if num.dtype.kind not in "biuf":
            return None
        return num.to_numpy(dtype=float, na_value=np.nan).reshape(a.shape)
    return None


def normalise_within(x: np.ndarray) -> np.ndarray:
    """Scale a feature's values to 0..1 between its 5th and 95th percentiles (clipped; NaN stays NaN).

    Percentiles rather than min/max keep one outlier from washing out the colours.
    """
    x = np.asarray(x, dtype=float)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.full_like(x, np.nan)
    lo, hi = np.percentile(finite, [5, 95])
    if hi <= lo:
        lo, hi = finite.min(), finite.max()
    if hi <= lo:
        return np.where(np.isfinite(x), 0.5, np.nan)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def colours_for(norm: np.ndarray) -> np.ndarray:
    """RGBA colours from 0..1 values on the blue-to-red map; NaN (unknown) grey."""
    norm = np.asarray(norm, dtype=float)
    rgba = BLUE_RED(np.nan_to_num(norm, nan=0.5))
    rgba[np.isnan(norm)] = _GREY_RGBA
    return rgba


_GREY_RGBA = np.array([0xa0, 0xa0, 0xa0, 0xff]) / 255.0


# --------------------------------------------------------------------------- one row, one output (LIME, text, images)

#: Negative weights blue, zero white, positive red: the colour of a signed weight (not registered globally).
#: Its colour at |w| / max|w| = a is white blended with RED (or BLUE) at opacity a, as the HTML text uses.
BLUE_WHITE_RED = LinearSegmentedColormap.from_list("whybox_blue_white_red", [BLUE, "#ffffff", RED])


def check_positive_int(value: Any, name: str) -> int:
    """`value` as an int, or an InputError naming the argument when it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class RowPick(NamedTuple):
    """One row and one output picked out of an attribution, and where they came from.

    attr       the picked row (has_rows and has_outputs both False)
    row        its index among the rows that were passed, or None when a single row was passed
    n_rows     how many rows were passed, or None when a single row was passed
    output     the index of the picked output, or None when there was a single output
    n_outputs  how many outputs there were (1 when there was no outputs axis)
    """

    attr: Attribution
    row: int | None
    n_rows: int | None
    output: int | None
    n_outputs: int


def select_row_output(attr: Any, row: Any, output: Any, plot: str) -> RowPick:
    """Pick one explained row and one output, with errors that say how to choose.

    `row` is used when `attr` still has its rows axis (ignored for a single row such as `attr[3]`);
    `output` is an index or an output name and must be given when there are several outputs.
    """
    attr = _require_attribution(attr, plot)
    row_index = n_rows = None
    if attr.has_rows:
        n_rows = int(attr.values.shape[0])
        if n_rows == 0:
            raise InputError(f"{plot}: this attribution has no rows to draw (it explained 0 inputs)")
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)):
            raise InputError(f"{plot}: row must be an integer row index, got {row!r}")
        if not -n_rows <= row < n_rows:
            raise InputError(f"{plot}: row={row} is out of range for an attribution of {n_rows} rows")
        row_index = int(row) % n_rows
        attr = attr[row_index]
    out_index = None
    n_outputs = 1
    if attr.has_outputs:
        n_outputs = int(attr.values.shape[-1])
        names = attr.output_names if isinstance(attr.output_names, tuple) else None
        known = f" (outputs: {list(names)})" if names else f" (0 to {n_outputs - 1})"
        if output is None:
            if n_outputs != 1:
                hint = repr(names[0]) if names else "0"
                raise InputError(f"{plot} draws one output, but this attribution has {n_outputs} outputs; "
                                 f"pick one with output={hint}{known}")
            output = 0
        if isinstance(output, str):
            if names is None or output not in names:
                raise InputError(f"{plot}: unknown output {output!r}{known}")
            out_index = names.index(output)
        elif isinstance(output, (int, np.integer)) and not isinstance(output, bool):
            if not -n_outputs <= output < n_outputs:
                raise InputError(f"{plot}: output={output} is out of range{known}")
            out_index = int(output) % n_outputs
        else:
            raise InputError(f"{plot}: output must be an index or an output name, got {output!r}")
        attr = attr[..., out_index]
    elif output is not None:
        raise InputError(f"{plot}: output={output!r} given, but this attribution has a single output "
                         f"({attr.output_names!r}); leave output out")
    return RowPick(attr, row_index, n_rows, out_index, n_outputs)


def row_meta(meta: dict, key: str, pick: RowPick) -> Any:
    """This row's entry of a per-row list in `meta` (e.g. LIME's "local_fidelity"), or None.

    A per-row list is matched to the row only when its length is the number of rows passed (or 1 for a
    single row): a row taken with `attr[i]` keeps the whole batch's meta and cannot tell which entry
    is its own. A scalar is the same for every row and is returned as it is.
    """
    v = meta.get(key)
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if not isinstance(v, (list, tuple)):
        return v
    if pick.n_rows is not None and len(v) == pick.n_rows:
        return v[pick.row]
    if pick.n_rows is None and len(v) == 1:
        return v[0]
    return None


def output_entry(v: Any, pick: RowPick) -> Any:
    """The picked output's entry of a per-output list; without an outputs axis, or for a scalar, `v` itself.

    None when `v` is a list whose length is not the number of outputs (it cannot be matched).
    """
    if pick.output is None:
        return v
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        if len(v) == pick.n_outputs:
            return v[pick.output]
        if len(v) == 1:
            return v[0]
        return None
    return v


def method_label(method: str) -> str:
    """A method name as a title shows it ("lime" -> "LIME"; others as recorded)."""
    return {"lime": "LIME"}.get(str(method).lower(), str(method))
