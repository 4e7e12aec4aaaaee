"""The shortcut case: a CNN that learned a corner marker instead of the shape, caught by three explainers.

Two `ShortcutCNN`s train on 800 images of `datasets.shortcut_images` (seed 0) with the same recipe
(Adam, stop at 92 % training accuracy): the shortcut model on the train split, where an 8 x 8 marker
(a white X on black) in the top-left corner agrees with the class (square) 95 % of the time, and a
control model on images whose marker is random (marker_agreement=0.5). Explained are 16 test
squares that carry the marker, for the class the marker signals (square): marker and shape both speak
for it, and only the model decides which one it reads. (A circle is a square without corners, so the
evidence for "circle" is an absence spread over the whole image; explaining it says little about where
a model looks.) Measured is each explainer's share of positive attribution (channels summed) inside
the marker box (64 pixels, 6.25 % of the image) for the shortcut model, and inside the shape (its mask
grown by one pixel, ~16 % of the image, so that it holds the outline that tells a circle from a square)
for the control model.

Measured here (seed 0; in brackets the range over training seeds 0-7, to show the margins):

  accuracy train / test   shortcut 0.95 / 0.49 [0.93-0.95 / 0.49-0.51]   control 0.96 / 0.95 [0.93-0.99 / 0.93-0.98]
                                   shortcut: marker box   control: shape      control: marker box
    PartitionShap (500 evals)      0.67 [0.42-0.69]       0.64 [0.24-0.76]    0.01 [0.01-0.38]
    Grad-CAM (conv3)               0.90 [0.37-0.90]       0.72 [0.19-0.72]    0.00 [0.00-0.30]
    IG (zeros, 32 steps)           0.92 [0.52-0.98]       0.79 [0.40-0.79]    0.03 [0.00-0.45]

At seed 0 every method puts most (> 0.5) of its positive mass on the marker for the shortcut model and
on the shape for the control model. Over seeds 0-7 IG's shortcut share always exceeds 0.5; the
exceptions are PartitionShap's shortcut share at seeds 6 and 7 (0.42, 0.46), Grad-CAM's at seed 4
(0.37), and the seed-6 control model, which needed all 20 epochs and does read the random marker as
evidence for "square" (box shares 0.30-0.45, shape 0.19-0.40). Leaving seed 6 out the control's
shape shares are 0.60-0.76, 0.55-0.72, 0.71-0.79 and its box shares at most 0.05.

Thresholds (seed 0): shortcut share in the box > 0.55 (PartitionShap), > 0.7 (Grad-CAM), > 0.75 (IG);
control share on the shape > 0.55, > 0.6, > 0.65; control share in the box < 0.1 for all three.
"""

import inspect

import numpy as np
import pytest

import torch

from whybox.datasets import shortcut_images  # noqa: E402
from whybox.examples.shortcut_cnn import accuracy, train_shortcut_model  # noqa: E402
from whybox.maskers import ImageMasker  # noqa: E402
from whybox.shapley import PartitionShap  # noqa: E402

N_TRAIN = 800
N_EXPLAIN = 16
SQUARE = 1   # the class the marker signals, explained for both models


def positive_share(values: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Per image: positive attribution inside `region` / all positive attribution (channels summed)."""
    v = values.sum(axis=1) if values.ndim == 4 else values
    pos = np.clip(v, 0.0, None)
    region = np.broadcast_to(region, pos.shape)
    return (pos * region).sum(axis=(1, 2)) / np.maximum(pos.sum(axis=(1, 2)), 1e-12)


@pytest.fixture(scope="module")
def case():
    train = shortcut_images(N_TRAIN, seed=0, split="train")
    control_data = shortcut_images(N_TRAIN, seed=0, split="train", marker_agreement=0.5)
    test = shortcut_images(400, seed=100, split="test")
    shortcut = train_shortcut_model(train.X, train.y, seed=0)
    control = train_shortcut_model(control_data.X, control_data.y, seed=0)
    pick = np.flatnonzero(test.marker & (test.y == 1))[:N_EXPLAIN]       # squares carrying the marker
    from scipy.ndimage import binary_dilation
    shape_region = np.stack([binary_dilation(m) for m in test.masks[pick]])
    return {"train": train, "control_data": control_data, "test": test, "shortcut": shortcut, "control": control,
            "X": test.X[pick], "box": train.box_mask, "shape": shape_region}


def test_the_shortcut_model_is_right_in_training_and_near_chance_on_the_test_split(case):
    train, test = case["train"], case["test"]
    fit, held_out = accuracy(case["shortcut"], train.X, train.y), accuracy(case["shortcut"], test.X, test.y)
    assert fit >= 0.9 and held_out <= 0.65 and fit - held_out >= 0.25
    ctrl = case["control_data"]
    assert accuracy(case["control"], ctrl.X, ctrl.y) >= 0.9 and accuracy(case["control"], test.X, test.y) >= 0.85
    # both reach the accuracy target before the epoch cap: training cost is counted in epochs, not timed
    cap = inspect.signature(train_shortcut_model).parameters["epochs"].default
    assert 1 <= case["shortcut"].epochs_run < cap and 1 <= case["control"].epochs_run < cap


def test_partition_shap_finds_the_marker(case):
    masker = ImageMasker(fill="image_mean")
    shortcut = PartitionShap(case["shortcut"], masker).explain(case["X"], max_evals=500, target=SQUARE)
    control = PartitionShap(case["control"], masker).explain(case["X"], max_evals=500, target=SQUARE)
    assert shortcut.meta["additivity_gap"] < 1e-6 and max(shortcut.meta["evals_per_row"]) <= 500
    s, c = positive_share(shortcut.values, case["box"]), positive_share(control.values, case["box"])
    shape = positive_share(control.values, case["shape"])
    assert s.mean() > 0.55 and shape.mean() > 0.55 and c.mean() < 0.1, (s.mean(), shape.mean(), c.mean())


def test_grad_cam_finds_the_marker(case):
    from whybox import gradients
    shortcut = gradients.GradCam(case["shortcut"], layer="conv3").explain(case["X"], target=SQUARE)
    control = gradients.GradCam(case["control"], layer="conv3").explain(case["X"], target=SQUARE)
    assert shortcut.values.shape == (N_EXPLAIN, 32, 32)
    s, c = positive_share(shortcut.values, case["box"]), positive_share(control.values, case["box"])
    shape = positive_share(control.values, case["shape"])
    assert s.mean() > 0.7 and shape.mean() > 0.6 and c.mean() < 0.1, (s.mean(), shape.mean(), c.mean())


def test_integrated_gradients_finds_the_marker(case):
    from whybox import gradients
    ig = [gradients.IntegratedGradients(case[m]).explain(case["X"], target=SQUARE, baseline="zeros", n_steps=32)
          for m in ("shortcut", "control")]
    assert ig[0].values.shape == case["X"].shape
    s, c = positive_share(ig[0].values, case["box"]), positive_share(ig[1].values, case["box"])
    shape = positive_share(ig[1].values, case["shape"])
    assert s.mean() > 0.75 and shape.mean() > 0.65 and c.mean() < 0.1, (s.mean(), shape.mean(), c.mean())


def test_training_is_seeded_and_import_whybox_needs_no_torch():
    data = shortcut_images(64, seed=5)
    a = train_shortcut_model(data.X, data.y, epochs=2, seed=3, stop_at=None)
    b = train_shortcut_model(data.X, data.y, epochs=2, seed=3, stop_at=None)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert a.epochs_run == 2 and not a.training and not torch.are_deterministic_algorithms_enabled()
    import subprocess
    import sys
    code = "import sys, whybox, whybox.shapley, whybox.datasets; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
