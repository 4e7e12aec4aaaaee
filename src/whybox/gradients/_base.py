"""What every gradient explainer shares: the model's state, inputs, targets, batching and the result.

A subclass implements `_attribute(x, targets, rows, hooks, **settings) -> Partial` on a prepared
tensor and the base class does the rest: checks the input and the targets, puts the
model in eval mode (and restores every module's own training flag afterwards, hooks removed even on
errors), and builds the `Attribution`.

Gradients are taken with `torch.autograd.grad` with respect to the input (or a layer's output) only:
parameters' `.grad` is never touched and their `requires_grad` flags are never changed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .._progress import progress
from ..errors import InputError, ModelError, WhyboxError
from ..results import Attribution

Target = int | str | Sequence[int | str] | np.ndarray | torch.Tensor | None

#: input elements per model call when batch_size is not given: small chunks stay in the CPU's cache,
#: large ones keep a GPU busy
_CHUNK_ELEMENTS = {"cpu": 2 ** 20, "other": 2 ** 24}


@dataclass
class Partial:
    """What `_attribute` returns for prepared rows."""

    values: torch.Tensor                      # (rows, *value_shape)
    base: torch.Tensor | None = None          # (rows,) or None when the method has no base value
    forward: int = 0                          # rows sent through the model's forward pass
    backward: int = 0                         # rows sent through a backward pass
    per_row: dict[str, torch.Tensor] = field(default_factory=dict)   # extra per-row meta (rows,)
    targets: torch.Tensor | None = None       # (rows,) class index per row
    logits: torch.Tensor | None = None        # (rows, classes) model output at the explained rows
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- model helpers

def model_device(model: Any, fallback: torch.device | None = None) -> torch.device:
    """The device of the model's first parameter (or buffer); `fallback` or CPU when it has none."""
    if isinstance(model, nn.Module):
        for t in model.parameters():
            return t.device
        for t in model.buffers():
            return t.device
    return fallback or torch.device("cpu")


def model_dtype(model: Any) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (float32 when it has none)."""
    if isinstance(model, nn.Module):
        for t in model.parameters():
            if t.is_floating_point():
                return t.dtype
    return torch.float32


def logits_of(out: Any, rows: int) -> torch.Tensor:
    """The model's output as (rows, outputs): a tensor, a `.logits` attribute (Hugging Face), or the
    first element of a tuple; a 1-D output becomes one column."""
    if not isinstance(out, torch.Tensor):
        if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
            out = out.logits
        elif isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
            out = out[0]
        else:
            raise ModelError(f"the model returned a {type(out).__name__}; it must return logits as a tensor "
                             "(rows, classes), an object with .logits, or a tuple whose first element is that tensor")
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != rows:
        raise InputError(f"the model returned an output of shape {tuple(out.shape)} for {rows} input rows; it must "
                         f"return (rows, classes). Pass x with a leading batch axis, (n, *input_shape) — for one "
                         "image x[None]")
    if not out.is_floating_point():
        raise ModelError(f"the model returned {out.dtype} values; gradients need floating-point logits")
    return out


@contextlib.contextmanager
def explaining(model: Any) -> Iterator[list]:
    """Eval mode and autograd on for the duration (even inside torch.no_grad or inference_mode: tensors
    made inside are ordinary tensors); yields a list that collects hook handles. On exit the hooks are
    removed and every module's training flag is restored to what it was, also when an error is raised."""
    modules = list(model.modules()) if isinstance(model, nn.Module) else []
    flags = [m.training for m in modules]
    hooks: list = []
    try:
        if modules:
            model.eval()
        with torch.inference_mode(False), torch.enable_grad():
            yield hooks
    finally:
        for h in hooks:
            h.remove()
        for m, f in zip(modules, flags):
            m.training = f


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, total)) for s in range(0, total, size)]


def default_batch(row_elements: int, device: torch.device, batch_size: int | None) -> int:
    """Rows per model call: `batch_size`, or as many rows as fit the default element budget."""
    if batch_size is not None:
        if int(batch_size) < 1:
            raise InputError(f"batch_size must be a positive number of rows, not {batch_size}")
        return int(batch_size)
    budget = _CHUNK_ELEMENTS["cpu" if device.type == "cpu" else "other"]
    return max(1, budget // max(1, row_elements))


# --------------------------------------------------------------------------- base class

class GradientExplainer:
    """Base of the gradient explainers.

    Arguments:
      model           a torch.nn.Module (or callable) mapping a batch (n, *input_shape) to logits (n, classes)
      labels          class names, so that `target` may be given by name
      channels_last   run 4-D image batches in channels-last memory layout ("auto": on the CPU, where oneDNN
                      convolutions run 1.5-2x faster so; not elsewhere). The convolutions round differently
                      (~1e-7 relative), so a ReLU or max-pool sitting exactly at a tie may flip and change a
                      few gradient values; False keeps the ordinary layout (captum's)
    """

    method = ""
    #: True when the method's values have the input's shape (so `data` can hold the input)
    pixel_level = True

    def __init__(self, model: Any, *, labels: Sequence[str] | None = None,
                 channels_last: bool | str = "auto") -> None:
        if not callable(model):
            raise ModelError(f"the model must be a torch.nn.Module or a callable returning logits, not "
                             f"{type(model).__name__}")
        self.model = model
        self.labels = None if labels is None else tuple(str(v) for v in labels)
        if channels_last not in ("auto", True, False):
            raise InputError(f"channels_last must be 'auto', True or False, not {channels_last!r}")
        self.channels_last = channels_last
        self._layout_ok = True
        self._taps: list = []          # layer hooks whose per-call state resets before each model call

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.model).__name__})"

    # ----------------------------------------------------------------- inputs
    @property
    def device(self) -> torch.device:
        return model_device(self.model)

    def _as_input(self, x: Any, *, integer_ok: bool = False) -> tuple[torch.Tensor, np.ndarray]:
        """x as a tensor on the model's device (model dtype for floats) and as numpy for the result."""
        if isinstance(x, torch.Tensor):
            t = x.detach()
        else:
            try:
                arr = np.asarray(x)
            except Exception as e:  # noqa: BLE001 - any conversion failure is a bad input
                raise InputError(f"x must be a torch tensor or numpy array, not {type(x).__name__}") from e
            if arr.dtype.kind not in "biuf":
                raise InputError(f"x holds {arr.dtype} values; pass numbers (a float tensor or array)")
            t = torch.from_numpy(np.ascontiguousarray(arr))
        if t.ndim < 2:
            raise InputError(f"x has shape {tuple(t.shape)}; pass a batch (n, *input_shape) — for a single input "
                             "add the batch axis: x[None]")
        if t.shape[0] == 0:
            raise InputError("x has no rows; pass at least one input")
        device = model_device(self.model, fallback=t.device)
        if t.is_floating_point():
            t = t.to(device=device, dtype=model_dtype(self.model))
            if not torch.isfinite(t).all():
                raise InputError("x holds NaN or infinite values; gradients of such inputs are meaningless — "
                                 "replace them first")
        elif integer_ok:
            t = t.to(device=device)
        else:
            t = t.to(device=device, dtype=model_dtype(self.model))
        with torch.inference_mode(False):
            t = t.clone()           # never share memory with the caller's tensor; not an inference tensor
        return t, t.detach().cpu().numpy()

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        use = self.channels_last
        if use == "auto":
            use = t.device.type == "cpu"
        if use and self._layout_ok and t.ndim == 4 and t.is_floating_point():
            return t.contiguous(memory_format=torch.channels_last)
        return t

    # ----------------------------------------------------------------- model calls
    def _call(self, x: torch.Tensor) -> torch.Tensor:
        """logits (rows, classes) of a prepared batch; a model that fails on the input raises InputError.

        A model that rejects the channels-last layout (a `.view` on the input, say) is retried in the
        ordinary layout, which this explainer then keeps."""
        xl = self._layout(x)
        try:
            return logits_of(self._run_model(xl), x.shape[0])
        except WhyboxError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            if xl.stride() != x.contiguous().stride():
                try:
                    out = self._run_model(x.contiguous())
                except (RuntimeError, ValueError, TypeError, IndexError):
                    pass
                else:
                    self._layout_ok = False
                    return logits_of(out, x.shape[0])
            raise InputError(f"the model failed on an input batch of shape {tuple(x.shape)} ({x.dtype}): {e}. Pass x "
                             "as (n, *input_shape), the shape and dtype the model takes (for a single input add "
                             "the batch axis: x[None])") from e

    def _run_model(self, x: torch.Tensor) -> Any:
        for tap in self._taps:
            tap.calls = 0
        return self.model(x)

    def _forward(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """logits at x without gradients, in chunks."""
        size = default_batch(int(np.prod(x.shape[1:])), x.device, batch_size)
        with torch.no_grad():
            return torch.cat([self._call(x[a:b]).detach() for a, b in chunks(x.shape[0], size)])

    def _target_grad(self, x: torch.Tensor, targets: torch.Tensor | None, wrt: Any = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(d out[i, t_i] / d x_i for every row (possibly in channels-last layout), the logits, the targets):
        one forward and one backward pass.

        `targets` None means each row's predicted class. `wrt` (a LayerTap in "leaf" or "replace" mode)
        takes the gradient with respect to that layer's output instead of x. Rows are independent
        (eval mode), so the gradient of the summed target logits is each row's own gradient."""
        if wrt is None:
            x = self._layout(x.detach()).requires_grad_(True)     # the leaf in the fast layout: no copies back
        out = self._call(x)
        if wrt is not None and wrt.calls == 0:
            raise InputError(f"layer {wrt.name!r} did not run in the model's forward pass; pick a layer the model "
                             "uses")
        leaf = x if wrt is None else wrt.value
        targets = finish_targets(targets, out.detach(), self.labels)
        if not out.requires_grad:
            raise ModelError("the model's output does not depend on its input through autograd; remove any "
                             "torch.no_grad(), .detach() or numpy round trip from its forward pass")
        score = out.gather(1, targets[:, None]).sum()
        g, = torch.autograd.grad(score, leaf, allow_unused=True)
        if g is None:
            g = torch.zeros_like(leaf)
        return g, out.detach(), targets

    # ----------------------------------------------------------------- public
    def explain(self, x: Any, target: Target = "predicted", *, batch_size: int | None = None,
                show_progress: bool | None = None, **settings: Any) -> Attribution:
        """Attributions for each row of x with respect to its target class's logit."""
        with explaining(self.model) as hooks:
            xt, data = self._as_input(x, integer_ok=not self.pixel_level)
            spec = parse_targets(target, xt.shape[0], self.labels)
            part = self._attribute(xt, spec, rows=None, hooks=hooks, batch_size=batch_size,
                                   show_progress=show_progress, **settings)
        return self._result(part, data)

    def _attribute(self, x: torch.Tensor, targets: torch.Tensor | None, rows: torch.Tensor | None, hooks: list,
                   **settings: Any) -> Partial:
        """The method on prepared rows; fills Partial.targets and Partial.logits (at x).

        `targets` None means each row's predicted class. `rows` maps each row to the caller's row
        (SmoothGrad hands over repeated noisy copies) so that per-row settings such as a baseline
        tensor can be looked up; `hooks` collects hook handles, removed when the explanation ends."""
        raise NotImplementedError

    def _result(self, part: Partial, data: np.ndarray | None, method: str | None = None) -> Attribution:
        values = part.values.detach().cpu().contiguous().numpy()
        n = values.shape[0]
        base = (np.zeros(n, dtype=values.dtype) if part.base is None
                else part.base.detach().cpu().numpy().astype(values.dtype))
        t = part.targets.cpu().numpy()
        fx_np = part.logits.detach().cpu().numpy()
        meta: dict[str, Any] = {
            "target": t.tolist(),
            "output": fx_np[np.arange(n), t].tolist(),
            "outputs": fx_np.tolist(),
            "model_evals": int(part.forward),
            "backward_evals": int(part.backward),
        }
        per_row = ["target", "output", "outputs"]
        if self.labels is not None:
            meta["target_name"] = [self.labels[i] if i < len(self.labels) else str(i) for i in t]
            per_row.append("target_name")
        for k, v in part.per_row.items():
            meta[k] = v.detach().cpu().numpy().tolist()
            per_row.append(k)
        meta.update(part.meta)
        meta["per_row"] = per_row
        keep_data = data is not None and data.shape == values.shape
        return Attribution(values=values, base_values=base, data=data if keep_data else None,
                           method=method or self.method, meta=meta)


# --------------------------------------------------------------------------- targets

def check_targets(targets: torch.Tensor, n_classes: int, labels: Sequence[str] | None) -> None:
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= n_classes):
        bad = int(targets.max()) if int(targets.max()) >= n_classes else int(targets.min())
        names = f" ({', '.join(labels)})" if labels else ""
        raise InputError(f"target {bad} is out of range: the model has {n_classes} outputs{names}; pick a class "
                         f"index in 0..{n_classes - 1}")


def finish_targets(spec: torch.Tensor | None, logits: torch.Tensor,
                   labels: Sequence[str] | None) -> torch.Tensor:
    """The class index per row: the argmax of the logits where `spec` is None ("predicted"), else
    `spec` checked against the number of outputs."""
    if spec is None:
        return logits.argmax(dim=1)
    spec = spec.to(logits.device)
    check_targets(spec, logits.shape[1], labels)
    return spec


def parse_targets(target: Target, n: int, labels: Sequence[str] | None) -> torch.Tensor | None:
    """One class index per row (a CPU LongTensor) from an int, a label name, or one of those per row;
    None for "predicted" (resolved once the logits are known)."""
    if target is None or (isinstance(target, str) and target == "predicted"):
        return None

    def one(t: Any) -> int:
        if isinstance(t, str):
            if t == "predicted":
                raise InputError("'predicted' applies to every row; give target='predicted' rather than in a list")
            if labels is None:
                raise InputError(f"target {t!r} is a label name, but the explainer has no labels; build it with "
                                 "labels=[...] (one name per model output) or pass a class index")
            if t not in labels:
                raise InputError(f"unknown target label {t!r}; known labels: {list(labels)}")
            return list(labels).index(t)
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
            raise InputError(f"target must be a class index (int), a label name, 'predicted', or one of those per "
                             f"row; got {t!r} ({type(t).__name__})")
        if t < 0:
            raise InputError(f"target {int(t)} is negative; pick a class index from 0")
        return int(t)

    if isinstance(target, torch.Tensor):
        target = target.detach().cpu().numpy()
    if isinstance(target, np.ndarray):
        target = target.item() if target.ndim == 0 else target.tolist()
    if isinstance(target, (str, int, np.integer)):
        idx = [one(target)] * n
    elif isinstance(target, Sequence):
        if len(target) != n:
            raise InputError(f"{len(target)} targets for {n} rows; give one target per row, or a single one for all")
        idx = [one(t) for t in target]
    else:
        idx = [one(target)]
    with torch.inference_mode(False):
        return torch.as_tensor(idx, dtype=torch.long)


def show(show_progress: bool | None, items: list, desc: str) -> Any:
    return progress(items, total=len(items), desc=desc, show=show_progress, min_total=20)


def row_take(value: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """value[rows] for per-row tensors handed over by a wrapper (SmoothGrad repeats each row)."""
    return value if rows is None else value[rows]

