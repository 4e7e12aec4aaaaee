"""Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhyay et al. 2018): where in a layer's
feature maps the evidence for a class sits, upsampled to the input.

Both read the activations A (n, K, *spatial) of one layer and the gradients g = dS_t/dA of the target
logit S_t, from one forward pass and one backward pass that stops at the layer.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..errors import InputError
from ._base import GradientExplainer, Partial, chunks, default_batch, show
from .layers import LayerTap, find_layer

__all__ = ["GradCam", "GradCamPlusPlus"]

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


class GradCam(GradientExplainer):
    """Grad-CAM: map = ReLU(sum_k w_k A_k) with w_k = mean over positions of dS_t/dA_k, upsampled to the input.

    Arguments:
      model          torch.nn.Module mapping (n, C, H, W) images to logits (n, classes)
      layer          module path ("layer4.1.conv2", "conv3") or the module object; usually the last
                     convolution layer. A wrong name raises InputError listing the convolution layers.
      relu           keep only the positive evidence (the paper's ReLU); False keeps the signed map
      upsample       resize the map to the input's H x W (bilinear, align_corners=False, as
                     torch.nn.functional.interpolate and captum's LayerAttribution.interpolate)
      labels         class names, so that `target` may be given by name
      channels_last  memory layout of 4-D batches on the CPU ("auto", True, False); see GradientExplainer

    `explain(x, target="predicted", batch_size=None)` -> Attribution with values (n, H, W) — one map per
    image, no channel axis (the layer's (h, w) without upsampling) — base_values 0 (not additive), data
    None; meta: layer, map_shape (the raw low-resolution map's shape), target, output, outputs,
    model_evals, backward_evals (the backward pass stops at the layer).
    """

    method = "gradcam"
    pixel_level = False

    def __init__(self, model: Any, layer: Any, relu: bool = True, upsample: bool = True, *,
                 labels: Sequence[str] | None = None, channels_last: bool | str = "auto") -> None:
        super().__init__(model, labels=labels, channels_last=channels_last)
        self.layer_name, self.layer = find_layer(model, layer)
        self.relu = bool(relu)
        self.upsample = bool(upsample)

    def _weights(self, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """(n, K) channel weights."""
        return grads.flatten(2).mean(2)

    def _attribute(self, x: torch.Tensor, targets: torch.Tensor | None, rows: torch.Tensor | None, hooks: list,
                   batch_size: int | None = None, show_progress: bool | None = None) -> Partial:
        if not x.is_floating_point():
            raise InputError(f"{type(self).__name__} takes float inputs (images); x is {x.dtype}")
        tap = LayerTap(self.layer_name, self.layer).attach(hooks)
        self._taps = [tap]
        n = x.shape[0]
        size = default_batch(x[0].numel(), x.device, batch_size)
        maps, logits, ts = [], [], []
        map_shape: tuple[int, ...] = ()
        try:
            for a, b in show(show_progress, chunks(n, size), self.method):
                tap.set("leaf", rows=b - a)
                g, out, t = self._target_grad(x[a:b], None if targets is None else targets[a:b], wrt=tap)
                acts = tap.value.detach()
                tap.set("off")
                if acts.ndim < 3:
                    raise InputError(f"layer {self.layer_name!r} returns shape {tuple(acts.shape)}, with no spatial "
                                     "axes; Grad-CAM needs a layer with feature maps (n, channels, h, w), such as "
                                     "the last convolution layer")
                w = self._weights(acts, g)
                cam = (w.view(*w.shape, *([1] * (acts.ndim - 2))) * acts).sum(1)
                if self.relu:
                    cam = F.relu(cam)
                map_shape = tuple(cam.shape[1:])
                if self.upsample:
                    d = cam.ndim - 1
                    if d not in _MODES or x.ndim - 2 < d:
                        raise InputError(f"cannot upsample a {d}-D map of layer {self.layer_name!r} to inputs of shape "
                                         f"{tuple(x.shape)}; use upsample=False")
                    cam = F.interpolate(cam[:, None], size=tuple(x.shape[-d:]), mode=_MODES[d],
                                        align_corners=False)[:, 0]
                maps.append(cam.contiguous())
                logits.append(out)
                ts.append(t)
        finally:
            tap.set("off")
            self._taps = []
        meta = {"layer": self.layer_name, "map_shape": list(map_shape), "relu": self.relu,
                "upsampled": self.upsample}
        return Partial(values=torch.cat(maps), forward=n, backward=n, meta=meta, targets=torch.cat(ts),
                       logits=torch.cat(logits))


class GradCamPlusPlus(GradCam):
    """Grad-CAM++: map = ReLU(sum_k w_k A_k), w_k = sum_ij alpha_kij ReLU(g_kij), with the closed form
    alpha_kij = g_kij^2 / (2 g_kij^2 + sum_ab A_kab g_kij^3) (alpha = 0 where the denominator is 0).

    This is the paper's exponential-output case (Y = exp(S_t)), in which the second and third
    derivatives are powers of the first. The paper's weights carry the positive factor exp(S_t); it
    scales each image's map by one constant and is left out here (it overflows float32 for logits
    above ~88). Arguments and result as `GradCam`; method "gradcam_plus_plus".
    """

    method = "gradcam_plus_plus"

    def _weights(self, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        g2 = grads * grads
        g3 = g2 * grads
        total = acts.flatten(2).sum(2).view(*acts.shape[:2], *([1] * (acts.ndim - 2)))
        denom = 2 * g2 + total * g3
        safe = torch.where(denom != 0, denom, torch.ones_like(denom))
        alpha = torch.where(denom != 0, g2 / safe, torch.zeros_like(g2))
        return (alpha * F.relu(grads)).flatten(2).sum(2)
