"""How alike two explanation maps are: rank correlation (signed or of magnitudes) and SSIM."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from ..errors import InputError
from ..results import Attribution
from .agreement import agreement


def ssim(a: Any, b: Any, *, data_range: float = 1.0, sigma: float = 1.5, full: bool = False) -> Any:
    """Structural similarity of two 2-D maps (Wang et al. 2004) with a Gaussian window.

    SSIM = mean over pixels of (2 μa μb + C1)(2 σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)),
    local moments from a Gaussian filter (σ, truncated at 3.5σ, reflected borders), C1 = (0.01 L)²,
    C2 = (0.03 L)², L = data_range. The mean runs over the whole map (small maps such as 8x8 have no
    interior to crop to); the per-pixel map equals skimage's `structural_similarity(..., gaussian_weights=True,
    use_sample_covariance=False, full=True)`.

    Arguments:
      a, b        two maps of the same 2-D shape
      data_range  L, the span of the values (1 for maps scaled to [0, 1])
      sigma       the Gaussian window's standard deviation in pixels
      full        also return the per-pixel SSIM map
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 2:
        raise InputError(f"ssim compares two 2-D maps of the same shape; got {a.shape} and {b.shape}")
    def g(v: np.ndarray) -> np.ndarray:
        return gaussian_filter(v, sigma=sigma, mode="reflect", truncate=3.5)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = g(a), g(b)
    vaa = g(a * a) - mu_a * mu_a
    vbb = g(b * b) - mu_b * mu_b
    vab = g(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * vab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (vaa + vbb + c2))
    return (float(s.mean()), s) if full else float(s.mean())


def _unit(m: np.ndarray) -> np.ndarray:
    """Min-max scaled to [0, 1]; a constant map becomes zeros."""
    lo, hi = float(m.min()), float(m.max())
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def _maps(values: Any, n: int, what: str) -> np.ndarray:
    """Explanation values as (n, *map) float64: images (n, C, H, W) summed over C."""
    if isinstance(values, Attribution):
        if values.has_outputs:
            raise InputError(f"{what} has an outputs axis ({values.output_names}); the explanation function must "
                             "return the explanation of the target class only")
        values = values.values
    try:
        v = np.asarray(values.detach().cpu().numpy() if hasattr(values, "detach") else values, dtype=float)
    except (TypeError, ValueError) as e:
        raise InputError(f"{what} must be an Attribution or an array of numbers, not {type(values).__name__}") from e
    if v.ndim < 2 or v.shape[0] != n:
        raise InputError(f"{what} has shape {v.shape}; the explanation function must return one map per input row "
                         f"({n} rows): (n, H, W), (n, C, H, W) or (n, features)")
    if v.ndim == 4:
        v = v.sum(axis=1)
    if not np.isfinite(v).all():
        raise InputError(f"{what} holds NaN or infinite values")
    return v


def _rank(a: np.ndarray, b: np.ndarray, signed: bool) -> np.ndarray:
    """Spearman per row via `agreement`; a flat map against a non-flat one scores 0 (no shared ordering),
    two flat maps 1."""
    rho = agreement(a, b, top_k=1, signed=signed).rank_correlation.copy()
    fa = a.reshape(len(a), -1)
    fb = b.reshape(len(b), -1)
    if not signed:
        fa, fb = np.abs(fa), np.abs(fb)
    flat_a = np.ptp(fa, axis=1) == 0
    flat_b = np.ptp(fb, axis=1) == 0
    rho[flat_a ^ flat_b] = 0.0
    rho[flat_a & flat_b] = 1.0
    return rho


def _similarities(a: np.ndarray, b: np.ndarray, metrics: Sequence[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for m in metrics:
        if m == "spearman":
            out[m] = _rank(a, b, signed=True)
        elif m == "spearman_abs":
            out[m] = _rank(a, b, signed=False)
        else:
            out[m] = np.array([ssim(_unit(x), _unit(y)) for x, y in zip(a, b)])
    return out
