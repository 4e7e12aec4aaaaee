import numpy as np
import pytest

from whybox import InputError
from whybox.maskers import ImageMasker, TextMasker
from whybox.surrogates import Lime

TRIGGER = "refund"


def spam_model(texts):
    """P(complaint) = 0.9 when the trigger word is present, else 0.2; two classes."""
    p = np.array([0.9 if TRIGGER in t.lower().split() else 0.2 for t in texts])
    return np.column_stack([1 - p, p])


def test_text_lime_finds_the_planted_trigger_word():
    texts = ["I would like a refund for the broken kettle please", "great kettle, thanks a lot"]
    attr = Lime(spam_model, mode="text", seed=1).explain(texts, num_samples=600)
    assert attr.values.shape == (2, 10, 2) and attr.has_outputs
    assert attr.mask.tolist() == [[True] * 10, [True] * 5 + [False] * 5]
    first = attr[0]
    assert first.feature_names == tuple(TextMasker().split(texts[0]))
    w = first.values[:, 1]
    assert first.feature_names[int(np.argmax(w))] == TRIGGER
    assert w.max() > 5 * np.abs(np.delete(w, np.argmax(w))).max()
    assert first.feature_names[int(np.argmin(first.values[:, 0]))] == TRIGGER
    # the second text has no trigger: the model is constant around it, every weight is 0 and the fit exact
    np.testing.assert_allclose(attr[1].values, 0.0, atol=1e-12)
    assert attr.values[1, 5:].tolist() == [[0.0, 0.0]] * 5 and list(attr.data[1, 5:]) == [""] * 5
    assert attr.meta["local_fidelity"][1] == [1.0, 1.0]
    np.testing.assert_allclose(attr.meta["model_prediction"][0], [0.1, 0.9])


def test_text_masks_are_evaluated_once_each_and_mask_token_is_used():
    seen = []

    def model(texts):
        seen.extend(texts)
        return spam_model(texts)[:, 1]

    attr = Lime(model, masker=TextMasker("UNK"), seed=0).explain("please refund me now", num_samples=500)
    assert attr.meta["model_evals"] == len(seen) == len(set(seen)) <= 2 ** 4
    assert any("UNK" in t for t in seen) and "please refund me now" in seen
    assert int(np.argmax(attr.values[0])) == 1 and not attr.has_outputs


def _patch_image(rng, shape=(24, 24, 3)):
    img = rng.random(shape)
    img[6:12, 12:20] += 2.0
    return img


def patch_model(images):
    """Reads the mean of one patch (rows 6..11, columns 12..19)."""
    return images[:, 6:12, 12:20, :].mean(axis=(1, 2, 3))


def test_image_lime_top_superpixel_covers_the_planted_patch():
    rng = np.random.default_rng(0)
    images = np.stack([_patch_image(rng), _patch_image(rng)])
    masker = ImageMasker("grid", n_segments=16, fill=0.0)
    # alpha=0: plain weighted least squares, exact for a model that is linear in the superpixels
    attr = Lime(patch_model, masker=masker, alpha=0.0, num_features=None, seed=0).explain(images, num_samples=400)
    ridge = Lime(patch_model, masker=masker, seed=0).explain(images[:1], num_samples=400)
    assert attr.values.shape == images.shape and attr.data.shape == images.shape
    for i in range(2):
        seg = attr.meta["segments"][i]
        w = np.asarray(attr.meta["segment_weights"][i])
        # truth: switching a superpixel off (fill 0) removes its share of the patch's pixel sum
        inside = np.zeros_like(seg, dtype=bool)
        inside[6:12, 12:20] = True
        truth = np.array([images[i][(seg == s) & inside].sum() for s in range(seg.max() + 1)]) / (6 * 8 * 3)
        assert int(np.argmax(w)) == int(np.argmax(truth))
        np.testing.assert_allclose(w, truth, atol=1e-9)
        # each superpixel's weight is spread evenly over its pixels and channels
        sums = np.array([attr.values[i][seg == s].sum() for s in range(len(w))])
        np.testing.assert_allclose(sums, w, atol=1e-12)
    np.testing.assert_allclose(attr.meta["model_prediction"], patch_model(images))
    # lime's ridge (alpha=1) only shrinks the weights a little: same top superpixel, within 5%
    w1 = np.asarray(ridge.meta["segment_weights"][0])
    w0 = np.asarray(attr.meta["segment_weights"][0])
    assert int(np.argmax(w1)) == int(np.argmax(w0))
    np.testing.assert_allclose(w1, w0, atol=0.05 * w0.max())


def test_image_lime_with_slic_on_channels_first_images():
    img = np.zeros((3, 32, 32))
    img[0, :16, :16] = 1.0            # four flat colour blocks, the red one is read by the model
    img[1, :16, 16:] = 1.0
    img[2, 16:, :16] = 1.0
    img[:, 16:, 16:] = 0.5

    def model(batch):
        red = batch[:, 0, 2:14, 2:14].mean(axis=(1, 2))
        return np.column_stack([red, 1 - red])

    masker = ImageMasker("slic", n_segments=8, fill=0.0)
    attr = Lime(model, masker=masker, seed=0).explain(img[None], num_samples=300, labels=0)
    seg = attr.meta["segments"][0]
    top = int(np.argmax(attr.meta["segment_weights"][0]))
    top_pixels = seg == top
    assert top_pixels[4:12, 4:12].mean() > 0.5 and top_pixels[16:, :].sum() == 0
    assert attr.values.shape == (1, 3, 32, 32) and not attr.has_outputs


def test_image_shape_errors_name_the_fix():
    ex = Lime(patch_model, mode="image")
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match=r"explain takes a batch; pass X\[None\]"):
        ex.explain(rng.random((24, 24, 3)), num_samples=50)
    with pytest.raises(InputError, match="one grey image pass X"):
        ex.explain(rng.random((24, 24)), num_samples=50)
    with pytest.raises(InputError, match="cannot tell which axis holds the channels"):
        ex.explain(rng.random((2, 5, 24, 7)), num_samples=50)
    with pytest.raises(InputError, match="explains images but X is text"):
        ex.explain(["a text"], num_samples=50)
    with pytest.raises(InputError, match="has no words"):
        Lime(spam_model, mode="text").explain(["!!!"], num_samples=50)
    with pytest.raises(InputError, match="cannot be used with mode='text'"):
        Lime(spam_model, mode="text", masker=ImageMasker())
