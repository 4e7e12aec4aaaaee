"""Finding a layer inside a network: by module path ("layer4.1.conv2") or by the module object.

Grad-CAM and the layer variants of integrated gradients attribute to the output of one layer. A
wrong name fails with the list of convolution layers the network has, so the fix is one copy away.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import InputError

__all__ = ["find_layer", "conv_layers", "layer_names"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def conv_layers(model: nn.Module) -> list[str]:
    """Module paths of the convolution layers of `model`, in definition order (the last is usually
    the one Grad-CAM wants)."""
    return [name for name, m in model.named_modules() if name and isinstance(m, _CONV)]


def layer_names(model: nn.Module) -> list[str]:
    """Module paths of every named submodule of `model`."""
    return [name for name, _ in model.named_modules() if name]


def _suggestion(model: nn.Module) -> str:
    convs = conv_layers(model)
    if convs:
        shown = convs if len(convs) <= 40 else convs[:10] + ["..."] + convs[-29:]
        return f"its convolution layers are: {', '.join(shown)}"
    names = layer_names(model)
    shown = names if len(names) <= 40 else names[:10] + ["..."] + names[-29:]
    return f"it has no convolution layers; its layers are: {', '.join(shown) or '(none)'}"


def find_layer(model: Any, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """(module path, module) of `layer`, given as a path like "layer4.1.conv2" or as the module itself.

    Raises InputError naming the network's convolution layers when the path or object is not in it.
    """
    if isinstance(layer, nn.Module):
        if isinstance(model, nn.Module):
            for name, m in model.named_modules():
                if m is layer:
                    return name or "(model)", m
            raise InputError(f"the layer object {type(layer).__name__} is not a submodule of the model; pass a "
                             f"module of this network or its path — {_suggestion(model)}")
        return type(layer).__name__, layer       # a plain callable: trust the caller
    if not isinstance(layer, str):
        raise InputError(f"layer must be a module path such as 'layer4.1.conv2' or an nn.Module, not "
                         f"{type(layer).__name__}")
    if not isinstance(model, nn.Module):
        raise InputError(f"layer {layer!r} is a module path, but the model is a {type(model).__name__}, not a "
                         "torch.nn.Module; pass the layer's module object instead")
    try:
        return layer, model.get_submodule(layer)
    except AttributeError:
        raise InputError(f"the model has no layer {layer!r}; {_suggestion(model)}") from None


def first_tensor(out: Any) -> torch.Tensor:
    """The tensor a layer returned (the first element when it returns a tuple, as RNNs and some
    transformer blocks do)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise InputError(f"the layer returned a {type(out).__name__}, not a tensor; pick a layer whose output is a "
                     "tensor (or a tuple whose first element is one)")


def replace_first(out: Any, new: torch.Tensor) -> Any:
    """`out` with its tensor (or first element) replaced by `new`."""
    if isinstance(out, torch.Tensor):
        return new
    return type(out)([new, *out[1:]]) if isinstance(out, list) else (new, *out[1:])


class LayerTap:
    """A forward hook on one layer that reads its output, or replaces it.

    Modes (set with `run`): "capture" stores the output (detached); "leaf" replaces the output by a
    fresh leaf that requires grad — gradients stop there, so the backward pass never goes further up,
    and works whether or not the parameters require grad; "replace" substitutes `value` (activations
    along an integration path, for instance). The returned tensor is always a copy, so an in-place
    operation after the layer (ReLU(inplace=True)) cannot change what was stored.
    """

    def __init__(self, name: str, module: nn.Module) -> None:
        self.name, self.module = name, module
        self.mode = "off"
        self.value: torch.Tensor | None = None
        self.calls = 0
        self.rows: int | None = None

    def attach(self, hooks: list) -> "LayerTap":
        hooks.append(self.module.register_forward_hook(self._hook))
        return self

    def set(self, mode: str, rows: int | None = None, value: torch.Tensor | None = None) -> None:
        self.mode, self.rows, self.value, self.calls = mode, rows, value, 0

    def _hook(self, module: nn.Module, inputs: Any, out: Any) -> Any:
        if self.mode == "off":
            return None
        self.calls += 1
        if self.calls > 1:
            raise InputError(f"layer {self.name!r} runs more than once in one forward pass (a shared module); pick a "
                             "layer that runs once")
        t = first_tensor(out)
        if self.rows is not None and (t.ndim == 0 or t.shape[0] != self.rows):
            raise InputError(f"layer {self.name!r} returned shape {tuple(t.shape)} for {self.rows} input rows; pick a "
                             "layer whose output has the batch on its first axis")
        if self.mode == "capture":
            self.value = t.detach()
            return None
        if self.mode == "leaf":
            if not t.is_floating_point():
                raise InputError(f"layer {self.name!r} returns {t.dtype} values, which have no gradient; pick a layer "
                                 "with floating-point output")
            self.value = t.detach().requires_grad_(True)
            return replace_first(out, self.value.clone())
        new = self.value
        if new is None or tuple(new.shape) != tuple(t.shape):
            raise InputError(f"the replacement for layer {self.name!r} has shape "
                             f"{None if new is None else tuple(new.shape)}, the layer returns {tuple(t.shape)}")
        return replace_first(out, new.clone())
