"""The population search: a genetic search over feasible rows, seeded from the query and the target's data.

Start: (a) the target-class training rows nearest to x, projected onto the constraints ("guides"),
(b) x with a random subset of its units taken from a guide, (c) probes that move one unit of x to a few
values spread over its allowed values (its bounds and the training quantiles inside them), (d) random
one- or two-unit mutations of x. A unit is one mutable feature or one `together` group.

Each generation breeds `population` children from tournament-selected parents among the fittest
`population` rows of the archive: uniform crossover by unit with a second parent or with a guide (a
step towards real rows of the target), a mutation of one unit (a training value inside its bounds, or a
Gaussian step of a random multiple of its MAD, or another allowed category), and a revert of one
changed unit to x (sparsity). Children are projected onto the constraints, so every row evaluated is
feasible. The search stops when the budget share is spent, or once valid rows exist and the best
`k` costs have not improved for `patience` generations. When refinement leaves fewer than k distinct
recourses, the search resumes with the change patterns already chosen made tabu (valid rows that change
every feature of a chosen recourse rank behind all other valid rows: refined, they would fall back to
it), so it looks for recourses that leave some of those features alone.
"""

from __future__ import annotations

from typing import Generator

import numpy as np

from ._problem import INVALID, Problem

__all__ = ["evolve", "pattern_key"]

#: added to the fitness of valid rows that repeat a chosen recourse: behind every other valid row
TABU = INVALID / 2


class _Operators:
    """Mutation, crossover and revert on batches of encoded rows of one query (vectorised over rows)."""

    def __init__(self, problem: Problem, rng: np.random.Generator) -> None:
        self.p, self.rng = problem, rng
        b, sp = problem.bounds, problem.space
        self.units = b.units
        self.x = problem.x
        m = sp.m
        self.member = np.zeros((len(self.units), m), dtype=bool)   # unit -> its features
        self.unit_of = np.full(m, -1)
        for ui, u in enumerate(self.units):
            self.member[ui, u] = True
            self.unit_of[u] = ui
        self.features = np.flatnonzero(self.unit_of >= 0)
        self.values: dict[int, np.ndarray] = {}
        train = sp.train
        for j in self.features:
            if sp.is_cat[j]:
                self.values[j] = b.codes[j]
                continue
            col = train[:, j]
            col = col[np.isfinite(col) & (col >= b.lo[j]) & (col <= b.hi[j]) & (col != self.x[j])]
            self.values[j] = np.unique(col)

    def mutate(self, Z: np.ndarray, rows: np.ndarray) -> None:
        """Give one random unit of each row in `rows` (bool mask) a new value, in place.

        Numeric: half the time a training value inside its bounds, else a Gaussian step of 0.25, 1 or 2
        MADs from its current value; categorical: another allowed category.
        """
        n = len(Z)
        if not self.units or not rows.any():
            return
        rng, sp, b = self.rng, self.p.space, self.p.bounds
        pick = rng.integers(len(self.units), size=n)
        for j in self.features:
            r = np.flatnonzero(rows & (pick == self.unit_of[j]))
            if not len(r):
                continue
            vals = self.values[j]
            cur = Z[r, j]
            if sp.is_cat[j]:
                if not vals.size:
                    continue
                new = vals[rng.integers(vals.size, size=len(r))]
                if vals.size > 1:  # another category than the current one
                    same = new == cur
                    pos = np.searchsorted(vals, new[same])
                    new[same] = vals[(pos + 1) % vals.size]
                Z[r, j] = new
                continue
            step = rng.normal(size=len(r)) * sp.scales[j] * rng.choice((0.25, 1.0, 2.0), size=len(r))
            new = cur + step
            if vals.size:
                draw = rng.random(len(r)) < 0.5
                new[draw] = vals[rng.integers(vals.size, size=int(draw.sum()))]
            new[new == self.x[j]] += sp.scales[j] * 0.5
            Z[r, j] = np.clip(new, b.lo[j], b.hi[j])

    def crossover(self, A: np.ndarray, B: np.ndarray, share: np.ndarray | float) -> np.ndarray:
        """Per row, each unit from B with probability `share` (per row or one number), else from A."""
        share = np.broadcast_to(np.asarray(share, dtype=float), (len(A),))
        take = self.rng.random((len(A), len(self.units))) < share[:, None]
        feat = (take.astype(np.int8) @ self.member.astype(np.int8)) > 0
        return np.where(feat, B, A)

    def revert(self, Z: np.ndarray, rows: np.ndarray) -> None:
        """Put one random changed unit of each row in `rows` (bool mask) back to x, in place."""
        if not self.units or not rows.any():
            return
        changed = _unit_changes(self.p, Z)
        score = np.where(changed, self.rng.random(changed.shape), -1.0)
        pick = np.argmax(score, axis=1)
        ok = rows & changed.any(axis=1)
        for ui, u in enumerate(self.units):
            r = np.flatnonzero(ok & (pick == ui))
            if len(r):
                Z[np.ix_(r, u)] = self.x[u]

    def probes(self) -> list[np.ndarray]:
        """x with one unit moved to spread values of its allowed set (bounds and training quantiles)."""
        out = []
        sp, b = self.p.space, self.p.bounds
        for u in self.units:
            if len(u) > 1:
                continue
            j = int(u[0])
            if sp.is_cat[j]:
                codes = self.values[j]
                if codes.size > 8:
                    codes = self.rng.choice(codes, size=8, replace=False)
                picks = list(codes)
            else:
                vals = self.values[j]
                picks = list(np.quantile(vals, [0.0, 0.25, 0.5, 0.75, 1.0])) if vals.size else []
                for end in (b.lo[j], b.hi[j]):
                    if np.isfinite(end) and end != self.x[j]:
                        picks.append(end)
            for v in picks:
                z = self.x.copy()
                z[j] = v
                out.append(z)
        return out


def _tournament(fit: np.ndarray, pool: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """n winners of two-way tournaments among `pool` (lower fitness wins)."""
    pair = pool[rng.integers(len(pool), size=(n, 2))]
    return np.where(fit[pair[:, 0]] <= fit[pair[:, 1]], pair[:, 0], pair[:, 1])


def _unit_changes(p: Problem, Z: np.ndarray) -> np.ndarray:
    """(n, units) bool: which units each row changes."""
    ch = p.space.changed(p.x, Z)
    if not p.bounds.units:
        return ch[:, :0]
    return np.stack([ch[:, u].any(axis=1) for u in p.bounds.units], axis=1)


def pattern_key(p: Problem, i: int) -> tuple[int, ...]:
    """The units archive row i changes (positions in bounds.units)."""
    return tuple(int(u) for u in np.flatnonzero(_unit_changes(p, p.Z[i][None, :])[0]))


def repeats(p: Problem, ids: np.ndarray, tabu: set[tuple[int, ...]]) -> np.ndarray:
    """(len(ids),) bool: the row changes every unit of some tabu pattern (it would refine back to that
    recourse or to one that changes more)."""
    if not tabu or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    units = _unit_changes(p, p.Z[ids])
    out = np.zeros(len(ids), dtype=bool)
    for t in tabu:
        out |= units[:, list(t)].all(axis=1) if t else True
    return out


def _selection_fitness(p: Problem, tabu: set[tuple[int, ...]]) -> np.ndarray:
    """Fitness, with valid rows that repeat a recourse already chosen sent behind every other valid row."""
    if not tabu:
        return p.fitness
    rep = repeats(p, np.arange(len(p)), tabu) & p.valid
    return np.where(rep, p.fitness + TABU, p.fitness)


def _best(p: Problem, k: int, fit: np.ndarray) -> float:
    ids = np.flatnonzero(p.valid & (fit < TABU))
    ids = ids[p.space.changed(p.x, p.Z[ids]).any(axis=1)] if len(ids) else ids
    return float(np.sort(p.cost[ids])[:k].sum()) if len(ids) else np.inf


def evolve(p: Problem, rng: np.random.Generator, k: int, population: int, guides: np.ndarray,
           phase_budget: int, patience: int = 5, tabu: set[tuple[int, ...]] | None = None,
           start: bool = True) -> Generator[np.ndarray, np.ndarray, dict]:
    """Run the population search on `p` (filling its archive); returns a few counts for meta.

    tabu   change patterns (`pattern_key`) of recourses already chosen: valid rows that change all the
           units of one rank behind every other valid row, so a resumed search (start=False) looks for
           recourses that leave at least one of those units alone
    """
    ops = _Operators(p, rng)
    x = p.x
    tabu = tabu or set()
    if start:
        yield from p.evaluate(x[None, :])
    if not ops.units:
        return {"generations": 0, "stopped": "nothing_may_change"}
    bounds = p.bounds
    guides = bounds.project(guides) if len(guides) else guides
    if start:
        first = [guides] if len(guides) else []
        if len(guides):
            first.append(ops.crossover(np.repeat(x[None, :], len(guides), axis=0), guides, 0.5))
        probes = ops.probes()
        if probes:
            first.append(np.array(probes))
        n_fill = max(2 * population - sum(len(f) for f in first), 0)
        if n_fill:
            fill = np.repeat(x[None, :], n_fill, axis=0)
            everyone = np.ones(n_fill, dtype=bool)
            ops.mutate(fill, everyone)
            ops.mutate(fill, rng.random(n_fill) < 0.4)
            first.append(fill)
        yield from p.evaluate(bounds.project(np.vstack(first)))

    fit = _selection_fitness(p, tabu)
    best, stall, gen = _best(p, k, fit), 0, 0
    stopped = "budget"
    n = population
    while p.remaining > 0:
        if np.isfinite(best) and (p.evals >= phase_budget or stall >= patience):
            stopped = "converged" if stall >= patience else "phase_budget"
            break
        if not start and p.evals >= phase_budget:
            stopped = "nothing_new"  # a resumed search gives up at its share: the budget is not its alone
            break
        gen += 1
        order = np.argsort(fit, kind="stable")[:population]
        A = p.Z[_tournament(fit, order, rng, n)]
        B = p.Z[_tournament(fit, order, rng, n)]
        r = rng.random(n)
        to_guide = (r >= 0.35) & (r < 0.6) & (len(guides) > 0)
        if len(guides):
            B = np.where(to_guide[:, None], guides[rng.integers(len(guides), size=n)], B)
        cross = (r < 0.35) | to_guide
        Z = np.where(cross[:, None], ops.crossover(A, B, np.where(to_guide, 0.3, 0.5)), A)
        ops.mutate(Z, ~cross | (rng.random(n) < 0.5))
        ops.revert(Z, rng.random(n) < 0.3)
        Z = bounds.project(Z)
        ops.mutate(Z, ~p.space.changed(x, Z).any(axis=1))
        yield from p.evaluate(bounds.project(Z))
        fit = _selection_fitness(p, tabu)
        now = _best(p, k, fit)
        stall = stall + 1 if not now < best - 1e-9 else 0
        best = min(best, now)
    return {"generations": gen, "stopped": stopped}
