"""What a counterfactual may change, stated once, validated once, enforced by projection, checked at the end.

A counterfactual z of the query x satisfies:

  immutable   z_j == x_j
  ranges      a changed numeric feature lies in [low_j, high_j] (default: the training min..max). A feature
              left at the query's own value always satisfies its range: the range bounds what a person can
              be asked to change *to*. A range given for an immutable feature must contain the query's value
              (otherwise the constraints contradict each other and `explain` says so).
  direction   "increase": z_j >= x_j; "decrease": z_j <= x_j (categorical: only for ordered categories,
              by their order)
  integer     a changed value is a whole number (integer dtype columns are detected from the data)
  categories  a changed categorical feature takes one of the allowed values
  together    in each group either every feature changes or none does

The search only ever proposes projected rows (`QueryBounds.project`), and `QueryBounds.check`
re-checks every returned row against the definitions above, written out a second time.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError
from .space import FeatureSpace

__all__ = ["Constraints", "QueryBounds", "DIRECTIONS"]

DIRECTIONS = {"increase": 1, "decrease": -1}


def _names_list(arg: Any, what: str) -> list[str]:
    if arg is None:
        return []
    if isinstance(arg, str):
        return [arg]
    try:
        return [str(a) for a in arg]
    except TypeError:
        raise InputError(f"{what} must be a feature name or a list of feature names, got {arg!r}") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


class Constraints:
    """The constraints of a `CounterfactualSearch`, validated against the features they name.

    Arguments:
      space       the `FeatureSpace` (names, categories, training rows)
      immutable   features that must not change
      ranges      name -> (low, high) for numeric features; None for a side keeps the training min / max
      direction   name -> "increase" or "decrease"
      integer     numeric features whose changed values must be whole numbers (added to `auto_integer`)
      categories  name -> allowed values for a categorical feature
      together    groups of features that change together (a list of lists; one list of names is one group)
      auto_integer  features detected as integers from the data's dtypes
      ordered     categorical features whose categories are ordered (direction allowed)
    """

    def __init__(self, space: FeatureSpace, *, immutable: Any = (), ranges: Mapping | None = None,
                 direction: Mapping | None = None, integer: Any = (), categories: Mapping | None = None,
                 together: Any = (), auto_integer: Sequence[str] = (), ordered: Sequence[str] = ()) -> None:
        self.space = space
        names = space.names
        m = space.m
        self.immutable = np.zeros(m, dtype=bool)
        for n in _names_list(immutable, "immutable"):
            self.immutable[self._index(n, "immutable")] = True

        train = space.train
        self.low = np.full(m, -np.inf)
        self.high = np.full(m, np.inf)
        for j in space.num_idx:
            col = train[:, j]
            col = col[np.isfinite(col)]
            if col.size:
                self.low[j], self.high[j] = float(col.min()), float(col.max())
        self.user_range = np.zeros(m, dtype=bool)
        for n, bounds in dict(ranges or {}).items():
            j = self._index(n, "ranges")
            if space.is_cat[j]:
                raise InputError(f"ranges[{n!r}]: {n!r} is categorical; state its allowed values with "
                                 f"categories={{{n!r}: [...]}} instead")
            if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
                raise InputError(f"ranges[{n!r}] must be a pair (low, high), got {bounds!r}; use None for an open "
                                 "side, e.g. (0, None)")
            lo, hi = bounds
            for side, v in (("low", lo), ("high", hi)):
                if v is not None and (not _is_number(v) or math.isnan(float(v))):
                    raise InputError(f"ranges[{n!r}] {side} must be a number or None, got {v!r}")
            lo = self.low[j] if lo is None else float(lo)
            hi = self.high[j] if hi is None else float(hi)
            if lo > hi:
                raise InputError(f"ranges[{n!r}] = ({lo:g}, {hi:g}) is empty: low must not exceed high")
            self.low[j], self.high[j] = lo, hi
            self.user_range[j] = True

        self.ordered = {str(n) for n in ordered}
        self.direction = np.zeros(m, dtype=int)
        for n, d in dict(direction or {}).items():
            j = self._index(n, "direction")
            if d not in DIRECTIONS:
                raise InputError(f"direction[{n!r}] must be 'increase' or 'decrease', got {d!r}")
            if space.is_cat[j] and names[j] not in self.ordered:
                raise InputError(f"direction[{n!r}]: {n!r} is categorical with unordered categories, so it has "
                                 "no direction; list the allowed values with categories= instead, or give the "
                                 "column an ordered pandas Categorical")
            self.direction[j] = DIRECTIONS[d]

        self.integer = np.zeros(m, dtype=bool)
        self.auto_integer = [str(n) for n in auto_integer if str(n) in space.index]
        for n in self.auto_integer:
            self.integer[space.index[n]] = True
        for n in _names_list(integer, "integer"):
            j = self._index(n, "integer")
            if space.is_cat[j]:
                raise InputError(f"integer: {n!r} is categorical; only numeric features can be integers")
            self.integer[j] = True
        for j in np.flatnonzero(self.integer):
            if np.isfinite(self.low[j]):
                self.low[j] = float(math.ceil(self.low[j] - 1e-9))
            if np.isfinite(self.high[j]):
                self.high[j] = float(math.floor(self.high[j] + 1e-9))
            if self.low[j] > self.high[j]:
                raise InputError(f"the range of integer feature {names[j]!r} holds no whole number; widen it")

        self.allowed: list[np.ndarray | None] = [None] * m
        self.allowed_values: dict[str, list] = {}
        for n, values in dict(categories or {}).items():
            j = self._index(n, "categories")
            if not space.is_cat[j]:
                raise InputError(f"categories[{n!r}]: {n!r} is numeric; bound it with ranges={{{n!r}: (low, high)}}")
            known = space.categories[j]
            values = [values] if isinstance(values, str) or not hasattr(values, "__iter__") else list(values)
            unknown = [v for v in values if v not in known]
            if unknown:
                raise InputError(f"categories[{n!r}] names unknown value(s) {unknown}; the known values of {n!r} "
                                 f"are {known}")
            self.allowed[j] = np.array(sorted({known.index(v) for v in values}), dtype=float)
            self.allowed_values[names[j]] = [known[int(c)] for c in self.allowed[j]]

        groups = together
        if groups is None:
            groups = []
        elif isinstance(groups, str) or (isinstance(groups, (list, tuple)) and groups
                                         and all(isinstance(g, str) for g in groups)):
            groups = [groups]
        self.groups: list[np.ndarray] = []
        seen: dict[int, int] = {}
        for gi, g in enumerate(groups):
            members = _names_list(g, "together")
            if len(members) < 2:
                raise InputError(f"together: the group {members} has fewer than 2 features; a group lists the "
                                 "features that must change together")
            idx = []
            for n in members:
                j = self._index(n, "together")
                if j in seen:
                    raise InputError(f"together: {n!r} is in two groups; merge them into one group")
                if self.immutable[j]:
                    raise InputError(f"together: {n!r} is immutable, so its group {members} could never change; "
                                     f"drop {n!r} from the group or from immutable")
                seen[j] = gi
                idx.append(j)
            self.groups.append(np.array(sorted(set(idx)), dtype=int))

    def _index(self, name: str, what: str) -> int:
        name = str(name)
        if name not in self.space.index:
            raise InputError(f"{what} names unknown feature {name!r}; the features are {list(self.space.names)}")
        return self.space.index[name]

    def for_query(self, x: np.ndarray, label: str = "the query") -> "QueryBounds":
        """The bounds for one encoded query x; fails when x contradicts the constraints."""
        for j in np.flatnonzero(self.immutable & self.user_range):
            if not self.low[j] <= x[j] <= self.high[j]:
                raise InputError(f"{label} has {self.space.names[j]} = {x[j]:g}, outside the range "
                                 f"({self.low[j]:g}, {self.high[j]:g}) given for this immutable feature, so no "
                                 "counterfactual can satisfy both; widen the range or make the feature mutable")
        return QueryBounds(self, x)

    def describe(self) -> dict:
        """The constraints in JSON-safe form, for a result's meta."""
        names = self.space.names
        num = [j for j in self.space.num_idx]
        return {
            "immutable": [names[j] for j in np.flatnonzero(self.immutable)],
            "ranges": {names[j]: [_plain(self.low[j]), _plain(self.high[j])] for j in num},
            "user_ranges": [names[j] for j in np.flatnonzero(self.user_range)],
            "direction": {names[j]: ("increase" if d > 0 else "decrease")
                          for j, d in enumerate(self.direction) if d},
            "integer": [names[j] for j in np.flatnonzero(self.integer)],
            "categories": {n: list(v) for n, v in self.allowed_values.items()},
            "together": [[names[j] for j in g] for g in self.groups],
        }


def _plain(v: float) -> Any:
    return None if not np.isfinite(v) else float(v)


class QueryBounds:
    """The constraints applied to one query x: which units may change, and to what.

    A unit is one mutable feature, or one `together` group; search operators change whole units.
    `lo`/`hi` bound a changed numeric value (range, direction and integer rounding folded in);
    `codes[j]` lists the categories a categorical feature may change to.
    """

    def __init__(self, c: Constraints, x: np.ndarray) -> None:
        sp = c.space
        self.c, self.space, self.x = c, sp, np.asarray(x, dtype=float)
        m = sp.m
        self.lo = c.low.copy()
        self.hi = c.high.copy()
        self.codes: list[np.ndarray | None] = [None] * m
        fixed = c.immutable.copy()
        for j in range(m):
            xj = self.x[j]
            if sp.is_cat[j]:
                if xj < 0:
                    fixed[j] = True
                    continue
                allowed = c.allowed[j] if c.allowed[j] is not None else np.arange(len(sp.categories[j]), dtype=float)
                if c.direction[j] > 0:
                    allowed = allowed[allowed > xj]
                elif c.direction[j] < 0:
                    allowed = allowed[allowed < xj]
                allowed = allowed[allowed != xj]
                self.codes[j] = allowed
                fixed[j] |= allowed.size == 0
                continue
            if not np.isfinite(xj):
                fixed[j] = True
                continue
            if c.direction[j] > 0:
                self.lo[j] = max(self.lo[j], xj)
            elif c.direction[j] < 0:
                self.hi[j] = min(self.hi[j], xj)
            lo, hi = self.lo[j], self.hi[j]
            if c.integer[j]:
                lo = math.ceil(lo - 1e-9) if np.isfinite(lo) else lo
                hi = math.floor(hi + 1e-9) if np.isfinite(hi) else hi
                self.lo[j], self.hi[j] = lo, hi
            # can it take any value other than x_j?
            if lo > hi or (lo == hi == xj):
                fixed[j] = True
        for g in c.groups:
            if fixed[g].any():
                fixed[g] = True
        self.fixed = fixed
        grouped = set(int(j) for g in c.groups for j in g)
        units = [np.array([j]) for j in range(m) if not fixed[j] and j not in grouped]
        units += [g for g in c.groups if not fixed[g].any()]
        self.units = sorted(units, key=lambda u: int(u[0]))

    # ----------------------------------------------------------------- projection
    def project(self, Z: np.ndarray) -> np.ndarray:
        """The nearest feasible rows (per feature clip / round / revert, then whole-group revert)."""
        Z = np.array(np.atleast_2d(Z), dtype=float)
        x, sp, c = self.x, self.space, self.c
        for j in range(sp.m):
            if self.fixed[j]:
                Z[:, j] = x[j]
                continue
            col = Z[:, j]
            if sp.is_cat[j]:
                ok = np.isin(col, self.codes[j]) | (col == x[j])
                Z[:, j] = np.where(ok, col, x[j])
                continue
            ch = col != x[j]
            v = col
            if c.integer[j]:
                v = np.round(v)
            v = np.clip(v, self.lo[j], self.hi[j])
            Z[:, j] = np.where(ch & np.isfinite(col), v, x[j])
        for g in c.groups:
            ch = sp.changed(x[g], Z[:, g])
            partial = ch.any(axis=1) & ~ch.all(axis=1)
            if partial.any():
                Z[np.ix_(partial, g)] = x[g]
        return Z

    # ----------------------------------------------------------------- the check
    def violations(self, z: np.ndarray) -> list[str]:
        """Every constraint the encoded row z breaks, in words (empty when it satisfies them all).

        Written from the definitions, independently of `project`.
        """
        x, sp, c = self.x, self.space, self.c
        names = sp.names
        z = np.asarray(z, dtype=float)
        changed = sp.changed(x, z[None, :])[0]
        out = []
        for j in range(sp.m):
            if not changed[j]:
                continue
            n = names[j]
            if c.immutable[j]:
                out.append(f"immutable feature {n} changed")
            if sp.is_cat[j]:
                if z[j] < 0 or z[j] >= len(sp.categories[j]) or z[j] != int(z[j]):
                    out.append(f"{n} is not a known category")
                elif c.allowed[j] is not None and z[j] not in c.allowed[j]:
                    out.append(f"{n} changed to a value that is not allowed")
            else:
                if not (c.low[j] <= z[j] <= c.high[j]):
                    out.append(f"{n} = {z[j]:g} outside ({c.low[j]:g}, {c.high[j]:g})")
                if c.integer[j] and z[j] != math.floor(z[j]):
                    out.append(f"{n} = {z[j]:g} is not a whole number")
            if c.direction[j] * (z[j] - x[j]) < 0:
                out.append(f"{n} moved against its direction")
        for g in c.groups:
            if changed[g].any() and not changed[g].all():
                out.append(f"group {[names[j] for j in g]} changed only in part")
        return out

    def check(self, Z: np.ndarray) -> np.ndarray:
        """(n,) bool: does each encoded row satisfy every constraint?"""
        return np.array([not self.violations(z) for z in np.atleast_2d(Z)], dtype=bool)
