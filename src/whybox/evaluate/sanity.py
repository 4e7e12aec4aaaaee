"""Sanity checks for explanations (Adebayo et al. 2018): does the explanation change when the model does?

Model-parameter randomisation re-initialises the layers of a copy of a torch network — cascading from the
logits down (one more layer each step) or one layer at a time (independent) — and compares the explanation
of the same inputs, for the same target classes, with the trained model's. Label randomisation retrains
the model on permuted labels (with a training function the user supplies) and compares likewise. An
explanation that stays the same on a network with random weights explains the input, not the model.

Similarities, per explained row, between the original map a and the randomised map b (images: summed over
the channel axis):
  spearman      Spearman rank correlation of the signed values
  spearman_abs  Spearman rank correlation of |values|
  ssim          structural similarity (Wang et al. 2004, Gaussian window σ=1.5) of the maps min-max scaled to [0, 1]

torch is imported only when a check runs: `import whybox.evaluate` works without it.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, ModelError
from ..results import Attribution
from .similarity import _maps, _similarities, ssim

__all__ = ["RandomizationCheck", "randomization_check", "randomized_copy", "parameter_layers", "ssim"]

_METRICS = ("spearman", "spearman_abs", "ssim")
_FAIL = "fails: the explanation barely depends on the model's parameters"
_LABEL_FAIL = "fails: the explanation barely depends on the labels the model learned"


# --------------------------------------------------------------------------- result

@dataclass(frozen=True, eq=False)
class RandomizationCheck:
    """How much an explanation changes when the model's parameters (or labels) are randomised.

    mode              "cascading" or "independent"
    steps             (s,) step names: the layer re-initialised at that step (cascading: down to that layer)
    randomized        per step, the layers re-initialised in that step's model
    similarity        {metric: (s, n)} similarity of each row's explanation with the original's
    full_similarity   {metric: (n,)} with every layer re-initialised (cascading: the last step)
    label_similarity  {metric: (n,)} for the model trained on permuted labels, or None when not run
    threshold         a mean |similarity| below it counts as "dissimilar"
    verdict_metric    the metric the verdict reads
    verdict           "passes" or "fails: ..." (model-parameter randomisation)
    label_verdict     the same for label randomisation, or None
    targets           (n,) the class index explained in every row (fixed by the original model)
    """

    mode: str
    steps: tuple[str, ...]
    randomized: tuple[tuple[str, ...], ...]
    similarity: dict[str, np.ndarray]
    full_similarity: dict[str, np.ndarray]
    label_similarity: dict[str, np.ndarray] | None
    threshold: float
    verdict_metric: str
    verdict: str
    label_verdict: str | None
    targets: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.similarity)

    @property
    def mean(self) -> dict[str, np.ndarray]:
        """{metric: (s,)} mean similarity over rows at each step (rows without a value left out)."""
        return {k: _nanmean(v, axis=1) for k, v in self.similarity.items()}

    @property
    def full_mean(self) -> dict[str, float]:
        """{metric: mean similarity} with every layer re-initialised."""
        return {k: float(_nanmean(v)) for k, v in self.full_similarity.items()}

    @property
    def label_mean(self) -> dict[str, float] | None:
        """{metric: mean similarity} for the label-randomised model, or None."""
        if self.label_similarity is None:
            return None
        return {k: float(_nanmean(v)) for k, v in self.label_similarity.items()}

    @property
    def score(self) -> float:
        """The number the verdict reads: mean over rows of |verdict_metric| with every layer re-initialised."""
        return _score(self.full_similarity[self.verdict_metric])

    @property
    def label_score(self) -> float | None:
        """The same for the label-randomised model, or None."""
        return None if self.label_similarity is None else _score(self.label_similarity[self.verdict_metric])

    @property
    def passed(self) -> bool:
        return self.verdict == "passes"

    def to_dict(self) -> dict:
        """JSON-safe form; NaN becomes None."""
        def lst(a: np.ndarray) -> list:
            return [_num(v) for v in np.asarray(a, dtype=float).ravel()] if np.ndim(a) == 1 else \
                [lst(r) for r in a]

        def dct(d: dict | None) -> dict | None:
            return None if d is None else {k: lst(v) for k, v in d.items()}
        return {"type": "RandomizationCheck", "mode": self.mode, "steps": list(self.steps),
                "randomized": [list(r) for r in self.randomized], "similarity": dct(self.similarity),
                "mean": dct(self.mean), "full_similarity": dct(self.full_similarity),
                "full_mean": {k: _num(v) for k, v in self.full_mean.items()},
                "label_similarity": dct(self.label_similarity),
                "label_mean": None if self.label_mean is None else {k: _num(v) for k, v in self.label_mean.items()},
                "threshold": self.threshold, "verdict_metric": self.verdict_metric, "score": _num(self.score),
                "label_score": None if self.label_score is None else _num(self.label_score), "verdict": self.verdict,
                "label_verdict": self.label_verdict, "targets": [int(t) for t in self.targets], "meta": self.meta}

    def __str__(self) -> str:
        metrics = list(self.similarity)
        width = max([len("randomised layers")] + [len(s) for s in self.steps] + [len("all layers")]) + 2
        head = f"{'randomised layers':<{width}}" + "".join(f"{m:>14}" for m in metrics)
        means = self.mean
        lines = [f"Model-parameter randomisation ({self.mode}), mean similarity over {len(self.targets)} rows",
                 head, "-" * len(head)]
        for i, s in enumerate(self.steps):
            label = ("down to " if self.mode == "cascading" else "only ") + s
            lines.append(f"{label:<{width}}" + "".join(f"{_fmt(means[m][i]):>14}" for m in metrics))
        if self.mode != "cascading":
            lines.append(f"{'all layers':<{width}}" + "".join(f"{_fmt(self.full_mean[m]):>14}" for m in metrics))
        if self.label_similarity is not None:
            lm = self.label_mean or {}
            lines.append(f"{'labels permuted':<{width}}" + "".join(f"{_fmt(lm[m]):>14}" for m in metrics))
        lines.append(f"verdict (mean |{self.verdict_metric}| = {_fmt(self.score)} with all layers randomised, "
                     f"threshold {self.threshold:g}): {self.verdict}")
        if self.label_verdict is not None:
            lines.append(f"label randomisation: {self.label_verdict}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"RandomizationCheck(mode={self.mode!r}, steps={len(self.steps)}, rows={len(self.targets)}, "
                f"score={_fmt(self.score)} ({self.verdict_metric}), verdict={self.verdict!r})")


def _num(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _score(sim: np.ndarray) -> float:
    """What the verdict reads: the mean over rows of |similarity| (an anti-correlated map is as dependent on
    the input's structure as a correlated one); NaN when no row has a value."""
    return float(_nanmean(np.abs(np.asarray(sim, dtype=float))))


def _fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{float(v):.3f}"


def _nanmean(a: np.ndarray, axis: int | None = None) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    finite = np.isfinite(a)
    count = finite.sum(axis=axis)
    total = np.where(finite, a, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


# --------------------------------------------------------------------------- layers

def parameter_layers(model: Any, x: Any = None) -> list[str]:
    """Module paths of the layers that own parameters and can re-initialise them (`reset_parameters`):
    Linear, Conv, BatchNorm, ... In forward order when an input batch `x` is given (the order they first
    run in, one row through the model in eval mode), else in definition order; layers that do not run on x go
    last."""
    import torch
    names = [n for n, m in model.named_modules()
             if n and any(True for _ in m.parameters(recurse=False)) and callable(getattr(m, "reset_parameters", None))]
    if x is None or not names:
        return names
    order: list[str] = []
    hooks = []
    mods = dict(model.named_modules())

    def hook(name: str) -> Callable:
        def f(*_: Any) -> None:
            if name not in order:
                order.append(name)
        return f
    flags = [m.training for m in model.modules()]
    try:
        for n in names:
            hooks.append(mods[n].register_forward_pre_hook(hook(n)))
        model.eval()                      # a training-mode BatchNorm would update the caller's running stats
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
        for m, f in zip(model.modules(), flags):
            m.training = f
    return [n for n in order if n in names] + [n for n in names if n not in order]


def _layer_seed(seed: int, name: str) -> int:
    """A seed of its own for each layer, so a layer gets the same random weights in every mode."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % 2 ** 31
    return (int(seed) * 1000003 + h) % 2 ** 63


def _reinit(model: Any, name: str, seed: int) -> None:
    import torch
    module = model.get_submodule(name)
    p = next(module.parameters(recurse=False))
    devices = [p.device.index or 0] if p.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(_layer_seed(seed, name))
        module.reset_parameters()


def randomized_copy(model: Any, layers: Sequence[str], *, seed: int = 0) -> Any:
    """A deep copy of `model` with `layers` re-initialised by their own `reset_parameters()`, under a seed
    per layer (derived from `seed` and the layer's name); the global random state and `model` are untouched."""
    m = copy.deepcopy(model)
    for name in layers:
        _reinit(m, name, seed)
    return m


# --------------------------------------------------------------------------- explaining

def _explainer(explain_fn: Any, explain_kwargs: dict | None) -> Callable[[Any, Any, np.ndarray], Any]:
    """explain_fn as a function (model, x, targets) -> explanation."""
    kwargs = dict(explain_kwargs or {})
    if isinstance(explain_fn, type):
        try:
            params = inspect.signature(explain_fn.__init__).parameters
        except (TypeError, ValueError):
            params = {}
        has_var = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        init_kw = {k: v for k, v in kwargs.items() if k in params or has_var}
        call_kw = {k: v for k, v in kwargs.items() if k not in init_kw}
        if not hasattr(explain_fn, "explain"):
            raise InputError(f"{explain_fn.__name__} has no explain method; pass a whybox explainer class (GradCam, "
                             "IntegratedGradients, Saliency, ...) or a function (model, x, target) -> explanation")

        def run(model: Any, x: Any, targets: np.ndarray) -> Any:
            return explain_fn(model, **init_kw).explain(x, target=targets.tolist(), **call_kw)
        return run
    if hasattr(explain_fn, "explain") and hasattr(explain_fn, "model"):
        raise InputError(f"explain_fn is an explainer object ({type(explain_fn).__name__}) bound to one model; pass "
                         f"its class and settings instead: explain_fn={type(explain_fn).__name__}, "
                         "explain_kwargs={...}")
    if not callable(explain_fn):
        raise InputError(f"explain_fn must be a function (model, x, target) -> Attribution or array, or a whybox "
                         f"explainer class; got {type(explain_fn).__name__}")
    if kwargs:
        def run_fn(model: Any, x: Any, targets: np.ndarray) -> Any:
            return explain_fn(model, x, targets, **kwargs)
        return run_fn
    return explain_fn


def _targets(model: Any, x: Any, target: Any) -> np.ndarray:
    import torch
    n = x.shape[0]
    if isinstance(target, str):
        if target != "predicted":
            raise InputError(f"target must be 'predicted', a class index or one index per row, not {target!r}")
        was = [m.training for m in model.modules()]
        model.eval()
        try:
            with torch.no_grad():
                out = model(x)
        finally:
            for m, f in zip(model.modules(), was):
                m.training = f
        if not isinstance(out, torch.Tensor) and hasattr(out, "logits"):
            out = out.logits
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n:
            raise ModelError("the model must return logits (n, classes) for target='predicted'; or pass the "
                             "class indices to explain as target=")
        return out.argmax(1).cpu().numpy().astype(np.int64)
    t = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach") else target)
    if t.dtype.kind not in "iu" or t.ndim > 1 or (t.ndim == 1 and len(t) != n) or (t < 0).any():
        raise InputError(f"target must be 'predicted', a class index (int >= 0) or one per row ({n}); got {target!r}")
    return np.broadcast_to(t, (n,)).astype(np.int64).copy()


# --------------------------------------------------------------------------- the check

def randomization_check(explain_fn: Any, model: Any, x: Any, *, explain_kwargs: dict | None = None,
                        mode: str = "cascading", target: Any = "predicted", layers: Sequence[str] | None = None,
                        similarity: Sequence[str] = _METRICS, threshold: float = 0.5,
                        verdict_metric: str | None = None, seed: int = 0,
                        train_fn: Callable[[np.ndarray], Any] | None = None,
                        labels: Any = None) -> RandomizationCheck:
    """Adebayo et al.'s sanity checks: the explanation of a model with randomised parameters (or trained on
    randomised labels) should differ from the trained model's.

    similarity(step, row) = sim(E(θ, x_i, t_i), E(θ_step, x_i, t_i)), θ_step = θ with the step's layers
    re-initialised, t_i the class the original model is explained for; "passes" when the mean over rows of
    |similarity| with every layer re-initialised is below `threshold`.

    Arguments:
      explain_fn      a function (model, x, targets) -> Attribution or array (n, H, W), (n, C, H, W) or
                      (n, features), targets an int array (n,); or a whybox gradient explainer class
                      (GradCam, IntegratedGradients, Saliency, ...) built on each model copy
      model           the trained torch.nn.Module; never modified (every randomisation runs on a deep copy)
      x               the inputs to explain (n, *input_shape), a tensor or array
      explain_kwargs  settings for the explainer: for a class, the constructor's own arguments go to it (layer=,
                      multiply_by_inputs=, ...) and the rest to `explain` (n_steps=, ...); for a function,
                      passed as keyword arguments
      mode            "cascading": re-initialise from the logits down, one more layer each step;
                      "independent": one layer per step, the others trained
      target          "predicted" (the original model's class per row), a class index, or one per row
      layers          module paths to randomise (default: every layer with parameters, in forward order);
                      steps run from the last layer to the first
      similarity      metrics among "spearman", "spearman_abs", "ssim"
      threshold       mean similarity below which the explanations count as dissimilar
      verdict_metric  the metric the verdict reads, as mean |similarity| over rows (default: "spearman" when
                      computed, else the first). "spearman_abs" is stricter: input x gradient and integrated
                      gradients give every zero pixel a zero score whatever the weights, so on sparse images
                      (digits) their |value| ranks stay alike on a random network
      seed            seeds the re-initialisation and the label permutation: same seed, same numbers
      train_fn        optional, labels -> trained model (same architecture and inputs); called once with the
                      permuted `labels` for label randomisation
      labels          the training labels for `train_fn`
    Returns a `RandomizationCheck`.
    """
    try:
        import torch
        from torch import nn
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("randomization_check needs PyTorch: pip install whybox[torch]") from e
    if not isinstance(model, nn.Module):
        raise ModelError(f"randomization_check re-initialises a torch.nn.Module's layers; got "
                         f"{type(model).__name__}")
    if mode not in ("cascading", "independent"):
        raise InputError(f"mode must be 'cascading' or 'independent', not {mode!r}")
    if isinstance(similarity, str):
        similarity = (similarity,)
    metrics = tuple(similarity)
    bad = [m for m in metrics if m not in _METRICS]
    if bad or not metrics:
        raise InputError(f"unknown similarity {bad or metrics!r}; choose among {', '.join(_METRICS)}")
    verdict_metric = verdict_metric or ("spearman" if "spearman" in metrics else metrics[0])
    if verdict_metric not in metrics:
        raise InputError(f"verdict_metric {verdict_metric!r} is not among the computed similarities {metrics}")
    if (train_fn is None) != (labels is None):
        raise InputError("label randomisation needs both train_fn (labels -> trained model) and the training labels")
    run = _explainer(explain_fn, explain_kwargs)

    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    xt = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if xt.is_floating_point() and p is not None:
        xt = xt.to(dtype=p.dtype)
    xt = xt.to(device)
    if xt.ndim < 2 or xt.shape[0] == 0:
        raise InputError(f"x has shape {tuple(xt.shape)}; pass a batch (n, *input_shape) — for one input x[None]")
    n = xt.shape[0]

    available = parameter_layers(model, xt)
    if layers is None:
        names = available
    else:
        names = [layers] if isinstance(layers, str) else list(layers)
        unknown = [nm for nm in names if nm not in available]
        if unknown:
            raise InputError(f"unknown or non-parameterised layer(s) {unknown}; the model's layers with parameters "
                             f"are: {', '.join(available) or '(none)'}")
        names = [nm for nm in available if nm in names]       # forward order
    if not names:
        raise InputError("the model has no layer with parameters and reset_parameters() to randomise")
    top_down = names[::-1]

    targets = _targets(model, xt, target)
    original = _maps(run(model, xt, targets), n, "the explanation of the original model")
    if "ssim" in metrics and original.ndim != 3:
        raise InputError(f"ssim compares 2-D maps, but the explanation has shape {original.shape}; drop 'ssim' from "
                         "similarity for explanations that are not images")

    def compare(m: Any, what: str) -> dict[str, np.ndarray]:
        return _similarities(original, _maps(run(m, xt, targets), n, what), metrics)

    steps: list[tuple[str, ...]] = []
    sims: list[dict[str, np.ndarray]] = []
    if mode == "cascading":
        work = copy.deepcopy(model)
        for i, name in enumerate(top_down):
            _reinit(work, name, seed)
            steps.append(tuple(top_down[:i + 1]))
            sims.append(compare(work, f"the explanation with {name} re-initialised"))
        full = sims[-1]
        del work
    else:
        for name in top_down:
            steps.append((name,))
            sims.append(compare(randomized_copy(model, [name], seed=seed),
                                f"the explanation with only {name} re-initialised"))
        full = compare(randomized_copy(model, top_down, seed=seed), "the explanation with every layer re-initialised")

    similarity_arr = {m: np.stack([s[m] for s in sims]) for m in metrics}
    verdict = "passes" if _score(full[verdict_metric]) < threshold else _FAIL

    label_sim, label_verdict = None, None
    if train_fn is not None:
        y = np.asarray(labels)
        perm = y[np.random.default_rng(seed).permutation(len(y))]
        trained = train_fn(perm)
        if not isinstance(trained, nn.Module):
            raise ModelError(f"train_fn must return the trained torch.nn.Module, not {type(trained).__name__}")
        label_sim = compare(trained, "the explanation of the model trained on permuted labels")
        label_verdict = "passes" if _score(label_sim[verdict_metric]) < threshold else _LABEL_FAIL

    return RandomizationCheck(
        mode=mode, steps=tuple(top_down), randomized=tuple(steps), similarity=similarity_arr,
        full_similarity=full, label_similarity=label_sim, threshold=float(threshold), verdict_metric=verdict_metric,
        verdict=verdict, label_verdict=label_verdict, targets=targets,
        meta={"seed": int(seed), "rows": int(n), "layers": list(names),
              "method": getattr(explain_fn, "__name__", type(explain_fn).__name__)})
