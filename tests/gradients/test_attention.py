"""Attention maps and attention rollout: hand-computed truths on toy tensors and a one-layer BERT built here,
and the shapes, masks and tokens on the packaged MiniLM encoder."""

import json

import numpy as np
import pytest

import torch
import transformers

from whybox.errors import InputError  # noqa: E402
from whybox.evaluate import agreement  # noqa: E402
from whybox.gradients import Attention, attention_rollout  # noqa: E402
from whybox.results import AttentionMaps, Attribution  # noqa: E402

TEXTS = ["a fine film", "not good at all, the plot was thin and slow"]


def _rownorm(a):
    return a / a.sum(axis=-1, keepdims=True)


def _random_attention(rng, layers, heads, t):
    """Row-stochastic (layers, heads, t, t) weights, as softmax gives."""
    return _rownorm(rng.random((layers, heads, t, t)) ** 3 + 1e-3)


@pytest.fixture(scope="module")
def minilm():
    from whybox.models import minilm as load
    return load()  # the text extra is part of `make test`: a missing one is an error, not a skip


@pytest.fixture(scope="module")
def maps(minilm):
    model, tok = minilm
    return Attention(model, tok).explain(TEXTS)


# ----------------------------------------------------------------------------- rollout on hand-made tensors

def test_one_layer_rollout_is_half_mean_plus_half_identity_renormalised():
    a = np.array([[[[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]],
                   [[0.1, 0.1, 0.8], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]]])       # (1 layer, 2 heads, 3, 3)
    mean = np.array([[0.4, 0.15, 0.45], [0.25, 0.75, 0.0], [0.65, 0.15, 0.2]])
    expected = 0.5 * mean + 0.5 * np.eye(3)                                         # rows already sum to 1
    np.testing.assert_allclose(attention_rollout(a), expected, atol=1e-12)
    np.testing.assert_allclose(attention_rollout(a, residual=False), mean, atol=1e-12)
    np.testing.assert_allclose(attention_rollout(a, residual=False, head_fusion="max"),
                               _rownorm(np.array([[0.7, 0.2, 0.8], [0.5, 1.0, 0.0], [1.0, 0.3, 0.4]])), atol=1e-12)


def test_rollout_renormalises_rows_that_do_not_sum_to_one():
    a = np.full((1, 1, 2, 2), 0.25)                                                 # rows sum to 0.5
    expected = _rownorm(0.5 * a[0, 0] + 0.5 * np.eye(2))
    np.testing.assert_allclose(attention_rollout(a), expected, atol=1e-12)


def test_two_layer_rollout_multiplies_later_layers_on_the_left():
    rng = np.random.default_rng(0)
    a = _random_attention(rng, 2, 3, 4)
    a1 = 0.5 * a[0].mean(0) + 0.5 * np.eye(4)
    a2 = 0.5 * a[1].mean(0) + 0.5 * np.eye(4)
    np.testing.assert_allclose(attention_rollout(a), a2 @ a1, atol=1e-12)
    assert not np.allclose(a2 @ a1, a1 @ a2)                                      # the order is really tested


def test_rollout_rows_sum_to_one_for_any_fusion():
    rng = np.random.default_rng(1)
    a = _random_attention(rng, 4, 3, 6)
    for fusion in ("mean", "max", "min"):
        for residual in (True, False):
            np.testing.assert_allclose(attention_rollout(a, residual, fusion).sum(-1), 1.0, atol=1e-12)


def test_rollout_input_errors():
    with pytest.raises(InputError, match="layers, heads, T, T"):
        attention_rollout(np.ones((2, 3, 3)))
    with pytest.raises(InputError, match="head_fusion"):
        attention_rollout(np.ones((1, 1, 2, 2)), head_fusion="sum")


# ----------------------------------------------------------------------------- a one-layer BERT built here

@pytest.fixture(scope="module")
def tiny_bert(minilm):
    _, tok = minilm
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
                                     initializer_range=0.5, attn_implementation="eager")   # far from uniform
    return transformers.BertModel(config).eval(), tok


def _hand_attention(model, tok, text):
    """softmax(Q K^T / sqrt(d)) per head from the layer's own weights: (heads, T, T)."""
    enc = tok([text], return_tensors="pt")
    with torch.no_grad():
        x = model.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])[0].double()
        sa = model.encoder.layer[0].attention.self
        heads, d = model.config.num_attention_heads, model.config.hidden_size // model.config.num_attention_heads

        def proj(lin):
            return (x @ lin.weight.double().T + lin.bias.double()).reshape(-1, heads, d).transpose(0, 1)
        q, k = proj(sa.query), proj(sa.key)
        return torch.softmax(q @ k.transpose(1, 2) / d ** 0.5, dim=-1).numpy()


def test_one_layer_bert_attention_and_rollout_match_the_hand_computation(tiny_bert):
    model, tok = tiny_bert
    texts = ["good", "the acting was not good at all"]
    m = Attention(model, tok).explain(texts)
    for i, text in enumerate(texts):
        hand = _hand_attention(model, tok, text)                                     # (2, t, t)
        t = hand.shape[-1]
        assert m.mask[i].sum() == t and hand.max() > 0.5                             # not near-uniform attention
        np.testing.assert_allclose(m.attentions[i, 0, :, :t, :t], hand, atol=1e-5)
        expected = _rownorm(0.5 * hand.mean(0) + 0.5 * np.eye(t))
        np.testing.assert_allclose(m.rollout[i, :t, :t], expected, atol=1e-5)
        np.testing.assert_allclose(m.mean_heads[i, 0, :t, :t], hand.mean(0), atol=1e-5)


# ----------------------------------------------------------------------------- MiniLM

def test_minilm_shapes_mask_and_tokens(maps, minilm):
    model, tok = minilm
    assert isinstance(maps, AttentionMaps)
    lengths = [len(tok(t)["input_ids"]) for t in TEXTS]
    t_max = max(lengths)
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    assert maps.attentions.shape == (2, layers, heads, t_max, t_max)
    assert maps.mean_heads.shape == (2, layers, t_max, t_max)
    assert maps.rollout.shape == (2, t_max, t_max)
    assert maps.mask.tolist() == [[j < n for j in range(t_max)] for n in lengths]
    for i, text in enumerate(TEXTS):
        expected = ["[CLS]"] + tok.tokenize(text) + ["[SEP]"]
        assert maps.row_tokens(i) == expected
        assert list(maps.tokens[i, lengths[i]:]) == [""] * (t_max - lengths[i])


def test_minilm_attention_rows_sum_to_one_over_real_tokens(maps):
    for i in range(2):
        keep = maps.mask[i]
        real = maps.attentions[i][:, :, keep][:, :, :, keep]
        np.testing.assert_allclose(real.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(maps.rollout[i][keep][:, keep].sum(-1), 1.0, atol=1e-5)
        assert not maps.attentions[i][..., ~keep].any() and not maps.attentions[i][..., ~keep, :].any()
        np.testing.assert_allclose(maps.mean_heads[i], maps.attentions[i].mean(1), atol=1e-12)


def test_minilm_padded_batch_equals_each_text_alone(maps, minilm):
    model, tok = minilm
    alone = Attention(model, tok, batch_size=1).explain([TEXTS[0]])
    t = alone.mask.sum()
    np.testing.assert_allclose(maps.attentions[0, :, :, :t, :t], alone.attentions[0], atol=1e-5)
    np.testing.assert_allclose(maps.rollout[0, :t, :t], alone.rollout[0], atol=1e-5)


def test_cls_attribution_is_the_rollout_cls_row(maps):
    attr = maps.cls_attribution()
    assert isinstance(attr, Attribution) and attr.method == "attention_rollout"
    assert attr.values.shape == maps.mask.shape and (attr.mask == maps.mask).all()
    np.testing.assert_allclose(attr.values[maps.mask], maps.rollout[:, 0, :][maps.mask])
    assert (attr.values[~maps.mask] == 0).all()
    row = attr[1]
    assert row.feature_names == tuple(maps.row_tokens(1))
    last = maps.cls_attribution("last_layer_mean")
    np.testing.assert_allclose(last.values[maps.mask], maps.mean_heads[:, -1, 0, :][maps.mask])
    sep = maps.cls_attribution(row_token=-1)                                        # each text's own [SEP]
    n1 = maps.mask[1].sum()
    np.testing.assert_allclose(sep.values[1, :n1], maps.rollout[1, n1 - 1, :n1])
    result = agreement(attr, last, top_k=3)                                         # comparable with attributions
    assert result.rank_correlation.shape == (2,)
    with pytest.raises(ValueError, match="source"):
        maps.cls_attribution("first_layer")
    with pytest.raises(ValueError, match="outside the shortest"):
        maps.cls_attribution(row_token=maps.mask.sum(1).min())


def test_json_round_trip(maps):
    back = AttentionMaps.from_dict(json.loads(json.dumps(maps.to_dict())))
    for name in ("attentions", "mean_heads", "rollout", "mask", "tokens"):
        np.testing.assert_array_equal(getattr(back, name), getattr(maps, name))
    assert back.meta == maps.meta and back.mask.dtype == bool
    no_rollout = AttentionMaps(maps.attentions, maps.mask, maps.tokens, maps.mean_heads)
    assert AttentionMaps.from_dict(json.loads(json.dumps(no_rollout.to_dict()))).rollout is None
    with pytest.raises(ValueError, match="no rollout"):
        no_rollout.cls_attribution()


def test_text_classifier_and_settings(minilm):
    from whybox.models import TextClassifier
    model, tok = minilm
    clf = TextClassifier(model, tok, head=torch.nn.Linear(model.config.hidden_size, 2))
    m = Attention(clf).explain(["fine"], rollout=False)
    assert m.rollout is None and m.meta["rollout"] is False
    m2 = Attention(clf).explain(["fine"], residual=False, head_fusion="max")
    t = m2.mask[0].sum()
    np.testing.assert_allclose(m2.rollout[0, :t, :t],
                               attention_rollout(m2.attentions[0, :, :, :t, :t], False, "max"), atol=1e-12)


def test_input_errors(minilm, tiny_bert):
    model, tok = minilm
    att = Attention(model, tok)
    with pytest.raises(InputError, match="list of texts"):
        att.explain("one string")
    with pytest.raises(InputError, match="non-empty"):
        att.explain([])
    with pytest.raises(InputError, match="list of strings"):
        att.explain(["ok", 3])
    with pytest.raises(InputError, match="head_fusion"):
        att.explain(["ok"], head_fusion="sum")
    with pytest.raises(InputError, match="tokenizer"):
        Attention(model)
    with pytest.raises(InputError, match="transformers model"):
        Attention(lambda x: x, tok)
    sdpa = transformers.BertModel(transformers.BertConfig(
        vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, attn_implementation="sdpa"))
    with pytest.raises(InputError, match="eager"):
        Attention(sdpa, tok)


def test_indexing_gives_each_text_cut_to_its_own_tokens(maps):
    n1 = int(maps.mask[1].sum())
    one = maps[1]
    assert len(one) == 1 and one.mask.shape == (1, n1) and one.mask.all()
    np.testing.assert_array_equal(one.attentions[0], maps.attentions[1, :, :, :n1, :n1])
    np.testing.assert_array_equal(one.rollout[0], maps.rollout[1, :n1, :n1])
    assert one.row_tokens(0) == maps.row_tokens(1)
    assert maps[-1].row_tokens(0) == maps.row_tokens(len(maps) - 1)
    some = maps[[1, 0]]
    assert some.attentions.shape[-1] == maps.attentions.shape[-1]          # the longer text sets the padding
    assert some.row_tokens(0) == maps.row_tokens(1) and some.row_tokens(1) == maps.row_tokens(0)
    short = maps[0:1]
    t = int(maps.mask[0].sum())
    assert t < maps.mask.shape[1]
    np.testing.assert_array_equal(short.mean_heads, maps.mean_heads[0:1, :, :t, :t])
    with pytest.raises(IndexError):
        maps[len(maps)]


def test_rollout_in_words_sums_each_words_pieces(maps, minilm):
    """cls_attribution is per token; maskers.Text.word_attribution sums the pieces of each word."""
    from whybox.maskers import Text

    _, tok = minilm
    tokens = maps.cls_attribution()
    words = Text(tok).word_attribution(tokens, TEXTS)
    m = Text(tok)
    for i, text in enumerate(TEXTS):
        row = words[i]
        assert list(row.feature_names) == m.split(text)
        pieces = m.tokens(text)
        real = tokens.values[i][maps.mask[i]]
        # [CLS] first and [SEP] last are dropped; the rest goes word by word, in order
        expected, pos = [], 1
        for p in pieces:
            expected.append(real[pos:pos + len(p)].sum())
            pos += len(p)
        assert pos == maps.mask[i].sum() - 1
        np.testing.assert_allclose(row.values, expected)
