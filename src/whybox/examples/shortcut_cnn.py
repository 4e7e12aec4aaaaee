"""A small CNN for `whybox.datasets.shortcut_images`, and a fast, seeded CPU training loop.

Trained on the "train" split (the corner marker agrees with the class 95 % of the time) it learns
the marker: high training accuracy, near chance on the "test" split. Trained with
`marker_agreement=0.5` it has to learn the shape. Needs PyTorch (the `torch` extra).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
except ModuleNotFoundError as e:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError("whybox.examples.shortcut_cnn needs PyTorch; install it with "
                              "pip install 'whybox[torch]'") from e

__all__ = ["ShortcutCNN", "train_shortcut_model", "accuracy", "predict_logits"]


class ShortcutCNN(nn.Module):
    """conv1 (3 -> c1) - ReLU - conv2 (c1 -> c2) - ReLU - conv3 (c2 -> c3) - ReLU - global average
    pool - linear (c3 -> classes); returns logits (n, classes).

    No pooling before the global average: every conv layer keeps the input's resolution, so a
    feature map (Grad-CAM's conv3) says where on the image's own pixel grid the evidence sits, and
    each conv3 position sees a 7 x 7 patch, about the marker's size.

    Arguments:
      channels   widths of conv1, conv2, conv3 (3 x 3 kernels, padding 1)
      n_classes  number of outputs
      centred    subtract the mean logit (the softmax is unchanged): with two classes each logit is then
                 half the log-odds, so an attribution of a class logit explains the decision between
                 the classes rather than evidence both logits share
    """

    def __init__(self, channels: tuple[int, int, int] = (8, 16, 16), n_classes: int = 2,
                 centred: bool = True) -> None:
        super().__init__()
        self.centred = bool(centred)
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(3, c1, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.fc = nn.Linear(c3, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        h = self.relu3(self.conv3(h))
        logits = self.fc(h.mean(dim=(2, 3)))
        return logits - logits.mean(dim=1, keepdim=True) if self.centred else logits


def train_shortcut_model(X: Any, y: Any, epochs: int = 20, seed: int = 0, lr: float = 3e-3,
                         batch_size: int = 32, channels: tuple[int, int, int] = (8, 16, 16),
                         weight_decay: float = 0.0, stop_at: float | None = 0.92) -> ShortcutCNN:
    """Train a `ShortcutCNN` with Adam on cross-entropy; returns it in eval mode.

    Deterministic for a seed on the CPU: torch.manual_seed(seed) sets the weights, a numpy
    generator of the seed the batch order. `model.train_seconds` records the wall time and
    `model.epochs_run` the epochs it took.

    Arguments:
      X             (n, 3, H, W) images (numpy or tensor), values in [0, 1]
      y             (n,) integer class labels
      epochs        the most passes over the data
      seed          the weights' and the batch order's seed
      lr            Adam learning rate
      batch_size    images per step
      channels      widths of conv1..conv3
      weight_decay  Adam's L2 penalty
      stop_at       stop after the first epoch whose accuracy on (X, y) reaches this (None: run all epochs),
                    the "good enough, ship it" rule under which shortcuts survive: a marker that agrees
                    with 95 % of the labels gets there at once, while a model without it has to learn the shape
    """
    X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y_np = np.asarray(y).astype(np.int64)
    if X_t.ndim != 4 or X_t.shape[0] != y_np.shape[0]:
        raise ValueError(f"X must be (n, 3, H, W) with one label per image; got X {tuple(X_t.shape)} and "
                         f"y {y_np.shape}")
    y_t = torch.as_tensor(y_np)
    n_classes = int(y_np.max()) + 1 if y_np.size else 2
    start = time.perf_counter()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)  # restored below: the user's global setting is theirs
    try:
        torch.manual_seed(int(seed))
        model = ShortcutCNN(channels, n_classes=max(2, n_classes))
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        order_rng = np.random.default_rng(int(seed))
        model.train()
        model.epochs_run = 0
        for _ in range(int(epochs)):
            order = torch.as_tensor(order_rng.permutation(X_t.shape[0]))
            for i in range(0, X_t.shape[0], batch_size):
                idx = order[i:i + batch_size]
                opt.zero_grad()
                loss = loss_fn(model(X_t[idx]), y_t[idx])
                loss.backward()
                opt.step()
            model.epochs_run += 1
            if stop_at is not None and accuracy(model, X_t, y_np) >= stop_at:
                break
    finally:
        torch.use_deterministic_algorithms(deterministic)
    model.eval()
    model.train_seconds = time.perf_counter() - start
    return model


@torch.no_grad()
def predict_logits(model: nn.Module, X: Any, batch_size: int = 512) -> np.ndarray:
    """Logits (n, classes) as float64 numpy, in eval mode (the model's mode is restored), without gradients."""
    X_t = torch.as_tensor(np.asarray(X, dtype=np.float32))
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model(X_t[i:i + batch_size]).double().numpy()
                               for i in range(0, X_t.shape[0], batch_size)], axis=0)
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, X: Any, y: Any) -> float:
    """Share of images whose arg-max logit is the label."""
    return float(np.mean(predict_logits(model, X).argmax(axis=1) == np.asarray(y)))
