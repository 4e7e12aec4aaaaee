"""PartitionShap: additivity at any budget, all credit to the only region a model reads, Owen values
against brute force (equal to Shapley values for a model additive over regions), budget, targets,
tables with a given hierarchy."""

import importlib.util
from itertools import product

import numpy as np
import pytest

from whybox import BudgetError, InputError
from whybox.maskers import ImageMasker
from whybox.maskers.hierarchy import Hierarchy, from_nested
from whybox.shapley import ExactShapley, PartitionShap
from whybox.shapley.exact import all_coalitions, shapley_from_table


def additivity_gap(attr, outputs):
    axes = tuple(range(1, attr.data.ndim))
    return float(np.max(np.abs(attr.base_values + attr.values.sum(axis=axes) - outputs)))


def toy(batch):
    """Two outputs of (n, 3, 12, 16) images with interactions across regions."""
    b = np.asarray(batch, dtype=float)
    a = np.tanh(4 * b[:, 0, :6, :8].mean(axis=(1, 2)) - 2) * b[:, 1, 6:, 8:].mean(axis=(1, 2))
    return np.stack([a + b[:, 2].std(axis=(1, 2)), np.sin(3 * b.mean(axis=(1, 2, 3)))], axis=1)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((3, 3, 12, 16))


@pytest.mark.parametrize("max_evals", [2, 3, 9, 40, 700])
@pytest.mark.parametrize("fill", ["blur", 0.25])
def test_additive_at_any_budget_and_the_budget_holds(images, max_evals, fill):
    calls = []

    def counted(b):
        calls.append(len(b))
        return toy(b)

    explainer = PartitionShap(counted, ImageMasker(fill=fill))
    attr = explainer.explain(images, max_evals=max_evals, target="all")
    fx = toy(images)
    assert attr.values.shape == images.shape + (2,) and attr.base_values.shape == (3, 2)
    assert additivity_gap(attr, fx) < 1e-9 and attr.meta["additivity_gap"] < 1e-9
    assert max(attr.meta["evals_per_row"]) <= max_evals
    assert sum(calls) == attr.meta["model_evals"] <= 3 * (max_evals + 1)   # + f(x) again for the additivity check
    # the base value is the model at the fully removed image
    removed = ImageMasker(fill=fill).fill(images[0], np.zeros((12, 16), dtype=np.int64), np.zeros((1, 1), bool))
    np.testing.assert_allclose(attr.base_values[0], toy(removed)[0], atol=1e-12)


def test_channels_last_and_grey_images_keep_their_shape(images):
    last = np.moveaxis(images, 1, -1)

    def f_last(b):
        return toy(np.moveaxis(b, -1, 1))

    a = PartitionShap(f_last, "blur").explain(last, max_evals=60, target=0)
    b = PartitionShap(toy, "blur").explain(images, max_evals=60, target=0)
    assert a.values.shape == last.shape and a.base_values.shape == (3,)
    np.testing.assert_allclose(np.moveaxis(a.values, -1, 1), b.values, atol=1e-12)
    grey = images[:, 0]
    g = PartitionShap(lambda x: (x[:, :4, :4] ** 2).sum(axis=(1, 2)), ImageMasker(fill=0.0)).explain(grey, 30)
    assert g.values.shape == grey.shape and g.has_outputs is False
    assert additivity_gap(g, (grey[:, :4, :4] ** 2).sum(axis=(1, 2))) < 1e-9


def test_a_model_of_one_region_gives_that_region_all_the_credit():
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 16, 16))

    def quadrant(b):          # reads only rows 0:8, columns 8:16 — a node of the rectangle hierarchy
        return np.exp(b[:, :, :8, 8:]).mean(axis=(1, 2, 3))

    attr = PartitionShap(quadrant, ImageMasker(fill=0.0)).explain(x, max_evals=20)
    inside = np.zeros((16, 16), bool)
    inside[:8, 8:] = True
    v = attr.values.sum(axis=1)
    assert np.abs(v[:, ~inside]).max() < 1e-15        # numpy's mean may round differently in another batch
    np.testing.assert_allclose(v[:, inside].sum(axis=1), quadrant(x) - quadrant(np.zeros_like(x)), atol=1e-12)

    def strip(b):             # rows 4:12, columns 0:4: two 4 x 4 leaves in different branches
        return np.sin(5 * b[:, :, 4:12, :4]).sum(axis=(1, 2, 3)) * b[:, 0, 4:12, :4].mean(axis=(1, 2))

    attr = PartitionShap(strip, ImageMasker(fill=0.0, min_region=4)).explain(x, max_evals=400)
    assert max(attr.meta["pairs_expanded"]) == 85          # 1 + 4 + 16 + 64 pairs: every node in every context
    inside = np.zeros((16, 16), bool)
    inside[4:12, :4] = True
    v = attr.values.sum(axis=1)
    assert np.abs(v[:, ~inside]).max() < 1e-15
    assert v[:, inside].sum(axis=1) == pytest.approx(strip(x) - strip(np.zeros_like(x)), abs=1e-12)


def brute_force_owen(tree: Hierarchy, v) -> np.ndarray:
    """phi_i = mean over the 2^depth choices of which siblings on leaf i's path are present of
    v(S + i) - v(S), from the tree's definition (no recursion shared with the code under test)."""
    parent = {int(c): p for p in range(tree.n_nodes) for c in (tree.left[p], tree.right[p]) if c >= 0}
    phi = np.zeros(tree.n_leaves)
    for leaf_node in np.flatnonzero(tree.left < 0):
        siblings, node = [], int(leaf_node)
        while node in parent:
            p = parent[node]
            siblings.append(int(tree.right[p] if tree.left[p] == node else tree.left[p]))
            node = p
        total = 0.0
        for present in product([False, True], repeat=len(siblings)):
            s = tree.leaf_mask([sib for sib, on in zip(siblings, present) if on])
            with_i = s.copy()
            with_i[tree.start[leaf_node]] = True
            total += v(with_i) - v(s)
        phi[tree.start[leaf_node]] = total / 2 ** len(siblings)
    return phi


def leaf_sums(attr_values, tree):
    """Per-leaf totals of a (C, H, W) attribution."""
    per_pixel = attr_values.sum(axis=0)
    return np.bincount(tree.labels.ravel(), weights=per_pixel.ravel(), minlength=tree.n_leaves)


def test_fully_expanded_values_are_owen_values_and_shapley_values_for_additive_models():
    rng = np.random.default_rng(2)
    x = rng.random((1, 3, 4, 8))
    masker = ImageMasker(fill=0.0, min_region=2)
    tree = masker.regions(x[0])
    assert tree.n_leaves == 8
    weights = rng.normal(size=8)

    def region_sums(b):
        return np.stack([b[:, :, tree.labels == r].sum(axis=(1, 2)) for r in range(8)], axis=1)

    def additive(b):          # a nonlinear function of each region, summed over regions
        return np.sin(region_sums(b)) @ weights

    def interacting(b):
        s = region_sums(b)
        return s[:, 0] * s[:, 5] - np.tanh(s[:, 1] * s[:, 2] * s[:, 7]) + s[:, 3] ** 2

    for f in (additive, interacting):
        attr = PartitionShap(f, masker).explain(x, max_evals=10_000)
        def v(mask, f=f):
            return float(f(masker.fill(x[0], tree.labels, mask[None]))[0])
        owen = brute_force_owen(tree, v)
        np.testing.assert_allclose(leaf_sums(attr.values[0], tree), owen, atol=1e-10)
        if f is additive:
            table = np.array([[v(m)] for m in all_coalitions(8)])
            np.testing.assert_allclose(owen, shapley_from_table(table)[:, 0], atol=1e-10)


def test_same_seed_same_result_and_a_torch_cnn_is_additive():
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = np.random.default_rng(3).random((2, 3, 16, 16)).astype(np.float32)
    a = PartitionShap(net, "blur", seed=5).explain(x, max_evals=120)
    b = PartitionShap(net, "blur", seed=5).explain(torch.as_tensor(x), max_evals=120)
    np.testing.assert_array_equal(a.values, b.values)
    with torch.no_grad():                                # each image alone, as it is explained
        logits = np.concatenate([net(torch.as_tensor(x[i:i + 1])).double().numpy() for i in range(len(x))])
    assert a.meta["target"] == logits.argmax(axis=1).tolist() and a.meta["model"] == "torch:Sequential"
    assert additivity_gap(a, logits[np.arange(2), a.meta["target"]]) < 1e-9
    assert net.training                                  # the user's mode is restored
    fill = "inpaint" if importlib.util.find_spec("cv2") else "image_mean"
    p = PartitionShap(net, fill, output="probability").explain(x[:1], max_evals=24, target=2)
    with torch.no_grad():
        probs = torch.softmax(net(torch.as_tensor(x)), 1).double().numpy()
    assert additivity_gap(p, probs[:1, 2]) < 1e-9 and p.meta["fill"] == fill


def test_bad_arguments_name_the_fix(images):
    with pytest.raises(BudgetError, match="max_evals"):
        PartitionShap(toy, "blur").explain(images, max_evals=1)
    with pytest.raises(InputError, match="fill='mean'"):
        PartitionShap(toy, ImageMasker())
    with pytest.raises(InputError, match="not an output index"):
        PartitionShap(toy, "blur").explain(images, target=7)
    with pytest.raises(InputError, match="one per input"):
        PartitionShap(toy, "blur").explain(images, target=[0, 1])
    with pytest.raises(InputError, match=r"X\[None\]"):
        PartitionShap(toy, "blur").explain(images[0].transpose(1, 2, 0))
    with pytest.raises(InputError, match="hierarchy= is for tables"):
        PartitionShap(toy, "blur", hierarchy=[[0, 1]])
    per_row = PartitionShap(toy, "blur").explain(images, max_evals=10, target=[1, 0, 1])
    assert per_row.meta["target"] == [1, 0, 1] and per_row[1].meta["target"] == [0]


def test_tables_with_a_given_hierarchy():
    rng = np.random.default_rng(4)
    background = rng.normal(size=(20, 5))
    X = rng.normal(size=(4, 5))
    w = np.array([1.0, -2.0, 0.5, 3.0, 0.0])

    def linear(a):
        return np.asarray(a) @ w

    truth = (X - background.mean(axis=0)) * w               # interventional Shapley = Owen for a linear model
    names = [f"x{j}" for j in range(5)]
    for hierarchy in (None, [["x3", "x0"], [["x1"], "x4", "x2"]],
                      np.array([[0, 1, 0.5, 2], [2, 3, 0.7, 2], [5, 4, 0.9, 3], [6, 7, 1.0, 5]], dtype=float)):
        attr = PartitionShap(linear, background, hierarchy=hierarchy, feature_names=names).explain(X, 500)
        np.testing.assert_allclose(attr.values, truth, atol=1e-10)
        assert attr.feature_names == tuple(names)

    def interacting(a):
        a = np.asarray(a)
        return a[:, 0] * a[:, 1] + np.sin(a[:, 2] * a[:, 3]) + a[:, 4]

    attr = PartitionShap(interacting, background, hierarchy=[[0, 1], [[2, 3], 4]]).explain(X, 500)
    exact = ExactShapley(interacting, background).explain(X)
    # pairs that only interact inside their own group: Owen values equal Shapley values
    np.testing.assert_allclose(attr.values, exact.values, atol=1e-10)
    assert attr.meta["additivity_gap"] < 1e-10
    with pytest.raises(InputError, match="exactly once"):
        PartitionShap(linear, background, hierarchy=[[0, 1], [1, 2, 3, 4]])
    tree = from_nested([[0, 1], [2, [3, 4]]], names)
    assert PartitionShap(linear, background, hierarchy=tree).tree is tree

