"""LIME (Ribeiro, Singh & Guestrin 2016): a weighted linear surrogate fitted around one input.

explanation(x) = argmin_g sum_z pi_x(z) (f(z) - g(z))^2 + alpha |g|^2, g linear in interpretable
features z, pi_x(z) = exp(-d(x, z)^2 / width^2). The interpretable features are:

  tables  "x's value is in this quartile bin" / "x's category" indicators (sampling="quartile"), or the
          standardised values themselves (sampling="normal"); categorical columns always compare with x's
  text    "this word is kept" (words removed with a `TextMasker`)
  images  "this superpixel is shown" (superpixels switched off with an `ImageMasker`)

The values of the returned `Attribution` are the surrogate's coefficients (0 for features that
feature selection left out) and base_values its intercept; with binary features (quartile, text,
images) base_values + values.sum() is the surrogate's prediction at x, which `meta` sets beside the
model's. Sampling is variance-reduced (scrambled Sobol points over the training quantiles for tables,
complementary mask pairs for text and images) so the top features agree across seeds.

A row's explanation depends only on (the row, the seed, the settings), never on the rest of its
batch: a table's pool of perturbations is drawn from (seed, num_samples) alone and every row is
fitted on it, and each text or image draws its masks from the seed afresh. The pool and the rows go
to the model in one call; a model whose arithmetic depends on the size of its batch (a neural
network's matrix products) may round a row differently in another batch, in the last bits.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._progress import progress
from ..errors import InputError
from ..maskers.image import ImageMasker, image_channel_axis
from ..maskers.text import TextMasker
from ..maskers.text_tokens import Text
from ..models.base import Model, wrap
from ..results import Attribution
from ._lime_fit import SELECTIONS, SurrogateFit, fit_surrogate, resolve_selection
from ._lime_sampling import TabularSampler, as_text_list, binary_design, cosine_distance, dedupe

__all__ = ["Lime", "ROW_META"]

MODES = ("auto", "tabular", "text", "image")
TEXT_MASKERS = (TextMasker, Text)
SAMPLINGS = ("quartile", "normal")
MIN_SAMPLES = 10
_CHUNK_BYTES = 64e6  # most bytes of perturbed images made at once
#: keys of a LIME result's meta that hold one entry per explained row
ROW_META = ("selected", "selection_used", "intercept", "local_fidelity", "surrogate_prediction", "model_prediction",
            "interpretable", "n_words", "segments", "segment_weights", "n_segments")


class Lime:
    """Local surrogate explanations for tables, texts and images: per input x, the weighted ridge
    argmin_g sum_z exp(-d(x, z)^2 / width^2) (f(z) - g(z))^2 + alpha |g|^2 over interpretable features z.

    Arguments:
      model          anything `whybox.models.wrap` accepts (for text and images: a function of a list of
                     strings / an image batch returning scores)
      data           training rows (numpy or pandas; categorical columns allowed): tables only
      mode           "auto" (tabular with data, else from the masker, else from the first X explained: strings
                     are text, arrays with 3 or more axes images), "tabular", "text", "image"
      masker         a `TextMasker` (words by `WORD_PATTERN`), a `maskers.Text` (the model tokenizer's words,
                     removed as its mask or pad token; sub-word pieces move together) or an `ImageMasker`
                     (default: words deleted / SLIC superpixels filled with their mean colour)
      kernel_width   width of pi(d) = exp(-d^2 / width^2). d is the Euclidean distance between the
                     interpretable vectors (tables) or the cosine distance between keep-masks (text, images).
                     Default: 0.75 sqrt(2 m) for m table columns and 0.25 sqrt(2) for text and images: lime's
                     own defaults (0.75 sqrt(m); 25 on its x100 cosine scale; 0.25) once lime's square root
                     of the kernel is folded into the width, so the weights equal lime's
      sampling       tables: "quartile" (bins of the training quartiles, values drawn from the training
                     rows inside each bin) or "normal" (numeric columns from N(mean, sd) of the training data)
      feature_selection  "auto" (forward if num_features <= 6, else highest_weights, as lime), "forward",
                     "lasso" (LARS path), "highest_weights" or "none"
      num_features   features kept in the surrogate (None: all)
      alpha          ridge penalty on the coefficients (lime's Ridge(alpha=1)); the weights sum to
                     thousands, so it only steadies degenerate fits
      output         the output space: "auto", "probability", "log_odds", "raw", "predict"
      seed           the only source of randomness: same seed, same explanation
      batch_size     most inputs per model call
      feature_names  names for table columns when the data carries none
    """

    method = "lime"

    def __init__(self, model: Any, data: Any = None, *, mode: str = "auto",
                 masker: TextMasker | Text | ImageMasker | None = None, kernel_width: float | None = None,
                 sampling: str = "quartile", feature_selection: str = "auto", num_features: int | None = 10,
                 alpha: float = 1.0, output: str = "auto", seed: int = 0, batch_size: int | None = None,
                 feature_names: Sequence[str] | None = None) -> None:
        if mode not in MODES:
            raise InputError(f"unknown mode {mode!r}; choose one of {list(MODES)}")
        if sampling not in SAMPLINGS:
            raise InputError(f"unknown sampling {sampling!r}; choose 'quartile' or 'normal'")
        if feature_selection not in SELECTIONS:
            raise InputError(f"unknown feature_selection {feature_selection!r}; choose one of {list(SELECTIONS)}")
        if num_features is not None and (isinstance(num_features, bool) or not isinstance(
                num_features, (int, np.integer)) or num_features < 1):
            raise InputError(f"num_features must be a whole number >= 1 (or None for all), got {num_features!r}")
        if kernel_width is not None and not (np.isfinite(kernel_width) and kernel_width > 0):
            raise InputError(f"kernel_width must be a positive number, got {kernel_width!r}")
        if not (np.isfinite(alpha) and alpha >= 0):
            raise InputError(f"alpha (the ridge penalty) must be >= 0, got {alpha!r}")
        if masker is not None and not isinstance(masker, (*TEXT_MASKERS, ImageMasker)):
            raise InputError(f"masker must be a TextMasker, a maskers.Text or an ImageMasker, got "
                             f"{type(masker).__name__}; tables take their training data as `data` instead")
        if mode == "auto":
            mode = "tabular" if data is not None else "text" if isinstance(masker, TEXT_MASKERS) else \
                "image" if isinstance(masker, ImageMasker) else "auto"
        if mode == "tabular" and data is None:
            raise InputError("tabular LIME samples from the training data; pass it: Lime(model, data=X_train)")
        if data is not None and mode != "tabular":
            raise InputError(f"data (training rows) is for tables, but mode={mode!r}; leave data out for "
                             f"text and images")
        want = {"text": TEXT_MASKERS, "image": ImageMasker}.get(mode)
        if masker is not None and (want is None or not isinstance(masker, want)):
            raise InputError(f"a {type(masker).__name__} cannot be used with mode={mode!r}")
        if masker is None and mode in ("text", "image"):
            masker = TextMasker() if mode == "text" else ImageMasker()
        self.mode = mode
        self.masker = masker
        self.kernel_width = None if kernel_width is None else float(kernel_width)
        self.sampling = sampling
        self.feature_selection = feature_selection
        self.num_features = None if num_features is None else int(num_features)
        self.alpha = float(alpha)
        self.seed = int(seed)
        self.model: Model = wrap(model, output=output, batch_size=batch_size, feature_names=feature_names)
        self.sampler: TabularSampler | None = None
        if mode == "tabular":
            if as_text_list(data) is not None:
                raise InputError("data is text; tabular LIME needs training rows. For texts use "
                                 "Lime(model, mode='text')")
            arr = self.model.prepare(data, what="data")
            if arr.shape[0] < 2:
                raise InputError(f"data has {arr.shape[0]} rows; LIME samples from the training data and needs "
                                 "at least 2 rows (hundreds are better)")
            schema = self.model.schema
            self.sampler = TabularSampler(arr, schema.names, schema.categories, sampling)

    # ------------------------------------------------------------------ public
    def explain(self, X: Any, num_samples: int = 5000, labels: Any = None,
                show_progress: bool | None = None) -> Attribution:
        """Explain each input of X (table rows, a text or texts, a batch of images) with its own surrogate.

        Arguments:
          X              a batch: rows (numpy/pandas), a string or list of strings, or images (n, *image_shape)
          num_samples    perturbed samples per input, x itself included (lime counts them the same way)
          labels         which outputs to explain: None (all), an index or name, or a list of them
          show_progress  progress bar (default: when interactive)
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or \
                num_samples < MIN_SAMPLES:
            raise InputError(f"num_samples must be a whole number >= {MIN_SAMPLES}, got {num_samples!r}; a "
                             f"surrogate fitted on fewer samples is noise (lime's default is 5000)")
        mode = self._mode_for(X)
        evals_before = self.model.n_evals
        run = {"tabular": self._tabular, "text": self._text, "image": self._image}[mode]
        return run(X, int(num_samples), labels, show_progress, evals_before)

    # ------------------------------------------------------------------ modes
    def _mode_for(self, X: Any) -> str:
        texts = as_text_list(X)
        if self.mode == "tabular":
            if texts is not None:
                raise InputError("this Lime explains table rows (it was built with training data) but X is "
                                 "text; for texts build Lime(model, mode='text')")
            return "tabular"
        if self.mode == "text":
            if texts is None:
                raise InputError(f"this Lime explains texts but X is a {type(X).__name__}; pass a string or a "
                                 "list of strings")
            return "text"
        if self.mode == "image":
            if texts is not None:
                raise InputError("this Lime explains images but X is text; for texts build Lime(model, "
                                 "mode='text')")
            return "image"
        if texts is not None:
            self.mode, self.masker = "text", TextMasker()
        elif np.ndim(X) >= 3 or (hasattr(X, "detach") and np.ndim(X) >= 2):
            self.mode, self.masker = "image", ImageMasker()
        else:
            raise InputError("LIME for tables samples from the training data; pass it: Lime(model, data=X_train) "
                             "(for texts pass strings, for images a batch shaped (n, H, W[, C]))")
        return self.mode

    def _width(self, m: int) -> float:
        if self.kernel_width is not None:
            return self.kernel_width
        return 0.75 * np.sqrt(2.0 * m) if self.mode == "tabular" else 0.25 * np.sqrt(2.0)

    def _fit(self, Z: np.ndarray, Y: np.ndarray, d2: np.ndarray, z_x: np.ndarray, width: float) -> SurrogateFit:
        w = np.exp(-d2 / width ** 2)
        return fit_surrogate(Z, Y, w, z_x, self.num_features, self.feature_selection, self.alpha)

    def _outputs(self, labels: Any, k: int) -> np.ndarray:
        """Indices of the outputs to explain."""
        if labels is None:
            return np.arange(k)
        names = list(self.model.output_names or [])
        items = [labels] if isinstance(labels, (str, int, np.integer)) else list(labels)
        if not items:
            raise InputError("labels is empty; pass None (every output), an output index or name, or a list")
        out = []
        for lab in items:
            if isinstance(lab, str):
                if lab not in names:
                    raise InputError(f"unknown label {lab!r}; the model's outputs are {names}")
                out.append(names.index(lab))
            elif isinstance(lab, (int, np.integer)) and not isinstance(lab, bool) and -k <= lab < k:
                out.append(int(lab) % k)
            else:
                raise InputError(f"label {lab!r} is not an output of this model ({k} outputs: {names}); pass an "
                                 f"index in 0..{k - 1} or a name")
        return np.array(out, dtype=int)

    def _tabular(self, X: Any, num_samples: int, labels: Any, show: bool | None, before: int) -> Attribution:
        arr = self.model.prepare(X)
        n, m = arr.shape
        if n == 0:
            raise InputError("X has no rows; pass at least one row to explain")
        sampler = self.sampler
        x_codes = sampler.codes(arr)
        pool, pool_codes = sampler.pool(np.random.default_rng(self.seed), num_samples - 1)
        # the pool depends only on (seed, num_samples): one call for it, and each row alone, so that a row's
        # values never depend on the other rows of its batch (a batched call may round a row differently)
        Y_pool = self.model.evaluate(pool)
        fx = self.model.evaluate_each(arr)
        outs = self._outputs(labels, fx.shape[1])
        width = self._width(m)
        fits, described = [], []
        for i in progress(range(n), total=n, desc="lime", show=show):
            Z, d2, z_x = sampler.design(pool_codes, x_codes[i])
            Z = np.vstack([z_x[None], Z])
            Y = np.vstack([fx[i:i + 1], Y_pool])[:, outs]
            fits.append(self._fit(Z, Y, np.r_[0.0, d2], z_x, width))
            described.append(sampler.describe(arr[i], x_codes[i]))
        values = np.stack([f.coef for f in fits])                      # (n, m, k)
        extra = {"sampling": self.sampling, "interpretable": described,
                 "distance": "euclidean between interpretable vectors"}
        return self._result(values, fits, fx[:, outs], outs, num_samples, before, [m] * n, width, extra,
                            data=arr, feature_names=self.model.schema.names)

    def _text(self, X: Any, num_samples: int, labels: Any, show: bool | None, before: int) -> Attribution:
        texts = as_text_list(X)
        masker = self.masker
        words = [masker.split(t) for t in texts]
        for i, w in enumerate(words):
            if not w:
                raise InputError(f"text {i} ({texts[i][:40]!r}) has no words to explain; drop it or pass text "
                                 "with words")
        fits, fxs, outs = [], [], None
        width = self._width(0)
        for i in progress(range(len(texts)), total=len(texts), desc="lime", show=show):
            m = len(words[i])
            masks = binary_design(np.random.default_rng(self.seed), m, num_samples)
            uniq, inv = dedupe(masks)
            Y = self.model.evaluate_raw(masker.fill(texts[i], uniq))[inv]
            outs = self._outputs(labels, Y.shape[1]) if outs is None else outs
            fxs.append(Y[0])
            fits.append(self._fit(masks.astype(float), Y[:, outs], cosine_distance(masks) ** 2, np.ones(m), width))
        longest = max(len(w) for w in words)
        k = len(outs)
        values = np.zeros((len(texts), longest, k))
        data = np.full((len(texts), longest), "", dtype=object)
        mask = np.zeros((len(texts), longest), dtype=bool)
        for i, (w, f) in enumerate(zip(words, fits)):
            values[i, :len(w)] = f.coef
            data[i, :len(w)] = w
            mask[i, :len(w)] = True
        extra = {"distance": "cosine between keep-masks", "n_words": [len(w) for w in words]}
        return self._result(values, fits, np.array(fxs)[:, outs], outs, num_samples, before,
                            [len(w) for w in words], width, extra, data=data, mask=mask)

    def _images(self, X: Any) -> np.ndarray:
        if hasattr(X, "detach"):
            X = X.detach().cpu().numpy()
        if isinstance(X, (list, tuple)):
            shapes = {np.shape(x) for x in X}
            if len(shapes) > 1:
                raise InputError(f"the images have different shapes {sorted(shapes)}; resize them to one shape")
        arr = np.asarray(X)
        if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
            raise InputError(f"X has shape {arr.shape}: one image with channels, but explain takes a batch; pass "
                             f"X[None] (shape {(1,) + arr.shape})")
        if arr.ndim not in (3, 4):
            hint = "; for one grey image pass X[None]" if arr.ndim == 2 else ""
            raise InputError(f"X has shape {arr.shape}; image LIME takes a batch (n, H, W) of grey images or "
                             f"(n, H, W, C) / (n, C, H, W) of colour images{hint}")
        return arr

    def _image(self, X: Any, num_samples: int, labels: Any, show: bool | None, before: int) -> Attribution:
        images = self._images(X)
        masker = self.masker
        n = images.shape[0]
        if n == 0:
            raise InputError("X holds no images; pass a batch of at least one")
        for i in range(n):
            masker.check(images[i], what=f"image {i}")
        width = self._width(0)
        fits, fxs, segs, outs = [], [], [], None
        for i in progress(range(n), total=n, desc="lime", show=show):
            img = images[i]
            segments = masker.segment(img)
            s = int(segments.max()) + 1
            masks = binary_design(np.random.default_rng(self.seed), s, num_samples)
            uniq, inv = dedupe(masks)
            fill = masker.replacement(img, segments)
            step = max(1, int(_CHUNK_BYTES // max(img.nbytes, 1)))
            Yu = np.concatenate([self.model.evaluate_raw(masker.fill(img, segments, uniq[a:a + step], fill))
                                 for a in range(0, len(uniq), step)], axis=0)
            Y = Yu[inv]
            outs = self._outputs(labels, Y.shape[1]) if outs is None else outs
            fxs.append(Y[0])
            fits.append(self._fit(masks.astype(float), Y[:, outs], cosine_distance(masks) ** 2, np.ones(s), width))
            segs.append(segments)
        k = len(outs)
        values = np.zeros(images.shape + (k,))
        for i, (f, segments) in enumerate(zip(fits, segs)):
            values[i] = _spread(f.coef, segments, images[i].shape, masker.channel_axis)
        extra = {"distance": "cosine between keep-masks", "segments": segs,
                 "segment_weights": [f.coef if k > 1 else f.coef[:, 0] for f in fits],
                 "n_segments": [int(s.max()) + 1 for s in segs], "masker": repr(masker)}
        return self._result(values, fits, np.array(fxs)[:, outs], outs, num_samples, before,
                            extra["n_segments"], width, extra, data=images)

    # ------------------------------------------------------------------ result
    def _result(self, values: np.ndarray, fits: list[SurrogateFit], fx: np.ndarray, outs: np.ndarray,
                num_samples: int, before: int, n_features: list[int], width: float, extra: dict,
                data: Any = None, feature_names: Any = None, mask: Any = None) -> Attribution:
        k = len(outs)
        names = self.model.output_names
        onames = tuple(names[o] for o in outs) if names is not None else None

        def per_output(a: np.ndarray) -> list:
            return (a if k > 1 else a[..., 0]).tolist()

        selected = [[s.tolist() for s in f.selected] if k > 1 else f.selected[0].tolist() for f in fits]
        meta = {"mode": self.mode, "num_samples": int(num_samples),
                "model_evals": int(self.model.n_evals - before), "kernel_width": float(width),
                "kernel": "exp(-d^2 / kernel_width^2)", "seed": self.seed, "alpha": self.alpha,
                "feature_selection": self.feature_selection,
                "selection_used": [resolve_selection(self.feature_selection, self.num_features, m)
                                   for m in n_features],
                "num_features": self.num_features, "selected": selected,
                "intercept": per_output(np.array([f.intercept for f in fits])),
                "local_fidelity": per_output(np.array([f.r2 for f in fits])),
                "surrogate_prediction": per_output(np.array([f.pred_x for f in fits])),
                "model_prediction": per_output(fx), "output": self.model.output, "model": self.model.kind,
                "labels": list(onames) if onames is not None else [int(o) for o in outs], **extra}
        meta["per_row"] = [key for key in ROW_META if key in meta]
        base = np.array([f.intercept for f in fits])
        if k == 1:
            values, base, onames = values[..., 0], base[:, 0], None
        return Attribution(values=values, base_values=base, data=data, feature_names=feature_names,
                           output_names=onames, method=self.method, meta=meta, has_outputs=k > 1, mask=mask)

    def __repr__(self) -> str:
        return (f"Lime(mode={self.mode!r}, sampling={self.sampling!r}, feature_selection={self.feature_selection!r}, "
                f"num_features={self.num_features}, seed={self.seed})")


def _spread(coef: np.ndarray, segments: np.ndarray, shape: tuple[int, ...], channel_axis: int | None) -> np.ndarray:
    """Per-superpixel weights (s, k) spread evenly over their pixels and channels: (*shape, k)."""
    axis = image_channel_axis(shape, channel_axis)
    c = 1 if axis is None else shape[axis]
    counts = np.bincount(segments.ravel(), minlength=coef.shape[0]).astype(float)
    pix = (coef / (np.maximum(counts, 1)[:, None] * c))[segments]          # (H, W, k)
    if axis is None:
        return pix
    if axis == 2:
        return np.broadcast_to(pix[:, :, None, :], shape + (coef.shape[1],)).copy()
    return np.broadcast_to(pix[None], shape + (coef.shape[1],)).copy()
