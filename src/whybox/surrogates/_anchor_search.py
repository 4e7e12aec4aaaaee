"""The anchors beam search for one input, with the sample statistics of every candidate it has seen.

Size by size: extend the beam by one predicate, give each new candidate a few samples, let KL-LUCB pick
the `beam_size` with the highest precision, then sample each pick until its KL bounds accept it
(precision >= tau and lower bound >= tau - epsilon_stop) or reject it. The first size with an accepted
candidate ends the search; the result is the accepted candidate with the highest coverage. Every model
call goes through `pull`, which draws the samples of several candidates at once and stops at the budget.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..results import Rule
from ._anchor_samplers import Predicate
from ._kl_lucb import kl_lower_bound, kl_lucb, kl_upper_bound

if TYPE_CHECKING:
    from .anchors import Anchors

__all__ = ["AnchorSearch"]

_N_EXAMPLES = 5


class _BudgetSpent(Exception):
    """Internal: the model-evaluation budget is used up."""


class AnchorSearch:
    """The beam search for one input, with the sample statistics of every candidate it has seen."""

    def __init__(self, ex: Anchors, sampler: Any, x: Any, preds: list[Predicate],
                 classify: Callable[[Any], np.ndarray], target: int, rng: np.random.Generator, budget: int) -> None:
        """ex: the explainer's settings; classify(samples) -> the model's class per sample (one model call)."""
        self.ex, self.sampler, self.x, self.preds = ex, sampler, x, preds
        self.classify, self.target, self.rng = classify, target, rng
        self.remaining = budget
        self.anchors: list[tuple[int, ...]] = []  # predicate ids in the order they were added
        self.index: dict[frozenset, int] = {}
        self.pos: list[int] = []
        self.n: list[int] = []
        self.agree: list[list] = []
        self.disagree: list[list] = []
        self.accepted: list[int] = []
        self.stopped = "max_size"
        self._cover_bits = sampler.satisfied(sampler.coverage_rows, preds) if preds else None
        self._coverage: dict[int, float] = {}
        n_preds = max(len(preds), 1)
        # confidence of the accept/reject test: a union bound over the candidates that can be tested
        self.beta = math.log((1 + (ex.beam_size - 1) * n_preds) / ex.delta)

    # ----------------------------------------------------------------- candidates and samples
    def add(self, anchor: tuple[int, ...]) -> int:
        key = frozenset(anchor)
        if key not in self.index:
            self.index[key] = len(self.anchors)
            self.anchors.append(anchor)
            self.pos.append(0)
            self.n.append(0)
            self.agree.append([])
            self.disagree.append([])
        return self.index[key]

    def pull(self, ids: Sequence[int], counts: Sequence[int]) -> np.ndarray:
        """Draw counts[i] samples from D(.|A_i) for each candidate, all in one model call."""
        if self.remaining <= 0:
            raise _BudgetSpent
        take = []
        left = self.remaining
        for c in counts:
            take.append(min(int(c), left))
            left -= take[-1]
        batches = [self.sampler.sample(self.x, [self.preds[p] for p in self.anchors[i]], k, self.rng)
                   for i, k in zip(ids, take) if k > 0]
        if not batches:
            raise _BudgetSpent
        if isinstance(batches[0], list):
            samples: Any = [t for b in batches for t in b]
        else:
            samples = np.concatenate(batches, axis=0)
        agree = self.classify(samples) == self.target
        self.remaining -= sum(take)
        got = np.zeros(len(ids))
        start = 0
        for i, (cid, k) in enumerate(zip(ids, take)):
            ok = agree[start:start + k]
            got[i] = ok.sum()
            self.pos[cid] += int(got[i])
            self.n[cid] += k
            for flag, store in ((True, self.agree[cid]), (False, self.disagree[cid])):
                room = _N_EXAMPLES - len(store)
                for j in np.flatnonzero(ok == flag)[:max(room, 0)]:
                    item = samples[start + j]
                    store.append(item.copy() if isinstance(item, np.ndarray) else item)  # not a view of the batch
            start += k
        if sum(take) < sum(int(c) for c in counts):
            raise _BudgetSpent
        return got

    def stats(self, cid: int) -> tuple[float, float, float]:
        """Estimated precision and its lower and upper KL bounds at confidence 1 - delta."""
        n = self.n[cid]
        if n == 0:
            return 0.0, 0.0, 1.0
        mean = self.pos[cid] / n
        return (mean, float(kl_lower_bound(mean, self.beta / n)), float(kl_upper_bound(mean, self.beta / n)))

    def coverage(self, cid: int) -> float:
        if cid not in self._coverage:
            anchor = list(self.anchors[cid])
            self._coverage[cid] = 1.0 if not anchor else float(self._cover_bits[:, anchor].all(axis=1).mean())
        return self._coverage[cid]

    # ----------------------------------------------------------------- search
    def run(self, max_size: int) -> None:
        ex = self.ex
        init = max(1, ex.batch_size // 10)
        beam: list[tuple[int, ...]] = [()]
        try:
            for size in range(max_size + 1):
                cands = self._extend(beam) if size else [self.add(())]
                if not cands:
                    self.stopped = "exhausted"
                    return
                fresh = [c for c in cands if self.n[c] == 0]
                if fresh:
                    self.pull(fresh, [init] * len(fresh))
                if len(cands) > ex.beam_size:
                    ids = np.asarray(cands)
                    res = kl_lucb(lambda arms, counts: self.pull(ids[arms].tolist(), counts),
                                  np.array([self.pos[c] for c in cands]), np.array([self.n[c] for c in cands]),
                                  ex.beam_size, delta=ex.delta, epsilon=ex.epsilon, batch_size=ex.batch_size)
                    chosen = [cands[i] for i in res.chosen]
                else:
                    chosen = cands
                if self._test(chosen):
                    self.stopped = "found"
                    return
                beam = [self.anchors[c] for c in chosen]
        except _BudgetSpent:
            self.stopped = "budget"

    def _extend(self, beam: list[tuple[int, ...]]) -> list[int]:
        """Every anchor one predicate longer than one in the beam (one lower and one upper bound per feature)."""
        out: list[int] = []
        seen: set[int] = set()
        for anchor in beam:
            used = {(self.preds[p].feature, self.preds[p].kind) for p in anchor}
            for p, pred in enumerate(self.preds):
                if p in anchor or (pred.feature, pred.kind) in used:
                    continue
                cid = self.add(anchor + (p,))
                if cid not in seen:
                    seen.add(cid)
                    out.append(cid)
        return out

    def _test(self, chosen: list[int]) -> bool:
        """Sample each chosen candidate until its bounds accept or reject it; True if any was accepted."""
        tau, eps = self.ex.threshold, self.ex.epsilon_stop
        pending, found = list(chosen), False
        while pending:
            undecided = []
            for c in pending:
                mean, lb, ub = self.stats(c)
                if mean >= tau and lb >= tau - eps:
                    self.accepted.append(c)
                    found = True
                elif mean >= tau or ub >= tau + eps:
                    undecided.append(c)
            if undecided:
                self.pull(undecided, [self.ex.batch_size] * len(undecided))
            pending = undecided
        return found

    def _accept_any(self) -> None:
        """When the search ended undecided (budget, size limit), accept any candidate that passes the test on
        the samples it has, with the union bound widened to every candidate sampled."""
        sampled = [c for c in range(len(self.anchors)) if self.n[c] > 0]
        self.beta = max(self.beta, math.log(max(len(sampled), 1) / self.ex.delta))
        tau, eps = self.ex.threshold, self.ex.epsilon_stop
        for c in sampled:
            mean, lb, _ = self.stats(c)
            if mean >= tau and lb >= tau - eps:
                self.accepted.append(c)

    # ----------------------------------------------------------------- result
    def result(self, label: Any, evals: int, mode: str, names: Sequence[str] | None) -> Rule:
        ex = self.ex
        if not self.accepted:
            self._accept_any()
        if self.accepted:
            best = min(self.accepted, key=lambda c: (len(self.anchors[c]), -self.coverage(c), -self.stats(c)[0]))
        elif self.anchors:
            sampled = [c for c in range(len(self.anchors)) if self.n[c] > 0] or [0]
            best = max(sampled, key=lambda c: (self.stats(c)[1], -len(self.anchors[c]), self.coverage(c)))
        else:
            best = None
        if best is None:  # not even the empty rule was sampled
            anchor, (mean, lb, ub), n, agree, disagree = (), (0.0, 0.0, 1.0), 0, [], []
        else:
            anchor, n = self.anchors[best], self.n[best]
            mean, lb, ub = self.stats(best)
            agree, disagree = self.agree[best], self.disagree[best]
        preds = [self.preds[p] for p in anchor]
        n_cands = len(self.anchors)
        meta = {"meets_threshold": best is not None and best in self.accepted, "stopped": self.stopped,
                "tau": ex.threshold, "delta": ex.delta, "epsilon": ex.epsilon, "epsilon_stop": ex.epsilon_stop,
                "precision_lb": lb, "precision_ub": ub, "samples": int(n), "model_evals": int(evals),
                "candidates": n_cands,
                "samples_per_candidate": float(np.mean(self.n)) if n_cands else 0.0,
                "beam_size": ex.beam_size, "batch_size": ex.batch_size, "seed": ex.seed, "mode": mode,
                "coverage_samples": int(len(self.sampler.coverage_rows)), "class_index": int(self.target),
                "model": ex.model.kind}
        if mode == "tabular":
            meta["discretize"] = ex.discretize
            meta["sampling"] = ("training rows; anchored features redrawn from training values inside the anchor")
        else:
            meta["keep_prob"] = ex.keep_prob
            meta["mask_token"] = ex.masker.mask_token
        return Rule(conditions=self.sampler.conditions(preds), precision=float(mean),
                    coverage=self.coverage(best) if best is not None else 1.0, prediction=label,
                    examples_agree=_examples(agree, mode, names), examples_disagree=_examples(disagree, mode, names),
                    feature_names=names, method=ex.method, meta=meta)


def _examples(rows: list, mode: str, names: Sequence[str] | None) -> np.ndarray:
    """Sampled inputs as the user gave them: an object array of texts, or rows in the model's column order."""
    if mode == "text":
        out = np.empty(len(rows), dtype=object)
        out[:] = rows
        return out
    return np.array(rows) if rows else np.zeros((0, len(names or ())))
