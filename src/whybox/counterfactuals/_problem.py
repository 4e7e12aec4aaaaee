"""One query's search problem: evaluate candidate rows within a budget, remember every answer, score them.

cost(z)    = d(x, z) + plausibility_weight * knn(z)          (valid rows; lower is better)
fitness(z) = cost(z)                                          if the model's output reaches the target
           = INVALID + 100 * gap(z) + d(x, z)                 otherwise (any valid row beats every invalid one)

Every evaluated row is kept (the archive the population search selects from); a row seen before is
answered from the cache and costs no model evaluation. `evals` counts rows sent to the model.

The searches are generators: `evaluate` yields the rows it needs and receives the model's outputs, so
the driver in `search.py` can evaluate the requests of every query in the batch in one model call.
"""

from __future__ import annotations

from typing import Generator

import numpy as np

from ..models.base import Model
from .constraints import QueryBounds
from .metrics import TargetRows
from .space import FeatureSpace
from .targets import Decision, Target

__all__ = ["Problem", "INVALID"]

INVALID = 1e6


class Problem:
    """The archive and the objective of the search for one query.

    Arguments:
      model, space, decision   the wrapped model, the feature space, the decision reader
      target, bounds           what the query must reach, and what may change
      target_rows              training rows in the target (kNN distance, guides)
      weight                   plausibility_weight
      budget                   most rows this query may send to the model
    """

    def __init__(self, model: Model, space: FeatureSpace, decision: Decision, target: Target, bounds: QueryBounds,
                 target_rows: TargetRows, weight: float, budget: int) -> None:
        self.model, self.space, self.decision = model, space, decision
        self.target, self.bounds, self.target_rows = target, bounds, target_rows
        self.x = bounds.x
        self.weight = float(weight)
        self.budget = int(budget)
        self.evals = 0
        self.calls = 0
        self._key: dict[bytes, int] = {}
        m = space.m
        self.Z = np.zeros((0, m))
        self.out = np.zeros((0, decision.n_outputs))
        self.valid = np.zeros(0, dtype=bool)
        self.gap = np.zeros(0)
        self.prox = np.zeros(0)
        self.knn = np.zeros(0)
        self.cost = np.zeros(0)
        self.fitness = np.zeros(0)

    @property
    def remaining(self) -> int:
        return self.budget - self.evals

    def __len__(self) -> int:
        return len(self.Z)

    def ids(self, Z: np.ndarray) -> np.ndarray:
        """Archive index of each row of Z, or -1 for rows never evaluated."""
        return np.array([self._key.get(z.tobytes(), -1) for z in np.atleast_2d(Z)], dtype=np.int64)

    def evaluate(self, Z: np.ndarray) -> Generator[np.ndarray, np.ndarray, np.ndarray]:
        """Archive index of each row of Z (evaluating the new ones); -1 where the budget ran out.

        A generator: it yields the encoded rows the model must evaluate and is sent their outputs
        (n, outputs) back, so the searches of many queries can share one model call per step
        (`search.py` drives them). Use it as `ids = yield from p.evaluate(Z)`.
        """
        Z = np.ascontiguousarray(np.atleast_2d(Z), dtype=float)
        Z = Z + 0.0  # -0.0 and 0.0 are the same row
        ids = self.ids(Z)
        new_pos, seen = [], {}
        for i in np.flatnonzero(ids < 0):
            key = Z[i].tobytes()
            if key in seen:
                continue
            seen[key] = i
            new_pos.append(i)
        new_pos = new_pos[:max(self.remaining, 0)]
        if new_pos:
            rows = Z[new_pos]
            out = yield rows
            self.evals += len(rows)
            self.calls += 1
            self._append(rows, np.asarray(out, dtype=float))
        return self.ids(Z)

    def _append(self, rows: np.ndarray, out: np.ndarray) -> None:
        start = len(self.Z)
        valid = self.decision.reached(out, self.target)
        gap = self.decision.gap(out, self.target)
        prox = self.space.distance(self.x, rows)
        if self.weight > 0:
            knn = np.nan_to_num(self.target_rows.knn(rows), nan=0.0)
        else:
            knn = np.zeros(len(rows))
        cost = prox + self.weight * knn
        fitness = np.where(valid, cost, INVALID + 100.0 * gap + prox)
        self.Z = np.vstack([self.Z, rows])
        self.out = np.vstack([self.out, out])
        self.valid = np.concatenate([self.valid, valid])
        self.gap = np.concatenate([self.gap, gap])
        self.prox = np.concatenate([self.prox, prox])
        self.knn = np.concatenate([self.knn, knn])
        self.cost = np.concatenate([self.cost, cost])
        self.fitness = np.concatenate([self.fitness, fitness])
        for i, z in enumerate(rows):
            self._key[z.tobytes()] = start + i

    # ----------------------------------------------------------------- views
    def valid_ids(self, exclude_query: bool = True) -> np.ndarray:
        """Archive indices of valid rows, cheapest first."""
        ids = np.flatnonzero(self.valid)
        if exclude_query and len(ids):
            ids = ids[self.space.changed(self.x, self.Z[ids]).any(axis=1)]
        return ids[np.argsort(self.cost[ids], kind="stable")]

    def closest_id(self) -> int:
        """The evaluated row nearest to reaching the target (smallest gap, then smallest distance)."""
        changed = self.space.changed(self.x, self.Z).any(axis=1) if len(self.Z) else np.zeros(0, dtype=bool)
        pool = np.flatnonzero(changed) if changed.any() else np.arange(len(self.Z))
        order = np.lexsort((self.prox[pool], self.gap[pool]))
        return int(pool[order[0]])

    def unit_pattern(self, i: int) -> tuple[int, ...]:
        """Which units (by position in bounds.units) row i changes."""
        ch = self.space.changed(self.x, self.Z[i][None, :])[0]
        return tuple(u for u, idx in enumerate(self.bounds.units) if ch[idx].any())
