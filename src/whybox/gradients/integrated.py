"""Integrated gradients (Sundararajan et al. 2017), on the input or on one layer's output.

IG_i(x) = (x_i - b_i) * integral_0^1 d f_t(b + a (x - b)) / d x_i da, the straight path from a
baseline b to x. The integral is a weighted sum over `n_steps` points of the path (quadrature rules
named as in captum). Completeness — sum_i IG_i = f_t(x) - f_t(b) — holds up to the quadrature error,
which is reported per row in `meta["completeness_gap"]`.

All path points of all rows are sent through the model as one stream of rows, cut into chunks of
`batch_size` rows: one forward and one backward pass per chunk, no Python work per step.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..maskers.text_tokens import Text
from ..models.huggingface import TextClassifier
from ..results import Attribution
from ._base import GradientExplainer, Partial, chunks, default_batch, finish_targets, row_take, show
from .layers import LayerTap, find_layer

__all__ = ["IntegratedGradients", "LayerIntegratedGradients", "quadrature", "gaussian_blur", "METHODS"]

METHODS = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre")


def quadrature(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(points a_s in [0, 1], weights w_s) with integral_0^1 g(a) da ~= sum_s w_s g(a_s).

    riemann_trapezoid: a = 0, 1/(n-1), ..., 1 and the composite trapezoid weights 1/(n-1) (halved at
    both ends), which sum to 1. (captum's rule of the same name uses the same points with weights 1/n,
    halved at the ends, which sum to 1 - 1/n: its attributions are ours times (n-1)/n.)
    riemann_left / right / middle: a = s/n, (s+1)/n, (s+1/2)/n with weights 1/n.
    gausslegendre: the n-point Gauss-Legendre rule mapped to [0, 1] (exact for polynomials of degree 2n-1).
    """
    if method not in METHODS:
        raise InputError(f"unknown integration method {method!r}; use one of {list(METHODS)}")
    if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) or n_steps < 1:
        raise InputError(f"n_steps must be a positive integer, not {n_steps!r}")
    n = int(n_steps)
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    if method == "riemann_trapezoid":
        if n < 2:
            raise InputError("riemann_trapezoid needs n_steps >= 2 (both ends of the path)")
        w = np.full(n, 1.0 / (n - 1))
        w[0] = w[-1] = 0.5 / (n - 1)
        return np.linspace(0.0, 1.0, n), w
    s = np.arange(n, dtype=float)
    shift = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (s + shift) / n, np.full(n, 1.0 / n)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """x blurred over its last two axes by a Gaussian of `sigma` pixels (edges replicated)."""
    if sigma <= 0:
        return x.clone()
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float64) / sigma) ** 2)
    k = (k / k.sum()).to(device=x.device, dtype=x.dtype)
    h, w = x.shape[-2:]
    flat = F.pad(x.reshape(-1, 1, h, w), (r, r, r, r), mode="replicate")
    flat = F.conv2d(flat, k.view(1, 1, 1, -1))
    flat = F.conv2d(flat, k.view(1, 1, -1, 1))
    return flat.reshape(x.shape)


def _describe(baseline: Any) -> Any:
    if isinstance(baseline, str):
        return baseline
    if isinstance(baseline, (int, float)):
        return float(baseline)
    if isinstance(baseline, (list, tuple)):
        return [_describe(b) for b in baseline]
    return f"tensor{tuple(np.shape(baseline))}"


def _integrate(explainer: GradientExplainer, starts: torch.Tensor, ends: torch.Tensor, targets: torch.Tensor,
               model_input: torch.Tensor | None, tap: LayerTap | None, n_steps: int, method: str,
               batch_size: int | None, show_progress: bool | None,
               forward_kwargs: dict[str, torch.Tensor] | None = None,
               fixed_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, int]:
    """sum_s w_s * d f_t(start + a_s (end - start)) / d point, for K stacked paths per row.

    starts, ends: (K, N, *shape) path ends. Without a tap the path point is the model's input; with a
    tap, `model_input` (N, ...) is fed to the model and the tap substitutes the point for the layer's
    output. Each pass takes a block of steps x a block of rows, built by broadcasting (no gathers), and
    its gradients are summed over the steps of the block. `forward_kwargs` (tap only): per-row tensors
    (N, ...) passed to the model as keywords, cut and repeated along the steps like `model_input`;
    `fixed_kwargs`: keywords passed as they are.
    Returns the (K, N, *shape) weighted gradient sums (in the layout of `starts`) and the rows evaluated."""
    k_paths, n = starts.shape[:2]
    shape = tuple(starts.shape[2:])
    alphas, weights = quadrature(method, n_steps)
    dev, dt = starts.device, starts.dtype
    s_count = len(alphas)
    a_t = torch.as_tensor(alphas, dtype=dt, device=dev).view(-1, 1, *([1] * len(shape)))
    w_t = torch.as_tensor(weights, dtype=dt, device=dev).view(-1, 1, *([1] * len(shape)))
    elements = shape if model_input is None else model_input.shape[1:]
    size = default_batch(max(int(np.prod(elements)), int(np.prod(shape))), dev, batch_size)
    rows_per = min(n, size)
    steps_per = max(1, size // rows_per)
    blocks = [(k, r0, min(n, r0 + rows_per), s0, min(s_count, s0 + steps_per))
              for k in range(k_paths) for r0 in range(0, n, rows_per) for s0 in range(0, s_count, steps_per)]
    acc = torch.zeros_like(starts)
    for k, r0, r1, s0, s1 in show(show_progress, blocks, explainer.method):
        b, d = starts[k, r0:r1], ends[k, r0:r1] - starts[k, r0:r1]
        steps, rows = s1 - s0, r1 - r0
        point = (b[None] + a_t[s0:s1] * d[None]).reshape(steps * rows, *shape)
        tgt = targets[r0:r1].repeat(steps)
        if tap is None:
            g, _, _ = explainer._target_grad(point, tgt)
        else:
            inp = model_input[r0:r1]
            if forward_kwargs or fixed_kwargs:
                explainer._kw = {**(fixed_kwargs or {}),
                                 **{k: _repeat_rows(v[r0:r1], steps) for k, v in (forward_kwargs or {}).items()}}
            tap.set("replace", rows=steps * rows, value=point.requires_grad_(True))
            try:
                g, _, _ = explainer._target_grad(_repeat_rows(inp, steps), tgt, wrt=tap)
            finally:
                tap.set("off")
                explainer._kw = {}
        acc[k, r0:r1] += (g.view(steps, rows, *shape) * w_t[s0:s1]).sum(0)
    return acc, k_paths * s_count * n


def _repeat_rows(t: torch.Tensor, times: int) -> torch.Tensor:
    """(times * rows, ...): the rows of t repeated `times` times, step-major (as the path points)."""
    return t.repeat(times, *([1] * (t.ndim - 1)))


def _completeness(attr: torch.Tensor, fx_t: torch.Tensor, base: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per row: sum(attr) - (f(x) - f(b)), and that gap over |f(x) - f(b)|."""
    total = attr.detach().reshape(attr.shape[0], -1).cpu().double().sum(1)     # float64 on the CPU (any device)
    delta = (fx_t - base).detach().cpu().double()
    gap = total - delta
    rel = torch.where(delta.abs() > 0, gap / delta.abs().clamp_min(1e-300),
                      torch.where(gap == 0, torch.zeros_like(gap), torch.full_like(gap, float("inf"))))
    return {"completeness_gap": gap, "relative_completeness_gap": rel}



def _fit_rows(value: Any, x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor | None:
    """`value` as a tensor shaped like x: one input's shape is repeated for every row, a batch is cut to
    `rows`; None when it fits neither way."""
    t = value.detach() if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    t = t.to(device=x.device, dtype=x.dtype)
    if tuple(t.shape) == tuple(x.shape[1:]):
        return t.expand_as(x).clone()
    if t.ndim == x.ndim and tuple(t.shape[1:]) == tuple(x.shape[1:]):
        t = row_take(t, rows)
        if t.shape[0] == x.shape[0]:
            return t.clone()
    return None

class IntegratedGradients(GradientExplainer):
    """Integrated gradients: values = (x - b) * integral_0^1 grad f_t(b + a (x - b)) da.

    Arguments:
      model               torch.nn.Module (or callable) mapping (n, *input_shape) to logits (n, classes)
      multiply_by_inputs  multiply the integrated gradient by (x - b) (True: the attribution, additive up to
                          the quadrature error); False returns the path-averaged gradient alone
      labels              class names, so that `target` may be given by name
      seed                seed of the "uniform" baseline: same seed, same answer
      channels_last       memory layout of 4-D batches on the CPU ("auto", True, False); see GradientExplainer

    `explain(x, target="predicted", baseline="zeros", n_steps=50, method="gausslegendre", batch_size=None,
    blur_sigma=None)`:
      baseline    "zeros"; "blur" (x blurred by a Gaussian over its last two axes, sigma = `blur_sigma`
                  pixels, default a tenth of the larger side); "uniform" (uniform noise between the batch's
                  min and max, seeded); a number; a tensor/array shaped like one input (*input_shape) or
                  like the batch (n, *input_shape); or a list of those — IG from each baseline, averaged
                  (several sampled backgrounds give expected gradients)
      n_steps     points on the path; method: "gausslegendre" (captum's default), "riemann_trapezoid",
                  "riemann_left", "riemann_right", "riemann_middle" (see `quadrature`; whybox's trapezoid is the
                  textbook rule with weights summing to 1, captum's equals it times (n_steps - 1) / n_steps)
      batch_size  rows (path points) per forward/backward pass; default: ~1M input elements on the CPU

    Returns an Attribution with values (n, *input_shape), base_values f_t(b) (mean over baselines), so that
    base + sum(values) ~= f_t(x); meta: completeness_gap and relative_completeness_gap per row, target,
    output, outputs, n_steps, quadrature, baseline, model_evals / backward_evals (rows through the model).
    """

    method = "integrated_gradients"

    def __init__(self, model: Any, multiply_by_inputs: bool = True, *, labels: Sequence[str] | None = None,
                 seed: int = 0, channels_last: bool | str = "auto") -> None:
        super().__init__(model, labels=labels, channels_last=channels_last)
        self.multiply_by_inputs = bool(multiply_by_inputs)
        self.seed = int(seed)

    # ----------------------------------------------------------------- baselines
    def _one_baseline(self, spec: Any, x: torch.Tensor, rows: torch.Tensor | None, blur_sigma: float | None,
                      draw: int) -> torch.Tensor:
        if isinstance(spec, str):
            if spec == "zeros":
                return torch.zeros_like(x)
            if spec == "blur":
                if x.ndim < 3:
                    raise InputError(f"a 'blur' baseline needs images (n, [C,] H, W); x has shape {tuple(x.shape)}")
                sigma = 0.1 * max(x.shape[-2:]) if blur_sigma is None else float(blur_sigma)
                return gaussian_blur(x, sigma)
            if spec == "uniform":
                gen = torch.Generator().manual_seed(self.seed * 1000003 + draw)
                u = torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)
                lo, hi = x.min(), x.max()
                return lo + (hi - lo) * u
            raise InputError(f"unknown baseline {spec!r}; use 'zeros', 'blur', 'uniform', a number, a tensor, or a "
                             "list of those")
        if isinstance(spec, (bool, np.bool_)):
            raise InputError("baseline must be 'zeros', 'blur', 'uniform', a number or a tensor, not a bool")
        if isinstance(spec, (int, float, np.integer, np.floating)):
            return torch.full_like(x, float(spec))
        t = _fit_rows(spec, x, rows)
        if t is not None:
            return t
        t = torch.as_tensor(np.asarray(spec)) if not isinstance(spec, torch.Tensor) else spec
        raise InputError(f"a baseline of shape {tuple(t.shape)} does not fit inputs of shape "
                         f"{tuple(x.shape if rows is None else (int(rows.max()) + 1, *x.shape[1:]))}; give one "
                         "input's shape (*input_shape), one baseline per row (n, *input_shape), or several "
                         "baselines as a list (list(backgrounds))")

    def baselines(self, baseline: Any, x: torch.Tensor, rows: torch.Tensor | None = None,
                  blur_sigma: float | None = None) -> torch.Tensor:
        """(K, n, *input_shape): the K baselines for the prepared rows x."""
        specs = list(baseline) if isinstance(baseline, (list, tuple)) else [baseline]
        if not specs:
            raise InputError("the list of baselines is empty; give at least one")
        return torch.stack([self._one_baseline(s, x, rows, blur_sigma, i) for i, s in enumerate(specs)])

    # ----------------------------------------------------------------- method
    def _attribute(self, x: torch.Tensor, targets: torch.Tensor | None, rows: torch.Tensor | None, hooks: list,
                   baseline: Any = "zeros", n_steps: int = 50, method: str = "gausslegendre",
                   batch_size: int | None = None, show_progress: bool | None = None,
                   blur_sigma: float | None = None) -> Partial:
        quadrature(method, n_steps)                       # fail early on a bad method
        n = x.shape[0]
        fx = self._forward(x, batch_size)
        targets = finish_targets(targets, fx, self.labels)
        b = self.baselines(baseline, x, rows, blur_sigma)
        k = b.shape[0]
        fb = self._forward(b.reshape(k * n, *x.shape[1:]), batch_size).view(k, n, -1)
        fb_t = fb.gather(2, targets.view(1, n, 1).expand(k, n, 1))[..., 0]
        grads, evals = _integrate(self, b, x.expand_as(b), targets, None, None, n_steps, method, batch_size,
                                  show_progress)
        fx_t = fx.gather(1, targets[:, None])[:, 0]
        meta = {"n_steps": int(n_steps), "quadrature": method, "baseline": _describe(baseline),
                "n_baselines": int(k), "multiply_by_inputs": self.multiply_by_inputs}
        if self.multiply_by_inputs:
            attr = (grads * (x[None] - b)).mean(0)
            base = fb_t.mean(0)
            per_row = _completeness(attr, fx_t, base)
        else:
            attr, base, per_row = grads.mean(0), None, {}
        per_row["baseline_output"] = fb_t.mean(0)
        return Partial(values=attr, base=base, forward=n + k * n + evals, backward=evals, per_row=per_row,
                       meta=meta, targets=targets, logits=fx)


class LayerIntegratedGradients(GradientExplainer):
    """Integrated gradients of a layer's output z:
    values = (z(x) - z_b) * integral_0^1 grad_z f_t(z_b + a (z(x) - z_b)) da.

    The model still takes x (images, or integer token ids through an nn.Embedding); along the path the
    layer's output is replaced by the interpolated activations.

    Arguments:
      model               torch.nn.Module mapping (n, *input_shape) to logits (n, classes), or a
                          `whybox.models.TextClassifier` with a torch head (then `explain` takes texts)
      layer               module path ("embeddings.word", "layer4.1.conv2") or the module object; for a
                          TextClassifier the default is its word-embedding layer
      multiply_by_inputs  multiply by (z(x) - z_b) (True: additive up to the quadrature error)
      labels              class names, so that `target` may be given by name
      channels_last       memory layout of 4-D float batches on the CPU ("auto", True, False)

    `explain(x, target="predicted", baseline="zeros", baseline_ids=None, n_steps=50, method="gausslegendre",
    batch_size=None, sum_last_axis=False, forward_kwargs=None)`:
      baseline       the baseline activation z_b: "zeros", a number, or a tensor shaped like one row of the
                     layer output (*layer_shape) or like all rows (n, *layer_shape)
      baseline_ids   instead of `baseline`: model inputs whose layer output is z_b — an int (every position
                     that token id, e.g. the pad token), one input (*input_shape), or one per row
      sum_last_axis  sum the values over the last axis (token embeddings -> one value per token)
      forward_kwargs extra keyword arguments of the model's forward, e.g. {"attention_mask": mask} for a
                     Hugging Face model: tensors with one row per input (n, ...) are cut and repeated with
                     the rows (also for the baseline_ids and every path point); other values are passed
                     unchanged. The model is called as model(x, **forward_kwargs)

    Returns an Attribution with values (n, *layer_shape) (last axis summed with sum_last_axis), base_values
    f_t with the layer's output set to z_b, data = x when its shape matches the values (token ids);
    meta: completeness_gap, relative_completeness_gap, layer, layer_shape, and the rest as IntegratedGradients.

    Texts (model a TextClassifier): `explain(texts, target="predicted", baseline_token="pad", **settings)`
    tokenizes the texts (padded, with their attention mask), takes as baseline the same ids with every
    non-special token replaced by the pad (or mask) token, attributes to the word embeddings summed over
    the embedding axis, and sums the tokens of each word (`maskers.Text.word_attribution`). The result is
    a padded word-level Attribution (words as data, `mask`) of the classifier's logits, or of its log-odds
    when its output is "log_odds" (`TextClassifier.module`); the completeness gap is unchanged by the summing, and meta["tokens"] / meta["token_values"] keep the per-token values.
    """

    method = "layer_integrated_gradients"
    pixel_level = False

    def __init__(self, model: Any, layer: Any = None, multiply_by_inputs: bool = True, *,
                 labels: Sequence[str] | None = None, channels_last: bool | str = "auto") -> None:
        self.text_model = None
        if isinstance(model, TextClassifier):
            self.text_model = model
            labels = labels if labels is not None else model.output_names
            model = model.module()
            if layer is None:
                layer = model.encoder.get_input_embeddings() if hasattr(model, "encoder") else \
                    model.model.get_input_embeddings()
        elif layer is None:
            raise InputError("LayerIntegratedGradients needs the layer to attribute to: a module path such as "
                             "'embeddings.word_embeddings' or the module object (only a TextClassifier has a default)")
        super().__init__(model, labels=labels, channels_last=channels_last)
        self.layer_name, self.layer = find_layer(model, layer)
        self.multiply_by_inputs = bool(multiply_by_inputs)
        self._kw: dict[str, Any] = {}        # keyword arguments of the model call under way (forward_kwargs)

    def explain(self, x: Any, target: Any = "predicted", **settings: Any) -> Attribution:
        """Attributions for each row of x (or, for a TextClassifier, each text) toward its target class."""
        if self.text_model is not None and (isinstance(x, str) or (
                isinstance(x, (list, tuple)) and x and all(isinstance(t, str) for t in x))):
            return self._explain_texts([x] if isinstance(x, str) else list(x), target, **settings)
        return super().explain(x, target, **settings)

    def _explain_texts(self, texts: list[str], target: Any, baseline_token: str = "pad", **settings: Any
                       ) -> Attribution:
        for name in ("baseline", "baseline_ids", "forward_kwargs", "sum_last_axis"):
            if name in settings:
                raise InputError(f"{name}= is set by the text path (pad-token baseline, attention mask, summed "
                                 "embeddings); explain token ids directly to choose it yourself")
        if baseline_token not in ("pad", "mask"):
            raise InputError(f"baseline_token must be 'pad' or 'mask', got {baseline_token!r}")
        clf = self.text_model
        tok = clf.tokenizer
        enc = tok(texts, padding=True, truncation=True, max_length=clf.max_length, return_tensors="pt")
        ids, mask = enc["input_ids"], enc["attention_mask"]
        special = torch.tensor([tok.get_special_tokens_mask(row.tolist(), already_has_special_tokens=True)
                                for row in ids], dtype=torch.bool) | ~mask.bool()
        fill = tok.pad_token_id if baseline_token == "pad" else tok.mask_token_id
        if fill is None:
            raise InputError(f"the tokenizer has no {baseline_token} token; use baseline_token="
                             f"{'mask' if baseline_token == 'pad' else 'pad'!r}")
        base = torch.where(special, ids, torch.full_like(ids, fill))
        tokens_attr = super().explain(ids, target, baseline_ids=base, forward_kwargs={"attention_mask": mask},
                                      sum_last_axis=True, **settings)
        real = mask.bool().numpy()
        tvals = np.asarray(tokens_attr.values)
        meta = dict(tokens_attr.meta)
        meta["tokens"] = [tok.convert_ids_to_tokens(ids[i][real[i]].tolist()) for i in range(len(texts))]
        meta["token_values"] = [tvals[i][real[i]].tolist() for i in range(len(texts))]
        meta["baseline"] = f"{baseline_token} token at every non-special position"
        meta["per_row"] = list(meta.get("per_row", [])) + ["tokens", "token_values"]
        tokens_attr = Attribution(values=tvals, base_values=tokens_attr.base_values, method=tokens_attr.method,
                                  meta=meta)
        return Text(tok).word_attribution(tokens_attr, texts, max_length=clf.max_length)

    def _run_model(self, x: torch.Tensor) -> Any:
        for tap in self._taps:
            tap.calls = 0
        return self.model(x, **self._kw) if self._kw else self.model(x)

    @staticmethod
    def _forward_kwargs(kwargs: Any, x: torch.Tensor, rows: torch.Tensor | None
                        ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(per-row tensors, other values) of `forward_kwargs`; per-row tensors go to the model's device."""
        if kwargs is None:
            return {}, {}
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise InputError(f"forward_kwargs must be a dict of keyword arguments (name -> value), not "
                             f"{type(kwargs).__name__}")
        per_row, fixed = {}, {}
        for name, v in kwargs.items():
            if isinstance(v, np.ndarray):
                v = torch.from_numpy(np.ascontiguousarray(v))
            if isinstance(v, torch.Tensor) and v.ndim >= 1:
                t = row_take(v.detach().to(x.device), rows)
                if t.shape[0] != x.shape[0]:
                    raise InputError(f"forward_kwargs[{name!r}] has {t.shape[0]} rows for {x.shape[0]} inputs; give "
                                     "one row per input (n, ...)")
                with torch.inference_mode(False):
                    per_row[name] = t.clone()
            else:
                fixed[name] = v
        return per_row, fixed

    def _capture(self, tap: LayerTap, x: torch.Tensor, batch_size: int | None,
                 value: torch.Tensor | None = None, per_row: dict[str, torch.Tensor] | None = None,
                 fixed: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, layer output) at x, in chunks; with `value`, the layer's output is replaced by it.
        `per_row` / `fixed`: keyword arguments of the model call (cut with the rows / as they are)."""
        size = default_batch(max(1, int(np.prod(x.shape[1:]))), x.device, batch_size)
        outs, acts = [], []
        with torch.no_grad():
            for a, b in chunks(x.shape[0], size):
                self._kw = {**(fixed or {}), **{k: v[a:b] for k, v in (per_row or {}).items()}}
                if value is None:
                    tap.set("capture", rows=b - a)
                else:
                    tap.set("replace", rows=b - a, value=value[a:b])
                outs.append(self._call(x[a:b]).detach())
                if value is None:
                    if tap.calls == 0:
                        raise InputError(f"layer {self.layer_name!r} did not run in the model's forward pass; pick a "
                                         "layer the model uses")
                    acts.append(tap.value)
                tap.set("off")
                self._kw = {}
        return torch.cat(outs), (torch.cat(acts) if acts else None)

    def _baseline_ids(self, ids: Any, x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        if isinstance(ids, (int, np.integer, float)) and not isinstance(ids, bool):
            return torch.full_like(x, ids)
        t = _fit_rows(ids, x, rows)
        if t is not None:
            return t
        t = torch.as_tensor(np.asarray(ids)) if not isinstance(ids, torch.Tensor) else ids
        raise InputError(f"baseline_ids of shape {tuple(t.shape)} do not fit inputs of shape {tuple(x.shape)}; give "
                         "one id, one input's shape, or one row per input")

    def _attribute(self, x: torch.Tensor, targets: torch.Tensor | None, rows: torch.Tensor | None, hooks: list,
                   baseline: Any = "zeros", baseline_ids: Any = None, n_steps: int = 50,
                   method: str = "gausslegendre", batch_size: int | None = None,
                   show_progress: bool | None = None, sum_last_axis: bool = False,
                   forward_kwargs: dict[str, Any] | None = None) -> Partial:
        quadrature(method, n_steps)
        per_row_kw, fixed_kw = self._forward_kwargs(forward_kwargs, x, rows)
        if baseline_ids is not None and not (isinstance(baseline, str) and baseline == "zeros"):
            raise InputError("give either baseline (an activation) or baseline_ids (inputs), not both")
        tap = LayerTap(self.layer_name, self.layer).attach(hooks)
        self._taps = [tap]
        try:
            n = x.shape[0]
            fx, z = self._capture(tap, x, batch_size, per_row=per_row_kw, fixed=fixed_kw)
            targets = finish_targets(targets, fx, self.labels)
            forward = n
            if baseline_ids is not None:
                _, zb = self._capture(tap, self._baseline_ids(baseline_ids, x, rows), batch_size, per_row=per_row_kw,
                                      fixed=fixed_kw)
                forward += n
            elif isinstance(baseline, str):
                if baseline != "zeros":
                    raise InputError(f"unknown layer baseline {baseline!r}; use 'zeros', a number, a tensor shaped "
                                     "like the layer's output, or baseline_ids=")
                zb = torch.zeros_like(z)
            elif isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
                zb = torch.full_like(z, float(baseline))
            else:
                t = baseline.detach() if isinstance(baseline, torch.Tensor) else torch.as_tensor(np.asarray(baseline))
                t = t.to(device=z.device, dtype=z.dtype)
                if tuple(t.shape) == tuple(z.shape[1:]):
                    zb = t.expand_as(z).clone()
                elif t.ndim == z.ndim and tuple(t.shape[1:]) == tuple(z.shape[1:]) and \
                        row_take(t, rows).shape[0] == n:
                    zb = row_take(t, rows)
                else:
                    raise InputError(f"a layer baseline of shape {tuple(t.shape)} does not fit the layer output "
                                     f"{tuple(z.shape)}; give (*layer_shape) or (n, *layer_shape)")
            fb, _ = self._capture(tap, x, batch_size, value=zb, per_row=per_row_kw, fixed=fixed_kw)
            forward += n
            fb_t = fb.gather(1, targets[:, None])[:, 0]
            grads, evals = _integrate(self, zb[None], z[None], targets, x, tap, n_steps, method,
                                      batch_size, show_progress, forward_kwargs=per_row_kw, fixed_kwargs=fixed_kw)
        finally:
            tap.set("off")
            self._taps = []
            self._kw = {}
        grads = grads[0]
        fx_t = fx.gather(1, targets[:, None])[:, 0]
        meta = {"n_steps": int(n_steps), "quadrature": method, "layer": self.layer_name,
                "layer_shape": list(z.shape[1:]), "multiply_by_inputs": self.multiply_by_inputs,
                "baseline": "baseline_ids" if baseline_ids is not None else _describe(baseline),
                "sum_last_axis": bool(sum_last_axis)}
        if self.multiply_by_inputs:
            attr, base = grads * (z - zb), fb_t
            per_row = _completeness(attr, fx_t, base)
        else:
            attr, base, per_row = grads, None, {}
        per_row["baseline_output"] = fb_t
        if sum_last_axis:
            attr = attr.sum(-1)
        return Partial(values=attr, base=base, forward=forward + evals, backward=evals, per_row=per_row, meta=meta,
                       targets=targets, logits=fx)
