"""Numbers as people write them, for rules, counterfactual sentences and reason codes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["format_value"]


def format_value(v: Any) -> str:
    """A value as a person writes it: 40,000 not 40000.0; 0.25 not 0.250000001; strings as they are."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return "{" + ", ".join(format_value(x) for x in v) + "}"
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    f = float(v)
    if not math.isfinite(f):
        return str(f)
    if f == round(f) and abs(f) < 1e15:
        return f"{int(round(f)):,}"
    # six significant digits: a threshold must not print on the wrong side of itself (39,999.5, not 40,000)
    return f"{f:,.6g}"
