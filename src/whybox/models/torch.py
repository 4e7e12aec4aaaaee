"""Adapter for PyTorch modules that return logits: f(X) -> logits or softmax probabilities as numpy.

torch is never imported here: a torch.nn.Module can only exist once the user has imported torch.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..errors import InputError
from .base import PRIORITY, Prediction, register_adapter


def _matches(model: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _adapt(model: Any, output: str) -> Prediction:
    """A Prediction for a torch.nn.Module returning logits (n, classes): called on float tensors of the
    model's own dtype and device under no_grad, in eval mode, with every module's own mode restored."""
    torch = sys.modules["torch"]
    if output not in ("auto", "raw", "probability"):
        raise InputError(f"for a PyTorch model output must be 'auto' or 'raw' (its logits) or 'probability' "
                         f"(softmax), got {output!r}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32

    def predict(x: np.ndarray) -> np.ndarray:
        flags = [(m, m.training) for m in model.modules()]  # every module's own mode comes back
        model.eval()
        try:
            with torch.no_grad():
                out = model(torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device))
                if output == "probability":
                    out = torch.softmax(out, dim=1) if out.ndim > 1 and out.shape[1] > 1 else torch.sigmoid(out)
        finally:
            for m, flag in flags:
                m.training = flag
        return out.detach().double().cpu().numpy()

    return Prediction(predict=predict, output="probability" if output == "probability" else "raw",
                      kind=f"torch:{type(model).__name__}", native=model, extra={"raw_inputs": True})


register_adapter(_matches, _adapt, priority=PRIORITY["torch"])
