"""Rule card: an anchor drawn as it reads, IF conditions THEN prediction, with its precision and coverage."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..errors import InputError
from ..results import Rule
from ._common import GREY, RED, format_value

__all__ = ["rule_card"]

_WIDTH_IN = 8.0
_LINE_IN = 0.3          # height of one line of the card
_KEY_X = 0.3            # where "IF" / "AND" / "THEN" start (inches)
_TEXT_X = 1.0           # where conditions start
_BAR_X, _BAR_W = 2.6, 3.7
_MAX_EXAMPLES = 3
_MAX_CHARS = 95


def rule_card(rule: Rule) -> Figure:
    """Draw an anchor rule as a card that reads as the rule.

    Top to bottom: "IF" with each condition on its own line (joined by "AND"),
    "THEN <prediction>"; precision and coverage as numbers and as bars on a
    0-to-1 track; the number of model evaluations when `rule.meta` records it
    ("model_evals"), the precision's confidence bounds and the target precision
    (tau, flagged when not reached) when recorded; then up to 3 examples where the rule holds and the model
    agrees, and up to 3 where it holds but the model disagrees, each cut to one
    line ("name = value" pairs for table rows, the condition's features first;
    quoted text for text rules).

    The precision and coverage bars are Rectangles labelled "precision" and
    "coverage" in the card's bar Axes (x from 0 to 1), so their widths are the
    numbers. Returns a matplotlib Figure (never shown).
    """
    if not isinstance(rule, Rule):
        raise InputError(f"rule_card expects a whybox Rule (from anchors), got {type(rule).__name__}")
    conditions = rule.conditions_text()
    info = _info_line(rule.meta)
    examples = [("The rule holds and the model agrees", rule.examples_agree),
                ("The rule holds but the model disagrees", rule.examples_disagree)]
    examples = [(f"{head} ({len(ex)} example{'s' if len(ex) != 1 else ''})", _example_lines(rule, ex))
                for head, ex in examples if ex is not None and np.ndim(ex) > 0 and len(ex)]

    # lines: title, IF/AND rows, THEN, gap, precision, coverage, [evals], then per block: gap, head, rows
    n_lines = 1 + max(1, len(conditions)) + 1 + 0.5 + 2 + bool(info)
    n_lines += sum(1.5 + len(lines) for _, lines in examples)
    height = (n_lines + 0.8) * _LINE_IN
    fig = Figure(figsize=(_WIDTH_IN, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, _WIDTH_IN)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    ax.set_label("card")
    ax.add_patch(Rectangle((0.08, 0.08), _WIDTH_IN - 0.16, height - 0.16, facecolor="#fafafa",
                           edgecolor="#cccccc", lw=1.0, label="_card"))

    y = 0.4 * _LINE_IN + _LINE_IN / 2
    title = "Anchor" if rule.method == "anchors" else (rule.method or "Rule")
    ax.text(_KEY_X, y, title, fontsize=10, color="#666666", va="center")
    y += _LINE_IN
    if not conditions:
        ax.text(_KEY_X, y, "IF", fontsize=12, fontweight="bold", va="center")
        ax.text(_TEXT_X, y, "(always: the rule has no condition)", fontsize=12, va="center", color="#555555")
        y += _LINE_IN
    for k, cond in enumerate(conditions):
        ax.text(_KEY_X, y, "IF" if k == 0 else "AND", fontsize=12, fontweight="bold", va="center")
        ax.text(_TEXT_X, y, cond, fontsize=12, va="center", color="#222222", parse_math=False)
        y += _LINE_IN
    ax.text(_KEY_X, y, "THEN", fontsize=12, fontweight="bold", va="center")
    then = "(prediction not recorded)" if rule.prediction is None else str(rule.prediction)
    ax.text(_TEXT_X, y, then, fontsize=12, fontweight="bold", va="center", color=RED, parse_math=False)
    y += 1.5 * _LINE_IN

    bounds = _bounds(rule.meta)
    bars_top = y - _LINE_IN / 2
    bax = fig.add_axes((_BAR_X / _WIDTH_IN, 1 - (bars_top + 2 * _LINE_IN) / height,
                        _BAR_W / _WIDTH_IN, 2 * _LINE_IN / height))
    bax.set_xlim(0, 1)
    bax.set_ylim(2, 0)
    bax.set_axis_off()
    bax.set_label("bars")
    for k, (name, value) in enumerate((("precision", rule.precision), ("coverage", rule.coverage))):
        v = float(value)
        ax.text(_KEY_X, y, name, fontsize=10, va="center", color="#333333")
        ax.text(_BAR_X - 0.15, y, f"{v:.2f}", fontsize=10, va="center", ha="right", color="#222222")
        bax.add_patch(Rectangle((0, k + 0.25), 1.0, 0.5, facecolor="#e6e6e6", edgecolor="none", label="_track"))
        bax.add_patch(Rectangle((0, k + 0.25), float(np.clip(v, 0, 1)) if np.isfinite(v) else 0.0, 0.5,
                                facecolor=RED if name == "precision" else GREY, edgecolor="none", label=name))
        if name == "precision" and bounds is not None:
            ax.text(_BAR_X + _BAR_W + 0.12, y, f"bounds {bounds[0]:.2f} to {bounds[1]:.2f}", fontsize=8,
                    va="center", color="#666666")
        y += _LINE_IN
    if info:
        ax.text(_KEY_X, y, info, fontsize=9, va="center", color="#555555")
        y += _LINE_IN

    for head, lines in examples:
        y += 0.5 * _LINE_IN
        ax.text(_KEY_X, y, head, fontsize=10, fontweight="bold", va="center", color="#333333")
        y += _LINE_IN
        for line in lines:
            ax.text(_KEY_X + 0.2, y, line, fontsize=9, va="center", color="#333333", parse_math=False)
            y += _LINE_IN
    return fig


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _bounds(meta: dict) -> tuple[float, float] | None:
    """The precision's confidence bounds that anchors records (precision_lb, precision_ub), or None."""
    lb, ub = _number(meta.get("precision_lb")), _number(meta.get("precision_ub"))
    return None if lb is None or ub is None else (lb, ub)


def _info_line(meta: dict) -> str:
    """ "model evaluations: 12,345  ·  target precision 0.95 (not reached)" from what meta records."""
    parts = []
    evals = _number(meta.get("model_evals", meta.get("model_evaluations")))
    if evals is not None:
        parts.append(f"model evaluations: {int(evals):,}")
    tau = _number(meta.get("tau"))
    if tau is not None:
        parts.append(f"target precision {tau:.2f}" + (" (not reached)" if meta.get("meets_threshold") is False
                                                      else ""))
    return "  ·  ".join(parts)


def _truncate(s: str, n: int = _MAX_CHARS) -> str:
    s = " ".join(str(s).split())  # one line
    return s if len(s) <= n else s[:n - 1] + "…"


def _example_lines(rule: Rule, examples: np.ndarray) -> list[str]:
    """Up to 3 examples, one line each, and a note when there are more."""
    ex = np.asarray(examples, dtype=object)
    total = ex.shape[0]
    shown = ex[:_MAX_EXAMPLES]
    names = rule.feature_names
    lines = []
    for item in shown:
        if isinstance(item, str):
            lines.append("• " + _truncate(f'"{item}"', _MAX_CHARS))
        elif np.ndim(item) == 0:
            lines.append("• " + _truncate(format_value(item)))
        else:
            vals = list(np.asarray(item, dtype=object).ravel())
            if names is not None and len(names) == len(vals):
                first = [c[0] for c in rule.conditions if c[0] in names]
                order = list(dict.fromkeys(first + list(names)))
                text = ", ".join(f"{n} = {format_value(vals[names.index(n)])}" for n in order)
            else:
                text = "[" + ", ".join(format_value(v) for v in vals) + "]"
            lines.append("• " + _truncate(text))
    if total > len(shown):
        lines.append(f"  … and {total - len(shown)} more")
    return lines
