"""The additivity self-check shared by every Shapley-family explainer.

For each explained row, gap = max over outputs |base + sum(values) - f(x)|, where f(x) is the output
the model's OWN library computes (predict_proba, decision_function, predict(output_margin=True), a torch
forward pass...), never whybox's re-implementation of the model, which could share a bug with the
explainer. Above the tolerance the explanation is refused with an `AdditivityError` that names the rows,
the size of the gap and the likely causes; `check=False` records the gap in `meta` and returns.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import AdditivityError

__all__ = ["TOLERANCE", "additivity_meta", "row_gaps"]

#: default allowed gap for float64 models, relative to max(1, |f(x)|)
TOLERANCE = 1e-6

#: why a model-agnostic explanation can miss the model: its values add up to f(x) by construction, so a
#: gap means the model answered differently when it was asked again
NONDETERMINISTIC = ("the model returned different outputs for the same rows on two calls: it is not "
                    "deterministic (noise, dropout or a torch network left in training mode: call model.eval()), "
                    "or it changed while being explained")


def row_gaps(reconstructed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(n,) largest |reconstructed - reference| of each row over its outputs."""
    diff = np.abs(np.asarray(reconstructed, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    return diff.reshape(diff.shape[0], -1).max(axis=1) if diff.size else np.zeros(diff.shape[:1])


def additivity_meta(reconstructed: np.ndarray, reference: np.ndarray, *, method: str, reference_name: str,
                    causes: Sequence[str], check: bool = True, tolerance: float | np.ndarray = TOLERANCE,
                    relative: bool = True) -> dict:
    """Measure base + sum(values) against the model's own output; raise `AdditivityError` above tolerance.

    Arguments:
      reconstructed   (n[, outputs]) base_values + values summed over the features
      reference       (n[, outputs]) the output the model's own library computed on the same rows
      method          the explainer, for the message
      reference_name  how the reference was computed ("HistGradientBoostingClassifier.decision_function")
      causes          likely reasons for a gap, most likely first, for the message
      check           False: only record the gap
      tolerance       allowed gap: a number, or one per row (n,)
      relative        scale the tolerance by max(1, |reference|) of each row

    Returns the meta entries: additivity_gap (the largest row gap), additivity_tolerance (the largest
    allowed), additivity_reference and additivity_checked.
    """
    reference = np.asarray(reference, dtype=np.float64)
    gaps = row_gaps(reconstructed, reference)
    n = gaps.shape[0]
    tol = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), (n,)).copy()
    if relative and n:
        tol *= np.maximum(1.0, np.abs(reference).reshape(n, -1).max(axis=1))
    meta = {"additivity_gap": float(gaps.max()) if n else 0.0,
            "additivity_tolerance": float(tol.max()) if n else float(np.max(tolerance)),
            "additivity_reference": reference_name, "additivity_checked": bool(check)}
    bad = np.flatnonzero(~(gaps <= tol))           # NaN gaps fail too
    if check and bad.size:
        worst = bad[np.argsort(-np.nan_to_num(gaps[bad], nan=np.inf), kind="stable")]
        shown = ", ".join(f"row {i}: {gaps[i]:.3g}" for i in worst[:5]) + (" ..." if worst.size > 5 else "")
        raise AdditivityError(
            f"{method}: base_values + values.sum(features) misses the model's own output "
            f"({reference_name}) on {bad.size} of {n} rows by up to {float(np.nanmax(gaps[bad])):.3g} "
            f"(allowed {float(tol[bad].max()):.3g}): {shown}. Likely cause: " + "; or ".join(causes) +
            ". Pass check_additivity=False to get the explanation anyway, with the gap in "
            "meta['additivity_gap']", rows=worst.tolist(), gaps=gaps[worst].tolist(), tolerance=float(tol.max()))
    return meta
