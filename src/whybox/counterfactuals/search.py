"""`CounterfactualSearch`: model-agnostic counterfactual recourse — what would have to change for the model
to decide otherwise, within the constraints a person can act on.

For a query x and a target (a class, or a range of the output), find up to k rows z that

    minimise  d(x, z) + plausibility_weight * knn(z)   subject to  f(z) reaches the target, z feasible

(d: MAD-scaled L1 plus one per changed category, `space.py`; knn: mean d to the nearest training rows
the model puts in the target, `metrics.py`; feasible: every constraint of `constraints.py`), and that
differ from each other. The search (Wachter et al. 2017's objective, DiCE's diversity and proximity
terms, FACE's pull towards the data) runs per query:

  1. a population search seeded from the query, from probes and from target-class training rows
     (`_population.py`), on a share of the budget;
  2. local refinement of the best distinct valid rows (`_refine.py`): greedy reverts of changes, then
     line searches that land each remaining numeric change just past the decision boundary;
  3. a greedy diverse choice of k among the refined rows (`_selection.py`); while fewer than k distinct
     recourses exist, the population search resumes away from the ones chosen (at most twice);
  4. the chosen rows' numeric changes rounded to the decimals the training data records (away from
     the query; kept only where still valid), so they read in the data's own units.

Up to k come back: fewer when the budget ends before k distinct recourses are found (meta["fewer_than_k"]).
The searches of all queries in a batch run side by side and share one model call per step, so a batch
costs about as many model calls as its slowest query.

plausibility_weight: knn(z) can fall by at most the distance z moves (triangle inequality), so a weight
of 1 or less rarely moves a counterfactual off the nearest boundary point; weights of about 2 to 5 pull
it visibly towards real rows of the target, at the price of larger changes.

Every returned row is re-predicted with the model and re-checked against every constraint at the end;
a row failing either is dropped (recorded in meta["dropped"]), never returned as valid. When no valid
row is found within the budget, the query's status is "not_found" and its one row is the closest
attempt (smallest gap to the target), flagged valid=False.

Cost is counted in model evaluations: `max_evals` per query, plus one evaluation of the training rows
(at most `max_train_rows`, a seeded sample beyond that) when the explainer is built, and one check per
returned row; meta records all three.
"""

from __future__ import annotations

from typing import Any, Generator, Mapping, Sequence

import numpy as np

from .._progress import progress
from ..errors import BudgetError, InputError
from ..models.base import Model, wrap
from ..results import Counterfactuals
from ._population import evolve, pattern_key, repeats
from ._problem import Problem
from ._refine import refine, snap
from ._selection import pick_diverse, refinement_starts
from .constraints import Constraints
from .metrics import Plausibility, diversity
from .space import FeatureSpace
from .targets import Decision

__all__ = ["CounterfactualSearch"]

#: share of max_evals the population search may spend once valid rows exist; the rest refines
SEARCH_SHARE = 0.6
MIN_EVALS = 10
#: most times the population search resumes to find more distinct recourses
RESUMES = 2


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _check_weight(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _integer_columns(data: Any, names: Sequence[str]) -> list[str]:
    """Columns whose dtype is integer (or boolean) in the user's data."""
    import pandas as pd
    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns if str(c) in names and (
            pd.api.types.is_integer_dtype(data[c].dtype) or pd.api.types.is_bool_dtype(data[c].dtype))]
    arr = np.asarray(data)
    if arr.dtype.kind in "iub":
        return list(names)
    return []


class CounterfactualSearch:
    """Counterfactual recourse for any classifier or regressor: up to k feasible, diverse rows z near x with
    f(z) in the target, minimising d(x, z) + plausibility_weight * knn(z).

    Arguments:
      model        anything `whybox.models.wrap` accepts
      data         training rows (DataFrame or array): MAD scales, default ranges, integer dtypes, and the
                   rows of the target class that seed the search and measure plausibility
      immutable    features that must not change (e.g. age, a protected attribute)
      ranges       name -> (low, high) a changed numeric feature must stay in (None: the training min / max)
      direction    name -> "increase" or "decrease"
      integer      numeric features whose changed values are whole numbers (integer dtypes are detected)
      categories   name -> the values a categorical feature may change to
      together     groups of features that change together or not at all
      output       the model output to read decisions from ("auto": probabilities for classifiers)
      plausibility_weight  lambda in the objective: > 0 prefers rows near real rows of the target (weights
                   above 1 are needed to move far: see the module notes)
      diversity_weight     bonus per unit of distance from the counterfactuals already chosen (`_selection`)
      n_neighbors  nearest target rows averaged in the kNN plausibility distance
      population   rows bred per generation of the population search
      max_train_rows  training rows the model is evaluated on once (a seeded sample beyond that)
      seed         the only source of randomness: same seed, same answer
      batch_size   most rows per model call
    """

    method = "counterfactual_search"

    def __init__(self, model: Any, data: Any, *, immutable: Any = (), ranges: Mapping | None = None,
                 direction: Mapping | None = None, integer: Any = (), categories: Mapping | None = None,
                 together: Any = (), output: str = "auto", plausibility_weight: float = 0.0,
                 diversity_weight: float = 0.5, n_neighbors: int = 5, population: int = 40,
                 max_train_rows: int = 10_000, seed: int = 0, batch_size: int | None = None) -> None:
        if data is None:
            raise InputError("counterfactual search needs training data (scales, ranges and the rows of the "
                             "target class): CounterfactualSearch(model, data=X_train)")
        self.plausibility_weight = _check_weight("plausibility_weight", plausibility_weight)
        self.diversity_weight = _check_weight("diversity_weight", diversity_weight)
        self.n_neighbors = _check_count("n_neighbors", n_neighbors)
        self.population = _check_count("population", population, 4)
        self.max_train_rows = _check_count("max_train_rows", max_train_rows, 2)
        self.seed = int(seed)
        self.model: Model = wrap(model, output=output, batch_size=batch_size)
        train = self.model.prepare(data, what="data")
        if train.shape[0] < 2:
            raise InputError(f"data has {train.shape[0]} rows; the search measures scales and plausibility on the "
                             "training data — pass at least a few hundred rows")
        schema = self.model.schema
        ordered = [n for n, dt in schema.dtypes.items() if getattr(dt, "ordered", False)]
        self.space = FeatureSpace(schema.names, schema.categories, train)
        self.constraints = Constraints(self.space, immutable=immutable, ranges=ranges, direction=direction,
                                       integer=integer, categories=categories, together=together,
                                       auto_integer=_integer_columns(data, schema.names), ordered=ordered)
        n = train.shape[0]
        idx = np.arange(n)
        if n > self.max_train_rows:
            idx = np.sort(np.random.default_rng(self.seed).choice(n, self.max_train_rows, replace=False))
        before = self.model.n_evals
        train_out = self.model.evaluate(train[idx])
        self.setup_evals = self.model.n_evals - before
        self.decision = Decision(self.model, train_out)
        self._train_out = train_out
        self.plausibility = Plausibility(self.space, self.space.train[idx], train_out, self.n_neighbors)

    # ----------------------------------------------------------------- public
    def explain(self, X: Any, k: int = 3, target: Any = None, max_evals: int = 2000,
                show_progress: bool | None = None) -> Counterfactuals:
        """Up to k counterfactuals for each row of X.

        Arguments:
          X          rows to explain (DataFrame, array, one row as a Series or 1-D array)
          k          counterfactuals wanted per row
          target     classifiers: a class label or index, or a list of them (default: any class but the
                     row's own); regressors (or any one-output model): (low, high), None for an open side
          max_evals  most model evaluations per row for the search (the final re-check adds k per row)
          show_progress  progress bar over the rows (default: when interactive)
        """
        k = _check_count("k", k)
        max_evals = _check_count("max_evals", max_evals)
        if max_evals < MIN_EVALS + k:
            raise BudgetError(f"max_evals={max_evals} is too small to search for k={k}; give at least "
                              f"{MIN_EVALS + k} model evaluations per row (hundreds to thousands are typical)")
        arr = self.model.prepare(X, what="X")
        codes = self.space.encode(arr)
        n = codes.shape[0]
        before = self.model.n_evals
        q_out = self.model.evaluate(arr)
        targets = [self.decision.resolve(target, q_out[i]) for i in range(n)]
        bounds = [self.constraints.for_query(codes[i], label=f"row {i} of X") for i in range(n)]

        searches = [self._explain_one(codes[i], q_out[i], targets[i], bounds[i], k, max_evals) for i in range(n)]
        per_query = self._drive(searches, show_progress)
        return self._assemble(arr, codes, q_out, targets, bounds, per_query, k, max_evals,
                              self.model.n_evals - before)

    def _drive(self, searches: list[Generator], show_progress: bool | None) -> list[dict]:
        """Run the queries' searches side by side: each step, the rows every search asks for go to the
        model in one call (batched by the model's batch_size), and each search gets its own outputs back."""
        results: dict[int, dict] = {}
        requests: dict[int, np.ndarray] = {}
        bar = progress(range(len(searches)), total=len(searches), desc="counterfactuals", show=show_progress)
        bar_iter = iter(bar)

        def step(i: int, value: Any) -> None:
            try:
                requests[i] = searches[i].send(value)
            except StopIteration as stop:
                results[i] = stop.value
                requests.pop(i, None)
                next(bar_iter, None)

        for i in range(len(searches)):
            step(i, None)
        while requests:
            order = list(requests)
            blocks = [requests[i] for i in order]
            out = self.model.evaluate(self.space.decode(np.vstack(blocks)))
            start = 0
            for i, block in zip(order, blocks):
                step(i, out[start:start + len(block)])
                start += len(block)
        return [results[i] for i in range(len(searches))]

    # ----------------------------------------------------------------- one query
    def _explain_one(self, x, out_x, target, bounds, k, max_evals) -> Generator[np.ndarray, np.ndarray, dict]:
        """The search for one query, as a generator of model requests (see `_drive`)."""
        dec = self.decision
        if dec.reached(out_x[None, :], target)[0]:
            return {"status": "already", "ids": [], "problem": None, "evals": 0, "stopped": "already"}
        reached_train = dec.reached(self._train_out, target)
        rows = self.plausibility.rows_for(target.key, reached_train)
        rng = np.random.default_rng(self.seed)  # every query sees the same stream: queries stay independent
        # k evaluations are held back to round the chosen rows to the data's decimals at the end
        p = Problem(self.model, self.space, dec, target, bounds, rows, self.plausibility_weight, max_evals - k)
        guides = rows.nearest(x, max(2 * k, 20))
        info = yield from evolve(p, rng, k, self.population, guides, int(SEARCH_SHARE * max_evals))
        starts = refinement_starts(p, 2 * k + 4)
        if not len(starts):
            return {"status": "not_found", "ids": [p.closest_id()], "problem": p, "evals": p.evals,
                    "calls": p.calls, **info}
        refined = [int(i) for i in (yield from refine(p, starts))]
        chosen = pick_diverse(p, np.array(refined), k, self.diversity_weight)
        resumed = 0
        while len(chosen) < k and p.remaining > 0 and resumed < RESUMES:
            # too few distinct recourses: search on, away from the sets of changes already chosen
            resumed += 1
            tabu = {pattern_key(p, i) for i in chosen}
            more = yield from evolve(p, rng, k - len(chosen), self.population, guides,
                                     p.evals + int(SEARCH_SHARE * p.remaining), tabu=tabu, start=False)
            info["generations"] += more["generations"]
            ids = p.valid_ids()
            fresh = [int(i) for i in ids[~repeats(p, ids, tabu)] if int(i) not in refined]
            if not fresh:
                continue
            picked = refinement_starts(p, 2 * k + 4, among=np.array(fresh))
            refined += [int(i) for i in (yield from refine(p, picked))]
            chosen = pick_diverse(p, np.array(refined), k, self.diversity_weight)
        info["resumed"] = resumed
        p.budget = max_evals
        chosen = yield from snap(p, chosen)
        return {"status": "found", "ids": chosen, "problem": p, "evals": p.evals, "calls": p.calls, **info}

    # ----------------------------------------------------------------- result
    def _assemble(self, arr, codes, q_out, targets, bounds, per_query, k, max_evals, evals) -> Counterfactuals:
        sp, dec = self.space, self.decision
        n, m = codes.shape
        rows, qidx, dropped = [], [], []
        for i, res in enumerate(per_query):
            p = res["problem"]
            for a in res["ids"]:
                z = p.Z[a]
                broken = bounds[i].violations(z)
                if broken:
                    dropped.append({"query": i, "violations": broken})
                    continue
                rows.append(z)
                qidx.append(i)
        Z = np.array(rows).reshape(-1, m)
        qidx = np.array(qidx, dtype=np.int64)
        before = self.model.n_evals
        out = self.model.evaluate(sp.decode(Z)) if len(Z) else np.zeros((0, q_out.shape[1]))
        check_evals = self.model.n_evals - before
        valid = np.array([dec.reached(out[r:r + 1], targets[qidx[r]])[0] for r in range(len(Z))], dtype=bool)
        status = [res["status"] for res in per_query]
        # a found query keeps only rows that are valid on re-prediction; a closest attempt must be invalid
        keep = np.array([valid[r] == (status[q] == "found") for r, q in enumerate(qidx)], dtype=bool)
        for r in np.flatnonzero(~keep):
            why = "not valid on re-prediction" if status[qidx[r]] == "found" else \
                "closest attempt valid on re-prediction"
            dropped.append({"query": int(qidx[r]), "violations": [why]})
        Z, qidx, out, valid = Z[keep], qidx[keep], out[keep], valid[keep]
        for i in range(n):
            if status[i] == "found" and not (qidx == i).any():
                status[i] = "not_found"
        found = np.array([s == "found" for s in status], dtype=bool)

        changed = sp.changed(codes[qidx], Z) if len(Z) else np.zeros((0, m), dtype=bool)
        prox = np.array([sp.distance(codes[q], Z[r:r + 1])[0] for r, q in enumerate(qidx)])
        knn = np.full(len(Z), np.nan)
        lof = np.full(len(Z), np.nan)
        for i in range(n):
            sel = np.flatnonzero(qidx == i)
            if not len(sel):
                continue
            tr = self.plausibility.rows_for(targets[i].key, dec.reached(self._train_out, targets[i]))
            knn[sel] = tr.knn(Z[sel])
            lof[sel] = tr.outlier_score(Z[sel])
        div = np.array([diversity(sp, Z[qidx == i]) if found[i] else np.nan for i in range(n)])

        def labels(o: np.ndarray) -> list:
            return [dec.label(int(c)) for c in dec.decide(o)] if dec.is_classifier else [None] * len(o)

        meta = {
            "seed": self.seed, "k": k, "max_evals": max_evals,
            "model_evals": evals + check_evals, "setup_evals": self.setup_evals, "check_evals": check_evals,
            "evals_per_query": [res["evals"] for res in per_query],
            "calls_per_query": [res.get("calls", 0) for res in per_query],
            "generations": [res.get("generations", 0) for res in per_query],
            "resumed": [res.get("resumed", 0) for res in per_query],
            "stopped": [res.get("stopped") for res in per_query],
            "fewer_than_k": [i for i in range(n) if found[i] and int((qidx == i).sum()) < k],
            "dropped": dropped,
            "constraints": self.constraints.describe(),
            "distance": {"definition": "sum over numeric features of |z_j - x_j| / s_j (s_j: MAD on the training "
                                       "data) + 1 per changed categorical feature",
                         "scales": {sp.names[j]: float(sp.scales[j]) for j in sp.num_idx}},
            "plausibility": {"n_neighbors": self.n_neighbors, "outlier_score": "LocalOutlierFactor(novelty=True)"},
            "plausibility_weight": self.plausibility_weight, "diversity_weight": self.diversity_weight,
            "population": self.population, "decision": dec.mode, "output": self.model.output,
            "decimals": {sp.names[j]: sp.decimals[j] for j in sp.num_idx},
        }
        return Counterfactuals(
            queries=arr, rows=sp.decode(Z) if len(Z) else np.empty((0, m), dtype=arr.dtype),
            query_index=qidx, valid=valid, changed=changed, outputs=out, query_outputs=q_out,
            proximity=prox, sparsity=changed.sum(axis=1), plausibility=knn, outlier_score=lof,
            found=found, status=tuple(status), diversity=div,
            targets=tuple(dec.describe(t) for t in targets), decisions=tuple(labels(out)),
            query_decisions=tuple(labels(q_out)), feature_names=sp.names, output_names=self.model.output_names,
            categories={sp.names[j]: sp.categories[j] for j in sp.cat_idx},
            integers=tuple(sp.names[j] for j in np.flatnonzero(self.constraints.integer)),
            target_kind=targets[0].kind if targets else "class", method=self.method, meta=meta)

    def __repr__(self) -> str:
        return (f"CounterfactualSearch(features={len(self.space.names)}, decision={self.decision.mode!r}, "
                f"plausibility_weight={self.plausibility_weight}, seed={self.seed})")
