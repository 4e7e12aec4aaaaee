"""Saliency (Simonyan et al. 2013) and input x gradient: one forward and one backward pass per batch.

Neither is additive: `base_values` are 0 and `base + sum(values)` is not the model output.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ._base import GradientExplainer, Partial, chunks, default_batch, show

__all__ = ["Saliency", "InputXGradient"]


class _OnePass(GradientExplainer):
    """Methods made from the gradient at x alone."""

    def _combine(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _attribute(self, x: torch.Tensor, targets: torch.Tensor | None, rows: torch.Tensor | None, hooks: list,
                   batch_size: int | None = None, show_progress: bool | None = None) -> Partial:
        n = x.shape[0]
        size = default_batch(x[0].numel(), x.device, batch_size)
        values, logits, ts = [], [], []
        for a, b in show(show_progress, chunks(n, size), self.method):
            g, out, t = self._target_grad(x[a:b], None if targets is None else targets[a:b])
            values.append(self._combine(x[a:b], g))
            logits.append(out)
            ts.append(t)
        return Partial(values=torch.cat(values), forward=n, backward=n, targets=torch.cat(ts),
                       logits=torch.cat(logits))


class Saliency(_OnePass):
    """Saliency map: values = |d f_t(x) / d x| (or the signed gradient with abs=False).

    Arguments:
      model          torch.nn.Module (or callable) mapping (n, *input_shape) to logits (n, classes)
      abs            take the absolute value of the gradient (Simonyan et al.); False keeps its sign
      labels         class names, so that `target` may be given by name
      channels_last  memory layout for 4-D batches on the CPU ("auto", True, False); see GradientExplainer

    `explain(x, target="predicted", batch_size=None)` -> Attribution with values (n, *input_shape),
    base_values 0 (saliency is not additive), data = x; meta: target, output (f_t(x)), outputs (logits),
    model_evals (rows through the forward pass), backward_evals.
    """

    method = "saliency"

    def __init__(self, model: Any, abs: bool = True, *, labels: Sequence[str] | None = None,  # noqa: A002
                 channels_last: bool | str = "auto") -> None:
        super().__init__(model, labels=labels, channels_last=channels_last)
        self.abs = bool(abs)

    def _combine(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return g.abs() if self.abs else g


class InputXGradient(_OnePass):
    """Input x gradient: values = x * d f_t(x) / d x (exact attribution for a linear model without bias).

    Arguments:
      model          torch.nn.Module (or callable) mapping (n, *input_shape) to logits (n, classes)
      labels         class names, so that `target` may be given by name
      channels_last  memory layout for 4-D batches on the CPU ("auto", True, False); see GradientExplainer

    `explain(x, target="predicted", batch_size=None)` -> Attribution like `Saliency`'s (base_values 0).
    """

    method = "input_x_gradient"

    def _combine(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return x * g
