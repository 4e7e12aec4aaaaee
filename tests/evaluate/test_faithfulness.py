"""Deletion / insertion / AOPC / infidelity against truths computed by hand, on tables, texts and images."""

import numpy as np
import pytest

from whybox.errors import InputError
from whybox.evaluate import aopc, deletion, infidelity, insertion
from whybox.results import Attribution
from whybox.shapley import ExactShapley

W = np.array([3.0, -2.0, 0.5, 1.5, 0.0, -1.0])
B = 0.7


def linear(X):
    return np.asarray(X, dtype=float) @ W + B


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).normal(size=(12, W.size))


# ----------------------------------------------------------------------------- tables, analytic

def test_deletion_of_a_linear_model_matches_the_formula(rows):
    X = rows[:4]
    values = W * X                                  # exact Shapley values against the zero baseline
    cur = deletion(linear, X, values, baseline="zeros", n_random=3)
    assert cur.curves.shape == (4, W.size + 1) and np.allclose(cur.fractions, np.linspace(0, 1, W.size + 1))
    for i in range(4):
        order = np.argsort(-values[i], kind="stable")
        expected = [linear(X[i:i + 1])[0] - values[i, order[:k]].sum() for k in range(W.size + 1)]
        assert np.allclose(cur.curves[i], expected, atol=1e-12)
        area = np.sum((np.array(expected[1:]) + np.array(expected[:-1])) / 2) / W.size
        assert np.isclose(cur.areas[i], area)
    assert np.allclose(cur.curves[:, -1], B)        # everything removed: the model at the baseline


def test_insertion_mirrors_deletion(rows):
    X = rows[:4]
    values = W * X
    ins = insertion(linear, X, values, baseline="zeros", n_random=3)
    for i in range(4):
        order = np.argsort(-values[i], kind="stable")
        expected = [B + values[i, order[:k]].sum() for k in range(W.size + 1)]
        assert np.allclose(ins.curves[i], expected, atol=1e-12)
    assert np.all(ins.improvement > 0)               # the top features first rise faster than chance


def test_aopc_matches_its_definition_on_a_tiny_case():
    x = np.array([[1.0, 2.0, -1.0]])
    f = lambda X: np.asarray(X) @ np.array([1.0, 1.0, 1.0])  # noqa: E731
    a = np.array([[0.2, 0.5, -0.1]])                 # order: feature 1, 0, 2
    fx = 2.0
    by_hand = np.mean([fx - (fx - 2.0), fx - (fx - 3.0), fx - (fx - 2.0)])
    assert np.allclose(aopc(f, x, a, baseline="zeros"), [by_hand])
    assert np.allclose(aopc(f, x, a, baseline="zeros", k=2), [np.mean([2.0, 3.0])])
    main, rand = aopc(f, x, a, baseline="zeros", return_random=True, n_random=30)
    assert main.shape == rand.shape == (1,) and main[0] >= rand[0]


def test_background_rows_average_the_output(rows):
    X, bg = rows[:2], rows[6:10]
    cur = deletion(linear, X, W * X, baseline=bg, n_random=2)
    assert np.allclose(cur.curves[:, -1], linear(bg).mean())
    assert cur.meta["features"] == [W.size, W.size]


def test_exact_shapley_beats_random_and_reversed_on_a_linear_model(rows):
    X, bg = rows[:8], rows[8:]
    attr = ExactShapley(linear, bg).explain(X)
    good, rand = aopc(linear, X, attr, baseline=bg, return_random=True)
    reversed_ = aopc(linear, X, -attr.values, baseline=bg)
    noise = aopc(linear, X, np.random.default_rng(1).normal(size=attr.values.shape), baseline=bg)
    assert good.mean() > rand.mean() and good.mean() > noise.mean() and good.mean() > reversed_.mean()
    assert np.all(good >= reversed_)


def test_exact_shapley_beats_random_and_reversed_on_credit():
    from sklearn.ensemble import HistGradientBoostingClassifier

    from whybox.datasets import credit
    from whybox.models import wrap

    data = credit(n=1500, seed=3)
    clf = HistGradientBoostingClassifier(max_iter=40, max_depth=3, categorical_features="from_dtype",
                                         random_state=0).fit(data.X[:1200], data.y[:1200])
    model = wrap(clf, output="log_odds")
    X, bg = data.X[1200:1220], data.X[:10]
    attr = ExactShapley(model, bg).explain(X)        # 9 features: all 512 coalitions
    good, rand = aopc(model, X, attr, baseline=bg, return_random=True)
    reversed_ = aopc(model, X, -attr.values, baseline=bg)
    assert good.mean() > rand.mean() + 0.1 and good.mean() > reversed_.mean() + 0.1
    cur = deletion(model, X, attr, baseline=bg, n_random=5)
    assert cur.improvement.mean() > 0


# ----------------------------------------------------------------------------- images

def patch_model(batch):
    b = np.asarray(batch)
    return b[:, :, 2:4, 5:7].sum(axis=(1, 2, 3))[:, None]


def test_image_patch_pixels_come_first_and_deletion_drops_at_once():
    rng = np.random.default_rng(0)
    imgs = rng.uniform(0.5, 1.0, size=(3, 3, 8, 8))
    values = np.zeros_like(imgs)
    values[:, :, 2:4, 5:7] = imgs[:, :, 2:4, 5:7]    # input x gradient of the patch model
    cur = deletion(patch_model, imgs, values, baseline="zeros", n_random=4)
    assert cur.curves.shape == (3, 65)
    assert np.allclose(cur.curves[:, 4:], 0.0)       # the 4 patch pixels removed first: nothing left
    assert np.all(cur.curves[:, 1] < cur.curves[:, 0])
    assert np.all(cur.improvement > 0.5 * cur.curves[:, 0].min())
    ins = insertion(patch_model, imgs, values, baseline="zeros", n_random=4)
    assert np.allclose(ins.curves[:, 4:], patch_model(imgs)[:, 0][:, None])


def test_image_channels_last_superpixels_and_torch_module():
    import torch
    rng = np.random.default_rng(1)
    imgs = rng.uniform(0.5, 1.0, size=(2, 8, 8, 3)).astype(np.float32)

    class Patch(torch.nn.Module):
        def forward(self, x):
            return x[:, 2:4, 5:7, :].sum(dim=(1, 2, 3))[:, None] * torch.ones(1, 2)

    groups = (np.arange(64).reshape(8, 8) // 2 % 4) + 4 * (np.arange(64).reshape(8, 8) // 16)  # 2x... blocks
    pixel_map = np.zeros((2, 8, 8))
    pixel_map[:, 2:4, 5:7] = 1.0                       # a Grad-CAM-like (n, H, W) map
    cur = deletion(Patch(), imgs, pixel_map, baseline="zeros", groups=groups, target=1, n_random=3)
    first = np.unique(groups[2:4, 5:7])
    assert cur.meta["features"] == [16, 16]
    # after removing the groups holding the patch the output is 0
    assert np.allclose(cur.curves[:, len(first):], 0.0, atol=1e-5)


# ----------------------------------------------------------------------------- text

def trigger_model(texts):
    return np.array([[2.0 if "great" in t.lower().split() else 0.5] for t in texts])


def test_deleting_the_trigger_word_first_drops_to_the_no_trigger_score():
    texts = ["the film was great fun", "great", "what a great and long day it was"]
    n_words = [5, 1, 8]
    values = np.zeros((3, 8))
    for i, t in enumerate(texts):
        values[i, :n_words[i]] = 0.1
        values[i, t.split().index("great")] = 1.0
    mask = np.arange(8)[None] < np.array(n_words)[:, None]
    attr = Attribution(values, np.zeros(3), mask=mask, method="planted")
    cur = deletion(trigger_model, texts, attr, n_random=5)
    assert np.allclose(cur.curves[:, 0], 2.0)
    for i, d in enumerate(n_words):                 # the trigger goes first, the rest does not matter
        removed = np.rint(cur.fractions * d)         # words removed at each step (a short text moves slower)
        assert np.allclose(cur.curves[i], np.where(removed >= 1, 0.5, 2.0))
    assert cur.meta["features"] == n_words
    assert np.all(cur.improvement >= 0) and cur.improvement.mean() > 0
    a = aopc(trigger_model, texts, attr, k=3)
    assert np.allclose(a, 1.5)
    words = np.array([t.split() + [""] * (8 - len(t.split())) for t in texts], dtype=object)
    with_words = Attribution(values, np.zeros(3), data=words, mask=mask)
    assert np.allclose(deletion(trigger_model, texts, with_words, n_random=2).curves, cur.curves)
    wrong = words.copy()
    wrong[0, 0] = "##the"
    with pytest.raises(InputError, match="tokens"):
        deletion(trigger_model, texts, Attribution(values, np.zeros(3), data=wrong, mask=mask))
    masked = deletion(trigger_model, texts, attr, baseline="[MASK]", n_random=2)
    assert np.allclose(masked.curves[[0, 2], 1], 0.5) and np.allclose(masked.curves[:, -1], 0.5)


# ----------------------------------------------------------------------------- infidelity

def test_infidelity_equals_captum_on_the_same_perturbations():
    import torch
    from captum.metrics import infidelity as captum_infidelity
    from captum.metrics import infidelity_perturb_func_decorator

    rng = np.random.default_rng(0)
    V = rng.normal(size=(5, 3))
    X = rng.normal(size=(4, 5))
    attr = rng.normal(size=(4, 5))
    pert = rng.normal(scale=0.2, size=(4, 7, 5))

    def f_np(A):
        return np.tanh(np.asarray(A) @ V)

    def f_torch(t):
        return torch.tanh(t @ torch.as_tensor(V))

    flat = torch.as_tensor(pert.reshape(-1, 5))

    def perturb(inputs):
        return flat, inputs - flat

    @infidelity_perturb_func_decorator(True)
    def perturb_mul(inputs):
        return inputs - flat

    xt, at = torch.as_tensor(X), torch.as_tensor(attr)
    for target in (0, 2):
        ours = infidelity(f_np, X, attr, perturbations=pert, target=target)
        ref = captum_infidelity(f_torch, perturb, xt, at, target=target, n_perturb_samples=7).numpy()
        assert np.allclose(ours, ref, atol=1e-6, rtol=0)
    ours = infidelity(f_np, X, attr, perturbations=pert, target=1, normalize=True)
    ref = captum_infidelity(f_torch, perturb, xt, at, target=1, n_perturb_samples=7, normalize=True).numpy()
    assert np.allclose(ours, ref, atol=1e-6, rtol=0)
    ours = infidelity(f_np, X, attr, perturbations=pert, target=1, multiply_by_inputs=True)
    ref = captum_infidelity(f_torch, perturb_mul, xt, at, target=1, n_perturb_samples=7).numpy()
    assert np.allclose(ours, ref, atol=1e-6, rtol=0)


def test_infidelity_is_zero_for_exact_attributions_of_a_linear_model(rows):
    X = rows[:5]
    grad = np.broadcast_to(W, X.shape)
    assert np.allclose(infidelity(linear, X, grad, n_perturb=20), 0.0, atol=1e-20)
    ig = W * X                                        # IG from a zero baseline = x * w
    assert np.allclose(infidelity(linear, X, ig, n_perturb=20, multiply_by_inputs=True), 0.0, atol=1e-20)
    assert np.all(infidelity(linear, X, -grad, n_perturb=20) > 0.1)


# ----------------------------------------------------------------------------- errors

def test_errors_name_the_problem(rows):
    X = rows[:3]
    with pytest.raises(InputError, match="rows"):
        deletion(linear, X, np.zeros((2, W.size)))
    with pytest.raises(InputError, match="baseline"):
        deletion(linear, X, W * X, baseline="median")
    with pytest.raises(InputError, match="n_random"):
        insertion(linear, X, W * X, n_random=0)
    with pytest.raises(InputError, match="outputs"):
        deletion(lambda A: np.column_stack([linear(A), linear(A)]), X, W * X)
    with pytest.raises(InputError, match="element"):
        infidelity(linear, X, np.zeros((3, 2)))
    with pytest.raises(InputError, match="texts"):
        infidelity(trigger_model, ["a b"], np.zeros((1, 2)))


def test_frames_with_categories_multi_output_models_and_absolute_order():
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from whybox.models import wrap

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120),
                       "c": pd.Categorical(rng.choice(["x", "y", "y"], size=120))})
    y = (df["a"] - df["b"] + (df["c"] == "x") > 0).astype(int)
    clf = LogisticRegression().fit(pd.get_dummies(df), y)
    model = wrap(lambda frame: clf.predict_proba(pd.get_dummies(frame)), feature_names=list(df.columns))
    X = df[:5]
    values = rng.normal(size=(5, 3, 2))             # an outputs axis: ranked for each row's predicted class
    attr = Attribution(values, np.zeros((5, 2)), feature_names=list(df.columns), output_names=["no", "yes"],
                       has_outputs=True)
    cur = deletion(model, X, attr, n_random=2)       # baseline "mean": means, and the mode "y" for c
    mode_row = pd.DataFrame({"a": [df["a"][:5].mean()], "b": [df["b"][:5].mean()],
                             "c": pd.Categorical(["y"], categories=df["c"].cat.categories)})
    pred = model(X).argmax(axis=1)
    assert cur.meta["target"] == pred.tolist()
    assert np.allclose(cur.curves[:, -1], model(mode_row)[0, pred])
    named = aopc(model, X, attr, target="yes")
    assert np.allclose(named, aopc(model, X, attr, target=1))
    # order="absolute" ranks by |value|: on the linear model with W * X, the largest |w_j x_j| leaves first
    Xl = np.random.default_rng(3).normal(size=(3, W.size))
    vals = W * Xl
    absolute = deletion(linear, Xl, vals, baseline="zeros", order="absolute", n_random=1)
    first = np.argmax(np.abs(vals), axis=1)
    assert np.allclose(absolute.curves[:, 1], linear(Xl) - vals[np.arange(3), first])


def test_small_batches_give_the_same_curves(rows):
    from whybox.models import wrap

    X, bg = rows[:3], rows[8:11]
    whole = deletion(linear, X, W * X, baseline=bg, n_random=3)
    model = wrap(linear)
    split = deletion(model, X, W * X, baseline=bg, n_random=3, max_batch=10)
    assert np.allclose(whole.curves, split.curves) and np.allclose(whole.random_areas, split.random_areas)
    assert model.n_calls > 10 and model.n_evals == split.meta["model_evals"]
    one = wrap(linear)
    deletion(one, X, W * X, baseline=bg, n_random=3)
    assert one.n_calls == 2                           # f(X) once, then one batched call for every curve


def test_curve_round_trips_through_json(rows):
    import json

    from whybox.evaluate import FaithfulnessCurve

    cur = insertion(linear, rows[:2], W * rows[:2], baseline="zeros", n_random=2)
    back = FaithfulnessCurve.from_dict(json.loads(json.dumps(cur.to_dict())))
    assert back.kind == "insertion" and np.allclose(back.curves, cur.curves)
    assert np.allclose(back.improvement, cur.improvement) and back.meta == cur.meta
