"""Stability of an explanation: does a small change of the input (or of the seed) change the story?

  local Lipschitz (Alvarez-Melis & Jaakkola 2018)  L(x) = max_{x' in B_eps(x)} |e(x) - e(x')|_2 / |x - x'|_2
  max-sensitivity (Yeh et al. 2019)                S(x) = max_{|x' - x|_inf <= r} |e(x') - e(x)|_2 / |e(x)|_2
  seed variation                                   spread of e(x) over the seeds of a sampling method

Both input metrics estimate a maximum from a finite sample of neighbours, so they are lower bounds
of the true supremum that rise towards it with `n_samples`. Every neighbour of every row is
explained in one batched call of the explainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import InputError
from ..results import Attribution, to_jsonable
from ..surrogates.stability import stability

__all__ = ["local_lipschitz", "max_sensitivity", "seed_variation", "SeedVariation"]

NORMS = ("linf", "l2")


# --------------------------------------------------------------------------- helpers
def _explain_callable(explain_fn: Any) -> Callable[[Any], Any]:
    """A function X -> explanation from a callable or an explainer object (its `.explain`)."""
    if hasattr(explain_fn, "explain") and callable(explain_fn.explain):
        return explain_fn.explain
    if callable(explain_fn):
        return explain_fn
    raise InputError(f"explain_fn must be a function X -> Attribution (or values array) or an explainer with "
                     f".explain(X); got {type(explain_fn).__name__}")


def _as_matrix(X: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """X as a float (n, m) array, and a function turning arrays back into X's kind (DataFrame or array)."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    columns = getattr(X, "columns", None)
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise InputError("the stability metrics perturb numeric inputs; X has non-numeric columns. Encode "
                         "categorical columns as numbers (or explain only the numeric ones)") from None
    if arr.ndim == 1:
        raise InputError(f"X has shape {arr.shape}; pass a batch of rows, e.g. X[None] for one row")
    if arr.shape[0] == 0:
        raise InputError("X has no rows; pass at least one row")
    if not np.isfinite(arr).all():
        raise InputError("X has missing or infinite values; the stability metrics need finite inputs to perturb")
    if columns is not None:
        import pandas as pd

        index_cols = list(columns)
        return arr, lambda a: pd.DataFrame(a, columns=index_cols)
    return arr, lambda a: a


def _values(expl: Any, n: int) -> np.ndarray:
    """(n, k) explanation values, one flat row per input, from an Attribution or an array."""
    vals = expl.values if isinstance(expl, Attribution) else expl
    if hasattr(vals, "detach"):
        vals = vals.detach().cpu().numpy()
    vals = np.asarray(vals, dtype=float)
    if vals.ndim == 0 or vals.shape[0] != n:
        raise InputError(f"the explanation has shape {vals.shape} but {n} inputs were explained; explain_fn must "
                         "return one explanation per input row (an Attribution or an array (n, ...))")
    return vals.reshape(n, -1)


def _check_count(name: str, value: Any, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise InputError(f"{name} must be a whole number >= {least}, got {value!r}")
    return int(value)


def _check_positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    return v


def _linf_noise(rng: np.random.Generator, n: int, n_samples: int, m: int, radius: float) -> np.ndarray:
    """(n * n_samples, m) uniform noise in [-radius, radius]; rows i*n_samples..(i+1)*n_samples-1 belong to row i."""
    return rng.uniform(-radius, radius, size=(n * n_samples, m))


def _l2_noise(rng: np.random.Generator, n: int, n_samples: int, m: int, radius: float) -> np.ndarray:
    """(n * n_samples, m) points uniform in the L2 ball of the radius (gaussian direction, radius u^(1/m))."""
    d = rng.standard_normal((n * n_samples, m))
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)
    r = radius * rng.uniform(size=(n * n_samples, 1)) ** (1.0 / m)
    return d * r


def _predicted(model: Any, X: Any) -> np.ndarray:
    """The predicted class of each row: argmax over several outputs. For one output: p > 0.5 for
    probabilities, margin > 0 for log-odds / raw margins; a plain function's output ("predict") is the
    class itself when whole numbers, p > 0.5 when within [0, 1], else its sign."""
    out = model(X)
    if out.shape[1] > 1:
        return out.argmax(axis=1)
    v = out[:, 0]
    if model.output == "probability":
        return v > 0.5
    if model.output == "predict":
        if np.all(v == np.round(v)):
            return v
        if np.all((v >= 0) & (v <= 1)):
            return v > 0.5
    return v > 0


# --------------------------------------------------------------------------- local Lipschitz
def local_lipschitz(explain_fn: Any, X: Any, *, epsilon: float = 0.1, n_samples: int = 20, seed: int = 0,
                    norm: str = "linf", data: Any = None, keep_prediction: Any = None) -> np.ndarray:
    """Local Lipschitz estimate per row: L(x) = max_{x'} |e(x) - e(x')|_2 / |x - x'|_2 over sampled x' near x.

    The neighbours x' are drawn uniformly from the ball |(x' - x) / s|_p <= epsilon, where s is the
    per-feature standard deviation of `data` (default: of X; constant features use s = 1), so that
    epsilon means "this fraction of a typical spread" whatever each feature's unit. The ratio itself
    uses unscaled Euclidean distances, as Alvarez-Melis & Jaakkola define it.

    Arguments:
      explain_fn       a function X -> Attribution (or values array (n, ...)), or an explainer with .explain
      X                numeric rows to assess (numpy, pandas; DataFrames are passed on as DataFrames)
      epsilon          ball radius in standard deviations of each feature
      n_samples        neighbours sampled per row
      seed             seed of the neighbour sampling
      norm             "linf" (box, default) or "l2" (ball)
      data             rows whose per-feature std scales the ball (default: X; with one row of X, pass it)
      keep_prediction  a model (anything `whybox.models.wrap` accepts): keep only neighbours where its
                       predicted class equals the one at x (None: keep all)

    Returns a (n,) array; nan for a row whose neighbours all changed the prediction.
    """
    if norm not in NORMS:
        raise InputError(f"unknown norm {norm!r}; choose 'linf' or 'l2'")
    eps = _check_positive("epsilon", epsilon)
    k = _check_count("n_samples", n_samples)
    explain = _explain_callable(explain_fn)
    arr, rebuild = _as_matrix(X)
    n, m = arr.shape
    ref = arr if data is None else _as_matrix(data)[0]
    if ref.shape[1] != m:
        raise InputError(f"data has {ref.shape[1]} columns but X has {m}; pass rows of the same table")
    if ref.shape[0] < 2:
        raise InputError("the ball is scaled by each feature's standard deviation, which one row cannot give; "
                         "pass data=X_train (the reference rows)")
    s = ref.std(axis=0)
    s = np.where(s > 0, s, 1.0)
    rng = np.random.default_rng(seed)
    noise = (_linf_noise if norm == "linf" else _l2_noise)(rng, n, k, m, eps) * s
    Xp = np.repeat(arr, k, axis=0) + noise
    keep = np.ones(n * k, dtype=bool)
    if keep_prediction is not None:
        from ..models.base import wrap

        model = wrap(keep_prediction)
        both = _predicted(model, rebuild(np.vstack([arr, Xp])))   # one call, one rule for x and x'
        keep = np.repeat(both[:n], k) == both[n:]
    e_x = _values(explain(rebuild(arr)), n)
    out = np.full(n, np.nan)
    if not keep.any():
        return out
    e_p = _values(explain(rebuild(Xp[keep])), int(keep.sum()))
    owner = np.repeat(np.arange(n), k)[keep]
    ratio = np.linalg.norm(e_p - e_x[owner], axis=1) / np.linalg.norm(Xp[keep] - arr[owner], axis=1)
    np.fmax.at(out, owner, ratio)
    return out


# --------------------------------------------------------------------------- max-sensitivity
def max_sensitivity(explain_fn: Any, X: Any, *, radius: float = 0.02, n_samples: int = 10, seed: int = 0,
                    normalize: bool = True) -> np.ndarray:
    """Max-sensitivity per row: S(x) = max_i |e(x + u_i) - e(x)|_2 / |e(x)|_2, u_i ~ Uniform[-r, r]^m.

    The same quantity as captum.metrics.sensitivity_max with its default perturbation and norm (the
    Frobenius norm of the difference over all explanation entries, divided by that of e(x), with a
    zero norm read as 1). The radius is in the input's own units, as in captum.

    Arguments:
      explain_fn  a function X -> Attribution (or values array (n, ...)), or an explainer with .explain
      X           numeric rows (numpy, pandas)
      radius      half-width r of the L-infinity box around x
      n_samples   perturbations per row
      seed        seed of the perturbations
      normalize   divide by |e(x)|_2 as captum does (False: the raw max |e(x') - e(x)|_2 of Yeh et al.)

    Returns a (n,) array.
    """
    r = _check_positive("radius", radius)
    k = _check_count("n_samples", n_samples)
    explain = _explain_callable(explain_fn)
    arr, rebuild = _as_matrix(X)
    n, m = arr.shape
    noise = _linf_noise(np.random.default_rng(seed), n, k, m, r)
    Xp = np.repeat(arr, k, axis=0) + noise
    e_x = _values(explain(rebuild(arr)), n)
    e_p = _values(explain(rebuild(Xp)), n * k)
    diff = np.linalg.norm(e_p - np.repeat(e_x, k, axis=0), axis=1).reshape(n, k)
    if normalize:
        base = np.linalg.norm(e_x, axis=1)
        diff = diff / np.where(base == 0, 1.0, base)[:, None]
    return diff.max(axis=1)


# --------------------------------------------------------------------------- seed variation
@dataclass(frozen=True)
class SeedVariation:
    """How much one input's explanation moves when only the seed changes.

    mean_std      mean over features of the std of the weight across seeds (0: the same every time)
    relative_std  mean_std / mean |mean weight| (scale-free; nan when every weight is 0)
    std           (features,) std of each feature's weight across seeds
    jaccard       mean pairwise top-k Jaccard overlap of the features (1: the same top features every seed)
    spearman      mean pairwise Spearman rank correlation of the weights
    top_features  per seed, the top-k features by |weight|
    seeds, top_k  what was compared
    weights       (seeds, features) the weights
    """

    mean_std: float
    relative_std: float
    std: np.ndarray
    jaccard: float
    spearman: float
    top_features: list
    seeds: list
    top_k: int
    weights: np.ndarray

    def to_dict(self) -> dict:
        """JSON-safe plain data."""
        return to_jsonable({"mean_std": self.mean_std, "relative_std": self.relative_std, "std": self.std.tolist(),
                            "jaccard": self.jaccard, "spearman": self.spearman,
                            "top_features": self.top_features, "seeds": self.seeds, "top_k": self.top_k,
                            "weights": self.weights.tolist()})

    def __repr__(self) -> str:
        return (f"SeedVariation(mean_std={self.mean_std:.4g}, relative_std={self.relative_std:.3f}, "
                f"jaccard={self.jaccard:.3f}, seeds={len(self.seeds)})")


class _FromFactory:
    """Adapter: a factory seed -> explainer seen as one seeded explainer (what `stability` expects)."""

    def __init__(self, factory: Callable[[int], Any], seed: int = 0) -> None:
        self.factory = factory
        self.seed = seed

    def explain(self, x: Any, **kwargs: Any) -> Any:
        made = self.factory(self.seed)
        if not hasattr(made, "explain"):
            raise InputError(f"the factory returned a {type(made).__name__}, not an explainer; it must build an "
                             "explainer from a seed, e.g. lambda s: Lime(model, data=X_train, seed=s)")
        return made.explain(x, **kwargs)


def seed_variation(explainer: Any, x: Any, seeds: Iterable[int] = range(5), top_k: int = 5,
                   output: int | str | None = None, **explain_kwargs: Any) -> SeedVariation:
    """Explain one input once per seed: std_j = std_s w_sj per feature, plus top-k Jaccard and Spearman.

    The overlap and rank statistics come from `whybox.surrogates.stability.stability`; this adds the
    spread of the weights themselves and accepts any seeded method.

    Arguments:
      explainer       a seeded explainer (a `seed` attribute and `.explain`: Lime, KernelShap, ...) or a
                      factory seed -> explainer, e.g. lambda s: KernelShap(model, background, seed=s)
      x               one input (a one-row table, a text, a batch of one image)
      seeds           the seeds to compare (at least 2)
      top_k           how many top features to compare
      output          which output to compare for a model with several (default: the highest at x)
      explain_kwargs  passed to `explain`, e.g. num_samples=500
    """
    if not (hasattr(explainer, "seed") and hasattr(explainer, "explain")):
        if not callable(explainer):
            raise InputError(f"{type(explainer).__name__} is neither a seeded explainer (with `seed` and "
                             "`.explain`) nor a factory seed -> explainer")
        explainer = _FromFactory(explainer)
    st = stability(explainer, x, seeds=seeds, top_k=top_k, output=output, **explain_kwargs)
    W = st.weights
    std = W.std(axis=0, ddof=1)
    scale = float(np.abs(W.mean(axis=0)).mean())
    mean_std = float(std.mean())
    return SeedVariation(mean_std=mean_std, relative_std=mean_std / scale if scale > 0 else float("nan"),
                         std=std, jaccard=st.jaccard, spearman=st.spearman, top_features=st.top_features,
                         seeds=st.seeds, top_k=st.top_k, weights=W)
