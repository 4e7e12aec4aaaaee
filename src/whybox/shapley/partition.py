"""Partition SHAP: Owen values over a binary hierarchy of features (image rectangles or table columns).

A node N with children L and R, seen in the context C (the players outside N that are present)
with weight w, passes its credit w [v(C + N) - v(C)] on to its children by the two-player Shapley
rule, each child seen twice, with its sibling absent and present:

    credit(L) = w/2 [v(C + L) - v(C)] + w/2 [v(C + N) - v(C + R)]     (contexts C and C + R)
    credit(R) = w/2 [v(C + R) - v(C)] + w/2 [v(C + N) - v(C + L)]     (contexts C and C + L)

Starting at the root (C empty, w = 1) and expanding every node in every context gives the Owen
value of each leaf, phi_i = mean over the 2^depth choices of which siblings on i's path are present
of v(S + i) - v(S); it costs 2 model evaluations per (node, context), about (2/3) M^2 for M leaves.
Under a budget the (node, context) pairs are expanded best first, largest |credit| first, and the
credit of a pair left unexpanded is spread evenly over its inputs (pixels and channels). Credits
always add up to v(all) - v(none) = f(x) - f(everything removed), so the result is additive at any
budget. For a game that is additive over the leaves Owen values equal Shapley values.

Nothing is sampled: the same input and budget give the same values whatever the seed, so there is
no standard error (`standard_error` is None). What a budget leaves out is a deterministic truncation
bias (the unexpanded credit spread evenly), not sampling noise; meta["standard_error"] says so. Each
input (table row, text, image) is evaluated on its own, f(x) and f(everything removed) included, so its
values never depend on the rest of the batch: a float32 network rounds an input differently in another
batch (padding to the longest text, BLAS blocking), by about 1e-6, and the values would follow.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable, Sequence

import numpy as np

from .._progress import progress
from ..errors import BudgetError, InputError
from ..maskers.hierarchy import Hierarchy, as_hierarchy, from_nested
from ..maskers.image import ImageMasker, image_channel_axis
from ..maskers.tabular import TabularMasker
from ..maskers.text import TextMasker
from ..maskers.text_tokens import Text
from ..models.base import wrap
from ..results import Attribution
from ._additivity import NONDETERMINISTIC, additivity_meta
from ._game import CoalitionGame

__all__ = ["PartitionShap", "owen_values"]

Target = int | str | Sequence[int | str] | None


def owen_values(tree: Hierarchy, game: Callable[[np.ndarray], np.ndarray], f_empty: np.ndarray,
                f_full: np.ndarray, max_evals: int, priority: Callable[[np.ndarray], float],
                batch_nodes: int = 16) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Owen values by best-first expansion of (node, context) pairs; see the module docstring.

    Arguments:
      tree         the hierarchy (leaves in depth-first order)
      game         v: (c, M) bool leaf keep-masks -> (c, k) outputs
      f_empty      (k,) v(no leaf), f_full (k,) v(every leaf)
      max_evals    most calls of v on new coalitions (repeated coalitions are cached)
      priority     credit (k,) -> how urgently a pair should be expanded (e.g. |credit of the target|)
      batch_nodes  pairs expanded per call of v (2 coalitions each)

    Returns (nodes (r,), credits (r, k), evaluations, pairs expanded): the unexpanded pairs and
    their credits, which sum to f_full - f_empty.
    """
    f_empty = np.asarray(f_empty, dtype=np.float64)
    f_full = np.asarray(f_full, dtype=np.float64)
    heap: list = []
    done_nodes: list[int] = []
    done_credits: list[np.ndarray] = []
    order = itertools.count()
    cache: dict[bytes, np.ndarray] = {}
    evals = expanded = 0

    def push(node: int, ctx: tuple[int, ...], w: float, lo: np.ndarray, hi: np.ndarray) -> None:
        credit = w * (hi - lo)
        if tree.left[node] < 0:
            done_nodes.append(node)
            done_credits.append(credit)
        else:
            heapq.heappush(heap, (-float(priority(credit)), next(order), node, ctx, w, lo, hi))

    push(0, (), 1.0, f_empty, f_full)
    while heap:
        room = min((max_evals - evals) // 2, batch_nodes, len(heap))
        if room < 1:
            break
        batch = [heapq.heappop(heap) for _ in range(room)]
        masks = np.empty((2 * room, tree.n_leaves), dtype=bool)
        for j, (_, _, node, ctx, *_rest) in enumerate(batch):
            base = tree.leaf_mask(ctx)
            for s, child in enumerate((tree.left[node], tree.right[node])):
                m = masks[2 * j + s]
                m[:] = base
                m[tree.start[child]:tree.stop[child]] = True
        keys = [np.packbits(m).tobytes() for m in masks]
        new = {key: i for i, key in enumerate(keys) if key not in cache}
        if new:
            out = game(masks[list(new.values())])
            for key, row in zip(new, out):
                cache[key] = row
            evals += len(new)
        for j, (_, _, node, ctx, w, lo, hi) in enumerate(batch):
            left, right = int(tree.left[node]), int(tree.right[node])
            f_left, f_right = cache[keys[2 * j]], cache[keys[2 * j + 1]]
            push(left, ctx, w / 2, lo, f_left)
            push(left, ctx + (right,), w / 2, f_right, hi)
            push(right, ctx, w / 2, lo, f_right)
            push(right, ctx + (left,), w / 2, f_left, hi)
        expanded += room
    for _, _, node, ctx, w, lo, hi in heap:
        done_nodes.append(node)
        done_credits.append(w * (hi - lo))
    return np.asarray(done_nodes, dtype=np.int64), np.asarray(done_credits), evals, expanded


class PartitionShap:
    """Owen values over a hierarchy of features: image rectangles, words of a text, or table columns.

    Arguments:
      model          for images: a torch.nn.Module returning logits, or any function of an image batch
                     (n, *image_shape) -> scores, or a `Model`; for texts a function of a list of strings (e.g.
                     `wrap(hf_model, tokenizer=...)`); for tables anything `whybox.models.wrap` takes
      masker         images: an `ImageMasker` (its fill hides a region: "blur", "image_mean", "inpaint", a
                     constant...; its `min_region` sets the smallest rectangles) or a fill name such as "blur";
                     texts: a `maskers.Text` (the model's tokenizer words) or a `maskers.TextMasker` (plain
                     words); the hierarchy is nested spans of adjacent words (halves; a `maskers.Text` built
                     with hierarchy="phrases" groups sentences, then clauses, first);
                     tables: background rows (array/DataFrame) or a `TabularMasker`
      hierarchy      tables only: None (cluster the columns on the background's rank correlations), a scipy
                     linkage matrix, nested lists of column names/indices, or a `Hierarchy`
      output         "auto" (logits of a torch model, the prediction of a function, probability of a
                     classifier), "raw", "probability", ...
      seed           recorded for the family's convention; the method itself draws no random numbers
      batch_size     most inputs per model call
      feature_names  tables: names of the columns when the data carries none
      check_additivity  True (default): call the model once more on the explained inputs and raise
                     `AdditivityError` when base_values + values.sum(features) misses that output; False:
                     only record the gap in meta["additivity_gap"]
    """

    method = "partition_shap"

    def __init__(self, model: Any, masker: Any, *, hierarchy: Any = None, output: str = "auto", seed: int = 0,
                 batch_size: int | None = None, feature_names: Sequence[str] | None = None,
                 check_additivity: bool = True) -> None:
        self.check_additivity = bool(check_additivity)
        if isinstance(masker, str):
            masker = ImageMasker(fill=masker)
        self.seed = int(seed)
        self.mode = "image" if isinstance(masker, ImageMasker) else \
            "text" if isinstance(masker, (Text, TextMasker)) else "tabular"
        if self.mode == "text":
            if hierarchy is not None:
                raise InputError("hierarchy= is for tables; a text's hierarchy is nested spans of its words")
            self.model = wrap(model, output=output, batch_size=batch_size)
            self.masker = masker
        elif self.mode == "image":
            if hierarchy is not None:
                raise InputError("hierarchy= is for tables; for images the masker's rectangles are the hierarchy "
                                 "(set their smallest size with ImageMasker(min_region=...))")
            if isinstance(masker.fill_with, str) and masker.fill_with == "mean":
                raise InputError("fill='mean' (each region's own mean colour) hides almost nothing when the regions "
                                 "are small; use ImageMasker(fill='blur'), 'image_mean', 'inpaint' or a constant")
            self.model = wrap(model, output=output, batch_size=batch_size)
            self.masker = masker
        else:
            self.model = wrap(model, output=output, batch_size=batch_size, feature_names=feature_names)
            self.masker = masker if isinstance(masker, TabularMasker) else TabularMasker(masker, seed=seed)
            self.masker.bind(self.model)
            self.tree = as_hierarchy(hierarchy, self.model.feature_names, self.masker.data)
            self.expected_value = self.masker.weights @ self.model.evaluate(self.masker.data)

    # ------------------------------------------------------------------ explain
    def explain(self, X: Any, max_evals: int = 500, target: Target = "predicted", batch_nodes: int = 16,
                show_progress: bool | None = None) -> Attribution:
        """Owen values of each input of X; base_values + values.sum(features) == f(x) for the explained output.

        Arguments:
          X            images (n, C, H, W), (n, H, W, C) or (n, H, W) (numpy or torch), or table rows
          max_evals    most model evaluations per input (coalitions for tables, each averaged over the
                       background rows), the full and the fully removed input included; at least 2
          target       "predicted" (each row's arg-max output), an output index or name, one per row, or
                       None / "all" for every output (values then gain a trailing outputs axis)
          batch_nodes  (node, context) pairs expanded per model call (2 inputs each); fewer keeps the
                       order closer to strictly best first
        """
        if isinstance(max_evals, bool) or not isinstance(max_evals, (int, np.integer)) or max_evals < 2:
            raise BudgetError(f"max_evals must be a whole number >= 2 (the input and the fully removed input), "
                              f"got {max_evals!r}")
        if isinstance(batch_nodes, bool) or not isinstance(batch_nodes, (int, np.integer)) or batch_nodes < 1:
            raise InputError(f"batch_nodes must be a whole number >= 1, got {batch_nodes!r}")
        before = self.model.n_evals
        if self.mode == "image":
            return self._explain_images(X, int(max_evals), target, int(batch_nodes), show_progress, before)
        if self.mode == "text":
            return self._explain_texts(X, int(max_evals), target, int(batch_nodes), show_progress, before)
        return self._explain_table(X, int(max_evals), target, int(batch_nodes), show_progress, before)

    def _explain_images(self, X: Any, max_evals: int, target: Target, batch_nodes: int,
                        show: bool | None, before: int) -> Attribution:
        images = _image_batch(X)
        masker = self.masker
        for i in range(images.shape[0]):
            masker.check(images[i], what=f"image {i}")
        tree = masker.regions(images[0])
        axis = image_channel_axis(images.shape[1:], masker.channel_axis)
        channels = 1 if axis is None else images.shape[1:][axis]
        fx = self.model.evaluate_each(images, raw=True)          # an image's values never depend on its batch
        targets = _targets(target, fx, self.model.output_names)
        fills = [masker.replacement(img, tree.labels) for img in images]
        none = np.zeros((1, tree.n_leaves), dtype=bool)
        f_empty = self.model.evaluate_each(np.concatenate(
            [masker.fill(img, tree.labels, none, r) for img, r in zip(images, fills)]), raw=True)
        values = np.zeros(images.shape + ((fx.shape[1],) if targets is None else (1,)))  # only what is asked
        evals, pairs = [], []
        for i in progress(range(images.shape[0]), total=images.shape[0], desc=self.method, show=show):
            img, fill = images[i], fills[i]

            def game(masks: np.ndarray, img: np.ndarray = img, fill: Any = fill) -> np.ndarray:
                return self.model.evaluate_raw(masker.fill(img, tree.labels, masks, fill))

            nodes, credits, used, expanded = owen_values(tree, game, f_empty[i], fx[i], max_evals - 2,
                                                         _priority(targets, i), batch_nodes)
            credits = credits if targets is None else credits[:, targets[i:i + 1]]
            # each leaf's credit spread evenly over its pixels and channels: (H, W, outputs)
            per_pixel = (tree.spread(nodes, credits) / tree.sizes[:, None])[tree.labels] / channels
            values[i] = per_pixel if axis is None else (per_pixel[None] if axis == 0 else per_pixel[:, :, None])
            evals.append(used + 2)
            pairs.append(expanded)
        leaves = tree.boxes[tree.left < 0]
        side = max((leaves[:, 1] - leaves[:, 0]).max(), (leaves[:, 3] - leaves[:, 2]).max())
        extra = {"fill": masker.fill_with if isinstance(masker.fill_with, (str, int, float)) else "array",
                 "largest_leaf_side": int(side),
                 "n_leaves": tree.n_leaves, "masker": repr(masker)}
        return self._result(values, fx, f_empty, targets, images, max_evals, evals, pairs, before, None, extra,
                            again=lambda: self.model.evaluate_each(images, raw=True))

    def _explain_texts(self, X: Any, max_evals: int, target: Target, batch_nodes: int,
                       show: bool | None, before: int) -> Attribution:
        texts = [X] if isinstance(X, str) else list(X)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise InputError("explain takes a list of strings for a text masker")
        masker = self.masker
        words = [masker.split(t) for t in texts]
        if any(len(w) == 0 for w in words):
            raise InputError("a text has no words to explain; remove empty texts")
        fx = self.model.evaluate_each(texts, raw=True)           # a text's values never depend on its batch
        targets = _targets(target, fx, self.model.output_names)
        f_empty = self.model.evaluate_each([masker.fill(t, np.zeros((1, len(w)), bool))[0]
                                            for t, w in zip(texts, words)], raw=True)
        width = max(len(w) for w in words)
        values = np.zeros((len(texts), width, fx.shape[1] if targets is None else 1))
        data = np.full((len(texts), width), "", dtype=object)
        mask = np.zeros((len(texts), width), dtype=bool)
        evals, pairs = [], []
        for i in progress(range(len(texts)), total=len(texts), desc=self.method, show=show):
            text, m = texts[i], len(words[i])
            tree = masker.hierarchy(text) if isinstance(masker, Text) else \
                from_nested(list(range(m)), [f"{j}:{w}" for j, w in enumerate(words[i])])

            def game(masks: np.ndarray, text: str = text) -> np.ndarray:
                return self.model.evaluate_raw(masker.fill(text, masks))

            nodes, credits, used, expanded = owen_values(tree, game, f_empty[i], fx[i], max_evals - 2,
                                                         _priority(targets, i), batch_nodes)
            credits = credits if targets is None else credits[:, targets[i:i + 1]]
            values[i, tree.order] = tree.spread(nodes, credits)
            data[i, :m], mask[i, :m] = words[i], True
            evals.append(used + 2)
            pairs.append(expanded)
        return self._result(values, fx, f_empty, targets, data, max_evals, evals, pairs, before, None,
                            {"masker": repr(masker)}, mask=mask,
                            again=lambda: self.model.evaluate_each(texts, raw=True))

    def _explain_table(self, X: Any, max_evals: int, target: Target, batch_nodes: int,
                       show: bool | None, before: int) -> Attribution:
        arr = self.model.prepare(X)
        fx = self.model.evaluate_each(arr)               # a row's values never depend on its batch
        targets = _targets(target, fx, self.model.output_names)
        tree = self.tree
        players = np.eye(tree.n_leaves, dtype=bool)[tree.order]  # leaf k owns column order[k]
        values = np.zeros(arr.shape + ((fx.shape[1],) if targets is None else (1,)))
        evals, pairs = [], []
        for i in progress(range(arr.shape[0]), total=arr.shape[0], desc=self.method, show=show):
            game = CoalitionGame(self.model, self.masker, arr[i], players)
            nodes, credits, used, expanded = owen_values(tree, game, self.expected_value, fx[i], max_evals - 2,
                                                         _priority(targets, i), batch_nodes)
            credits = credits if targets is None else credits[:, targets[i:i + 1]]
            values[i, tree.order] = tree.spread(nodes, credits)
            evals.append(used + 2)
            pairs.append(expanded)
        f_empty = np.repeat(self.expected_value[None], arr.shape[0], axis=0)
        extra = {"background_rows": int(self.masker.n_rows), "hierarchy_order": tree.order.tolist()}
        return self._result(values, fx, f_empty, targets, arr, max_evals, evals, pairs, before,
                            self.model.feature_names, extra, again=lambda: self.model.evaluate(arr))

    # ------------------------------------------------------------------ result
    def _result(self, values: np.ndarray, fx: np.ndarray, f_empty: np.ndarray, targets: np.ndarray | None,
                data: np.ndarray, max_evals: int, evals: list[int], pairs: list[int], before: int,
                feature_names: Any, extra: dict, mask: np.ndarray | None = None,
                again: Callable[[], np.ndarray] | None = None) -> Attribution:
        """The Attribution; `again()` asks the model for f(x) once more, for the additivity check."""
        n, k = fx.shape
        reference = fx if again is None else again()
        names = self.model.output_names
        if targets is None:
            base, out = f_empty, fx
            out = reference
            if k == 1:
                values, base, out = values[..., 0], base[:, 0], out[:, 0]
            onames = names if k > 1 else None
            target_meta: dict = {"target": "all"}
        else:
            rows = np.arange(n)
            values = values[..., 0]  # the loops kept the target's column only
            base, out, onames = f_empty[rows, targets], reference[rows, targets], None
            target_meta = {"target": targets.tolist(),
                           "target_names": [names[t] for t in targets] if names is not None else None}
        feature_axes = tuple(range(1, data.ndim))
        checked = additivity_meta(base + values.sum(axis=feature_axes), out, method=f"PartitionShap ({self.mode})",
                                  reference_name=f"{self.model.kind} ({self.model.output})",
                                  causes=[NONDETERMINISTIC], check=self.check_additivity)
        meta = {"mode": self.mode, "max_evals": int(max_evals), "samples_per_row": int(max(evals, default=0)),
                "evals_per_row": evals, "pairs_expanded": pairs, "model_evals": int(self.model.n_evals - before),
                "seed": self.seed, "output": self.model.output, "model": self.model.kind,
                "standard_error": "none: nothing is sampled; a budget's truncation (unexpanded credit spread "
                                  "evenly) is a deterministic bias, not sampling noise",
                **checked, **target_meta, **extra}
        meta["per_row"] = [key for key in ("evals_per_row", "pairs_expanded", "target", "target_names")
                           if isinstance(meta.get(key), list)]
        has_outputs = targets is None and k > 1
        return Attribution(values=values, base_values=base, data=data, feature_names=feature_names,
                           output_names=onames, method=self.method, meta=meta, has_outputs=has_outputs, mask=mask)

    def __repr__(self) -> str:
        return f"PartitionShap(mode={self.mode!r}, model={self.model.kind!r}, seed={self.seed})"


def _priority(targets: np.ndarray | None, i: int) -> Callable[[np.ndarray], float]:
    """Expansion priority of a credit vector: |credit| of row i's target, or the largest over outputs."""
    if targets is None:
        return lambda c: float(np.max(np.abs(c)))
    t = int(targets[i])
    return lambda c: abs(float(c[t]))


def _targets(target: Target, fx: np.ndarray, names: Sequence[str] | None) -> np.ndarray | None:
    """Row-wise output index (n,) to explain, or None for every output."""
    n, k = fx.shape

    def index(t: Any) -> int:
        if isinstance(t, str):
            if names is None or t not in names:
                raise InputError(f"unknown target {t!r}; the outputs are {list(names or range(k))}")
            return list(names).index(t)
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= int(t) < k:
            raise InputError(f"target {t!r} is not an output index in 0..{k - 1}; pass an index, an output name, "
                             "'predicted' or 'all'")
        return int(t)

    if target is None or (isinstance(target, str) and target == "all"):
        return None
    if isinstance(target, str) and target == "predicted":
        return fx.argmax(axis=1).astype(np.int64)
    if isinstance(target, (str, int, np.integer)):
        return np.full(n, index(target), dtype=np.int64)
    items = list(np.asarray(target).tolist()) if hasattr(target, "shape") else list(target)
    if len(items) != n:
        raise InputError(f"target has {len(items)} entries for {n} inputs; pass one per input or a single target")
    return np.asarray([index(t) for t in items], dtype=np.int64)


def _image_batch(X: Any) -> np.ndarray:
    """A batch of images as numpy: (n, H, W), (n, H, W, C) or (n, C, H, W)."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"images must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        raise InputError(f"X has shape {arr.shape}, which looks like one image with channels; explain takes a batch: "
                         f"pass X[None] (shape {(1,) + arr.shape})")
    if arr.ndim not in (3, 4):
        raise InputError(f"X has shape {arr.shape}; pass a batch of images (n, C, H, W), (n, H, W, C) or (n, H, W)")
    if arr.shape[0] == 0:
        raise InputError("X holds no images; pass a batch of at least one")
    return arr
