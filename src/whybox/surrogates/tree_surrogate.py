"""A global tree surrogate: a shallow decision tree fitted to the black box's own outputs.

The tree is a readable stand-in for the model, not for the data: it is fitted on
the model's predictions, and `fidelity` says how well it imitates them (R² on
held-out rows when given — a tree always looks better on the rows it was fitted
on). For classifiers with probability output the tree regresses one class's
probability and `agreement` reports how often its thresholded prediction equals
the model's decision; with output="label" a classification tree is fitted on the
model's predicted class and `fidelity` is the share of rows where they agree.

Categorical columns are one-hot encoded inside; rules read "colour == red" /
"colour != red" for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..models import OUTPUTS, wrap

__all__ = ["TreeSurrogate"]

_LEAF = -1  # sklearn's TREE_LEAF


class TreeSurrogate:
    """Fit a shallow decision tree to a model's predictions and read it as rules.

    Arguments:
      model      anything `whybox.models.wrap` accepts
      max_depth  depth of the tree (>= 1); 2–4 stays readable
      output     an output `wrap` knows ("auto", "probability", ...) or "label": fit a classification
                 tree on the model's predicted class (classifiers with probabilities only)
      seed       random_state of the tree (ties between equally good splits)

    After `fit`: `tree_`, `feature_names`, `fidelity`, `fidelity_on` ("holdout" or "train"),
    `agreement` (classifiers; None otherwise), `target` (the output the tree imitates).
    """

    def __init__(self, model: Any, *, max_depth: int = 3, output: str = "auto", seed: int = 0) -> None:
        if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or max_depth < 1:
            raise InputError(f"max_depth must be a whole number >= 1, got {max_depth!r}")
        if output not in OUTPUTS + ("label",):
            raise InputError(f"unknown output {output!r}; choose one of {list(OUTPUTS) + ['label']}")
        self.max_depth = int(max_depth)
        self.output = output
        self.seed = seed
        try:
            self.model = wrap(model, output="probability" if output == "label" else output)
        except InputError as e:
            if output != "label":
                raise
            raise InputError(f"output='label' needs a classifier with probabilities: {e}") from e
        self.tree_ = None
        self.feature_names: list[str] | None = None
        self.fidelity: float | None = None
        self.fidelity_on: str | None = None
        self.agreement: float | None = None
        self.target: str | None = None
        self._target_col: int | None = None
        self._class_names: list[str] | None = None
        self._X_fit: np.ndarray | None = None

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, X_holdout: Any = None) -> "TreeSurrogate":
        """Evaluate the model on X (one batched call), fit the tree, measure fidelity."""
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        arr = self.model.prepare(X, what="X")
        if arr.shape[0] < 2:
            raise InputError(f"X has {arr.shape[0]} rows; a tree surrogate needs at least 2 (a few hundred is better)")
        out = self.model.evaluate(arr)
        enc, names = self._encode(arr)
        self.feature_names = names
        is_proba = self.model.output == "probability"
        if is_proba and (out.min() < -1e-9 or out.max() > 1 + 1e-9):
            raise InputError(f"the model's probabilities lie outside [0, 1] (from {out.min():g} to {out.max():g}); "
                             "output='label' and agreement need real probabilities — use output='predict' for "
                             "a score")
        if self.output == "label":
            if not is_proba:
                raise InputError("output='label' needs a classifier with probabilities; use output='auto' "
                                 "for regressors")
            y = self._labels(out)
            tree = DecisionTreeClassifier(max_depth=self.max_depth, random_state=self.seed)
            tree.fit(enc, y)
            self.target = "predicted class"
            self._class_names = list(self.model.output_names or [str(i) for i in range(out.shape[1])])
            if out.shape[1] == 1:
                self._class_names = ["0", "1"]
        else:
            col = self._choose_target(out, is_proba)
            self._target_col = col
            names_out = self.model.output_names or tuple(f"output_{i}" for i in range(out.shape[1]))
            self.target = str(names_out[col])
            tree = DecisionTreeRegressor(max_depth=self.max_depth, random_state=self.seed)
            tree.fit(enc, out[:, col])
        self.tree_ = tree
        self._X_fit = enc

        if X_holdout is not None:
            h = self.model.prepare(X_holdout, what="X_holdout")
            h_out = self.model.evaluate(h)
            h_enc, _ = self._encode(h)
            self.fidelity_on = "holdout"
        else:
            h_out, h_enc = out, enc
            self.fidelity_on = "train"
        pred = tree.predict(h_enc)
        if self.output == "label":
            self.agreement = float(np.mean(pred == self._labels(h_out)))
            self.fidelity = self.agreement
        else:
            y_h = h_out[:, self._target_col]
            self.fidelity = _r2(y_h, pred)
            self.agreement = self._agreement(h_out, pred) if is_proba else None
        return self

    def _labels(self, out: np.ndarray) -> np.ndarray:
        return (out[:, 0] >= 0.5).astype(int) if out.shape[1] == 1 else np.argmax(out, axis=1)

    def _choose_target(self, out: np.ndarray, is_proba: bool) -> int:
        k = out.shape[1]
        if k == 1:
            return 0
        if is_proba:
            # binary: the positive class; multiclass: the class with the highest mean probability
            return 1 if k == 2 else int(np.argmax(out.mean(axis=0)))
        raise InputError(f"the model returns {k} outputs that are not probabilities; a tree surrogate imitates "
                         "one output — wrap a function that returns the one score to explain")

    def _agreement(self, out: np.ndarray, pred: np.ndarray) -> float:
        """Share of rows where 'tree says >= 0.5' equals 'the model picks the target class'."""
        model_says = (np.argmax(out, axis=1) == self._target_col) if out.shape[1] > 1 else out[:, 0] >= 0.5
        return float(np.mean((pred >= 0.5) == model_says))

    # ------------------------------------------------------------------ encoding
    def _encode(self, arr: np.ndarray) -> tuple[np.ndarray, list[str]]:
        schema = self.model.schema
        cols, names = [], []
        self._enc_info: list[tuple[str, Any]] = []  # per encoded column: (original name, category or None)
        for j, name in enumerate(schema.names):
            if name in schema.categories:
                for cat in schema.categories[name]:
                    cols.append(np.array([v == cat for v in arr[:, j]], dtype=float))
                    names.append(f"{name}={cat}")
                    self._enc_info.append((name, cat))
            else:
                cols.append(arr[:, j].astype(float))
                names.append(name)
                self._enc_info.append((name, None))
        return np.column_stack(cols), names

    def _encode_new(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return self._encode(self.model.prepare(X, what="X"))[0]

    # ------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        if self.tree_ is None:
            raise InputError("this TreeSurrogate is not fitted yet; call .fit(X) first")

    def predict(self, X: Any) -> np.ndarray:
        """The tree's prediction for X: the imitated output, or the class index with output='label'."""
        enc = self._encode_new(X)
        return self.tree_.predict(enc)

    def _condition(self, feature: int, threshold: float, left: bool) -> str:
        name, cat = self._enc_info[feature]
        if cat is not None:  # one-hot column: left branch is "not this category"
            return f"{name} != {cat}" if left else f"{name} == {cat}"
        t = _fmt_threshold(threshold, self._X_fit[:, feature])
        return f"{name} <= {t}" if left else f"{name} > {t}"

    def _leaf_text(self, node: int) -> str:
        """'value (n rows)'; with output='label' also the share of the leaf's rows the model puts in that class."""
        t = self.tree_.tree_
        n = int(t.n_node_samples[node])
        if self.output == "label":
            counts = t.value[node][0]
            k = int(np.argmax(counts))
            cls = int(self.tree_.classes_[k])
            label = self._class_names[cls] if cls < len(self._class_names) else str(cls)
            return f"{label} ({n} rows; the model predicts {label} for {counts[k] / counts.sum():.0%})"
        return f"{t.value[node][0][0]:.6g} ({n} rows)"

    def leaves(self) -> list[tuple[list[str], int, float | int, int]]:
        """Per leaf: (conditions, node id, value, rows of X in it), left to right."""
        self._check_fitted()
        t = self.tree_.tree_
        found = []

        def walk(node: int, conds: list[str]) -> None:
            if t.children_left[node] == _LEAF:
                v = t.value[node][0]
                value = int(self.tree_.classes_[int(np.argmax(v))]) if self.output == "label" else float(v[0])
                found.append((conds, node, value, int(t.n_node_samples[node])))
                return
            f, thr = int(t.feature[node]), float(t.threshold[node])
            walk(int(t.children_left[node]), conds + [self._condition(f, thr, True)])
            walk(int(t.children_right[node]), conds + [self._condition(f, thr, False)])

        walk(0, [])
        return found

    def rules(self) -> list[str]:
        """One readable rule per leaf: 'IF a <= 1 AND b > 2 THEN 3.5 (40 rows)'."""
        out = []
        for conds, node, _, n in self.leaves():
            cond = " AND ".join(conds) if conds else "always"
            out.append(f"IF {cond} THEN {self._leaf_text(node)}")
        return out

    def to_text(self) -> str:
        """The tree as indented text."""
        self._check_fitted()
        t = self.tree_.tree_
        lines = [f"tree surrogate of {self.target} (depth {self.tree_.get_depth()}, "
                 f"fidelity {self.fidelity:.3f} on {self.fidelity_on})"]

        def walk(node: int, depth: int) -> None:
            pad = "    " * depth
            if t.children_left[node] == _LEAF:
                lines.append(f"{pad}-> {self._leaf_text(node)}")
                return
            f, thr = int(t.feature[node]), float(t.threshold[node])
            lines.append(f"{pad}if {self._condition(f, thr, True)}:")
            walk(int(t.children_left[node]), depth + 1)
            lines.append(f"{pad}else ({self._condition(f, thr, False)}):")
            walk(int(t.children_right[node]), depth + 1)

        walk(0, 1)
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "unfitted" if self.tree_ is None else f"fidelity={self.fidelity:.3f} on {self.fidelity_on}"
        return f"TreeSurrogate(max_depth={self.max_depth}, {state})"


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res <= 1e-24 * max(1, len(y)) else 0.0
    return 1.0 - ss_res / ss_tot


def _fmt_threshold(t: float, values: np.ndarray) -> str:
    """Shortest rendering of a split threshold that splits the fitted rows exactly as the tree did."""
    left = values <= t
    for p in (3, 4, 6, 8, 10, 12, 17):
        s = f"{t:.{p}g}"
        if np.array_equal(values <= float(s), left):
            return s
    return repr(t)
