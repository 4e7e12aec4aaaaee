"""Local refinement of valid candidates: fewer changes, then each change only as large as it must be.

1. Greedy revert: per candidate, try putting each changed unit back to the query's value (all tries of
   all candidates in one model call); keep the valid try with the lowest cost if it lowers the cost;
   repeat until no revert keeps the row valid and cheaper. Of candidates left with the same set of
   changes only the cheapest goes on (the others would mostly refine to the same row).
2. Joint line search: z(t) = x + t (z - x) over the changed numeric features (categories kept), the
   smallest valid t in (0, 1] found by a 4-ary search (three points per step).
3. Per-feature line search: for each remaining numeric change, largest first, the value between x_j
   and z_j closest to x_j that keeps the row valid, by the same search, to 0.001 MAD (one step for
   integer features). The row lands just past the decision boundary.
With plausibility_weight > 0 a line search also tries points between the boundary and the start and
keeps the cheapest valid one, since moving further into the target can bring the row nearer to data.

Every point is projected onto the constraints before evaluation, and a row's current state is always
a valid archive row, so a budget that runs out mid-way leaves valid candidates.

`snap` then rounds the chosen rows' numeric changes to the decimals the data is recorded with, away
from the query, and keeps a rounded row only where it is still valid.
"""

from __future__ import annotations

from typing import Callable, Generator

import numpy as np

from ._problem import Problem

__all__ = ["refine", "snap"]

_POINTS = 3          # interior points per search step (4-ary search)
_MAX_STEPS = 12
_TOL = 1e-3          # search precision, in units of d (MAD-scaled)


def _greedy_revert(p: Problem, cur: np.ndarray) -> Generator[np.ndarray, np.ndarray, np.ndarray]:
    """cur: archive ids of valid rows; returns the ids after greedy reverts."""
    cur = cur.copy()
    active = np.ones(len(cur), dtype=bool)
    units = p.bounds.units
    while active.any() and p.remaining > 0:
        tries, owner = [], []
        for r in np.flatnonzero(active):
            z = p.Z[cur[r]]
            for u in units:
                if p.space.changed(p.x[u], z[u][None, :]).any():
                    t = z.copy()
                    t[u] = p.x[u]
                    tries.append(t)
                    owner.append(r)
        if not tries:
            break
        ids = yield from p.evaluate(p.bounds.project(np.array(tries)))
        owner = np.array(owner)
        improved = np.zeros(len(cur), dtype=bool)
        for r in np.flatnonzero(active):
            mine = ids[(owner == r) & (ids >= 0)]
            mine = mine[p.valid[mine]]
            if not len(mine):
                continue
            best = mine[np.argmin(p.cost[mine])]
            if p.cost[best] < p.cost[cur[r]] - 1e-12:
                cur[r] = best
                improved[r] = True
        active &= improved
    return cur


def _line_search(p: Problem, cur: np.ndarray, path: Callable[[int, float], np.ndarray],
                 length: np.ndarray) -> Generator[np.ndarray, np.ndarray, np.ndarray]:
    """Smallest valid s in (0, 1] along path(r, s) (path(r, 1) is the valid row cur[r]), per candidate.

    length[r]: the d-length of path r, so the search stops at _TOL in d. Returns archive ids.
    """
    lo = np.zeros(len(cur))
    hi = np.ones(len(cur))
    best = cur.copy()
    tol = np.where(length > 0, _TOL / np.maximum(length, 1e-300), 1.0)
    active = length > 0
    steps = 0
    while active.any() and p.remaining > 0 and steps < _MAX_STEPS:
        steps += 1
        rows, owner, svals = [], [], []
        for r in np.flatnonzero(active):
            for i in range(1, _POINTS + 1):
                s = lo[r] + (hi[r] - lo[r]) * i / (_POINTS + 1)
                rows.append(path(r, s))
                owner.append(r)
                svals.append(s)
        ids = yield from p.evaluate(p.bounds.project(np.array(rows)))
        owner, svals = np.array(owner), np.array(svals)
        for r in np.flatnonzero(active):
            sel = np.flatnonzero(owner == r)
            new_lo = lo[r]
            found = False
            for q in sel:  # ordered from lo to hi
                i = ids[q]
                if i < 0:
                    break
                if p.valid[i]:
                    hi[r] = svals[q]
                    best[r] = i
                    found = True
                    break
                new_lo = svals[q]
            lo[r] = new_lo
            if not found and (ids[sel] < 0).any():
                active[r] = False  # budget ran out for this one
            if hi[r] - lo[r] <= tol[r]:
                active[r] = False
    if p.weight > 0 and p.remaining > 0:
        rows, owner = [], []
        for r in range(len(cur)):
            for f in (0.25, 0.5, 0.75):
                rows.append(path(r, hi[r] + (1.0 - hi[r]) * f))
                owner.append(r)
        ids = yield from p.evaluate(p.bounds.project(np.array(rows)))
        owner = np.array(owner)
        for r in range(len(cur)):
            mine = np.concatenate([ids[(owner == r) & (ids >= 0)], [best[r], cur[r]]])
            mine = mine[p.valid[mine]]
            best[r] = mine[np.argmin(p.cost[mine])]
    return best


def _numeric_changes(p: Problem, z: np.ndarray) -> np.ndarray:
    sp = p.space
    ch = sp.changed(p.x, z[None, :])[0] & ~sp.is_cat
    return np.flatnonzero(ch & np.isfinite(z) & np.isfinite(p.x))


def refine(p: Problem, start: np.ndarray) -> Generator[np.ndarray, np.ndarray, np.ndarray]:
    """Refine the valid archive rows `start`; returns the archive ids of the refined rows (all valid)."""
    if not len(start):
        return np.asarray(start, dtype=np.int64)
    cur = yield from _greedy_revert(p, np.asarray(start, dtype=np.int64))
    # candidates that fell back to the same set of changes would mostly refine to the same row:
    # keep the cheapest of each
    keep: dict[tuple, int] = {}
    for i in cur[np.argsort(p.cost[cur], kind="stable")]:
        keep.setdefault(p.unit_pattern(int(i)), int(i))
    cur = np.array(sorted(keep.values(), key=lambda i: p.cost[i]), dtype=np.int64)
    sp, x = p.space, p.x

    # joint line search over the numeric changes
    bases = [p.Z[i].copy() for i in cur]
    num = [_numeric_changes(p, z) for z in bases]

    def joint(r: int, s: float) -> np.ndarray:
        z = bases[r].copy()
        j = num[r]
        z[j] = x[j] + s * (bases[r][j] - x[j])
        return z

    length = np.array([np.sum(np.abs(bases[r][num[r]] - x[num[r]]) / sp.scales[num[r]]) for r in range(len(cur))])
    cur = yield from _line_search(p, cur, joint, length)

    # per feature, largest scaled change first
    order = []
    for i in cur:
        z = p.Z[i]
        j = _numeric_changes(p, z)
        order.append(j[np.argsort(-np.abs(z[j] - x[j]) / sp.scales[j], kind="stable")])
    for step in range(max((len(o) for o in order), default=0)):
        if p.remaining <= 0:
            break
        rows_r = [r for r in range(len(cur)) if step < len(order[r])]
        bases = {r: p.Z[cur[r]].copy() for r in rows_r}
        feat = {r: int(order[r][step]) for r in rows_r}

        def single(k: int, s: float) -> np.ndarray:
            r = rows_r[k]
            z = bases[r].copy()
            j = feat[r]
            z[j] = x[j] + s * (bases[r][j] - x[j])
            return z

        length = np.array([abs(bases[r][feat[r]] - x[feat[r]]) / sp.scales[feat[r]] for r in rows_r])
        sub = yield from _line_search(p, cur[rows_r], single, length)
        cur[rows_r] = sub
    return cur


def snap(p: Problem, ids: list[int]) -> Generator[np.ndarray, np.ndarray, list[int]]:
    """Round each changed numeric value to the decimals the training data records it with, away from the
    query (so the change only grows), and keep the rounded row where it is still feasible and valid.

    One model call for all rows; rows that cannot be rounded, or lose validity, stay as they are.
    """
    sp, x = p.space, p.x
    rows, owner = [], []
    for r, i in enumerate(ids):
        z = p.Z[i].copy()
        for j in _numeric_changes(p, z):
            d = sp.decimals[j]
            if d is None or p.bounds.c.integer[j]:
                continue
            step = 10.0 ** -d
            q = z[j] / step
            q = np.ceil(q - 1e-9) if z[j] > x[j] else np.floor(q + 1e-9)
            z[j] = round(q * step, d)
        z = p.bounds.project(z)[0]
        if not np.array_equal(z, p.Z[i]) and p.bounds.check(z[None, :])[0]:
            rows.append(z)
            owner.append(r)
    out = list(ids)
    if rows and p.remaining > 0:
        got = yield from p.evaluate(np.array(rows))
        for r, g in zip(owner, got):
            if g >= 0 and p.valid[g] and sp.changed(x, p.Z[g][None, :]).any():
                out[r] = int(g)
    return list(dict.fromkeys(out))
