"""How a feature is removed for the faithfulness curves: table columns to a baseline, words deleted, pixels
or superpixels replaced by a baseline image. Each domain builds the perturbed inputs and evaluates them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError


class _Domain:
    """Rows whose features can be removed. sizes[i] features in row i; `scores(values_i)` ranks them;
    `build(i, keep)` turns (m, sizes[i]) keep-masks into m * group model inputs; `run` calls the model."""

    sizes: list[int]
    group: int = 1          # model inputs per keep-mask (background rows), averaged
    input_bytes: int = 8    # rough size of one model input, to bound a call's memory
    description: str = ""

    def scores(self, i: int, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=float).reshape(-1)[: self.sizes[i]]

    def build(self, i: int, keep: np.ndarray) -> Any:
        raise NotImplementedError

    def run(self, parts: list) -> np.ndarray:
        raise NotImplementedError

    def originals(self) -> np.ndarray:
        """(n, outputs) model output on the unchanged inputs."""
        raise NotImplementedError


class _Table(_Domain):
    def __init__(self, model: Any, X: Any, baseline: Any) -> None:
        from ..models import wrap
        self.model = wrap(model)
        self.X = self.model.prepare(X)
        n, d = self.X.shape
        self.sizes = [d] * n
        self.bg, self.description = self._baseline(baseline)
        self.group = self.bg.shape[0]
        self.input_bytes = 8 * d

    def _baseline(self, baseline: Any) -> tuple[np.ndarray, str]:
        X, names = self.X, self.model.schema.names
        cats = self.model.schema.categories
        if baseline is None or (isinstance(baseline, str) and baseline == "mean"):
            row = np.empty(X.shape[1], dtype=X.dtype)
            for j, name in enumerate(names):
                col = X[:, j]
                if name in cats:   # a mean of categories does not exist: take the most frequent one
                    vals, counts = np.unique(col.astype(str), return_counts=True)
                    row[j] = col[list(col.astype(str)).index(vals[np.argmax(counts)])]
                else:
                    row[j] = np.nanmean(col.astype(float))
            return row[None], "mean of X (mode for categorical columns)"
        if isinstance(baseline, str) and baseline == "zeros":
            if cats:
                raise InputError(f"baseline='zeros' cannot fill categorical columns {list(cats)}; pass "
                                 "baseline='mean', one baseline row or background rows")
            return np.zeros((1, X.shape[1])), "zeros"
        if isinstance(baseline, str):
            raise InputError(f"unknown baseline {baseline!r} for a table; use 'mean', 'zeros', one row "
                             "(features,) or background rows (rows, features)")
        arr = np.asarray(baseline) if not hasattr(baseline, "columns") else None
        if arr is not None and arr.ndim == 1:
            if arr.shape[0] != X.shape[1]:
                raise InputError(f"the baseline row has {arr.shape[0]} values but the data {X.shape[1]} columns")
            baseline = arr[None]
        bg = self.model.schema.to_array(baseline, what="baseline")
        if bg.shape[0] == 0:
            raise InputError("the baseline has no rows; pass at least one background row")
        return bg, (f"background rows ({bg.shape[0]}; the output is their mean)" if bg.shape[0] > 1
                    else "one baseline row")

    def build(self, i: int, keep: np.ndarray) -> np.ndarray:
        x = self.X[i]
        rows = np.where(keep[:, None, :], x[None, None, :], self.bg[None, :, :])
        return rows.reshape(-1, x.shape[0])

    def run(self, parts: list) -> np.ndarray:
        return self.model.evaluate(np.concatenate(parts, axis=0))

    def originals(self) -> np.ndarray:
        return self.model.evaluate(self.X)


class _Text(_Domain):
    def __init__(self, model: Any, texts: Sequence[str], baseline: Any) -> None:
        from ..maskers import TextMasker
        from ..models import wrap
        self.model = wrap(model)
        self.texts = list(texts)
        if baseline is None or (isinstance(baseline, str) and baseline in ("mean", "delete")):
            self.masker = TextMasker()
        elif isinstance(baseline, TextMasker):
            self.masker = baseline
        elif isinstance(baseline, str):
            self.masker = TextMasker(baseline)   # a mask token such as "[MASK]"
        else:
            raise InputError(f"for texts the baseline is None / 'delete' (words are deleted), a mask token "
                             f"string or a TextMasker; got {type(baseline).__name__}")
        self.words = [self.masker.split(t) for t in self.texts]
        self.sizes = [len(w) for w in self.words]
        self.description = f"words removed by {self.masker!r}"

    def build(self, i: int, keep: np.ndarray) -> list[str]:
        return self.masker.fill(self.texts[i], keep)

    def run(self, parts: list) -> np.ndarray:
        return self.model.evaluate_raw([t for p in parts for t in p])

    def originals(self) -> np.ndarray:
        return self.model.evaluate_raw(self.texts)


class _Image(_Domain):
    def __init__(self, model: Any, X: np.ndarray, baseline: Any, groups: Any, channel_axis: int | None) -> None:
        from ..maskers.image import image_channel_axis
        from ..models import wrap
        self.f = wrap(model).evaluate_raw   # torch modules too (models/torch.py: no_grad, eval mode)
        self.X = X
        n = X.shape[0]
        self.caxis = image_channel_axis(X.shape[1:], channel_axis)
        hw = tuple(s for a, s in enumerate(X.shape[1:]) if a != self.caxis)
        if groups is None:
            labels = np.broadcast_to(np.arange(hw[0] * hw[1]).reshape(hw), (n,) + hw)
        else:
            g = np.asarray(groups)
            if g.shape not in (hw, (n,) + hw) or g.dtype.kind not in "iu":
                raise InputError(f"groups must be integer labels shaped (H, W) = {hw} or (n, H, W); got "
                                 f"{g.shape} {g.dtype}")
            g = np.broadcast_to(g, (n,) + hw)
            labels = np.stack([np.unique(gi, return_inverse=True)[1].reshape(hw) for gi in g])
        self.labels = labels
        self.sizes = [int(li.max()) + 1 for li in labels]
        self.base = self._baseline(baseline)
        self.input_bytes = int(X[0].nbytes)
        self.description = ("pixels" if groups is None else "pixel groups") + f" replaced by {self._bdesc}"

    def _baseline(self, baseline: Any) -> np.ndarray:
        X = self.X.astype(np.float64)
        if baseline is None or (isinstance(baseline, str) and baseline == "mean"):
            self._bdesc = "each image's mean colour"
            axes = tuple(a + 1 for a in range(X.ndim - 1) if a != self.caxis)
            return np.broadcast_to(X.mean(axis=axes, keepdims=True), X.shape)
        if isinstance(baseline, str) and baseline == "zeros":
            self._bdesc = "zeros"
            return np.zeros_like(X)
        if isinstance(baseline, str):
            raise InputError(f"unknown image baseline {baseline!r}; use 'mean', 'zeros', a number, one image or "
                             "one image per row")
        b = np.asarray(baseline, dtype=np.float64)
        try:
            out = np.broadcast_to(b, X.shape)
        except ValueError:
            raise InputError(f"the baseline of shape {b.shape} does not fit images of shape {X.shape}; pass a "
                             "number, one image or one image per row") from None
        self._bdesc = "the given baseline"
        return out

    def scores(self, i: int, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        if v.shape == self.X.shape[1:] and self.caxis is not None:
            v = v.sum(axis=self.caxis)                      # rank pixels by attribution summed over channels
        if v.shape != self.labels.shape[1:]:
            raise InputError(f"an attribution of shape {v.shape} per image does not fit images of shape "
                             f"{self.X.shape[1:]}; pass one value per pixel (H, W) or per input element")
        return np.bincount(self.labels[i].ravel(), weights=v.ravel(), minlength=self.sizes[i])

    def build(self, i: int, keep: np.ndarray) -> np.ndarray:
        pix = keep[:, self.labels[i]]                        # (m, H, W)
        if self.caxis is not None:
            pix = np.expand_dims(pix, 1 + self.caxis)
        return np.where(pix, self.X[i][None], self.base[i][None]).astype(self.X.dtype, copy=False)

    def run(self, parts: list) -> np.ndarray:
        return self.f(np.concatenate(parts, axis=0))

    def originals(self) -> np.ndarray:
        return self.f(self.X)


def _domain(model: Any, X: Any, baseline: Any, groups: Any = None, channel_axis: int | None = None) -> _Domain:
    if isinstance(X, str):
        X = [X]
    if isinstance(X, (list, tuple)) and X and all(isinstance(t, str) for t in X):
        return _Text(model, X, baseline)
    if type(X).__module__.startswith("torch"):
        X = X.detach().cpu().numpy()
    if isinstance(X, np.ndarray) and X.ndim >= 3:
        if X.ndim != 4 and X.ndim != 3:
            raise InputError(f"images must be (n, H, W), (n, C, H, W) or (n, H, W, C); got shape {X.shape}")
        return _Image(model, X, baseline, groups, channel_axis)
    if groups is not None:
        raise InputError("groups= is for images; tables and texts rank their own features")
    return _Table(model, X, baseline)
