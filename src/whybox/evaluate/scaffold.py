"""Scaffold check: does the model behave differently on an explainer's perturbations than on real data?

Slack et al. (2020, "Fooling LIME and SHAP") hide a biased model behind a scaffold: an
out-of-distribution detector routes real rows to the biased model and the perturbed samples that
LIME and Kernel SHAP evaluate to an innocuous one, so the explanations show the innocuous feature.
Two things make the attack possible, and the check measures both:

  1. distinguishability  AUC of a classifier (gradient-boosted trees) trained to tell real rows from the
                         explainer's perturbation samples, on held-out rows (0.5: indistinguishable;
                         values below 0.5 appear when the perturbations reuse the real rows' exact
                         values, as LIME's quartile sampler does: read them as indistinguishable)
  2. treatment shift     a surrogate (random forest regressor) is fitted to the model's output on real
                         rows and another on the perturbations; shift = 1/2 sum_j |a_j - b_j| between
                         their normalised feature importances a, b (0: the same features drive the
                         model in both places, 1: entirely different ones)

The model is flagged when both pass their thresholds. The check only ever evaluates the model on
real rows and on the explainer's own perturbations — exactly the points users and the explainer see.
A flag is a warning to investigate (e.g. with distribution-aware explanations), not a proof; and
an honest model that is not additive can shift its importances somewhat when the distribution
changes (on credit()'s true log-odds, Kernel SHAP's mixtures give a shift of about 0.2), which is
why the default shift threshold is 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..models.base import Model, wrap
from ..results import to_jsonable

__all__ = ["ScaffoldCheck", "scaffold_check", "perturbation_samples", "make_scaffolded_model"]


@dataclass(frozen=True)
class ScaffoldCheck:
    """The result of `scaffold_check`.

    flagged               True when the perturbations are distinguishable and the model is driven by
                          different features on them
    verdict               the finding in one plain sentence
    ood_auc               held-out AUC of the real-vs-perturbation classifier (0.5: indistinguishable)
    dependence_shift      1/2 L1 distance between the normalised importance profiles, in [0, 1]
    importance_real       (features,) surrogate importances of the model on real rows (sum 1)
    importance_perturbed  (features,) the same on the perturbation samples
    feature_names         the features
    top_real, top_perturbed  the top features by importance in each place
    surrogate_r2          R^2 of the two surrogates on their own points (how well the importances describe
                          the model there)
    source                where the perturbations came from ("lime", "background mixing", "given")
    n_real, n_perturbed   rows used
    thresholds            {"auc": ..., "shift": ...}
    """

    flagged: bool
    verdict: str
    ood_auc: float
    dependence_shift: float
    importance_real: np.ndarray
    importance_perturbed: np.ndarray
    feature_names: tuple
    top_real: list
    top_perturbed: list
    surrogate_r2: dict
    source: str
    n_real: int
    n_perturbed: int
    thresholds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return to_jsonable({
            "flagged": self.flagged, "verdict": self.verdict, "ood_auc": self.ood_auc,
            "dependence_shift": self.dependence_shift, "importance_real": self.importance_real.tolist(),
            "importance_perturbed": self.importance_perturbed.tolist(), "feature_names": list(self.feature_names),
            "top_real": self.top_real, "top_perturbed": self.top_perturbed, "surrogate_r2": self.surrogate_r2,
            "source": self.source, "n_real": self.n_real, "n_perturbed": self.n_perturbed,
            "thresholds": self.thresholds})

    def __str__(self) -> str:
        return self.verdict

    def __repr__(self) -> str:
        return (f"ScaffoldCheck(flagged={self.flagged}, ood_auc={self.ood_auc:.3f}, "
                f"dependence_shift={self.dependence_shift:.3f}, top_real={self.top_real[:1]}, "
                f"top_perturbed={self.top_perturbed[:1]})")


# --------------------------------------------------------------------------- perturbations
def perturbation_samples(explainer: Any, X: np.ndarray, n: int, seed: int = 0,
                         n_rows: int = 50) -> tuple[np.ndarray, str]:
    """(n, m) perturbation samples an explainer would evaluate around rows of X, and their source.

    Tabular LIME: its own sampler's pool (the same draw `Lime.explain` makes). Masker-based
    explainers (Kernel SHAP, permutation, exact): rows mixing a row of X with background rows,
    features kept from x on a random coalition whose size is uniform in 1..m-1.

    Arguments:
      explainer  a tabular `Lime` or an explainer with a tabular masker (`.masker.fill`, `.masker.data`)
      X          (rows, m) prepared rows to perturb around
      n          samples wanted
      seed       seed of the draw
      n_rows     most rows of X used as centres (background mixing)
    """
    rng = np.random.default_rng(seed)
    sampler = getattr(explainer, "sampler", None)
    if sampler is not None and hasattr(sampler, "pool"):
        return sampler.pool(rng, n)[0], "lime"
    masker = getattr(explainer, "masker", None)
    if masker is not None and hasattr(masker, "fill") and getattr(masker, "data", None) is not None:
        m = X.shape[1]
        if m < 2:
            raise InputError("background mixing needs at least 2 features to mix")
        centres = X[rng.choice(len(X), size=min(n_rows, len(X)), replace=False)]
        per = int(np.ceil(n / len(centres)))
        rows = []
        for x in centres:
            sizes = rng.integers(1, m, size=per)
            order = rng.random((per, m)).argsort(axis=1)
            masks = order < sizes[:, None]
            filled = masker.fill(x, masks)                          # (per * background, m)
            bg = masker.data.shape[0]
            pick = np.arange(per) * bg + rng.integers(0, bg, size=per)  # one background row per coalition
            rows.append(filled[pick])
        out = np.concatenate(rows, axis=0)
        return out[rng.permutation(len(out))[:n]], "background mixing"
    raise InputError(f"cannot draw perturbation samples from a {type(explainer).__name__}; pass a tabular Lime, "
                     "an explainer with a tabular masker (KernelShap, ...), or the perturbation rows themselves")


def _numeric(arr: np.ndarray, model: Model) -> np.ndarray:
    """Rows as floats for the detector and surrogates: categories become their index."""
    if arr.dtype != object:
        return arr.astype(float)
    cats = model.schema.categories if model.schema is not None else {}
    out = np.empty(arr.shape, dtype=float)
    for j, name in enumerate(model.schema.names):
        if name in cats:
            lookup = {v: i for i, v in enumerate(cats[name])}
            out[:, j] = [lookup.get(v, -1) for v in arr[:, j]]
        else:
            out[:, j] = arr[:, j].astype(float)
    return np.nan_to_num(out, nan=-999.0)


# --------------------------------------------------------------------------- the check
def _importances(Z: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    from sklearn.ensemble import RandomForestRegressor

    if np.ptp(y) == 0:
        return np.full(Z.shape[1], 1.0 / Z.shape[1]), 1.0
    rf = RandomForestRegressor(n_estimators=60, max_depth=8, min_samples_leaf=3, random_state=seed, n_jobs=1)
    rf.fit(Z, y)
    return rf.feature_importances_, float(rf.score(Z, y))


def _ood_auc(real: np.ndarray, pert: np.ndarray, seed: int) -> float:
    """Held-out AUC of gradient-boosted trees telling real rows (0) from perturbations (1), trained on half of each."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    Z = np.vstack([real, pert])
    y = np.r_[np.zeros(len(real)), np.ones(len(pert))]
    a, b, ya, yb = train_test_split(Z, y, test_size=0.5, stratify=y, random_state=seed)
    clf = HistGradientBoostingClassifier(max_iter=100, min_samples_leaf=20, random_state=seed).fit(a, ya)
    return float(roc_auc_score(yb, clf.predict_proba(b)[:, 1]))


def scaffold_check(model: Any, explainer_or_perturbations: Any, X: Any, *, n_perturbations: int = 1000,
                   output: int | str | None = None, auc_threshold: float = 0.7, shift_threshold: float = 0.3,
                   top_k: int = 3, max_rows: int = 1000, seed: int = 0) -> ScaffoldCheck:
    """Flag a model that treats an explainer's perturbation samples differently from real rows.

    flagged = AUC(real vs perturbed) >= auc_threshold and 1/2 sum_j |imp_real_j - imp_pert_j| >= shift_threshold.

    Arguments:
      model            anything `whybox.models.wrap` accepts (the model whose explanations are to be trusted)
      explainer_or_perturbations  a tabular `Lime`, an explainer with a tabular masker (KernelShap, ...), or
                       the perturbation rows themselves (array / DataFrame with X's columns)
      X                real rows (numpy or pandas), e.g. the data the explanations are made for
      n_perturbations  perturbation samples drawn from an explainer
      output           which model output to study (default: the last, i.e. the positive class)
      auc_threshold    distinguishability above which perturbations count as out of distribution
      shift_threshold  importance shift above which the model counts as treating them differently
      top_k            top features reported per place
      max_rows         most real rows and perturbations used (random subsets beyond)
      seed             seed of sampling, detector and surrogates
    """
    if not (0.5 <= auc_threshold <= 1):
        raise InputError(f"auc_threshold must lie in [0.5, 1], got {auc_threshold!r}")
    if not (0 < shift_threshold <= 1):
        raise InputError(f"shift_threshold must lie in (0, 1], got {shift_threshold!r}")
    if isinstance(n_perturbations, bool) or not isinstance(n_perturbations, (int, np.integer)) or \
            n_perturbations < 20:
        raise InputError(f"n_perturbations must be a whole number >= 20, got {n_perturbations!r}")
    wrapped = wrap(model)
    real = wrapped.prepare(X, what="X")
    if len(real) < 20:
        raise InputError(f"X has {len(real)} rows; the check trains a real-vs-perturbed classifier and needs at "
                         "least 20 real rows (hundreds are better)")
    rng = np.random.default_rng(seed)
    if hasattr(explainer_or_perturbations, "explain"):
        pert, source = perturbation_samples(explainer_or_perturbations, real, int(n_perturbations), seed)
        pert = _reorder(pert, explainer_or_perturbations, wrapped)
    else:
        pert, source = wrapped.prepare(explainer_or_perturbations, what="perturbations"), "given"
        if len(pert) < 20:
            raise InputError(f"only {len(pert)} perturbation rows given; pass at least 20")
    if len(real) > max_rows:
        real = real[rng.choice(len(real), max_rows, replace=False)]
    if len(pert) > max_rows:
        pert = pert[rng.choice(len(pert), max_rows, replace=False)]
    out_real, out_pert = wrapped.evaluate(real), wrapped.evaluate(pert)
    col = _output_index(wrapped, output, out_real.shape[1])
    Zr, Zp = _numeric(real, wrapped), _numeric(pert, wrapped)
    auc = _ood_auc(Zr, Zp, seed)
    imp_r, r2_r = _importances(Zr, out_real[:, col], seed)
    imp_p, r2_p = _importances(Zp, out_pert[:, col], seed)
    imp_r, imp_p = imp_r / max(imp_r.sum(), 1e-300), imp_p / max(imp_p.sum(), 1e-300)
    shift = float(0.5 * np.abs(imp_r - imp_p).sum())
    names = tuple(wrapped.schema.names)
    top_r = [names[j] for j in np.argsort(-imp_r, kind="stable")[:top_k]]
    top_p = [names[j] for j in np.argsort(-imp_p, kind="stable")[:top_k]]
    flagged = bool(auc >= auc_threshold and shift >= shift_threshold)
    if flagged:
        verdict = (f"flagged: the model treats perturbation samples differently — its perturbations are "
                   f"distinguishable from real rows (AUC {auc:.2f}) and on real rows it depends most on "
                   f"{top_r[0]!r} but on the perturbations on {top_p[0]!r} (shift {shift:.2f}); explanations from "
                   f"this explainer may be fooled")
    elif auc < auc_threshold:
        verdict = (f"not flagged: the perturbations look like real rows (AUC {auc:.2f} < {auc_threshold}), so a "
                   f"model cannot single them out (importance shift {shift:.2f})")
    else:
        verdict = (f"not flagged: the perturbations lie outside the data (AUC {auc:.2f}) but the model relies on "
                   f"the same features there (shift {shift:.2f} < {shift_threshold})")
    return ScaffoldCheck(flagged=flagged, verdict=verdict, ood_auc=auc, dependence_shift=shift,
                         importance_real=imp_r, importance_perturbed=imp_p, feature_names=names, top_real=top_r,
                         top_perturbed=top_p, surrogate_r2={"real": r2_r, "perturbed": r2_p}, source=source,
                         n_real=len(real), n_perturbed=len(pert),
                         thresholds={"auc": auc_threshold, "shift": shift_threshold})


def _reorder(pert: np.ndarray, explainer: Any, wrapped: Model) -> np.ndarray:
    """Put the explainer's columns in the order of the checked model's schema (matched by name)."""
    own = getattr(getattr(explainer, "model", None), "schema", None)
    if own is None or tuple(own.names) == tuple(wrapped.schema.names):
        if pert.shape[1] != wrapped.schema.n_features:
            raise InputError(f"the explainer's perturbations have {pert.shape[1]} columns but X has "
                             f"{wrapped.schema.n_features}; build the explainer on the same table")
        return pert
    missing = [n for n in wrapped.schema.names if n not in own.names]
    if missing:
        raise InputError(f"the explainer's data lacks the columns {missing}; build it on the same table as X")
    return pert[:, [list(own.names).index(n) for n in wrapped.schema.names]]


def _output_index(model: Model, output: int | str | None, k: int) -> int:
    if output is None:
        return k - 1
    if isinstance(output, str):
        names = list(model.output_names or [])
        if output not in names:
            raise InputError(f"unknown output {output!r}; the model's outputs are {names}")
        return names.index(output)
    if isinstance(output, (int, np.integer)) and not isinstance(output, bool) and -k <= output < k:
        return int(output) % k
    raise InputError(f"output {output!r} is not an output of this model ({k} outputs)")


# --------------------------------------------------------------------------- the attack, for demonstrations
def make_scaffolded_model(biased_fn: Callable[[Any], np.ndarray], innocuous_fn: Callable[[Any], np.ndarray],
                          ood_detector: Any) -> Callable[[Any], np.ndarray]:
    """The Slack et al. scaffold: f(X) = innocuous_fn(X) where ood_detector says "perturbation", else biased_fn(X).

    For tests and demonstrations of `scaffold_check` only.

    Arguments:
      biased_fn     the model used on real rows, X -> scores
      innocuous_fn  the model shown to explainers, X -> scores (same shape as biased_fn's)
      ood_detector  a fitted classifier with predict(X) -> 1 for perturbation samples, or a function X -> bool
    """
    detect = ood_detector.predict if hasattr(ood_detector, "predict") else ood_detector

    def scaffolded(X: Any) -> np.ndarray:
        ood = np.asarray(detect(X)).astype(bool)
        b, i = np.asarray(biased_fn(X), dtype=float), np.asarray(innocuous_fn(X), dtype=float)
        return np.where(ood.reshape((-1,) + (1,) * (b.ndim - 1)), i, b)

    return scaffolded
