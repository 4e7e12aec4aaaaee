"""Removing parts of an image: the image is cut into superpixels and a removed superpixel is filled in.

A coalition is a boolean keep-mask over the superpixels: kept superpixels show the image, removed
ones show a replacement (their own mean colour, the image's mean colour, a blurred copy of the
image, an inpainting of the hole from the kept pixels, a constant or a given image). Images are one
array each: (H, W) grey, or (H, W, C) / (C, H, W) with C channels.

For partition SHAP the masker also cuts the image into a hierarchy of rectangles (`regions`):
halves of halves down to `min_region` pixels, whose leaves play the part of the superpixels.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import InputError
from .hierarchy import Hierarchy, rectangles

__all__ = ["ImageMasker", "image_channel_axis"]

SEGMENTATIONS = ("slic", "quickshift", "felzenszwalb", "grid")
#: the named fills; "inpaint" is OpenCV's Telea method, "inpaint_ns" its Navier-Stokes one
FILLS = ("mean", "image_mean", "blur", "inpaint", "inpaint_telea", "inpaint_ns")
_CHANNEL_SIZES = (1, 3, 4)


def image_channel_axis(shape: tuple[int, ...], channel_axis: int | None = None) -> int | None:
    """The channel axis of one image of this shape: None for (H, W), else 0 or 2.

    Auto (channel_axis=None): the last axis when its size is 1, 3 or 4, else the first when its size is.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        if channel_axis is not None:
            raise InputError(f"channel_axis={channel_axis} given for a 2-D (grey) image of shape {shape}; "
                             "leave channel_axis=None for images without channels")
        return None
    if len(shape) != 3:
        raise InputError(f"an image must be (H, W), (H, W, C) or (C, H, W); got shape {shape}")
    if channel_axis is not None:
        if channel_axis not in (0, 2, -1, -3):
            raise InputError(f"channel_axis must be 0 (channels first) or -1 (channels last), got {channel_axis}")
        return 0 if channel_axis in (0, -3) else 2
    if shape[2] in _CHANNEL_SIZES:
        return 2
    if shape[0] in _CHANNEL_SIZES:
        return 0
    raise InputError(f"cannot tell which axis holds the channels of an image shaped {shape} (neither the first "
                     "nor the last axis has 1, 3 or 4 entries); pass channel_axis=0 (channels first) or -1 "
                     "(channels last)")


class ImageMasker:
    """How a superpixel is "removed" from an image.

    Arguments:
      segmentation   "slic", "quickshift", "felzenszwalb", "grid" or a function image -> (H, W) int labels
      n_segments     about how many superpixels ("slic" and "grid"; quickshift and felzenszwalb set their
                     size through `segmentation_kwargs`)
      fill           what a removed superpixel shows: "mean" (its own mean colour, lime's default),
                     "image_mean" (the whole image's mean colour), "blur" (a Gaussian-blurred copy of the
                     image), "inpaint" / "inpaint_telea" or "inpaint_ns" (OpenCV's inpainting of the removed
                     pixels from the kept ones, per coalition; needs opencv-python-headless, the `image`
                     extra; where nothing is kept it shows the image's mean colour), a number, or an array
                     broadcastable to the image
      channel_axis   None (auto: last axis if it has 1, 3 or 4 entries, else the first), 0 or -1
      compactness    SLIC's colour/space trade-off; None: 10 for RGB (SLIC works in Lab), 0.1 otherwise
                     (grey or other channel counts, scaled to [0, 1])
      blur_sigma     Gaussian sigma in pixels for fill="blur"; None: max(H, W) / 16
      segmentation_kwargs  extra keyword arguments for the scikit-image segmentation function
      min_region     largest side in pixels of the smallest rectangles of `regions()` (partition SHAP);
                     None: max(1, max(H, W) // 32)
      inpaint_radius OpenCV's inpainting radius in pixels

    Images are rescaled to [0, 1] (min-max over the whole image) before segmentation only; the fill
    works on the original values and keeps the image's dtype.
    """

    def __init__(self, segmentation: str | Callable[[np.ndarray], np.ndarray] = "slic", n_segments: int = 50, *,
                 fill: str | float | np.ndarray = "mean", channel_axis: int | None = None,
                 compactness: float | None = None, blur_sigma: float | None = None,
                 segmentation_kwargs: dict | None = None, min_region: int | None = None,
                 inpaint_radius: float = 3.0) -> None:
        if not callable(segmentation) and segmentation not in SEGMENTATIONS:
            raise InputError(f"unknown segmentation {segmentation!r}; choose one of {list(SEGMENTATIONS)} or pass "
                             "a function image -> (H, W) integer labels")
        if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)) or n_segments < 1:
            raise InputError(f"n_segments must be a whole number >= 1, got {n_segments!r}")
        if isinstance(fill, str) and fill not in FILLS:
            raise InputError(f"unknown fill {fill!r}; use one of {list(FILLS)}, a number or an image-shaped array")
        if isinstance(fill, str) and fill.startswith("inpaint"):
            try:
                import cv2  # noqa: F401
            except ModuleNotFoundError:
                raise InputError(f"fill={fill!r} needs OpenCV: pip install opencv-python-headless (or "
                                 "whybox[image]); or use fill='blur' or 'image_mean'") from None
        if not isinstance(fill, str) and not np.all(np.isfinite(np.asarray(fill, dtype=float))):
            raise InputError("fill must be finite; use a number such as 0.0 or an image of finite values")
        if channel_axis not in (None, 0, 2, -1, -3):
            raise InputError(f"channel_axis must be None (auto), 0 (channels first) or -1 (channels last), "
                             f"got {channel_axis!r}")
        if blur_sigma is not None and not blur_sigma > 0:
            raise InputError(f"blur_sigma must be > 0 pixels, got {blur_sigma!r}")
        if min_region is not None and (isinstance(min_region, bool) or not isinstance(min_region, (int, np.integer))
                                       or min_region < 1):
            raise InputError(f"min_region must be a whole number of pixels >= 1 (or None), got {min_region!r}")
        if not inpaint_radius > 0:
            raise InputError(f"inpaint_radius must be > 0 pixels, got {inpaint_radius!r}")
        self.segmentation = segmentation
        self.n_segments = int(n_segments)
        self.fill_with = fill
        self.channel_axis = channel_axis
        self.compactness = compactness
        self.blur_sigma = blur_sigma
        self.segmentation_kwargs = dict(segmentation_kwargs or {})
        self.min_region = None if min_region is None else int(min_region)
        self.inpaint_radius = float(inpaint_radius)

    @property
    def per_coalition(self) -> bool:
        """True when the fill depends on the coalition (inpainting), so no fixed replacement exists."""
        return isinstance(self.fill_with, str) and self.fill_with.startswith("inpaint")

    # ------------------------------------------------------------------ shape
    def check(self, image: Any, what: str = "image") -> np.ndarray:
        """One image as a numeric numpy array, checked for shape and finite values."""
        if hasattr(image, "detach"):  # a torch tensor
            image = image.detach().cpu().numpy()
        arr = np.asarray(image)
        if arr.dtype.kind not in "biuf":
            raise InputError(f"{what} must be numeric, got dtype {arr.dtype}; pass pixel values as numbers")
        if arr.ndim not in (2, 3):
            raise InputError(f"{what} has shape {arr.shape}; an image must be (H, W), (H, W, C) or (C, H, W)")
        axis = image_channel_axis(arr.shape, self.channel_axis)
        h, w = self.spatial_shape(arr.shape, axis)
        if h < 2 or w < 2:
            raise InputError(f"{what} of shape {arr.shape} is {h} x {w} pixels; an image needs at least 2 x 2 pixels "
                             "(check channel_axis and that a batch was not passed as one image)")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise InputError(f"{what} has NaN or infinite pixels; replace them before explaining")
        return arr

    @staticmethod
    def spatial_shape(shape: tuple[int, ...], axis: int | None) -> tuple[int, int]:
        """(H, W) of an image shape given its channel axis."""
        if axis is None:
            return int(shape[0]), int(shape[1])
        return (int(shape[1]), int(shape[2])) if axis == 0 else (int(shape[0]), int(shape[1]))

    def _hwc(self, image: np.ndarray) -> tuple[np.ndarray, int | None]:
        """The image as (H, W, C) float (C=1 for grey) and its channel axis."""
        axis = image_channel_axis(image.shape, self.channel_axis)
        a = image.astype(np.float64)
        if axis is None:
            a = a[:, :, None]
        elif axis == 0:
            a = np.moveaxis(a, 0, -1)
        return a, axis

    # ------------------------------------------------------------------ segmentation
    def segment(self, image: Any) -> np.ndarray:
        """Superpixel labels of one image: (H, W) int array with labels 0 .. n_superpixels - 1."""
        image = self.check(image)
        a, _ = self._hwc(image)
        h, w, c = a.shape
        if callable(self.segmentation):
            try:
                labels = np.asarray(self.segmentation(image))
            except Exception as e:
                raise InputError(f"the segmentation function failed: {type(e).__name__}: {e}") from e
            if labels.shape != (h, w) or labels.dtype.kind not in "iub":
                raise InputError(f"the segmentation function returned an array of shape {labels.shape} and dtype "
                                 f"{labels.dtype}; it must return (H, W) = ({h}, {w}) integer labels")
        elif self.segmentation == "grid":
            labels = _grid(h, w, self.n_segments)
        else:
            labels = self._skimage(a)
        _, labels = np.unique(labels, return_inverse=True)
        return labels.reshape(h, w).astype(np.int64)

    def _skimage(self, a: np.ndarray) -> np.ndarray:
        try:
            from skimage import segmentation as seg
        except ModuleNotFoundError:
            raise InputError(f"segmentation={self.segmentation!r} needs scikit-image: pip install 'whybox[image]', "
                             "or use segmentation='grid', which needs nothing") from None

        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        c = a.shape[2]
        if c == 4:  # RGBA: segment on the colour
            a, c = a[:, :, :3], 3
        kw = dict(self.segmentation_kwargs)
        if self.segmentation == "slic":
            rgb = c == 3
            compactness = self.compactness if self.compactness is not None else (10.0 if rgb else 0.1)
            img = a if c > 1 else a[:, :, 0]
            kw.setdefault("compactness", compactness)
            if c > 1 and not rgb:
                kw.setdefault("convert2lab", False)
            return seg.slic(img, n_segments=self.n_segments, start_label=0,
                            channel_axis=-1 if c > 1 else None, **kw)
        if self.segmentation == "quickshift":
            img = np.repeat(a, 3, axis=2) if c == 1 else a
            kw.setdefault("kernel_size", 4)
            kw.setdefault("max_dist", 200)
            kw.setdefault("ratio", 0.2)
            if img.shape[2] != 3:
                kw.setdefault("convert2lab", False)
            return seg.quickshift(img, channel_axis=-1, **kw)
        kw.setdefault("scale", 100)
        kw.setdefault("sigma", 0.5)
        kw.setdefault("min_size", 50)
        img = a if c > 1 else a[:, :, 0]
        return seg.felzenszwalb(img, channel_axis=-1 if c > 1 else None, **kw)

    # ------------------------------------------------------------------ region hierarchy
    def regions(self, image: Any, min_region: int | None = None) -> Hierarchy:
        """The rectangle hierarchy of one image (partition SHAP's players): the image halved along its
        longer side, recursively, until no side exceeds `min_region` pixels (default: the masker's,
        else max(1, max(H, W) // 32)). `Hierarchy.labels` maps each pixel to its smallest rectangle,
        which `fill` takes as `segments`.
        """
        image = self.check(image)
        h, w = self.spatial_shape(image.shape, image_channel_axis(image.shape, self.channel_axis))
        size = min_region if min_region is not None else self.min_region
        if size is None:
            size = max(1, max(h, w) // 32)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise InputError(f"min_region must be a whole number of pixels >= 1, got {size!r}")
        return rectangles(h, w, int(size))

    # ------------------------------------------------------------------ filling
    def replacement(self, image: Any, segments: np.ndarray) -> np.ndarray | None:
        """What removed pixels show, shaped and typed like the image; None for inpainting, whose
        replacement depends on the coalition (`fill` computes it per coalition)."""
        image = self.check(image)
        a, axis = self._hwc(image)
        h, w, c = a.shape
        segments = self._check_segments(segments, (h, w))
        fill = self.fill_with
        if self.per_coalition:
            return None
        if isinstance(fill, str) and fill == "image_mean":
            r = np.broadcast_to(a.mean(axis=(0, 1)), a.shape)
        elif isinstance(fill, str) and fill == "mean":
            n_seg = int(segments.max()) + 1
            flat = segments.ravel()
            counts = np.bincount(flat, minlength=n_seg).astype(float)
            sums = np.stack([np.bincount(flat, weights=a[:, :, k].ravel(), minlength=n_seg) for k in range(c)], 1)
            r = (sums / np.maximum(counts, 1)[:, None])[segments]  # (H, W, C)
        elif isinstance(fill, str):  # blur
            from scipy.ndimage import gaussian_filter

            sigma = self.blur_sigma if self.blur_sigma is not None else max(h, w) / 16.0
            r = gaussian_filter(a, sigma=(sigma, sigma, 0), mode="nearest")
        else:
            try:
                r = np.broadcast_to(np.asarray(fill, dtype=float), image.shape).astype(float)
            except ValueError:
                raise InputError(f"fill of shape {np.shape(fill)} does not broadcast to the image shape "
                                 f"{image.shape}; pass a number or an array of the image's shape") from None
            return _as_dtype(r, image.dtype)
        if axis is None:
            r = r[:, :, 0]
        elif axis == 0:
            r = np.moveaxis(r, -1, 0)
        return _as_dtype(r, image.dtype)

    def fill(self, image: Any, segments: np.ndarray, masks: np.ndarray,
             replacement: np.ndarray | None = None) -> np.ndarray:
        """(c, n_superpixels) bool keep-masks -> (c, *image.shape) images, removed superpixels filled in.

        `replacement` (from `replacement(image, segments)`) may be passed to reuse it across calls.
        """
        image = self.check(image)
        axis = image_channel_axis(image.shape, self.channel_axis)
        hw = self.spatial_shape(image.shape, axis)
        segments = self._check_segments(segments, hw)
        n_seg = int(segments.max()) + 1
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.ndim != 2 or masks.shape[1] != n_seg:
            raise InputError(f"masks have shape {masks.shape} but the image has {n_seg} superpixels; pass "
                             f"(coalitions, {n_seg}) booleans")
        if replacement is None:
            replacement = self.replacement(image, segments)
        keep = masks[:, segments]  # (c, H, W)
        if replacement is None:  # inpainting: one replacement per coalition
            return self._inpaint(image, keep)
        if axis == 2:
            keep = keep[:, :, :, None]
        elif axis == 0:
            keep = keep[:, None, :, :]
        return np.where(keep, image[None], replacement[None])

    def _inpaint(self, image: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """(c, H, W) pixel keep-masks -> (c, *image.shape) images with the removed pixels inpainted."""
        try:
            import cv2
        except ModuleNotFoundError:
            raise InputError("the inpainting fill needs OpenCV: pip install 'whybox[image]', or use fill='blur' "
                             "or 'image_mean'") from None

        a, axis = self._hwc(image)
        flag = cv2.INPAINT_NS if self.fill_with == "inpaint_ns" else cv2.INPAINT_TELEA
        # OpenCV inpaints 8-bit images reliably (its float path is not, in some versions): scale each
        # channel to 0..255, inpaint, scale back; kept pixels keep their exact values
        lo, hi = a.min(axis=(0, 1)), a.max(axis=(0, 1))
        span = np.where(hi > lo, hi - lo, 1.0)
        as_bytes = np.rint((a - lo) / span * 255.0).astype(np.uint8)
        mean = a.mean(axis=(0, 1))
        out = np.repeat(a[None], keep.shape[0], axis=0)  # (c, H, W, C)
        for i, kept in enumerate(keep):
            if kept.all():
                continue
            if not kept.any():  # nothing to inpaint from
                out[i] = mean
                continue
            hole = (~kept).astype(np.uint8)
            for k in range(a.shape[2]):
                filled = cv2.inpaint(np.ascontiguousarray(as_bytes[:, :, k]), hole, self.inpaint_radius, flag)
                out[i, :, :, k] = np.where(kept, a[:, :, k], filled * (span[k] / 255.0) + lo[k])
        if axis is None:
            out = out[..., 0]
        elif axis == 0:
            out = np.moveaxis(out, -1, 1)
        return _as_dtype(out, image.dtype)

    @staticmethod
    def _check_segments(segments: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        segments = np.asarray(segments)
        if segments.shape != tuple(hw) or segments.dtype.kind not in "iu" or (segments.size and segments.min() < 0):
            raise InputError(f"segments must be (H, W) = {tuple(hw)} non-negative integer labels (from "
                             f"segment()), got shape {segments.shape} and dtype {segments.dtype}")
        return segments

    def __repr__(self) -> str:
        seg = getattr(self.segmentation, "__name__", "callable") if callable(self.segmentation) else self.segmentation
        fill = self.fill_with if isinstance(self.fill_with, (str, int, float)) else "array"
        return f"ImageMasker(segmentation={seg!r}, n_segments={self.n_segments}, fill={fill!r})"


def _grid(h: int, w: int, n: int) -> np.ndarray:
    """About n rectangular cells: rows x cols chosen to keep the cells near square."""
    rows = int(np.clip(round(np.sqrt(n * h / w)), 1, h))
    cols = int(np.clip(int(np.ceil(n / rows)), 1, w))
    r = (np.arange(h) * rows) // h
    c = (np.arange(w) * cols) // w
    return r[:, None] * cols + c[None, :]


def _as_dtype(r: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A float replacement in the image's dtype (rounded and clipped for integer images)."""
    if dtype.kind in "iub":
        info = np.iinfo(dtype) if dtype.kind != "b" else None
        r = np.rint(r)
        if info is not None:
            r = np.clip(r, info.min, info.max)
        return r.astype(dtype)
    return r.astype(dtype, copy=False)
