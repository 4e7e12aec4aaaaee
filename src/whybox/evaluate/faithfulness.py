"""Faithfulness of an attribution: does removing what it ranks first change the model the most?

Deletion / insertion curves (Petsiuk et al. 2018, RISE), AOPC (Samek et al. 2017) and infidelity
(Yeh et al. 2019). A "feature" is a table column, a word of a text, or a pixel / superpixel of an
image; "removing" it puts a baseline in its place (a value, background rows, a deleted word, a
baseline image). Every model call is batched: one call per chunk of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from ..results import Attribution
from ._removal import _Domain, _Image, _Table, _Text, _domain

__all__ = ["FaithfulnessCurve", "deletion", "insertion", "aopc", "infidelity"]

#: most model inputs built for one model call (rows are chunked so that a call stays below this)
MAX_BATCH = 20000
#: most bytes of perturbed inputs built for one model call (large images are split over several calls)
MAX_BYTES = 256 * 2 ** 20
#: above this many features the curves use this many steps by default
DEFAULT_STEPS = 100


@dataclass(frozen=True, eq=False)
class FaithfulnessCurve:
    """Deletion or insertion curves of a batch, with random orderings for comparison.

    kind           "deletion" or "insertion"
    fractions      (steps+1,) fraction of the features removed (deletion) or added (insertion)
    curves         (n, steps+1) model output (explained output) after each step, attribution order
    areas          (n,) area under each curve over fractions in [0, 1] (trapezoid; the curve's mean height)
    random_curves  (n, steps+1) mean curve over `n_random` random orderings
    random_areas   (n, n_random) area of each random ordering's curve
    meta           baseline, steps, seed, target per row, model evaluations
    """

    kind: str
    fractions: np.ndarray
    curves: np.ndarray
    areas: np.ndarray
    random_curves: np.ndarray
    random_areas: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def random_area(self) -> np.ndarray:
        """(n,) mean area over the random orderings."""
        return self.random_areas.mean(axis=1)

    @property
    def improvement(self) -> np.ndarray:
        """(n,) how much better than chance: random - attribution area for deletion (a faithful ranking
        drops faster), attribution - random area for insertion. Positive is better than chance."""
        diff = self.random_area - self.areas
        return diff if self.kind == "deletion" else -diff

    def to_dict(self) -> dict:
        """JSON-safe form (plain lists)."""
        return {"type": "FaithfulnessCurve", "kind": self.kind, "fractions": self.fractions.tolist(),
                "curves": self.curves.tolist(), "areas": self.areas.tolist(),
                "random_curves": self.random_curves.tolist(), "random_areas": self.random_areas.tolist(),
                "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "FaithfulnessCurve":
        if d.get("type", "FaithfulnessCurve") != "FaithfulnessCurve":
            raise InputError(f"expected a FaithfulnessCurve dict, got type {d.get('type')!r}")
        return cls(d["kind"], *(np.asarray(d[k], dtype=float) for k in
                                ("fractions", "curves", "areas", "random_curves", "random_areas")), d.get("meta", {}))

    def __repr__(self) -> str:
        return (f"FaithfulnessCurve({self.kind}, rows={self.curves.shape[0]}, steps={self.curves.shape[1] - 1}, "
                f"mean area={self.areas.mean():.4g}, random={self.random_area.mean():.4g})")


# --------------------------------------------------------------------------- targets and values

def _output_names(dom: _Domain, attr: Any) -> tuple[str, ...] | None:
    """Names of the model's outputs: the attribution's own, else the wrapped model's."""
    if isinstance(attr, Attribution) and isinstance(attr.output_names, tuple):
        return attr.output_names
    return getattr(getattr(dom, "model", None), "output_names", None)


def _targets(target: Any, attr: Any, out: np.ndarray, names: Sequence[str] | None) -> np.ndarray:
    """One output index per row: from `target`, else the attribution's own, else the only output."""
    n, k = out.shape
    if target is None and isinstance(attr, Attribution):
        t = attr.meta.get("target")
        if t is not None and not attr.has_outputs:
            target = t
        elif attr.has_outputs:
            target = "predicted"
    if target is None:
        if k > 1:
            raise InputError(f"the model has {k} outputs and the attribution does not say which one it explains; "
                             "pass target= (an output index, an output name, 'predicted' or one per row)")
        return np.zeros(n, dtype=int)
    if isinstance(target, str) and target == "predicted":
        return out.argmax(axis=1)

    def one(t: Any) -> int:
        if isinstance(t, str):
            if not names or t not in names:
                raise InputError(f"unknown output {t!r}; known outputs: {list(names or [])}")
            return list(names).index(t)
        if not isinstance(t, (int, np.integer)) or not 0 <= int(t) < k:
            raise InputError(f"target {t!r} is not an output index in 0..{k - 1}")
        return int(t)
    if isinstance(target, (str, int, np.integer)):
        return np.full(n, one(target))
    t = [one(v) for v in np.asarray(target, dtype=object).ravel()]
    if len(t) != n:
        raise InputError(f"{len(t)} targets given for {n} rows; give one target or one per row")
    return np.asarray(t)


def _row_values(attr: Any, dom: _Domain, targets: np.ndarray) -> list[np.ndarray]:
    """The attribution of each row for its target, as the ranking scores of the domain's features."""
    if isinstance(attr, Attribution):
        if not attr.has_rows:
            raise InputError("the attribution is a single row (attr[i]); pass the whole batch attribution")
        values, has_outputs = attr.values, attr.has_outputs
    else:
        values = np.asarray(attr, dtype=float)
        has_outputs = None
    n = len(dom.sizes)
    if values.shape[0] != n:
        raise InputError(f"the attribution has {values.shape[0]} rows but X has {n}; explain the same rows")
    if has_outputs is None:   # plain array: an outputs axis is there when it has one axis more than expected
        expect = dom.X.ndim if hasattr(dom, "X") else 2
        has_outputs = values.ndim == expect + 1
    if has_outputs:
        values = values[np.arange(n), ..., targets]
    tokens = attr.data if isinstance(attr, Attribution) and isinstance(dom, _Text) else None
    rows = []
    for i in range(n):
        if tokens is not None and tokens.dtype.kind in "OUS":
            own = [str(t) for t, real in zip(tokens[i], attr.mask[i] if attr.mask is not None else
                                              np.ones(len(tokens[i]), bool)) if real]
            if own != dom.words[i]:
                raise InputError(f"row {i}: the attribution's tokens {own[:6]}... are not the words the text masker "
                                 f"removes {dom.words[i][:6]}...; explain with whole words (TextMasker) or pass a "
                                 "baseline TextMasker whose pattern gives the same tokens")
        v = np.asarray(values[i], dtype=float)
        if not isinstance(dom, _Image) and v.ndim == 1 and v.shape[0] < dom.sizes[i]:
            raise InputError(f"row {i} has {dom.sizes[i]} features but the attribution {v.shape[0]} values")
        if not np.isfinite(v).all():
            raise InputError(f"the attribution of row {i} has NaN or infinite values")
        rows.append(dom.scores(i, v))
    return rows


# --------------------------------------------------------------------------- the engine

def _evaluate_orders(dom: _Domain, orders: list[np.ndarray], ks: list[np.ndarray], insert: bool,
                     targets: np.ndarray, max_batch: int) -> list[np.ndarray]:
    """Model output after removing (or adding) the first ks[i][s] features of each order of row i.

    orders[i]: (n_orders, d_i) feature indices; returns per row (n_orders, len(ks[i])). Perturbed inputs of
    consecutive rows are gathered into one model call of at most `max_batch` inputs (and MAX_BYTES of data);
    a row too large for one call is split over several.
    """
    g = dom.group
    budget = max(1, min(max_batch, MAX_BYTES // max(1, dom.input_bytes))) // g or 1   # masks per call
    n = len(orders)
    outs: list[list[np.ndarray]] = [[] for _ in range(n)]
    parts: list = []
    owners: list[tuple[int, int]] = []                 # (row, number of masks) of each part
    used = 0

    def flush() -> None:
        nonlocal parts, owners, used
        if not parts:
            return
        out = dom.run(parts)
        pos = 0
        for r, c in owners:
            outs[r].append(out[pos:pos + c * g, targets[r]].reshape(c, g).mean(axis=1))
            pos += c * g
        parts, owners, used = [], [], 0

    for i in range(n):
        o, k = orders[i], ks[i]
        d = dom.sizes[i]
        rank = np.empty_like(o)                                      # rank[r, feature] = position in order r
        np.put_along_axis(rank, o, np.arange(d)[None, :], axis=1)
        first = (rank[:, None, :] < k[None, :, None]).reshape(-1, d)  # (orders * steps, d): among the first k
        keep = first if insert else ~first
        pos = 0
        while pos < keep.shape[0]:
            take = min(budget - used, keep.shape[0] - pos)
            parts.append(dom.build(i, keep[pos:pos + take]))
            owners.append((i, take))
            used += take
            pos += take
            if used >= budget:
                flush()
    flush()
    return [np.concatenate(o).reshape(orders[i].shape[0], len(ks[i])) for i, o in enumerate(outs)]


def _orders(scores: list[np.ndarray], n_random: int, seed: int, order: str) -> list[np.ndarray]:
    """Per row: the attribution order (decreasing) first, then n_random random permutations."""
    if order not in ("attribution", "absolute"):
        raise InputError(f"order must be 'attribution' (largest value first) or 'absolute' (largest |value| "
                         f"first), got {order!r}")
    rng = np.random.default_rng(seed)
    out = []
    for s in scores:
        key = np.abs(s) if order == "absolute" else s
        main = np.argsort(-key, kind="stable")
        rand = [rng.permutation(len(s)) for _ in range(n_random)]
        out.append(np.stack([main] + rand))
    return out


def _curve(kind: str, model: Any, X: Any, attribution: Any, baseline: Any, steps: int | None, order: str,
           seed: int, n_random: int, target: Any, groups: Any, channel_axis: int | None,
           max_batch: int) -> FaithfulnessCurve:
    if n_random < 1:
        raise InputError(f"n_random must be at least 1 (the comparison with chance), got {n_random}")
    dom = _domain(model, X, baseline, groups, channel_axis)
    orig = dom.originals()
    targets = _targets(target, attribution, orig, _output_names(dom, attribution))
    scores = _row_values(attribution, dom, targets)
    d_max = max(dom.sizes)
    if steps is None:
        steps = d_max if d_max <= DEFAULT_STEPS else DEFAULT_STEPS
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    ks = [np.rint(fractions * d).astype(int) for d in dom.sizes]
    orders = _orders(scores, n_random, seed, order)
    res = _evaluate_orders(dom, orders, ks, kind == "insertion", targets, max_batch)
    curves = np.stack([r[0] for r in res])
    rand = np.stack([r[1:] for r in res])                     # (n, n_random, steps+1)
    area = np.trapezoid if hasattr(np, "trapezoid") else np.trapz
    meta = {"baseline": dom.description, "steps": int(steps), "n_random": n_random, "seed": seed,
            "order": order, "target": targets.tolist(), "features": list(dom.sizes),
            "model_evals": int(sum(o.shape[0] * len(k) for o, k in zip(orders, ks)) * dom.group + len(dom.sizes))}
    return FaithfulnessCurve(kind, fractions, curves, area(curves, fractions, axis=1), rand.mean(axis=1),
                             area(rand, fractions, axis=2), meta)


def deletion(model: Any, X: Any, attribution_or_values: Any, *, baseline: Any = None, steps: int | None = None,
             order: str = "attribution", seed: int = 0, n_random: int = 10, target: Any = None,
             groups: Any = None, channel_axis: int | None = None, max_batch: int = MAX_BATCH) -> FaithfulnessCurve:
    """Deletion curve: f(x with its top-k features (by attribution) replaced by the baseline), k = 0..d.

    Arguments:
      model          tabular model (anything `whybox.models.wrap` takes), text model (list of str -> scores),
                     or image model (numpy batch -> scores, or a torch module)
      X              rows (array / DataFrame), texts (list of str), or images (n, C, H, W) / (n, H, W, C) / (n, H, W)
      attribution_or_values  an `Attribution` of X or its values array
      baseline       tables: "mean" (default; mode for categories), "zeros", one row, or background rows (output
                     averaged over them); texts: None/"delete", a mask token or a TextMasker; images: "mean"
                     (each image's mean colour, default), "zeros", a number, an image or one image per row
      steps          points on the curve after 0 (default: every feature up to 100, else 100 even steps)
      order          "attribution" (largest value first) or "absolute" (largest |value| first)
      seed, n_random random orderings drawn for the chance comparison
      target         output explained: index, name, "predicted" or one per row (default: the attribution's
                     meta["target"], else each row's predicted output when it has an outputs axis, else the
                     model's only output)
      groups         images: (H, W) or (n, H, W) integer superpixel labels ranked by summed attribution
      max_batch      most model inputs per model call
    A lower area than the random orderings' means a faithful ranking (see `.improvement`).
    """
    return _curve("deletion", model, X, attribution_or_values, baseline, steps, order, seed, n_random, target,
                  groups, channel_axis, max_batch)


def insertion(model: Any, X: Any, attribution_or_values: Any, *, baseline: Any = None, steps: int | None = None,
              order: str = "attribution", seed: int = 0, n_random: int = 10, target: Any = None,
              groups: Any = None, channel_axis: int | None = None, max_batch: int = MAX_BATCH) -> FaithfulnessCurve:
    """Insertion curve: f(baseline with the top-k features (by attribution) of x put back), k = 0..d.

    Arguments as `deletion`. A higher area than the random orderings' means a faithful ranking.
    """
    return _curve("insertion", model, X, attribution_or_values, baseline, steps, order, seed, n_random, target,
                  groups, channel_axis, max_batch)


def aopc(model: Any, X: Any, attribution_or_values: Any, baseline: Any = None, k: int | None = None, *,
         return_random: bool = False, n_random: int = 10, seed: int = 0, order: str = "attribution",
         target: Any = None, groups: Any = None, channel_axis: int | None = None,
         max_batch: int = MAX_BATCH) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Area over the perturbation curve per row: AOPC = 1/K sum_{k=1..K} [f(x) - f(x without its top-k features)].

    (Samek et al. 2017, most-relevant-first; Samek average over k=0..K, which only scales it by K/(K+1).)

    Arguments:
      model, X, attribution_or_values, baseline, target, groups, order  as in `deletion`
      k              K, features removed one at a time (default: all features, at most 100); a row with fewer
                     features uses all of its own
      return_random  also return the mean AOPC of `n_random` random orderings (seeded by `seed`)
    Returns (n,) AOPC per row — larger is more faithful — or (aopc, random_aopc) with return_random=True.
    """
    if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
        raise InputError(f"k must be a positive number of features, got {k!r}")
    dom = _domain(model, X, baseline, groups, channel_axis)
    orig = dom.originals()
    targets = _targets(target, attribution_or_values, orig, _output_names(dom, attribution_or_values))
    scores = _row_values(attribution_or_values, dom, targets)
    K = [min(d, k if k is not None else DEFAULT_STEPS) for d in dom.sizes]
    ks = [np.arange(Ki + 1) for Ki in K]
    orders = _orders(scores, n_random if return_random else 0, seed, order)
    res = _evaluate_orders(dom, orders, ks, False, targets, max_batch)
    drops = [(r[:, :1] - r[:, 1:]).mean(axis=1) if r.shape[1] > 1 else np.zeros(r.shape[0]) for r in res]
    main = np.array([dr[0] for dr in drops])
    if not return_random:
        return main
    return main, np.array([dr[1:].mean() for dr in drops])


# --------------------------------------------------------------------------- infidelity

def infidelity(model: Any, X: Any, attribution: Any, *, n_perturb: int = 50, noise_scale: float = 0.1,
               seed: int = 0, target: Any = None, perturbations: Any = None, multiply_by_inputs: bool = False,
               normalize: bool = False) -> np.ndarray:
    """Infidelity per row (Yeh et al. 2019): E_I[(I·a - (f(x) - f(x - I)))²], I ~ N(0, noise_scale²) per feature.

    Arguments:
      model, X       a tabular (numeric) or image model and its inputs, as in `deletion`
      attribution    an `Attribution` of X or its values, one value per input element
      n_perturb      perturbations I per row;  noise_scale  their standard deviation;  seed  their draw
      target         the output explained (default: the attribution's)
      perturbations  (n, n_perturb, *feature_shape) perturbations I to use instead of drawing them
      multiply_by_inputs  for attributions already multiplied by the input (IG, input x gradient): the dot
                     product uses I / x (captum's convention, 0 / 0 counted as I), so that a - (f(x) - f(x - I))
                     vanishes for exact attributions of a linear model
      normalize      rescale I·a by the best scalar beta first (captum's `normalize`)
    Returns (n,) infidelity; 0 is perfect.
    """
    dom = _domain(model, X, None)
    if isinstance(dom, _Text) or (isinstance(dom, _Table) and dom.model.schema.categories):
        raise InputError("infidelity needs numeric inputs to perturb with Gaussian noise; texts and categorical "
                         "columns have none — use deletion/insertion for them")
    x = np.asarray(dom.X, dtype=np.float64) if isinstance(dom, _Table) else dom.X.astype(np.float64)
    orig = dom.originals()
    targets = _targets(target, attribution, orig, _output_names(dom, attribution))
    vals = attribution.values if isinstance(attribution, Attribution) else np.asarray(attribution, dtype=float)
    if vals.ndim == x.ndim + 1:
        vals = vals[np.arange(x.shape[0]), ..., targets]
    if vals.shape != x.shape:
        raise InputError(f"infidelity needs one attribution value per input element: values {vals.shape}, "
                         f"inputs {x.shape}")
    n = x.shape[0]
    if perturbations is None:
        if n_perturb < 1:
            raise InputError(f"n_perturb must be at least 1, got {n_perturb}")
        rng = np.random.default_rng(seed)
        pert = rng.normal(0.0, noise_scale, size=(n, n_perturb) + x.shape[1:])
    else:
        pert = np.asarray(perturbations, dtype=np.float64)
        if pert.ndim != x.ndim + 1 or pert.shape[0] != n or pert.shape[2:] != x.shape[1:]:
            raise InputError(f"perturbations must be (n, n_perturb, *feature_shape) = ({n}, ?, "
                             f"{', '.join(map(str, x.shape[1:]))}); got {pert.shape}")
    m = pert.shape[1]
    perturbed = (x[:, None] - pert).reshape((n * m,) + x.shape[1:])
    if isinstance(dom, _Table):
        out = dom.model.evaluate(perturbed)
    else:
        out = dom.run([perturbed.astype(dom.X.dtype, copy=False)])
    f_pert = out[np.arange(n * m), np.repeat(targets, m)].reshape(n, m)
    diff = orig[np.arange(n), targets][:, None] - f_pert
    used = pert
    if multiply_by_inputs:
        safe = np.where(x == 0, 1.0, x)
        used = pert / safe[:, None]
    dot = (used * vals[:, None]).reshape(n, m, -1).sum(axis=2)
    if normalize:
        denom = (dot ** 2).sum(axis=1)
        beta = np.where(denom == 0, 0.0, (dot * diff).sum(axis=1) / np.where(denom == 0, 1.0, denom))
        dot = beta[:, None] * dot
    return ((dot - diff) ** 2).mean(axis=1)
