"""Decisions and targets: how a model's outputs become a decision, and what a counterfactual must reach.

Classifiers (the decision is a class; a counterfactual must land in a wanted class):
  several outputs (probabilities, log-odds or margins)  class = argmax_c f_c(z)
  one probability                                        class 1 when p >= 0.5, else class 0
  one log-odds or margin of a binary classifier          class 1 when s >= 0, else class 0
  one output that is always a whole number               the value is the class label
Regressors, or any one-output model asked for a range:   valid when low <= f(z) <= high.

`gap(out)` is how far an output is from the target, 0 when it is reached:
  classes  max over unwanted classes of f_c minus max over wanted classes of f_c (probabilities, scores;
           for one probability |p - 0.5| on the wrong side; a label model has no gradient: 1)
  range    distance from f(z) to [low, high], divided by the spread (std) of the training predictions
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..models.base import Model

__all__ = ["Decision", "Target"]


@dataclass(frozen=True)
class Target:
    """What one query must reach: a set of class indices, or a range of the output."""

    kind: str                      # "class" or "range"
    classes: tuple[int, ...] = ()  # wanted class indices
    low: float = -np.inf
    high: float = np.inf

    @property
    def key(self) -> tuple:
        return (self.kind, self.classes) if self.kind == "class" else (self.kind, self.low, self.high)


class Decision:
    """Reads a model's decision off its outputs.

    Arguments:
      model       the wrapped `Model` (already evaluated once, so its number of outputs is known)
      train_out   (n, outputs) the model's outputs on the training rows
    """

    def __init__(self, model: Model, train_out: np.ndarray) -> None:
        self.n_outputs = train_out.shape[1]
        space = model.output
        names = model.output_names
        native = model.native
        classes_attr = getattr(native, "classes_", None)
        self.mode = "range"
        self.classes: list[Any] = []
        self.output_names = list(names) if names is not None else [f"output_{i}" for i in range(self.n_outputs)]
        if self.n_outputs > 1:
            self.mode = "argmax"
            if classes_attr is not None and len(classes_attr) == self.n_outputs:
                self.classes = [_plain(c) for c in classes_attr]
            else:
                self.classes = list(names) if names is not None else list(range(self.n_outputs))
        elif space in ("probability", "log_odds") or (space == "raw" and classes_attr is not None):
            self.mode = "threshold"
            self.threshold = 0.5 if space == "probability" else 0.0
            if classes_attr is not None and len(classes_attr) == 2:
                self.classes = [_plain(c) for c in classes_attr]
            else:
                self.classes = [0, 1]
        else:
            v = train_out[:, 0]
            if v.size and np.allclose(v, np.rint(v), rtol=0, atol=1e-9) and len(np.unique(v)) <= 50:
                self.mode = "labels"
                self.classes = [_plain(c) for c in np.unique(np.rint(v))]
        self.spread = float(np.std(train_out[:, 0])) if self.n_outputs == 1 else 1.0
        if not self.spread > 0:
            self.spread = 1.0

    @property
    def is_classifier(self) -> bool:
        return self.mode != "range"

    # ----------------------------------------------------------------- decisions
    def decide(self, out: np.ndarray) -> np.ndarray:
        """(n,) class index per row (-1 for a label the training predictions never showed); regressors: -1."""
        if self.mode == "argmax":
            return np.argmax(out, axis=1)
        if self.mode == "threshold":
            return (out[:, 0] >= self.threshold).astype(np.int64)
        if self.mode == "labels":
            lookup = {float(c): i for i, c in enumerate(self.classes)}
            return np.array([lookup.get(float(v), -1) for v in np.rint(out[:, 0])], dtype=np.int64)
        return np.full(out.shape[0], -1, dtype=np.int64)

    def label(self, index: int) -> Any:
        return self.classes[index] if 0 <= index < len(self.classes) else None

    # ----------------------------------------------------------------- targets
    def resolve(self, target: Any, query_out: np.ndarray) -> Target:
        """The target for one query; None means any class but the query's own (classifiers)."""
        if isinstance(target, tuple) and len(target) == 2 and all(
                t is None or isinstance(t, (int, float, np.integer, np.floating)) for t in target) \
                and not self._is_label(target):
            if self.n_outputs != 1:
                raise InputError(f"target={target!r} asks for a range of the output, but the model has "
                                 f"{self.n_outputs} outputs ({self.output_names}); ask for a class instead, or wrap "
                                 "the model so it returns one score (e.g. whybox.models.wrap(model, "
                                 "output='log_odds'))")
            lo = -np.inf if target[0] is None else float(target[0])
            hi = np.inf if target[1] is None else float(target[1])
            if not lo <= hi:
                raise InputError(f"target range ({lo:g}, {hi:g}) is empty; give (low, high) with low <= high")
            return Target("range", low=lo, high=hi)
        if not self.is_classifier:
            raise InputError("this model returns a continuous value (a regressor), so a counterfactual needs a "
                             f"target range: pass target=(low, high), e.g. target=(100, None); got {target!r}")
        if target is None:
            current = int(self.decide(query_out[None, :])[0])
            return Target("class", classes=tuple(i for i in range(len(self.classes)) if i != current))
        wanted = list(target) if isinstance(target, (list, tuple, set, frozenset)) else [target]
        return Target("class", classes=tuple(sorted({self._class_index(t) for t in wanted})))

    def _is_label(self, target: Any) -> bool:
        return self.is_classifier and any(str(target) == str(c) for c in self.classes)

    def _class_index(self, t: Any) -> int:
        for i, c in enumerate(self.classes):
            if str(t) == str(c) or (_is_num(t) and _is_num(c) and float(t) == float(c)):
                return i
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool) and 0 <= t < len(self.classes):
            return int(t)
        raise InputError(f"unknown target class {t!r}; the model's classes are {self.classes}: pass one of these "
                         f"labels, or a class index 0..{len(self.classes) - 1}")

    def reached(self, out: np.ndarray, target: Target) -> np.ndarray:
        """(n,) bool: does each output row reach the target?"""
        if target.kind == "range":
            v = out[:, 0]
            return (v >= target.low) & (v <= target.high)
        return np.isin(self.decide(out), np.array(target.classes, dtype=np.int64))

    def gap(self, out: np.ndarray, target: Target) -> np.ndarray:
        """(n,) how far each output row is from the target (0 when reached)."""
        ok = self.reached(out, target)
        if target.kind == "range":
            v = out[:, 0]
            g = (np.maximum(target.low - v, 0) + np.maximum(v - target.high, 0)) / self.spread
        elif self.mode == "argmax":
            wanted = np.zeros(out.shape[1], dtype=bool)
            wanted[list(target.classes)] = True
            best_wanted = out[:, wanted].max(axis=1)
            best_other = out[:, ~wanted].max(axis=1) if (~wanted).any() else np.full(out.shape[0], -np.inf)
            g = np.maximum(best_other - best_wanted, 0.0) + 1e-9
        elif self.mode == "threshold":
            g = np.abs(out[:, 0] - self.threshold) + 1e-9
        else:
            g = np.ones(out.shape[0])
        return np.where(ok, 0.0, g)

    def describe(self, target: Target) -> Any:
        """The target in JSON-safe words: a list of class labels, or [low, high] (None for open)."""
        if target.kind == "range":
            return [None if not np.isfinite(target.low) else target.low,
                    None if not np.isfinite(target.high) else target.high]
        return [self.classes[i] for i in target.classes]


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v
