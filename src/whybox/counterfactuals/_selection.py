"""Which valid rows to refine, and which k to return.

Starts for refinement: the cheapest valid row of each distinct set of changed units, cheapest first
(different sets of changes refine to different recourses), topped up with the next cheapest rows.

The k returned, greedily: first the cheapest refined row; then, repeatedly, the row minimising

    cost(z) - diversity_weight * min_{c chosen} d(z, c)

among rows distinct from every chosen one, i.e. at distance >= max(0.005, 0.1 * d(x, z)): two rows
count as the same recourse when they differ by less than a tenth of the change they ask for. A row far
from the ones already chosen earns a bonus, so the k differ in what they change, yet a remote, costly
row does not win over a near, cheap and distinct one.

While fewer than k distinct rows exist and budget is left, the population search resumes away from the
recourses chosen (`_population.py`) and its new valid rows are refined (at most twice). When the budget
ends with fewer than k distinct refined rows, fewer than k are returned (meta["fewer_than_k"]):
near-copies of one recourse, or rows with changes that could be dropped, would only pad the list.
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem

__all__ = ["refinement_starts", "pick_diverse"]

#: a row counts as the same recourse as a chosen one when their distance is below
#: max(SEPARATION, RELATIVE * d(x, row)): a tenth of its own change, and never below 0.005 MAD
SEPARATION = 0.005
RELATIVE = 0.1


def refinement_starts(p: Problem, n: int, among: np.ndarray | None = None) -> np.ndarray:
    """Archive ids of up to n valid rows (of `among`, default all) with distinct change patterns first."""
    ids = p.valid_ids()
    if among is not None:
        ids = ids[np.isin(ids, among)]
    chosen, seen = [], set()
    for i in ids:
        pat = p.unit_pattern(int(i))
        if pat not in seen:
            seen.add(pat)
            chosen.append(int(i))
        if len(chosen) >= n:
            break
    for i in ids:
        if len(chosen) >= n:
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return np.array(chosen, dtype=np.int64)


def pick_diverse(p: Problem, candidates: np.ndarray, k: int, weight: float) -> list[int]:
    """Greedy choice of up to k distinct rows from `candidates` (archive ids of valid rows)."""
    cand = sorted(dict.fromkeys(int(i) for i in candidates), key=lambda i: p.cost[i])
    if not cand:
        return []
    chosen = [cand[0]]
    Z = p.Z[cand]
    mind = p.space.distance(Z[0], Z)
    need = np.maximum(SEPARATION, RELATIVE * p.prox[cand])
    cost = p.cost[cand]
    while len(chosen) < k:
        ok = mind >= need
        if not ok.any():
            break
        b = int(np.argmin(np.where(ok, cost - weight * mind, np.inf)))
        chosen.append(cand[b])
        mind = np.minimum(mind, p.space.distance(Z[b], Z))
    return chosen
