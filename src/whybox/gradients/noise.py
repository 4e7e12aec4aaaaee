"""SmoothGrad (Smilkov et al. 2017), SmoothGrad-squared and VarGrad around any gradient explainer.

SmoothGrad: values = mean_s A(x + e_s), e_s ~ N(0, sigma^2); smoothgrad_sq: mean_s A(x + e_s)^2;
vargrad: the variance over s of A(x + e_s). A is the wrapped explainer's attribution.

All noisy copies of a group of rows go to the wrapped explainer as one batch (which it cuts into
chunks of `batch_size` rows), not one call per sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..results import Attribution
from ._base import GradientExplainer, Partial, Target, explaining, finish_targets, parse_targets

__all__ = ["SmoothGrad", "KINDS"]

KINDS = ("smoothgrad", "smoothgrad_sq", "vargrad")

#: input elements of noisy copies held at once (64 MB of float32)
_GROUP_ELEMENTS = 2 ** 24


def _row_seed(seed: int, row: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(row)]).generate_state(1, np.uint64)[0] >> 1)


class SmoothGrad:
    """Average (or square, or variance of) an explainer's attributions over noisy copies of each input.

    Arguments:
      explainer  a whybox.gradients explainer (Saliency, InputXGradient, IntegratedGradients, GradCam, ...)
      n_samples  noisy copies per input
      stdev      the noise's standard deviation: with relative=True a fraction of each input's range,
                 sigma = stdev * (max(x_i) - min(x_i)) (the paper's sigma / (x_max - x_min); 0.1-0.2 works
                 well); with relative=False the absolute sigma in input units (captum's `stdevs`)
      relative   see stdev
      kind       "smoothgrad" (mean), "smoothgrad_sq" (mean of squares) or "vargrad" (variance)
      seed       the noise's seed: row i's noise depends only on (seed, i), so the answer does not
                 depend on batch_size

    `explain(x, target="predicted", noise=None, batch_size=None, **settings)`: `settings` go to the wrapped
    explainer (IG's baseline, n_steps, ...). `noise` replaces the drawn noise: a tensor (n, n_samples,
    *input_shape) added as is (captum's NoiseTunnel adds noise of shape (n * n_samples, *input_shape) to
    x.repeat_interleave(n_samples): that tensor reshaped is the same noise). Targets are resolved on the
    clean x ("predicted" = its argmax). Returns the wrapped method's Attribution shape with method
    "smoothgrad"; base_values are the mean of the wrapped base values for kind="smoothgrad" (0 otherwise);
    meta: kind, n_samples, stdev, relative, sigma per row, inner_method, model_evals, backward_evals.
    """

    method = "smoothgrad"

    def __init__(self, explainer: GradientExplainer, n_samples: int = 20, stdev: float = 0.15, *,
                 relative: bool = True, kind: str = "smoothgrad", seed: int = 0) -> None:
        if not isinstance(explainer, GradientExplainer):
            raise InputError(f"SmoothGrad wraps a whybox.gradients explainer (Saliency, IntegratedGradients, ...), "
                             f"not {type(explainer).__name__}")
        if isinstance(explainer, SmoothGrad):
            raise InputError("SmoothGrad of a SmoothGrad: wrap the inner explainer once, with more samples")
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r}; use one of {list(KINDS)}")
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise InputError(f"n_samples must be a positive integer, not {n_samples!r}")
        if not stdev >= 0:
            raise InputError(f"stdev must be >= 0, not {stdev!r}")
        self.explainer = explainer
        self.n_samples = int(n_samples)
        self.stdev = float(stdev)
        self.relative = bool(relative)
        self.kind = kind
        self.seed = int(seed)

    def __repr__(self) -> str:
        return f"SmoothGrad({self.explainer!r}, n_samples={self.n_samples}, kind={self.kind!r})"

    def _noise(self, rows: range, shape: tuple[int, ...], sigma: torch.Tensor, device: torch.device,
               dtype: torch.dtype) -> torch.Tensor:
        """(len(rows), S, *shape) Gaussian noise; row i's draws come from its own generator."""
        out = torch.empty((len(rows), self.n_samples, *shape), dtype=dtype)
        for j, i in enumerate(rows):
            gen = torch.Generator().manual_seed(_row_seed(self.seed, i))
            out[j] = torch.randn((self.n_samples, *shape), generator=gen, dtype=dtype)
        out = out.to(device)
        return out * sigma[list(rows)].view(-1, *([1] * (len(shape) + 1)))

    def explain(self, x: Any, target: Target = "predicted", *, noise: Any = None, batch_size: int | None = None,
                show_progress: bool | None = None, **settings: Any) -> Attribution:
        inner = self.explainer
        with explaining(inner.model) as hooks:
            xt, data = inner._as_input(x)
            n, shape, s = xt.shape[0], tuple(xt.shape[1:]), self.n_samples
            if noise is not None:
                noise = noise.detach() if isinstance(noise, torch.Tensor) else torch.as_tensor(np.asarray(noise))
                if tuple(noise.shape) != (n, s, *shape):
                    raise InputError(f"noise has shape {tuple(noise.shape)}; it must be (n, n_samples, *input_shape) "
                                     f"= {(n, s, *shape)}")
                noise = noise.to(device=xt.device, dtype=xt.dtype)
            flat = xt.reshape(n, -1)
            sigma = self.stdev * (flat.max(1).values - flat.min(1).values) if self.relative else \
                torch.full((n,), self.stdev, dtype=xt.dtype, device=xt.device)
            spec = parse_targets(target, n, inner.labels)
            group = max(1, _GROUP_ELEMENTS // max(1, s * xt[0].numel()))
            parts, bases = [], []
            fx = inner._forward(xt, batch_size)
            targets = finish_targets(spec, fx, inner.labels)
            forward, backward = n, 0
            for a in range(0, n, group):
                b = min(n, a + group)
                e = noise[a:b] if noise is not None else self._noise(range(a, b), shape, sigma, xt.device, xt.dtype)
                noisy = xt[a:b].repeat_interleave(s, dim=0) + e.reshape((b - a) * s, *shape)
                rows = torch.arange(a, b, device=xt.device).repeat_interleave(s)
                part = inner._attribute(noisy, targets[rows], rows=rows, hooks=hooks, batch_size=batch_size,
                                        show_progress=show_progress if n == b - a else False, **settings)
                forward += part.forward
                backward += part.backward
                v = part.values.reshape(b - a, s, *part.values.shape[1:])
                if self.kind == "smoothgrad":
                    parts.append(v.mean(1))
                elif self.kind == "smoothgrad_sq":
                    parts.append((v * v).mean(1))
                else:
                    parts.append(v.var(1, unbiased=False))
                if part.base is not None and self.kind == "smoothgrad":
                    bases.append(part.base.view(b - a, s).mean(1))
                meta = dict(part.meta)
        meta.update({"kind": self.kind, "n_samples": s, "stdev": self.stdev, "relative": self.relative,
                     "seed": self.seed if noise is None else None, "inner_method": inner.method,
                     "noise": "given" if noise is not None else "drawn"})
        result = Partial(values=torch.cat(parts), base=torch.cat(bases) if len(bases) == len(parts) else None,
                         forward=forward, backward=backward, per_row={"sigma": sigma}, meta=meta,
                         targets=targets, logits=fx)
        return inner._result(result, data, method=self.method)
